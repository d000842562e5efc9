/**
 * Codec benchmarks: framing alone and framing with JSON, at 100 B, 64 KiB and
 * 1 MiB, plus a stream of many small frames chunked at 64 KiB. Each name ends
 * with the bytes one iteration handles, in brackets, so `deno task bench:load`
 * can turn `deno bench --json` times into bytes/s.
 *
 *   deno task bench
 *
 * @module
 */

import { decodeMessage, encodeFrame, encodeMessage, FrameDecoder } from "../codec.ts";

const SIZES = [["100 B", 100], ["64 KiB", 65_536], [
  "1 MiB",
  1_048_576,
]] as const;
const CHUNK = 65_536;

function messageOf(bytes: number): { type: string; data: string } {
  // {"type":"bench","data":"..."} is 27 bytes of envelope around the data.
  return { type: "bench", data: "x".repeat(Math.max(0, bytes - 27)) };
}

function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    out.push(bytes.slice(at, at + size));
  }
  return out;
}

let sink = 0;

for (const [label, size] of SIZES) {
  const body = new Uint8Array(size).fill(0x61);
  const message = messageOf(size);
  const framed = encodeFrame(body);
  const framedJson = encodeMessage(message);
  const pieces = chunked(framed, CHUNK);
  const piecesJson = chunked(framedJson, CHUNK);

  Deno.bench(`encode ${label}, framing only [${framed.length} B]`, {
    group: `encode ${label}`,
    baseline: true,
  }, () => {
    sink += encodeFrame(body).length;
  });
  Deno.bench(`encode ${label}, JSON + framing [${framedJson.length} B]`, {
    group: `encode ${label}`,
  }, () => {
    sink += encodeMessage(message).length;
  });
  Deno.bench(
    `decode ${label} in 64 KiB chunks, framing only [${framed.length} B]`,
    {
      group: `decode ${label}`,
      baseline: true,
    },
    () => {
      const decoder = new FrameDecoder({ maxBytes: 2_000_000 });
      for (const piece of pieces) {
        decoder.push(piece, (frame) => sink += frame.length);
      }
    },
  );
  Deno.bench(
    `decode ${label} in 64 KiB chunks, framing + JSON [${framedJson.length} B]`,
    {
      group: `decode ${label}`,
    },
    () => {
      const decoder = new FrameDecoder({ maxBytes: 2_000_000 });
      for (const piece of piecesJson) {
        decoder.push(
          piece,
          (frame) => sink += (decodeMessage(frame) as { data: string }).data.length,
        );
      }
    },
  );
}

{
  const small = messageOf(100);
  const count = 10_000;
  const framed = encodeMessage(small);
  const stream = new Uint8Array(framed.length * count);
  for (let i = 0; i < count; i++) stream.set(framed, i * framed.length);
  const pieces = chunked(stream, CHUNK);
  Deno.bench(
    `decode 10,000 × 100 B frames in 64 KiB chunks, framing only [${stream.length} B]`,
    {
      group: "stream of small frames",
      baseline: true,
    },
    () => {
      const decoder = new FrameDecoder();
      for (const piece of pieces) {
        decoder.push(piece, (frame) => sink += frame.length);
      }
    },
  );
  Deno.bench(
    `decode 10,000 × 100 B frames in 64 KiB chunks, framing + JSON [${stream.length} B]`,
    {
      group: "stream of small frames",
    },
    () => {
      const decoder = new FrameDecoder();
      for (const piece of pieces) {
        decoder.push(
          piece,
          (frame) => sink += (decodeMessage(frame) as { type: string }).type.length,
        );
      }
    },
  );
}

globalThis.addEventListener("unload", () => {
  if (sink === 0) console.log("unreachable: keeps the work observable");
});
