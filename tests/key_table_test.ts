// The idempotency store's table: entries found by (caller, key), with runs
// of equal and neighbouring hashes, removal from the middle of a run, the
// wrap at the end of the slots, and growth.

import assert from "node:assert/strict";
import { hashOf, KeyTable } from "../_server/key_table.ts";

interface Entry {
  readonly caller: string | undefined;
  readonly key: string;
  readonly hash: number;
}

const entry = (key: string, hash: number, caller?: string): Entry => ({ caller, key, hash });

Deno.test("KeyTable finds each entry of a run of one hash, and the run survives removals from its middle", () => {
  const table = new KeyTable<Entry>();
  const run = ["a", "b", "c", "d", "e"].map((key) => entry(key, 7));
  for (const each of run) table.add(each);
  assert.equal(table.size, 5);
  assert.equal(table.remove(run[1]), true);
  assert.equal(table.remove(run[3]), true);
  assert.equal(table.remove(run[3]), false, "removed twice");
  assert.equal(table.size, 3);
  for (const each of [run[0], run[2], run[4]]) {
    assert.equal(table.find(undefined, each.key, 7), each);
  }
  assert.equal(table.find(undefined, "b", 7), undefined);
  assert.equal(table.find(undefined, "d", 7), undefined);
});

Deno.test("KeyTable shifts back an entry displaced past the end of the slots into the hole left at the start", () => {
  const table = new KeyTable<Entry>();
  // 16 slots at first: hash 15 is the last slot; the next entries of 15 wrap to 0 and 1.
  const wrapped = [entry("x", 15), entry("y", 15), entry("z", 15)];
  const atZero = entry("home0", 0);
  for (const each of [...wrapped, atZero]) table.add(each);
  table.remove(wrapped[0]);
  for (const each of [wrapped[1], wrapped[2], atZero]) {
    assert.equal(table.find(undefined, each.key, each.hash), each);
  }
  table.remove(wrapped[1]);
  assert.equal(table.find(undefined, "z", 15), wrapped[2]);
  assert.equal(table.find(undefined, "home0", 0), atZero);
});

Deno.test("KeyTable tells callers apart, and one key's pair from another's of equal hash", () => {
  const table = new KeyTable<Entry>();
  const mine = entry("k", 3, "reader");
  const theirs = entry("k", 3, "writer");
  const unscoped = entry("k", 3);
  for (const each of [mine, theirs, unscoped]) table.add(each);
  assert.equal(table.find("reader", "k", 3), mine);
  assert.equal(table.find("writer", "k", 3), theirs);
  assert.equal(table.find(undefined, "k", 3), unscoped);
  assert.equal(table.find("other", "k", 3), undefined);
});

Deno.test("KeyTable keeps every entry through growth and a long churn, as a Map of the same pairs does", () => {
  const table = new KeyTable<Entry>();
  const model = new Map<string, Entry>();
  // Hashes from a small range, so that runs collide and wrap often.
  let seed = 1;
  const next = () => (seed = Math.imul(seed, 48271) % 0x7fffffff) & 0x3f;
  const order: Entry[] = [];
  for (let i = 0; i < 20_000; i++) {
    const added = entry(`key-${i}`, next());
    table.add(added);
    model.set(added.key, added);
    order.push(added);
    if (order.length > 300) {
      const gone = order.splice(next() % order.length, 1)[0];
      assert.equal(table.remove(gone), true);
      model.delete(gone.key);
    }
  }
  assert.equal(table.size, model.size);
  for (const [key, kept] of model) assert.equal(table.find(undefined, key, kept.hash), kept);
  assert.equal(table.find(undefined, "key-never", 1), undefined);
});

Deno.test("hashOf is a small integer that sets the caller apart from the key", () => {
  const hashes = [
    hashOf(undefined, "abc"),
    hashOf("a", "bc"),
    hashOf("ab", "c"),
    hashOf("abc", ""),
  ];
  for (const hash of hashes) assert.ok(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 30);
  assert.equal(new Set(hashes).size, hashes.length);
  assert.equal(hashOf("a", "bc"), hashOf("a", "bc"));
});
