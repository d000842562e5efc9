// The process's pool of borrowed buffers: large ones it has no room for
// give their memory back at once, and it never lends one it emptied.

import assert from "node:assert/strict";
import { borrowBuffer, returnBuffer } from "../_wire/buffer_pool.ts";

const MiB = 1_048_576;

Deno.test("a large buffer the pool has no room for is emptied at once, and never lent again", () => {
  const borrowed = Array.from({ length: 12 }, () => borrowBuffer(MiB));
  assert.ok(borrowed.every((buffer) => buffer.length === MiB));
  assert.ok(borrowed.every((buffer) => buffer.buffer.resizable), "large buffers are resizable");
  for (const buffer of borrowed) returnBuffer(buffer);
  // A few are kept for the next borrowers; the rest gave their memory back.
  const emptied = borrowed.filter((buffer) => buffer.length === 0).length;
  const kept = borrowed.filter((buffer) => buffer.length === MiB).length;
  assert.equal(emptied + kept, 12);
  assert.ok(kept >= 1 && kept <= 8, `kept ${kept}`);
  const again = Array.from({ length: 12 }, () => borrowBuffer(MiB));
  assert.ok(again.every((buffer) => buffer.length === MiB), "an emptied buffer is never lent");
  assert.equal(again.filter((buffer) => borrowed.includes(buffer)).length, kept);
  for (const buffer of again) returnBuffer(buffer);
});

Deno.test("a buffer of 16 KiB or more asked mapped is mapped, and lent again once given back", () => {
  const mapped = borrowBuffer(20_000, true);
  assert.equal(mapped.length, 32_768);
  assert.equal(mapped.buffer.resizable, true);
  returnBuffer(mapped);
  assert.ok(borrowBuffer(30_000, true) === mapped);
  const plain = borrowBuffer(20_000);
  assert.equal(plain.buffer.resizable, false);
  assert.equal(borrowBuffer(8_000, true).buffer.resizable, false, "below 16 KiB, plain");
});

Deno.test("small buffers are plain and kept as they are", () => {
  const small = borrowBuffer(1_000);
  assert.equal(small.length, 4_096);
  assert.equal(small.buffer.resizable, false);
  small[0] = 7;
  returnBuffer(small);
  assert.equal(small.length, 4_096);
});
