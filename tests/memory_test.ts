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
  await using server = serve({
    port: 0,
    maxBufferedBytes: limit,
    frameTimeout: 60_000,
    authTimeout: 0,
    gracePeriod: 100,
  }, (payload: { n?: number }) => payload.n ?? null);
  await using light = await connect({ port: server.addr.port });
  // Strangers each announce 1 MiB and send 900 KiB of it, then stall: 27 MiB if all were read.
  const half = new Uint8Array(4 + 900 * 1024);
  new DataView(half.buffer).setUint32(0, 2 ** 20 - 16);
  half.fill(0x20, 4);
  const hogs = await Promise.all(
    Array.from({ length: 30 }, () => Deno.connect({ hostname: LOOPBACK, port: server.addr.port })),
  );
  const writes = hogs.map(async (hog) => {
    try {
      for (let at = 0; at < half.length;) at += await hog.write(half.subarray(at));
    } catch {
      // Closed by the server.
    }
  });
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
  hogs.forEach((hog) => hog.close());
  await Promise.all(writes);
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
