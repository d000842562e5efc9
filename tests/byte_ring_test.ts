// The idempotency store's ring of bytes: records written, given up mostly
// oldest first but some held long, read back intact through wraps, growth
// (held records moved) and shrinking once empty.

import assert from "node:assert/strict";
import { ByteRing } from "../_server/byte_ring.ts";

interface Held {
  at: number;
  data: Uint8Array;
}

/** A ring and the records its owner holds, by id. */
function owned(maxCapacity?: number) {
  const held = new Map<number, Held>();
  let moves = 0;
  const ring = new ByteRing(
    (id, _kind, at) => held.get(id)?.at === at,
    (id, _kind, at) => {
      moves++;
      held.get(id)!.at = at;
    },
    maxCapacity,
  );
  return { ring, held, moves: () => moves };
}

const bytesOf = (id: number, length: number) =>
  Uint8Array.from({ length }, (_, i) => (id * 31 + i) & 0xff);

Deno.test("ByteRing reads back every held record through wraps and growth, one record held long", () => {
  const { ring, held, moves } = owned();
  let seed = 11;
  const next = () => (seed = (Math.imul(seed, 48271) >>> 0) % 0x7fffffff);
  const first = ring.capacity;
  // Id 0 is held throughout: every record after it must go round it.
  held.set(0, { at: ring.write(0, 1, bytesOf(0, 100)), data: bytesOf(0, 100) });
  const order: number[] = [];
  for (let id = 1; id < 20_000; id++) {
    const data = bytesOf(id, next() % 700);
    held.set(id, { at: ring.write(id, 1 + (id & 1), data), data });
    order.push(id);
    // Most records are given up oldest first; now and then one from the middle.
    if (order.length > 300) held.delete(order.shift()!);
    if (next() % 7 === 0 && order.length > 10) {
      held.delete(order.splice(next() % order.length, 1)[0]);
    }
    if (id % 997 === 0) {
      for (const [each, { at, data }] of held) {
        assert.deepEqual(ring.read(at, data.length), data, `record ${each}`);
      }
    }
  }
  assert.ok(ring.capacity > first, "the ring grew");
  assert.ok(moves() > 0, "held records were moved when it grew");
  for (const [each, { at, data }] of held) {
    assert.deepEqual(ring.read(at, data.length), data, `record ${each}`);
  }
});

Deno.test("ByteRing grows to fit a record larger than itself, and shrinks once nothing is held", () => {
  const { ring, held } = owned();
  const first = ring.capacity;
  const small = bytesOf(1, 40);
  held.set(1, { at: ring.write(1, 1, small), data: small });
  const large = bytesOf(2, first * 3);
  held.set(2, { at: ring.write(2, 1, large), data: large });
  assert.ok(ring.capacity >= first * 4);
  assert.deepEqual(ring.read(held.get(1)!.at, small.length), small);
  assert.deepEqual(ring.read(held.get(2)!.at, large.length), large);
  held.clear();
  // Full of records nobody holds: the next write that finds no room gives them all back.
  for (let id = 3; ring.capacity > first; id++) {
    const data = bytesOf(id, 1_000);
    held.clear();
    held.set(id, { at: ring.write(id, 1, data), data });
    assert.ok(id < 100_000, "the ring never shrank");
  }
  const [[id, { at, data }]] = [...held];
  assert.deepEqual(ring.read(at, data.length), bytesOf(id, 1_000));
});

Deno.test("ByteRing writes text as UTF-8 and says how many bytes it took", () => {
  const { ring, held } = owned();
  for (const [id, text] of ["plain", "é and ü", "𝄞 clef", ""].entries()) {
    const { at, written } = ring.writeText(id, 2, text);
    const data = new TextEncoder().encode(text);
    held.set(id, { at, data });
    assert.equal(written, data.length);
  }
  for (const [id, { at, data }] of held) {
    assert.deepEqual(ring.read(at, data.length), data, `${id}`);
  }
});

Deno.test("ByteRing grows no larger than its bound: a write that finds no room then is refused", () => {
  const { ring, held } = owned(256 * 1024);
  let refused = -1;
  for (let id = 0; id < 1_000 && refused < 0; id++) {
    const data = bytesOf(id, 1_000);
    const at = ring.write(id, 1, data);
    if (at < 0) refused = id;
    else held.set(id, { at, data });
  }
  assert.ok(refused > 200, `refused at record ${refused}`);
  assert.equal(ring.capacity, 256 * 1024);
  assert.equal(ring.writeText(refused, 2, "x".repeat(1_000)).at, -1);
  for (const [id, { at, data }] of held) {
    assert.deepEqual(ring.read(at, data.length), data, `${id}`);
  }
  // Once a record is given up, there is room again.
  held.delete(0);
  assert.ok(ring.write(refused, 1, bytesOf(refused, 500)) >= 0);
});
