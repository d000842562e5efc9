// Memory a peer can make the server hold: a prefix announcing a big frame
// reserves nothing, the server-wide budget (maxBufferedBytes) pauses and
// then closes the heaviest holders while a light client goes on, and the
// client's outbound queue is bounded.

import assert from "node:assert/strict";
import { encodeMessage } from "../codec.ts";
import { connect, send } from "../client.ts";
import { TimeoutError } from "../errors.ts";
import { serve } from "../server.ts";
import { delay, eventually, RawPeer, rawServer } from "./_helpers.ts";

const LOOPBACK = "127.0.0.1";

/** A frame of the JSON `value` with a request_id, as bytes. */
const frame = (value: Record<string, unknown>) => encodeMessage(value);

/** Server options under which stalled strangers stay connected for the test's length. */
const STALLS_ALLOWED = { frameTimeout: 60_000, authTimeout: 0, gracePeriod: 100 };

/** Strangers that each announce a 1 MiB frame, send 900 KiB of it, then stall. */
async function stallStrangers(port: number, count: number): Promise<{ close(): Promise<void> }> {
  const half = new Uint8Array(4 + 900 * 1024);
  new DataView(half.buffer).setUint32(0, 2 ** 20 - 16);
  half.fill(0x20, 4);
  const hogs = await Promise.all(
    Array.from({ length: count }, () => Deno.connect({ hostname: LOOPBACK, port })),
  );
  const writes = hogs.map(async (hog) => {
    try {
      for (let at = 0; at < half.length;) at += await hog.write(half.subarray(at));
    } catch {
      // Closed by the server.
    }
  });
  return {
    async close() {
      hogs.forEach((hog) => hog.close());
      await Promise.all(writes);
    },
  };
}

/** Clients that prove themselves, then each pipeline 40 echoes of 200 KiB and read nothing. */
async function nonReaders(port: number, count: number): Promise<{ close(): Promise<void> }> {
  const hogs = await Promise.all(Array.from({ length: count }, () => RawPeer.connect(port)));
  for (const hog of hogs) {
    await hog.send({ request_id: 0 });
    assert.equal((await hog.receive())?.status, "ok");
  }
  const echo = frame({ pad: "e".repeat(200 * 1024), request_id: 1 });
  const writes = hogs.map(async (hog) => {
    try {
      for (let i = 0; i < 40; i++) await hog.write(echo);
    } catch {
      // Closed by the server, or when the test ends.
    }
  });
  return {
    async close() {
      hogs.forEach((hog) => hog.close());
      await Promise.all(writes);
    },
  };
}

/** The server's bytes read, once reading has settled (nothing more for 200 ms). */
async function settledBytesIn(server: { stats(): { bytes: { in: number } } }): Promise<number> {
  let read = -1;
  while (read !== server.stats().bytes.in) {
    read = server.stats().bytes.in;
    await delay(200);
  }
  return read;
}

Deno.test("a prefix announcing maxBytes reserves nothing: memory grows only with what arrives", async () => {
  await using server = serve(
    { port: 0, maxBytes: 8 * 1024 * 1024 },
    () => "ok",
  );
  const before = Deno.memoryUsage().external;
  const peers = await Promise.all(
    Array.from({ length: 40 }, () => RawPeer.connect(server.addr.port)),
  );
  try {
    for (const peer of peers) {
      await peer.write(Uint8Array.of(0, 0x80, 0, 0, 0x7b, 0x22));
    }
    assert.ok(await eventually(() => server.stats().bytes.in === 40 * 6));
    const grown = Deno.memoryUsage().external - before;
    // Reserving the announced 8 MiB each would be 320 MiB.
    assert.ok(grown < 32 * 1024 * 1024, `external memory grew ${grown} bytes`);
    // What is charged is what is allocated: a read buffer and a small body
    // buffer each, under 16 KiB a connection, nowhere near the 8 MiB announced.
    assert.ok(server.stats().memory.buffered < 40 * 16 * 1024, `${server.stats().memory.buffered}`);
  } finally {
    peers.forEach((peer) => peer.close());
  }
});

Deno.test("maxBufferedBytes: past the server-wide budget reading stops, then resumes as memory drains", async () => {
  await using server = serve({
    port: 0,
    maxBufferedBytes: 512 * 1024,
    maxOutboundBytes: 64 * 1024 * 1024,
    writeTimeout: 60_000,
    authTimeout: 0,
  }, (payload: { pad: string }) => payload.pad);
  const pad = "y".repeat(100_000);
  const hogs = await Promise.all(
    [1, 2, 3].map(() => Deno.connect({ hostname: LOOPBACK, port: server.addr.port })),
  );
  const one = frame({ pad, request_id: 1 });
  const writes = hogs.map(async (hog) => {
    try {
      for (let i = 0; i < 100; i++) {
        for (let at = 0; at < one.length;) {
          at += await hog.write(one.subarray(at));
        }
      }
    } catch {
      // Closed at the end of the test.
    }
  });
  let peak = 0;
  await eventually(() => {
    peak = Math.max(peak, server.stats().memory.buffered);
    return false;
  }, 1_500);
  const { frames } = server.stats();
  assert.ok(
    frames.in < 300,
    `the server stopped reading: ${frames.in} of 300 frames read`,
  );
  // The budget is soft by one read chunk and one answer per connection.
  assert.ok(peak < 512 * 1024 + 3 * (64 * 1024 + 2 * 100_100), `peak ${peak}`);
  hogs.forEach((hog) => hog.close());
  await Promise.all(writes);
  assert.ok(
    await eventually(() => server.stats().memory.buffered === 0),
    "memory drains",
  );
  assert.equal(
    (await send({ port: server.addr.port }, { pad: "after" })).result,
    "after",
  );
});

