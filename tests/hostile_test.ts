// Hostile peers: deadlines that must hold in every state of a connection,
// one connection starving the others, work nobody waits for, connections
// that never prove themselves. Memory a peer can claim: memory_test.ts.

import assert from "node:assert/strict";
import { encodeMessage } from "../codec.ts";
import { connect, send } from "../client.ts";
import { serve } from "../server.ts";
import { concat, delay, eventually, RawPeer } from "./_helpers.ts";
import { DENO, exists, ROOT } from "./_processes.ts";
import { yieldToEventLoop } from "../_shared/timers.ts";

const LOOPBACK = "127.0.0.1";

/** A frame of the JSON `value` with a request_id, as bytes. */
const frame = (value: Record<string, unknown>) => encodeMessage(value);

Deno.test("the frame deadline holds after a pause for a peer that did not read", async () => {
  const errors: string[] = [];
  await using server = serve({
    port: 0,
    maxOutboundBytes: 16 * 1024,
    frameTimeout: 300,
    idleTimeout: 300,
    authTimeout: 0,
    writeTimeout: 60_000, // so that only the frame deadline can close it
    onError: (error) => errors.push((error as Error).message),
  }, () => "x".repeat(60_000));
  await using hog = await RawPeer.connect(server.addr.port);
  // Answers pile up unread until the server's queue is full and it pauses.
  const empty = frame({});
  const flood = new Uint8Array(empty.length * 400);
  for (let i = 0; i < 400; i++) flood.set(empty, i * empty.length);
  await hog.write(flood);
  await delay(300);
  const { buffered } = server.stats().memory;
  // 400 answers of 60 kB would be 24 MB: the requests wait instead.
  assert.ok(buffered < 1024 * 1024, `paused with ${buffered} bytes held`);
  // The peer reads its answers, so the server resumes; then half a frame, and silence.
  for (let i = 0; i < 400; i++) {
    assert.equal((await hog.receive())?.status, "ok");
  }
  await hog.write(Uint8Array.of(0, 0, 0, 200, 0x7b));
  assert.ok(
    await hog.closedByServer(),
    "a resumed connection still meets its frame deadline",
  );
  assert.ok(
    errors.some((m) => /Frame incomplete after 300 ms/.test(m)),
    errors.join(),
  );
});

Deno.test("the frame deadline waits while our own handlers are behind, then holds, and accepted work is answered", async () => {
  let started = 0;
  await using server = serve(
    { port: 0, maxInFlight: 1, frameTimeout: 200, authTimeout: 0 },
    async (payload: { n: number }) => {
      started++;
      await delay(150);
      return payload.n;
    },
  );
  await using peer = await RawPeer.connect(server.addr.port);
  const three = [1, 2, 3].map((n) => frame({ n, request_id: n }));
  await peer.write(
    new Uint8Array([...three[0], ...three[1], ...three[2], 0, 0, 0, 50, 0x7b]),
  );
  const results = [];
  for (let i = 0; i < 3; i++) results.push((await peer.receive())?.result);
  assert.deepEqual(
    results,
    [1, 2, 3],
    "450 ms of our handlers did not count against the peer",
  );
  assert.ok(
    await peer.closedByServer(),
    "then the stalled frame's deadline closed it",
  );
  assert.equal(started, 3);
  assert.equal(
    server.stats().frames.out,
    3,
    "frames.out counts what was written",
  );
});

Deno.test("a frame deadline closing a connection still answers the requests it had accepted", async () => {
  await using server = serve(
    { port: 0, frameTimeout: 100, authTimeout: 0 },
    async () => {
      await delay(250);
      return "late but answered";
    },
  );
  await using peer = await RawPeer.connect(server.addr.port);
  const ten = Array.from({ length: 10 }, (_, n) => frame({ request_id: n }));
  await peer.write(
    new Uint8Array([...ten.flatMap((f) => [...f]), 0, 0, 0, 9, 0x7b]),
  );
  const answers = [];
  for (let i = 0; i < 10; i++) answers.push(await peer.receive());
  assert.ok(
    answers.every((a) => a?.result === "late but answered"),
    JSON.stringify(answers),
  );
  assert.ok(await peer.closedByServer());
  assert.equal(server.stats().frames.out, 10);
});

Deno.test("unauthorised frames extend no deadline: idle and auth deadlines close such a peer", async (t) => {
  for (
    const [name, options] of [
      ["idleTimeout", { idleTimeout: 200, authTimeout: 0 }],
      ["authTimeout", { authTimeout: 200 }],
    ] as const
  ) {
    await t.step(name, async () => {
      await using server = serve(
        { port: 0, token: "secret", ...options },
        () => "ok",
      );
      await using peer = await RawPeer.connect(server.addr.port);
      let closed = false;
      for (let i = 0; i < 100 && !closed; i++) {
        try {
          await peer.send({ auth_token: "wrong" });
          closed = (await peer.receive())?.code !== "unauthorized";
        } catch {
          closed = true;
        }
        await delay(50);
      }
      assert.ok(closed, "closed within 5 s although it kept sending");
    });
  }
});

