// Mapped buffers given back are kept, within a bound, for the next borrower
// of the same size; past the bound they give their memory back at once.

import assert from "node:assert/strict";
import { borrowMapped, giveBackMapped } from "../_wire/mapped_buffer.ts";

const MiB = 1_048_576;

Deno.test("mapped buffers given back are lent again; past the shelf's bound they are emptied", () => {
  // A size no other test uses, so the shelf holds none of it yet.
  const size = MiB + 4_096;
  const borrowed = Array.from({ length: 12 }, () => borrowMapped(size));
  assert.ok(borrowed.every((buffer) => buffer.length === size && buffer.buffer.resizable));
  for (const buffer of borrowed) giveBackMapped(buffer);
  const kept = borrowed.filter((buffer) => buffer.length === size);
  const emptied = borrowed.filter((buffer) => buffer.length === 0);
  assert.equal(kept.length + emptied.length, 12);
  assert.ok(kept.length >= 1 && kept.length <= 8, `kept ${kept.length}`);
  assert.ok(emptied.length >= 4, `emptied ${emptied.length}`);
  const again = Array.from({ length: 12 }, () => borrowMapped(size));
  assert.ok(again.every((buffer) => buffer.length === size), "an emptied buffer is never lent");
  assert.equal(again.filter((buffer) => kept.includes(buffer)).length, kept.length);
  for (const buffer of again) giveBackMapped(buffer);
});

Deno.test("a plain buffer given back is left as it is, and never lent as a mapped one", () => {
  const plain = new Uint8Array(65_536);
  giveBackMapped(plain);
  assert.equal(plain.length, 65_536);
  const mapped = borrowMapped(65_536);
  assert.notEqual(mapped, plain);
  assert.equal(mapped.buffer.resizable, true);
  giveBackMapped(mapped);
});
