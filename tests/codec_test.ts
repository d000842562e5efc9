import assert from "node:assert/strict";
import { borrowBuffer, returnBuffer } from "../_wire/buffer_pool.ts";
import {
  decodeMessage,
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  FrameDecoderStream,
  FrameTooLargeError,
  IncompleteFrameError,
} from "../codec.ts";
import { fuzzDecoder } from "./_fuzz.ts";
import { concat, seeded } from "./_helpers.ts";

const bodies = [
  new Uint8Array(0),
  new TextEncoder().encode('{"type":"ping"}'),
  new Uint8Array(300).map((_, i) => i & 0xff),
  new Uint8Array(0),
  new Uint8Array([0xff]),
];
const stream = concat(bodies.map(encodeFrame));

function decodeChunks(chunks: Uint8Array[], maxBytes?: number): Uint8Array[] {
  const decoder = new FrameDecoder({ maxBytes });
  const out: Uint8Array[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (body) => out.push(body.slice()));
  }
  decoder.finish();
  return out;
}

function thrown(action: () => void): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return assert.fail("expected a throw");
}

function chunkAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [0, ...cuts, bytes.length];
  return points.slice(1).map((end, i) => bytes.slice(points[i], end));
}

Deno.test("FrameDecoder yields one body per frame when split at every single point", () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    assert.deepEqual(
      decodeChunks(chunkAt(stream, [cut])),
      bodies,
      `cut at ${cut}`,
    );
  }
});

Deno.test("FrameDecoder yields one body per frame when split at every pair of points", () => {
  const small = concat([bodies[0], bodies[1], bodies[4]].map(encodeFrame));
  for (let a = 0; a <= small.length; a++) {
    for (let b = a; b <= small.length; b++) {
      assert.deepEqual(decodeChunks(chunkAt(small, [a, b])), [
        bodies[0],
        bodies[1],
        bodies[4],
      ]);
    }
  }
});

Deno.test("FrameDecoder yields one body per frame when fed one byte at a time", () => {
  const chunks = [...stream].map((byte) => new Uint8Array([byte]));
  assert.deepEqual(decodeChunks(chunks), bodies);
});

Deno.test("FrameDecoder yields every frame of random chunkings (seeded)", () => {
  const random = seeded(42);
  const many: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    many.push(
      new Uint8Array(Math.floor(random() * 2000)).map(() => random() * 256),
    );
  }
  const bytes = concat(many.map(encodeFrame));
  for (let round = 0; round < 50; round++) {
    const cuts: number[] = [];
    for (let at = 0; at < bytes.length;) {
      at += 1 + Math.floor(random() * (round % 2 ? 7 : 5000));
      if (at < bytes.length) cuts.push(at);
    }
    assert.deepEqual(
      decodeChunks(chunkAt(bytes, cuts)),
      many,
      `round ${round}`,
    );
  }
});

Deno.test("FrameDecoder hands out a frame inside one chunk as a view, not a copy", () => {
  const bytes = encodeFrame(new Uint8Array([1, 2, 3]));
  const decoder = new FrameDecoder();
  let seen: Uint8Array | undefined;
  decoder.push(bytes, (body) => seen = body);
  assert.equal(seen!.buffer, bytes.buffer);
  assert.deepEqual([...seen!], [1, 2, 3]);
});

Deno.test("FrameDecoder accepts a body of exactly maxBytes and a zero-length body", () => {
  const full = new Uint8Array(1024).fill(7);
  assert.deepEqual(
    decodeChunks([encodeFrame(full), encodeFrame(new Uint8Array(0))], 1024),
    [
      full,
      new Uint8Array(0),
    ],
  );
});

Deno.test("FrameDecoder rejects a prefix above maxBytes from the prefix alone", () => {
  const decoder = new FrameDecoder({ maxBytes: 1024 });
  const caught = thrown(() =>
    decoder.push(
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
      () => assert.fail("no frame"),
    )
  );
  assert.ok(caught instanceof FrameTooLargeError);
  assert.equal(caught.size, 0xffff_ffff);
  assert.equal(caught.limit, 1024);
  assert.equal(caught.code, "payload_too_large");
  assert.equal(
    caught.message,
    "Cannot decode frame: length 4294967295 exceeds maxBytes 1024",
  );
  // The decoder stays failed: later input cannot slip a frame through.
  assert.throws(
    () => decoder.push(encodeFrame(new Uint8Array(1)), () => {}),
    FrameTooLargeError,
  );
});

Deno.test("FrameDecoder rejects an oversized prefix split across chunks, bodies before it kept", () => {
  const decoder = new FrameDecoder({ maxBytes: 10 });
  const seen: Uint8Array[] = [];
  decoder.push(
    concat([encodeFrame(new Uint8Array([5])), new Uint8Array([0, 0])]),
    (b) => {
      seen.push(b);
    },
  );
  assert.equal(seen.length, 1);
  assert.throws(
    () => decoder.push(new Uint8Array([0, 11]), () => {}),
    FrameTooLargeError,
  );
});

Deno.test("FrameDecoder with onOversized skips the oversized body and goes on", () => {
  const sizes: number[] = [];
  const decoder = new FrameDecoder({
    maxBytes: 4,
    onOversized: (size) => sizes.push(size),
  });
  const bytes = concat([
    encodeFrame(new Uint8Array(9).fill(1)),
    encodeFrame(new Uint8Array([2, 2])),
  ]);
  const out: number[][] = [];
  for (const byte of bytes) {
    decoder.push(new Uint8Array([byte]), (b) => out.push([...b]));
  }
  assert.deepEqual(sizes, [9]);
  assert.deepEqual(out, [[2, 2]]);
  assert.ok(decoder.idle);
});