Deno.test("authTimeout closes a silent connection and a stalled TLS handshake; a proven one stays", async () => {
  const cert = Deno.readTextFileSync(`${ROOT}tests/fixtures/localhost.crt`);
  const key = Deno.readTextFileSync(`${ROOT}tests/fixtures/localhost.key`);
  const errors: string[] = [];
  await using tls = serve({
    port: 0,
    cert,
    key,
    authTimeout: 200,
    frameTimeout: 60_000,
    onError: (error) => errors.push((error as Error).message),
  }, () => 1);
  const stalled = await RawPeer.connect(tls.addr.port);
  await stalled.write(Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0x40)); // half a ClientHello
  assert.ok(await eventually(() => tls.stats().connections.open === 1));
  // The slot is freed. (Deno 2.9 keeps the TCP socket of a TLS handshake it
  // is still waiting on until the peer leaves, even after close().)
  assert.ok(await eventually(() => tls.stats().connections.open === 0));
  assert.ok(
    errors.some((m) => /No authorised request within 200 ms/.test(m)),
    errors.join(),
  );
  stalled.close();
  await using server = serve({ port: 0, authTimeout: 200 }, () => "ok");
  await using silent = await RawPeer.connect(server.addr.port);
  await using proven = await RawPeer.connect(server.addr.port);
  assert.equal((await proven.call({}))?.status, "ok");
  assert.ok(await silent.closedByServer());
  await delay(300);
  assert.equal(
    (await proven.call({}))?.status,
    "ok",
    "a proven connection has no auth deadline",
  );
});

Deno.test("when every slot is taken, the oldest unproven connection makes room for a new client", async () => {
  await using server = serve({
    port: 0,
    maxConnections: 5,
    authTimeout: 60_000,
  }, () => "served");
  const squatters = await Promise.all(
    Array.from({ length: 5 }, () => RawPeer.connect(server.addr.port)),
  );
  try {
    assert.ok(await eventually(() => server.stats().connections.open === 5));
    assert.equal((await send({ port: server.addr.port }, {})).result, "served");
    assert.ok(
      await squatters[0].closedByServer(),
      "the oldest squatter was evicted",
    );
  } finally {
    squatters.forEach((peer) => peer.close());
  }
});

Deno.test("one peer flooding pipelined frames does not starve another connection", async () => {
  await using server = serve({ port: 0, authTimeout: 0 }, () => 1);
  const flooder = await Deno.connect({
    hostname: LOOPBACK,
    port: server.addr.port,
  });
  const one = frame({});
  const chunk = new Uint8Array(one.length * 4_000);
  for (let i = 0; i < 4_000; i++) chunk.set(one, i * one.length);
  let flooding = true;
  const drain = (async () => {
    const buffer = new Uint8Array(256 * 1024);
    try {
      while ((await flooder.read(buffer)) !== null) {
        // Read and drop the answers, so the server never pauses the flood.
      }
    } catch {
      // Closed below.
    }
  })();
  const flood = (async () => {
    const end = performance.now() + 20_000;
    while (flooding && performance.now() < end) {
      for (let at = 0; at < chunk.length;) {
        at += await flooder.write(chunk.subarray(at));
      }
    }
  })();
  await delay(200);
  const framesAtStart = server.stats().frames.in;
  await using victim = await connect({ port: server.addr.port });
  for (let i = 0; i < 50; i++) assert.equal(await victim.request({}), 1);
  const stillFlooding = flooding;
  const framesDuring = server.stats().frames.in - framesAtStart;
  flooding = false;
  await flood;
  flooder.close();
  await drain;
  assert.ok(stillFlooding);
  assert.ok(
    framesDuring > 50_000,
    `the flood went on meanwhile: ${framesDuring} frames`,
  );
});

Deno.test("a closed connection's queued requests never start, and are counted as dropped", async () => {
  let started = 0;
  await using server = serve(
    { port: 0, maxInFlight: 4 },
    async (_p, { signal }) => {
      started++;
      await delay(100, signal);
      return "done";
    },
  );
  const conn = await Deno.connect({
    hostname: LOOPBACK,
    port: server.addr.port,
  });
  const many = Array.from(
    { length: 500 },
    (_, n) => [...frame({ request_id: n })],
  ).flat();
  await conn.write(new Uint8Array(many));
  assert.ok(
    await eventually(() => started === 8),
    "two rounds of four started",
  );
  conn.close();
  await delay(400);
  // At most the round already under way when the reset arrived.
  assert.ok(
    started <= 12,
    `${started} handlers started for a connection that had gone`,
  );
  const { frames, requests } = server.stats();
  assert.ok(
    requests.dropped >= frames.in - 12,
    JSON.stringify({ frames, requests }),
  );
  assert.ok(frames.in > 30 && requests.dropped > 20, JSON.stringify({ frames, requests }));
});

