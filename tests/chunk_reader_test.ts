// The read buffer of one connection: grown while reads fill it; a mapped
// reader's grown buffers (a server's strangers) give their memory back at
// once when shrunk, and it moves to a plain buffer once mapping is off.

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

Deno.test("a mapped reader's grown buffers are resizable and given back at once by shrink()", async () => {
  const reader = new ChunkReader(endless);
  reader.mapped = true;
  await growTo(reader, 65_536);
  const chunk = (await reader.read())!;
  assert.equal(chunk.length, 65_536);
  assert.equal((chunk.buffer as ArrayBuffer).resizable, true);
  reader.shrink();
  assert.equal(chunk.length, 0, "its memory went back: the old chunk is empty");
  assert.equal(reader.capacity, 1_024);
  assert.equal((await reader.read())!.length, 1_024);
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
  assert.equal(mapped.length, 0, "the mapped one was given back");
});
