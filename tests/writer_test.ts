import assert from "node:assert/strict";
import { FrameDecoder } from "../codec.ts";
import { FrameWriter } from "../_shared/writer.ts";
import { TextPieces } from "../_wire/text_pieces.ts";

/** A sink that records each write and lets the test decide when it finishes. */
function recordingSink(acceptPerWrite = Infinity) {
  const writes: Uint8Array[] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  return {
    writes,
    hold() {
      gate = new Promise((resolve) => release = resolve);
    },
    release() {
      release?.();
      gate = undefined;
    },
    async write(p: Uint8Array): Promise<number> {
      await gate;
      const n = Math.min(p.length, acceptPerWrite);
      writes.push(p.slice(0, n));
      return n;
    },
  };
}

function bodiesOf(writes: Uint8Array[]): number[][] {
  const out: number[][] = [];
  const decoder = new FrameDecoder();
  for (const w of writes) decoder.push(w, (b) => out.push([...b]));
  return out;
}

Deno.test("FrameWriter sends every frame queued in one turn as one write", async () => {
  const sink = recordingSink();
  const writer = new FrameWriter(sink, 1 << 20);
  for (let i = 0; i < 50; i++) writer.enqueue(new Uint8Array([i]));
  await writer.drained();
  assert.equal(sink.writes.length, 1);
  assert.deepEqual(
    bodiesOf(sink.writes),
    Array.from({ length: 50 }, (_, i) => [i]),
  );
});

Deno.test("FrameWriter batches what arrives during a write into the next one, in order", async () => {
  const sink = recordingSink();
  sink.hold();
  const writer = new FrameWriter(sink, 1 << 20);
  writer.enqueue(new Uint8Array([1]));
  await Promise.resolve();
  writer.enqueue(new Uint8Array([2]));
  writer.enqueue(new Uint8Array([3]));
  sink.release();
  await writer.drained();
  assert.equal(sink.writes.length, 2);
  assert.deepEqual(bodiesOf(sink.writes), [[1], [2], [3]]);
});

Deno.test("FrameWriter finishes partial writes and reports full past its high-water mark", async () => {
  const sink = recordingSink(3);
  const writer = new FrameWriter(sink, 10);
  writer.enqueue(new Uint8Array(20).fill(9));
  assert.equal(writer.full, true);
  assert.equal(writer.bufferedBytes, 24);
  await writer.ready();
  assert.equal(writer.full, false);
  await writer.drained();
  assert.deepEqual(bodiesOf(sink.writes), [new Array(20).fill(9)]);
});

Deno.test("FrameWriter fails once and wakes its waiters when the sink throws", async () => {
  const failures: unknown[] = [];
  const writer = new FrameWriter({
    write: () => Promise.reject(new Error("gone")),
  }, 1);
  writer.onFailure = (error) => failures.push(error);
  writer.enqueue(new Uint8Array(10));
  await writer.drained();
  assert.equal(writer.failed, true);
  assert.equal(writer.enqueue(new Uint8Array(1)), false);
  assert.equal(failures.length, 1);
});

Deno.test("FrameWriter encodes queued JSON text as UTF-8 in place, short and long, next to bytes", async () => {
  const sink = recordingSink();
  const written: number[] = [];
  const writer = new FrameWriter(sink, 1 << 20);
  writer.onWritten = (bytes) => written.push(bytes);
  const long = "é".repeat(20_000);
  writer.enqueue('{"a":"☃"}');
  writer.enqueue(new Uint8Array([1, 2]));
  writer.enqueue(long);
  await writer.drained();
  const text = new TextEncoder();
  assert.deepEqual(bodiesOf(sink.writes), [
    [...text.encode('{"a":"☃"}')],
    [1, 2],
    [...text.encode(long)],
  ]);
  assert.equal(writer.bufferedBytes, 0);
  assert.deepEqual(written, [sink.writes.reduce((n, w) => n + w.length, 0)]);
});

Deno.test("FrameWriter encodes text in pieces as the joined text, short or long, ASCII or not", async () => {
  const sink = recordingSink();
  const writer = new FrameWriter(sink, 1 << 22);
  // Long pieces, the middle one needing three bytes a character (the buffer grows for it).
  const long = new TextPieces(['{"result":"', "☃".repeat(70_000) + "é".repeat(5), '"}']);
  const ascii = new TextPieces(["x".repeat(40_000), "y".repeat(40_000)]);
  const short = new TextPieces(['{"a":', '"é"}']);
  writer.enqueue(long);
  writer.enqueue(short);
  writer.enqueue(ascii);
  await writer.drained();
  const text = new TextEncoder();
  assert.deepEqual(
    bodiesOf(sink.writes),
    [long, short, ascii].map((pieces) => [...text.encode(String(pieces))]),
  );
  assert.equal(writer.bufferedBytes, 0);
});

Deno.test("FrameWriter encodes a large text as it is queued, not holding the text until its flush", async () => {
  // A text kept until the flush outlived young collections and lingered as
  // old garbage: under a crowd of 1 MiB echoes, hundreds of MiB of it.
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      new URL("./_writer_holds.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
  }).output();
  assert.equal(output.code, 0);
  const report = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(report.collected, true);
  // The frame is still charged: as the buffer its bytes are held in.
  assert.ok(report.bufferedBytes >= report.length, String(report.bufferedBytes));
});