Deno.test("a queued request whose timeout_ms ran out while it waited never starts", async () => {
  let started = 0;
  await using server = serve({ port: 0 }, async (_p, { signal }) => {
    started++;
    await delay(300, signal);
    return "ran";
  });
  await using peer = await RawPeer.connect(server.addr.port);
  // No ids: they run one after another. One write, so that all five arrive
  // together and each waits in line from the same moment.
  await peer.write(concat(Array.from({ length: 5 }, () => encodeMessage({ timeout_ms: 100 }))));
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await peer.receive())?.code);
  assert.deepEqual(codes, [
    "timeout",
    "timeout",
    "timeout",
    "timeout",
    "timeout",
  ]);
  assert.equal(
    started,
    1,
    "only the first started; the others expired in line",
  );
});

Deno.test("shutdown takes at most gracePeriod + 1 s whatever is queued, and answers each request once", async () => {
  let started = 0;
  const server = serve({ port: 0, gracePeriod: 300, maxInFlight: 1_000 }, async () => {
    started++;
    await delay(1_000); // ignores its signal on purpose
    return "finished";
  });
  await using peer = await RawPeer.connect(server.addr.port);
  // 200 requests without ids: one at a time, 200 s of work in line.
  await peer.write(
    new Uint8Array(Array.from({ length: 200 }, () => [...frame({})]).flat()),
  );
  assert.ok(await eventually(() => server.stats().frames.in === 200));
  const began = performance.now();
  await server.shutdown();
  const took = performance.now() - began;
  assert.ok(took < 5_000, `shutdown took ${took} ms`);
  const answers = [];
  for (
    let answer = await peer.receive();
    answer !== undefined;
    answer = await peer.receive()
  ) {
    answers.push(answer.code ?? answer.status);
  }
  assert.equal(answers.length, 200, "each request answered once");
  assert.ok(answers.every((code) => code === "shutting_down"), answers.join());
  assert.equal(started, 1);
});

Deno.test("examples/server.ts never runs open when SOCKETBRIDGE_TOKEN is set but unreadable", async () => {
  const run = (permissions: string[], extra: string[] = []) =>
    new Deno.Command(DENO, {
      args: [
        "run",
        ...permissions,
        "--no-prompt",
        "examples/server.ts",
        "--port",
        "0",
        ...extra,
      ],
      env: { SOCKETBRIDGE_TOKEN: "abc" },
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    });
  const refused = await run(["--allow-net=127.0.0.1"]).output();
  assert.equal(refused.code, 2);
  assert.match(
    new TextDecoder().decode(refused.stderr),
    /^error: cannot tell whether SOCKETBRIDGE_TOKEN is set: grant --allow-env=SOCKETBRIDGE_TOKEN/,
  );
  // With the grant, the variable's token is enforced.
  const child = run(["--allow-net=127.0.0.1", "--allow-env=SOCKETBRIDGE_TOKEN"])
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const port = Number((await reader.read()).value!.match(/:(\d+)/)![1]);
    assert.equal((await send({ port }, {})).code, "unauthorized");
    assert.equal((await send({ port, token: "abc" }, { type: "echo" })).status, "ok");
  } finally {
    child.kill("SIGINT");
    await reader.cancel();
    await child.status;
    await child.stderr.cancel();
  }
});

Deno.test("a non-loopback bind without a readable token names --allow-env", () => {
  assert.throws(
    () => serve({ hostname: "0.0.0.0", port: 0 }, () => 1),
    /SOCKETBRIDGE_TOKEN and grant --allow-env=SOCKETBRIDGE_TOKEN|Set token \(or SOCKETBRIDGE_TOKEN\)/,
  );
});

Deno.test("shutdown removes only the socket this server created, never a foreign one", async () => {
  const path = "/tmp/socketbridge-test-c.sock";
  const server = serve({ path }, () => 1);
  Deno.removeSync(path);
  // Someone else's socket is now at the path.
  const foreign = Deno.listen({ transport: "unix", path });
  const foreignIno = Deno.lstatSync(path).ino;
  await server.shutdown();
  assert.equal(
    Deno.lstatSync(path).ino,
    foreignIno,
    "the foreign socket is still there",
  );
  assert.equal(exists(`${path}.lock`), false);
  foreign.close(); // Deno unlinks its own path on close.
});

Deno.test("a burst of connections is accepted a few at a time, the event loop turning between", async () => {
  // Accepted one after another without a turn, a thousand peers connecting
  // at once kept the runtime from polling any other socket: a well-behaved
  // client's request waited 60-130 ms to be read.
  await using server = serve({ port: 0 }, () => "served");
  const seen: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      seen.push(server.stats().connections.open);
      await yieldToEventLoop();
    }
  })();
  const burst = await Promise.all(
    Array.from(
      { length: 64 },
      () => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    ),
  );
  const allOpen = await eventually(() => server.stats().connections.open === 64);
  sampling = false;
  await sampler;
  const steps = seen.slice(1).map((open, i) => open - seen[i]);
  assert.ok(allOpen, `${server.stats().connections.open} of 64 admitted`);
  assert.ok(Math.max(...steps) <= 8, `admitted per turn: ${steps.filter((step) => step > 0)}`);
  assert.ok(steps.filter((step) => step > 0).length >= 4, "admitted over several turns");
  for (const conn of burst) conn.close();
});
