// The read buffer of one connection: grown while reads fill it; a mapped
// reader's grown buffers (a server's strangers) are given back when shrunk,
// for the next to reuse, and it moves to a plain buffer once mapping is off.

import assert from "node:assert/strict";
import { ChunkReader, type Readable } from "../_shared/transport.ts";

/** A connection that always has more to read: every read fills the buffer. */
const endless: Readable = {
  read: (buffer) => Promise.resolve(buffer.fill(7).length),
};

async function growTo(reader: ChunkReader, capacity: number): Promise<Uint8Array> {
  let chunk = await reader.read();
  while (reader.capacity < capacity) chunk = await reader.read();
  return chunk!;
}

Deno.test("a mapped reader's grown buffers are resizable, and shrink() gives them back for the next reader to grow into", async () => {
  const reader = new ChunkReader(endless);
  reader.mapped = true;
  await growTo(reader, 65_536);
  const chunk = (await reader.read())!;
  assert.equal(chunk.length, 65_536);
  assert.equal((chunk.buffer as ArrayBuffer).resizable, true);
  reader.shrink();
  assert.equal(reader.capacity, 1_024);
  assert.equal((await reader.read())!.length, 1_024);
  // A crowd of strangers paused and read again reuses buffers, not fresh mappings.
  const next = new ChunkReader(endless);
  next.mapped = true;
  await growTo(next, 65_536);
  assert.equal((await next.read())!.buffer, chunk.buffer);
});

Deno.test("a reader not mapped grows plain buffers; turned off, a mapped one moves to a plain buffer", async () => {
  const plain = new ChunkReader(endless);
  await growTo(plain, 65_536);
  const kept = (await plain.read())!;
  assert.equal((kept.buffer as ArrayBuffer).resizable, false);
  plain.shrink();
  assert.equal(kept.length, 65_536, "a plain buffer is left to the collector");

  const reader = new ChunkReader(endless);
  reader.mapped = true;
  await growTo(reader, 65_536);
  const mapped = (await reader.read())!;
  assert.equal((mapped.buffer as ArrayBuffer).resizable, true);
  reader.mapped = false;
  const next = (await reader.read())!;
  assert.equal((next.buffer as ArrayBuffer).resizable, false);
  assert.equal(next.length, 65_536, "same size, plain");
  const stranger = new ChunkReader(endless);
  stranger.mapped = true;
  await growTo(stranger, 65_536);
  assert.equal((await stranger.read())!.buffer, mapped.buffer, "the mapped one was given back");
});

Deno.test("a reader grows never past its limit, to a power of two", async () => {
  const reader = new ChunkReader(endless);
  reader.mapped = true;
  reader.limit = 40_000;
  const sizes: number[] = [];
  for (let i = 0; i < 7; i++) sizes.push((await reader.read())!.length);
  assert.deepEqual(sizes, [1_024, 2_048, 4_096, 8_192, 16_384, 32_768, 32_768]);
  const plain = new ChunkReader(endless);
  const plainSizes: number[] = [];
  for (let i = 0; i < 8; i++) plainSizes.push((await plain.read())!.length);
  assert.deepEqual(plainSizes, [1_024, 2_048, 4_096, 8_192, 16_384, 32_768, 65_536, 65_536]);
});
