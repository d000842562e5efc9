// The codec, server and client over the chaos transport: the same promises
// must hold when bytes arrive split, merged, delayed or cut short.

import assert from "node:assert/strict";
import { encodeFrame, FrameDecoderStream } from "../codec.ts";
import { connect, send } from "../client.ts";
import { ConnectionClosedError } from "../errors.ts";
import { serve } from "../server.ts";
import { chaosProxy, chaosStream } from "./_chaos.ts";
import { delay, portOf, RawPeer, seeded } from "./_helpers.ts";

Deno.test("FrameDecoderStream yields every frame through 25 seeded chaos streams", async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const random = seeded(seed);
    const bodies = Array.from(
      { length: 100 },
      () => new Uint8Array(Math.floor(random() * 300)).map(() => random() * 256),
    );
    const chunks = bodies.map(encodeFrame);
    const out = await Array.fromAsync(
      ReadableStream.from(chunks)
        .pipeThrough(chaosStream({ seed, maxPiece: 1 + (seed % 9) * 40 }))
        .pipeThrough(new FrameDecoderStream()),
    );
    assert.deepEqual(
      out.map((b) => [...b]),
      bodies.map((b) => [...b]),
      `seed ${seed}`,
    );
  }
});

Deno.test("a chaos-cut stream ends FrameDecoderStream with an IncompleteFrameError, never a wrong frame", async () => {
  const bodies = Array.from(
    { length: 10 },
    (_, i) => new Uint8Array(50).fill(i),
  );
  const seen: Uint8Array[] = [];
  await assert.rejects(
    ReadableStream.from(bodies.map(encodeFrame))
      .pipeThrough(chaosStream({ seed: 3, truncateAfter: 200 }))
      .pipeThrough(new FrameDecoderStream())
      .pipeTo(new WritableStream({ write: (b) => void seen.push(b) })),
    (error: Error) => error.name === "IncompleteFrameError",
  );
  assert.equal(seen.length, 3);
  seen.forEach((body, i) => assert.deepEqual(body, bodies[i]));
});

Deno.test("connect() through a chaos proxy: 500 concurrent requests each get their own answer", async () => {
  const random = seeded(9);
  await using server = serve(
    { port: 0 },
    async (payload: { n: number; pad: string }) => {
      await delay(Math.floor(random() * 3));
      return { n: payload.n, size: payload.pad.length };
    },
  );
  for (const seed of [1, 2, 3]) {
    await using proxy = chaosProxy(portOf(server), {
      seed,
      maxPiece: 1 + seed * 50,
      delayChance: 0.02,
    });
    await using client = await connect<
      { n: number; pad: string },
      { n: number; size: number }
    >({
      port: proxy.port,
    });
    const results = await Promise.all(
      Array.from(
        { length: 500 },
        (_, n) => client.request({ n, pad: "p".repeat(n * 7) }),
      ),
    );
    results.forEach((result, n) => assert.deepEqual(result, { n, size: n * 7 }));
  }
});

Deno.test("send() and id-less ordering through a chaos proxy, with a half-close", async () => {
  await using server = serve(
    { port: 0 },
    (payload: { i: number }) => payload.i,
  );
  await using proxy = chaosProxy(portOf(server), {
    seed: 17,
    maxPiece: 3,
    delayChance: 0.1,
  });
  assert.equal((await send({ port: proxy.port }, { i: 42 })).result, 42);
  await using peer = await RawPeer.connect(proxy.port);
  for (let i = 0; i < 30; i++) await peer.send({ i });
  await peer.conn.closeWrite();
  for (let i = 0; i < 30; i++) assert.equal((await peer.receive())?.result, i);
  assert.ok(await peer.closedByServer());
});

Deno.test("a connection cut mid-stream by the chaos proxy rejects its pending requests; the server serves on", async () => {
  await using server = serve({ port: 0 }, async (payload: { n: number }) => {
    await delay(5);
    return payload.n;
  });
  await using proxy = chaosProxy(portOf(server), {
    seed: 5,
    truncateAfter: 700,
  });
  await using client = await connect({ port: proxy.port });
  const outcomes = await Promise.all(
    Array.from(
      { length: 50 },
      (_, n) => client.request({ n }).then((r) => r, (e) => e),
    ),
  );
  const closed = outcomes.filter((o) => o instanceof ConnectionClosedError);
  const answered = outcomes.filter((o) => typeof o === "number");
  assert.ok(closed.length > 0, "the cut rejected the pending requests");
  assert.equal(
    closed.length + answered.length,
    50,
    "every request settled, one way or the other",
  );
  assert.equal((await send({ port: portOf(server) }, { n: 7 })).result, 7);
});