Deno.test("connect(): the outbound queue is bounded and given-up requests never go out", async () => {
  let received = 0;
  const gate = Promise.withResolvers<void>();
  await using peer = rawServer(async () => {
    received++;
    await gate.promise;
  });
  await using client = await connect({
    port: peer.port,
    maxOutboundBytes: 256 * 1024,
  });
  const pad = "z".repeat(100_000);
  const requests = Array.from(
    { length: 300 },
    () => client.request({ pad }, { timeout: 300 }).catch((e) => e),
  );
  const errors = await Promise.all(requests);
  assert.ok(errors.every((e) => e instanceof TimeoutError));
  assert.equal(client.pending, 0);
  gate.resolve();
  await delay(300);
  // The raw server read only what had left the bounded queue (and the kernel's buffers).
  assert.ok(
    received < 150,
    `${received} of 300 given-up requests reached the server`,
  );
});

Deno.test("maxBufferedBytes: strangers announcing big frames are paused at their share; a client that holds little is never refused", async () => {
  const limit = 4 * 2 ** 20;
  await using server = serve(
    { port: 0, maxBufferedBytes: limit, ...STALLS_ALLOWED },
    (payload: { n?: number }) => payload.n ?? null,
  );
  await using light = await connect({ port: server.addr.port });
  // Strangers each announce 1 MiB and send 900 KiB of it, then stall: 27 MiB if all were read.
  const stalled = await stallStrangers(server.addr.port, 30);
  const answers: unknown[] = [];
  let peak = 0;
  for (let n = 0; n < 40; n++) {
    answers.push(await light.request({ n }).catch((error) => error));
    peak = Math.max(peak, server.stats().memory.buffered);
    await delay(10);
  }
  assert.deepEqual(
    answers,
    Array.from({ length: 40 }, (_, n) => n),
    "the light client was refused",
  );
  assert.ok(peak <= limit, `${peak} bytes held, past the budget of ${limit}`);
  assert.ok(server.stats().bytes.in < 30 * 900 * 1024 / 2, "the strangers were read on");
  await stalled.close();
});

Deno.test("maxBufferedBytes: strangers between them are read no further than an eighth of the budget", async () => {
  const limit = 8 * 2 ** 20;
  await using server = serve(
    { port: 0, maxBufferedBytes: limit, ...STALLS_ALLOWED },
    () => "served",
  );
  // 30 strangers each announce 1 MiB and send 900 KiB of it, then stall.
  const stalled = await stallStrangers(server.addr.port, 30);
  const read = await settledBytesIn(server);
  // An eighth of the budget (1 MiB), and the one stranger read on past it
  // (at most a frame): not the 6 MiB at which memory becomes tight.
  const bound = limit / 8 + 2 ** 20 + 30 * 64 * 1024;
  assert.ok(read < bound, `${read} bytes of strangers read, past ${bound}`);
  assert.ok(server.stats().memory.buffered < bound, `${server.stats().memory.buffered}`);
  // A stranger that holds little is still read, and served.
  const answer = await send({ port: server.addr.port, timeout: 5_000 }, { type: "fresh" });
  assert.equal(answer.result, "served");
  await stalled.close();
});

Deno.test("maxBufferedBytes: strangers sending large first requests at once are all served, one past their eighth at a time", async () => {
  await using server = serve({
    port: 0,
    maxBufferedBytes: 4 * 2 ** 20,
  }, (payload: { pad: string; n: number }) => ({ n: payload.n, length: payload.pad.length }));
  // 16 × 600 KiB: past the strangers' eighth (512 KiB) many times over, each
  // over its share of it. Were they all paused, they would wait for each other.
  const peers = await Promise.all(
    Array.from({ length: 16 }, () => RawPeer.connect(server.addr.port)),
  );
  const pad = "z".repeat(600 * 1024);
  const answers = await Promise.all(peers.map(async (peer, n) => {
    await peer.send({ pad, n, request_id: n });
    const answer = await Promise.race([peer.receive(), delay(8_000).then(() => "no answer")]);
    peer.close();
    return answer;
  }));
  assert.deepEqual(
    answers.map((answer) => (answer as { result?: unknown }).result),
    Array.from({ length: 16 }, (_, n) => ({ n, length: pad.length })),
  );
});

