// Limits and deadlines of a serving server: maxConnections, idleTimeout,
// frameTimeout, handlerTimeout, writeTimeout, shutdown under load, a peer
// that never reads, what onError and stats() see, and the example server
// under narrow permissions.

import assert from "node:assert/strict";
import { send } from "../client.ts";
import { serve } from "../server.ts";
import { delay, portOf, RawPeer, seeded } from "./_helpers.ts";
import { startExampleServer } from "./_processes.ts";

type Payload = Record<string, unknown>;

Deno.test("maxConnections: one more peer gets busy and is closed, the others are served", async () => {
  await using server = serve(
    { port: 0, maxConnections: 3 },
    (payload: Payload) => payload,
  );
  const peers = await Promise.all(
    [1, 2, 3].map(() => RawPeer.connect(portOf(server))),
  );
  try {
    for (const peer of peers) {
      assert.equal((await peer.call({ in: true }))?.status, "ok");
    }
    await using extra = await RawPeer.connect(portOf(server));
    await extra.send({ in: false });
    const refused = await extra.receive();
    assert.equal(refused?.code, "busy");
    assert.equal(refused?.message, "busy");
    assert.ok(await extra.closedByServer());
    for (const peer of peers) {
      assert.equal((await peer.call({ still: true }))?.status, "ok");
    }
  } finally {
    peers.forEach((peer) => peer.close());
  }
});

Deno.test("idleTimeout closes a quiet connection, never one with a request in flight", async () => {
  await using server = serve(
    { port: 0, idleTimeout: 80 },
    async (payload: { sleep?: number }) => {
      await delay(payload.sleep ?? 0);
      return "done";
    },
  );
  await using busy = await RawPeer.connect(portOf(server));
  const started = performance.now();
  assert.equal((await busy.call({ sleep: 200 }))?.result, "done");
  assert.ok(performance.now() - started >= 190);
  await using idle = await RawPeer.connect(portOf(server));
  assert.ok(await idle.closedByServer());
  assert.ok(
    await busy.closedByServer(),
    "once idle, the busy one is closed too",
  );
});

Deno.test("frameTimeout closes a peer that sends half a frame and stalls, while 50 others are served", async () => {
  const errors: string[] = [];
  await using server = serve(
    {
      port: 0,
      frameTimeout: 150,
      onError: (e) => errors.push((e as Error).message),
    },
    async (payload: Payload) => {
      await delay(5);
      return payload;
    },
  );
  await using staller = await RawPeer.connect(portOf(server));
  await staller.write(new Uint8Array([0, 0, 0, 100, 0x7b, 0x22]));
  const closed = staller.closedByServer();
  const served = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    await using peer = await RawPeer.connect(portOf(server));
    return (await peer.call({ i }))?.result;
  }));
  assert.deepEqual(served, Array.from({ length: 50 }, (_, i) => ({ i })));
  assert.ok(await closed);
  assert.ok(
    errors.some((m) => /Frame incomplete after 150 ms/.test(m)),
    errors.join(),
  );
});

Deno.test("handlerTimeout aborts a hung handler, answers timeout, keeps the connection", async () => {
  let aborted = false;
  await using server = serve(
    { port: 0, handlerTimeout: 50 },
    (payload: Payload, info) => {
      if (!payload.hang) return "quick";
      return new Promise((resolve) =>
        info.signal.addEventListener("abort", () => {
          aborted = true;
          resolve("ignored");
        })
      );
    },
  );
  await using peer = await RawPeer.connect(portOf(server));
  assert.equal((await peer.call({ hang: true }))?.code, "timeout");
  assert.ok(aborted);
  assert.equal((await peer.call({}))?.result, "quick");
});

Deno.test("shutdown() with 200 requests in flight over 20 connections: each answered once or shutting_down", async () => {
  const random = seeded(5);
  const server = serve(
    { port: 0, gracePeriod: 100 },
    async (payload: { n: number }, info) => {
      await delay(Math.floor(random() * 300), info.signal);
      return payload.n;
    },
  );
  const peers = await Promise.all(
    Array.from({ length: 20 }, () => RawPeer.connect(portOf(server))),
  );
  for (const [p, peer] of peers.entries()) {
    for (let i = 0; i < 10; i++) {
      await peer.send({ n: p * 10 + i, request_id: p * 10 + i });
    }
  }
  // Every request has reached the server (through a chaos proxy this takes a while).
  while (server.stats().frames.in < 200) await delay(5);
  const finished = server.shutdown();
  const answers = new Map<number, string>();
  await Promise.all(peers.map(async (peer) => {
    for (
      let response = await peer.receive();
      response;
      response = await peer.receive()
    ) {
      const id = response.request_id as number;
      assert.ok(!answers.has(id), `request ${id} answered twice`);
      answers.set(id, response.status === "ok" ? "ok" : response.code!);
      if (response.status === "ok") assert.equal(response.result, id);
    }
    peer.close();
  }));
  await finished;
  assert.equal(answers.size, 200, "no request left without an answer");
  const codes = new Set(answers.values());
  assert.ok(codes.has("ok"));
  assert.ok(
    [...codes].every((c) => c === "ok" || c === "shutting_down"),
    [...codes].join(),
  );
});

