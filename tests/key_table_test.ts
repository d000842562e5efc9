// The idempotency store's table: entry numbers found by hash, with runs of
// equal and neighbouring hashes, removal from the middle of a run, the wrap
// at the end of the slots, growth and renumbering.

import assert from "node:assert/strict";
import { hashOf, KeyTable } from "../_server/key_table.ts";

/** Finds by hash the entry whose name is `name`, as the store finds a key. */
function finder(table: KeyTable, names: Map<number, string>) {
  return (hash: number, name: string) => table.find(hash, (entry) => names.get(entry) === name);
}

Deno.test("KeyTable finds each entry of a run of one hash, and the run survives removals from its middle", () => {
  const table = new KeyTable();
  const names = new Map(["a", "b", "c", "d", "e"].map((name, entry) => [entry, name]));
  const find = finder(table, names);
  for (const entry of names.keys()) table.add(entry, 7);
  assert.equal(table.size, 5);
  assert.equal(table.remove(1, 7), true);
  assert.equal(table.remove(3, 7), true);
  assert.equal(table.remove(3, 7), false, "removed twice");
  assert.equal(table.size, 3);
  assert.deepEqual([find(7, "a"), find(7, "c"), find(7, "e")], [0, 2, 4]);
  assert.equal(find(7, "b"), -1);
  assert.equal(find(7, "d"), -1);
});

Deno.test("KeyTable shifts back an entry displaced past the end of the slots into the hole left at the start", () => {
  const table = new KeyTable();
  const names = new Map([[0, "x"], [1, "y"], [2, "z"], [3, "home0"]]);
  const find = finder(table, names);
  // 16 slots at first: hash 15 is the last slot; the next entries of 15 wrap to 0 and 1.
  for (const entry of [0, 1, 2]) table.add(entry, 15);
  table.add(3, 0);
  table.remove(0, 15);
  assert.deepEqual([find(15, "y"), find(15, "z"), find(0, "home0")], [1, 2, 3]);
  table.remove(1, 15);
  assert.deepEqual([find(15, "z"), find(0, "home0")], [2, 3]);
});

Deno.test("KeyTable keeps every entry through growth, a long churn and renumbering, as a Map does", () => {
  const table = new KeyTable();
  const model = new Map<number, number>(); // entry -> hash
  // Hashes from a small range, so that runs collide and wrap often.
  let seed = 1;
  const next = () => (seed = (Math.imul(seed, 48271) >>> 0) % 0x7fffffff) & 0x3f;
  const order: number[] = [];
  for (let entry = 0; entry < 20_000; entry++) {
    const hash = next();
    table.add(entry, hash);
    model.set(entry, hash);
    order.push(entry);
    if (order.length > 300) {
      const gone = order.splice(next() % order.length, 1)[0];
      assert.equal(table.remove(gone, model.get(gone)!), true);
      model.delete(gone);
    }
  }
  const found = (entry: number, hash: number) => table.find(hash, (held) => held === entry);
  assert.equal(table.size, model.size);
  for (const [entry, hash] of model) assert.equal(found(entry, hash), entry);
  assert.equal(found(20_000, 1), -1);
  // Renumbered (the store's rows moved): odd entries dropped, the rest halved.
  table.renumber((entry) => (entry % 2 === 1 ? -1 : entry / 2));
  for (const [entry, hash] of model) {
    assert.equal(found(entry / 2, hash), entry % 2 === 1 ? -1 : entry / 2);
  }
  assert.equal(table.size, [...model.keys()].filter((entry) => entry % 2 === 0).length);
});

Deno.test("hashOf is a small integer that sets the caller apart from the key", () => {
  const hashes = [
    hashOf(undefined, "abc"),
    hashOf("a", "bc"),
    hashOf("ab", "c"),
    hashOf("abc", ""),
    hashOf(undefined, "ab"),
    hashOf(undefined, "ab\0"),
  ];
  for (const hash of hashes) assert.ok(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 30);
  assert.equal(new Set(hashes).size, hashes.length);
  assert.equal(hashOf("a", "bc"), hashOf("a", "bc"));
});