Deno.test("maxBufferedBytes: a proven client that reads none of its answers stops being read once memory is tight", async () => {
  const limit = 4 * 2 ** 20;
  await using server = serve({ port: 0, maxBufferedBytes: limit }, (payload: unknown) => payload);
  await using light = await connect({ port: server.addr.port });
  // Three clients prove themselves, then each pipelines 40 echoes of 200 KiB
  // (24 MiB in all) and reads nothing.
  const hogs = await nonReaders(server.addr.port, 3);
  const read = await settledBytesIn(server);
  // Each is read until it is over its share of tight memory with answers it
  // has not taken, not on and on to be refused `busy` frame by frame. (The
  // kernel takes about 4 MiB of each one's answers before it stops.)
  assert.ok(read < 20 * 2 ** 20, `${read} of 24 MiB read from clients that read nothing`);
  assert.ok((server.stats().errors.busy ?? 0) < 10, `${server.stats().errors.busy} busy answers`);
  assert.equal(await light.request({ n: 1 }).then((r) => (r as { n: number }).n), 1);
  await hogs.close();
});

Deno.test("maxBufferedBytes: a client paused for its unread answers is closed once it takes none for writeTimeout", async () => {
  const limit = 4 * 2 ** 20;
  let closed = 0;
  await using server = serve({
    port: 0,
    maxBufferedBytes: limit,
    // Their own queues never fill: only the memory pause can close them.
    maxOutboundBytes: 64 * 2 ** 20,
    writeTimeout: 500,
    onError: (error) => {
      if (/does not read its answers/.test((error as Error).message)) closed++;
    },
  }, (payload: unknown) => payload);
  // 24 MiB of echoes, of which the kernel takes about half: the rest makes
  // memory tight, and those past their share are paused.
  const hogs = await nonReaders(server.addr.port, 3);
  assert.ok(await eventually(() => closed >= 1), "no client that reads nothing was closed");
  // Those left hold no more than memory allows without pausing anybody.
  assert.ok(
    await eventually(() => server.stats().memory.buffered <= limit * 0.75),
    `${server.stats().memory.buffered} bytes held`,
  );
  await hogs.close();
});

Deno.test("maxBufferedBytes: past the budget the heaviest holders are closed, and the light client goes on", async () => {
  const limit = 2 * 2 ** 20;
  const evictions: string[] = [];
  const gate = Promise.withResolvers<void>();
  await using server = serve({
    port: 0,
    maxBufferedBytes: limit,
    authTimeout: 0,
    onError: (error) => {
      if (/the most of any/.test((error as Error).message)) {
        evictions.push((error as Error).message);
      }
    },
  }, async (payload: { pad?: string; n?: number }) => {
    // A big request's handler holds it (and its memory) until the test ends.
    if (payload.pad !== undefined) await gate.promise;
    return payload.n ?? null;
  });
  await using light = await connect({ port: server.addr.port });
  const hogs = await Promise.all(
    Array.from({ length: 12 }, () => connect({ port: server.addr.port, timeout: 10_000 })),
  );
  // Each proves itself, then has a 900 KiB request held by its handler: 10.5 MiB in all.
  await Promise.all(hogs.map((hog) => hog.request({ n: 0 })));
  const held = hogs.map((hog) => hog.request({ pad: "x".repeat(900 * 1024) }).catch((e) => e));
  const answers: unknown[] = [];
  for (let n = 0; n < 20; n++) answers.push(await light.request({ n }).catch((error) => error));
  assert.deepEqual(
    answers,
    Array.from({ length: 20 }, (_, n) => n),
    "the light client was refused",
  );
  for (let i = 0; i < 100 && evictions.length === 0; i++) await delay(20);
  assert.ok(evictions.length >= 1, "no heavy holder was closed");
  assert.equal(server.stats().memory.evicted, evictions.length);
  assert.ok(server.stats().memory.buffered <= limit, `${server.stats().memory.buffered}`);
  gate.resolve();
  await Promise.all(held);
  await Promise.all(hogs.map((hog) => hog.close()));
});

Deno.test("maxBufferedBytes: a client proven among many strangers reads as far as any client", async () => {
  // Among 60 silent strangers a stranger's share of their part of a 1 MiB
  // budget is about 2 KiB, and its reads grow no further. Once a client has
  // completed a request, its reads grow to 64 KiB again.
  await using server = serve({ port: 0, maxBufferedBytes: 2 ** 20 }, (payload: unknown) => payload);
  const strangers = await Promise.all(
    Array.from(
      { length: 60 },
      () => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    ),
  );
  await using client = await connect({ port: server.addr.port });
  await client.request({ n: -1 });
  const pad = "p".repeat(1_000);
  const answers = await Promise.all(
    Array.from({ length: 300 }, (_, n) => client.request({ n, pad }) as Promise<{ n: number }>),
  );
  assert.deepEqual(answers.map((answer) => answer.n), Array.from({ length: 300 }, (_, n) => n));
  // Its read buffer is charged: grown past what a stranger may hold.
  const held = server.stats().memory.buffered;
  assert.ok(held > 16 * 1024, `${held} bytes charged`);
  for (const stranger of strangers) stranger.close();
});