Deno.test("shutdown() answers requests arriving during the grace period with shutting_down", async () => {
  const server = serve(
    { port: 0, gracePeriod: 1000 },
    async (payload: { sleep: number }) => {
      await delay(payload.sleep);
      return "finished";
    },
  );
  await using peer = await RawPeer.connect(portOf(server));
  await peer.send({ sleep: 300, request_id: 1 });
  while (server.stats().frames.in < 1) await delay(5);
  const finished = server.shutdown();
  await peer.send({ sleep: 0, request_id: 2 });
  const first = await peer.receive();
  const second = await peer.receive();
  assert.deepEqual([first?.request_id, first?.code], [2, "shutting_down"]);
  assert.deepEqual([second?.request_id, second?.result], [1, "finished"]);
  await finished;
  assert.ok(await peer.closedByServer());
});

Deno.test("a peer that sends 10,000 requests and never reads is paused, then closed; others are served", async () => {
  const errors: string[] = [];
  await using server = serve({
    port: 0,
    maxOutboundBytes: 64 * 1024,
    writeTimeout: 300,
    onError: (e) => errors.push((e as Error).message),
  }, (payload: { pad: string }) => payload.pad);
  const hog = await Deno.connect({
    hostname: "127.0.0.1",
    port: portOf(server),
  });
  const frame = (() => {
    const body = new TextEncoder().encode(
      JSON.stringify({ pad: "x".repeat(4000), request_id: 1 }),
    );
    const out = new Uint8Array(4 + body.length);
    new DataView(out.buffer).setUint32(0, body.length);
    out.set(body, 4);
    return out;
  })();
  const writing = (async () => {
    try {
      for (let i = 0; i < 10_000; i++) {
        for (let at = 0; at < frame.length;) {
          at += await hog.write(frame.subarray(at));
        }
      }
      return "wrote all";
    } catch {
      return "cut off";
    }
  })();
  await delay(100);
  assert.equal(
    (await send({ port: portOf(server) }, { pad: "other" })).result,
    "other",
  );
  assert.equal(
    await writing,
    "cut off",
    "the server closed the hog instead of buffering for it",
  );
  const framesIn = server.stats().frames.in;
  assert.ok(
    framesIn < 5_000,
    `the server stopped reading the hog after ${framesIn} frames`,
  );
  assert.ok(errors.some((m) => /does not read/.test(m)), errors.join());
  hog.close();
});

Deno.test("onError and stats() see codes and counts, never the token", async () => {
  const seen: unknown[] = [];
  const contexts: unknown[] = [];
  await using server = serve({
    port: 0,
    token: "hunter2-secret",
    onError: (error, context) => {
      seen.push(error);
      contexts.push(context.code);
    },
  }, (payload: Payload) => {
    assert.equal("auth_token" in payload, false);
    throw new Error("failed on purpose");
  });
  await using peer = await RawPeer.connect(portOf(server));
  await peer.call({ auth_token: "hunter2-wrong" });
  await peer.call({ auth_token: "hunter2-secret" });
  assert.deepEqual(contexts, ["unauthorized", "handler_error"]);
  const dump = JSON.stringify(seen.map((e) => [String(e), (e as Error).stack]));
  assert.ok(!dump.includes("hunter2"), dump);
  const stats = server.stats();
  assert.deepEqual(stats.errors, { unauthorized: 1, handler_error: 1 });
  assert.deepEqual(stats.frames, { in: 2, out: 2 });
  assert.equal(stats.connections.open, 1);
});

Deno.test("the example server works under --allow-net=127.0.0.1:<port> alone", async () => {
  const server = await startExampleServer([], {
    env: { SOCKETBRIDGE_TOKEN: "ignored without --allow-env" },
  });
  const { port, firstLine } = server;
  try {
    assert.equal(firstLine, `listening on 127.0.0.1:${port}`);
    const response = await send({ port }, { type: "echo", text: "narrow" });
    assert.equal(
      response.status,
      "ok",
      "the env token was not read without --allow-env",
    );
  } finally {
    assert.equal(
      (await server.stop("SIGTERM")).status.code,
      0,
      "SIGTERM stops it cleanly",
    );
  }
});

Deno.test("writeTimeout runs from when the peer stopped taking bytes, not from when the queue filled", async () => {
  let closedAt = 0;
  await using server = serve({
    port: 0,
    maxOutboundBytes: 64 * 2 ** 20,
    maxBufferedBytes: 256 * 2 ** 20,
    writeTimeout: 1_500,
    onError: (error) => {
      if (/does not read its answers/.test((error as Error).message)) closedAt = performance.now();
    },
  }, (payload: { size: number }) => "x".repeat(payload.size));
  await using peer = await RawPeer.connect(portOf(server));
  // An answer far larger than the kernel's buffers: writing it stalls at once.
  await peer.send({ size: 32 * 2 ** 20, request_id: 1 });
  await delay(2_500);
  // The queue fills only now, long after the peer stopped reading.
  const filledAt = performance.now();
  await peer.send({ size: 40 * 2 ** 20, request_id: 2 });
  for (let i = 0; i < 100 && closedAt === 0; i++) await delay(50);
  assert.ok(closedAt > 0, "the peer was never closed");
  // Closed at once: its 1.5 s had run out during the 2.5 s it read nothing.
  assert.ok(closedAt - filledAt < 1_000, `closed ${Math.round(closedAt - filledAt)} ms after`);
});