Deno.test("FrameDecoder.finish() reports an unfinished frame with the bytes held", () => {
  const decoder = new FrameDecoder();
  decoder.push(
    new Uint8Array([0, 0, 0, 5, 1, 2]),
    () => assert.fail("incomplete"),
  );
  assert.equal(decoder.idle, false);
  assert.equal(decoder.pendingBytes, 6);
  const error = thrown(() => decoder.finish());
  assert.ok(error instanceof IncompleteFrameError);
  assert.equal(error.buffered, 6);
  // What the unfinished frame held is let go.
  assert.equal(decoder.idle, true);
  assert.equal(decoder.heldBytes, 0);
  decoder.finish();
});

Deno.test("FrameDecoder.finish() gives a lent body's buffer back to the pool", () => {
  const decoder = new FrameDecoder({ lendBodies: true });
  const marked = new Uint8Array(100_000).fill(9);
  decoder.push(new Uint8Array([0, 4, 0, 0, ...marked]), () => assert.fail("incomplete"));
  assert.ok(decoder.heldBytes >= 100_000);
  assert.ok(thrown(() => decoder.finish()) instanceof IncompleteFrameError);
  assert.equal(decoder.heldBytes, 0);
  // The pool lends last in, first out: the next borrower of that size gets
  // the buffer the unfinished frame was assembled in, as it was left.
  const next = borrowBuffer(200_000);
  assert.deepEqual([...next.subarray(0, 4)], [9, 9, 9, 9]);
  returnBuffer(next);
});

Deno.test("FrameDecoder rejects a bad maxBytes with a RangeError", () => {
  assert.throws(() => new FrameDecoder({ maxBytes: -1 }), RangeError);
  assert.throws(() => new FrameDecoder({ maxBytes: 1.5 }), RangeError);
  assert.throws(() => new FrameDecoder({ maxBytes: 2 ** 32 }), RangeError);
});

Deno.test("FrameDecoderStream turns a byte stream into bodies, one per frame", async () => {
  const chunks = chunkAt(stream, [1, 2, 3, 10, 11, 40, 41]);
  const out = await Array.fromAsync(
    ReadableStream.from(chunks).pipeThrough(new FrameDecoderStream()),
  );
  assert.deepEqual(out.map((b) => [...b]), bodies.map((b) => [...b]));
});

Deno.test("FrameDecoderStream errors on an oversized prefix and on a truncated end", async () => {
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from([new Uint8Array([0, 0, 1, 0])]).pipeThrough(
        new FrameDecoderStream({ maxBytes: 255 }),
      ),
    ),
    FrameTooLargeError,
  );
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from([new Uint8Array([0, 0, 0, 9, 1])]).pipeThrough(
        new FrameDecoderStream(),
      ),
    ),
    IncompleteFrameError,
  );
});

Deno.test("encodeMessage() and decodeMessage() round-trip UTF-8 JSON", () => {
  const value = { text: "héllo ☃ 𝄞", n: [1, 2.5, null], nested: { ok: true } };
  const frame = encodeMessage(value);
  assert.equal(new DataView(frame.buffer).getUint32(0), frame.length - 4);
  assert.deepEqual(decodeMessage(frame.subarray(4)), value);
  assert.deepEqual([...encodeMessage("a")], [0, 0, 0, 3, 34, 97, 34]);
});

Deno.test("decodeMessage() throws SyntaxError on bad UTF-8 and on bad JSON", () => {
  assert.throws(
    () => decodeMessage(new Uint8Array([0x7b, 0xff, 0x7d])),
    SyntaxError,
  );
  assert.throws(
    () => decodeMessage(new TextEncoder().encode("{nope")),
    SyntaxError,
  );
  assert.throws(() => encodeMessage(undefined), TypeError);
  assert.throws(() => encodeMessage({ big: 1n }), TypeError);
});

Deno.test("FrameDecoder on 100,000 random and corrupted inputs yields frames or FrameTooLargeError only", () => {
  const counts = fuzzDecoder(7, 100_000);
  assert.equal(counts.cases, 100_000);
  assert.ok(counts.frames > 10_000, `frames ${counts.frames}`);
  assert.ok(counts.tooLarge > 10_000, `too large ${counts.tooLarge}`);
});

Deno.test("FrameDecoder lendBodies: the same bodies as without, under random splits, each read inside onFrame", () => {
  const random = seeded(11);
  const bodies = Array.from({ length: 60 }, (_, i) => {
    const size = i % 3 === 0 ? 70_000 + Math.floor(random() * 300_000) : Math.floor(random() * 900);
    return Uint8Array.from({ length: size }, (_, k) => (k * 31 + i) & 0xff);
  });
  const stream = concat(bodies.map((body) => encodeFrame(body)));
  const plain = new FrameDecoder({ maxBytes: 1 << 20 });
  const lending = new FrameDecoder({ maxBytes: 1 << 20, lendBodies: true });
  const fromPlain: Uint8Array[] = [];
  const fromLending: Uint8Array[] = [];
  for (let at = 0; at < stream.length;) {
    const size = 1 + Math.floor(random() * 70_000);
    const chunk = stream.slice(at, at + size);
    plain.push(chunk, (body) => fromPlain.push(body));
    // A lent body is valid only inside onFrame: copy it there.
    lending.push(chunk, (body) => fromLending.push(body.slice()));
    at += size;
  }
  assert.equal(fromLending.length, bodies.length);
  for (let i = 0; i < bodies.length; i++) {
    assert.deepEqual(fromLending[i], bodies[i], `body ${i}`);
    assert.deepEqual(fromPlain[i], bodies[i], `body ${i}`);
  }
  assert.ok(lending.idle);
});
