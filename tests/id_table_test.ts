import assert from "node:assert/strict";
import { IdTable } from "../_client/id_table.ts";
import type { RequestId } from "../protocol.ts";

type Entry = { id: RequestId };
const entry = (id: RequestId): Entry => ({ id });

Deno.test("IdTable finds, deletes and lists entries by id, numbers and strings alike", () => {
  const table = new IdTable<Entry>();
  const a = entry(1), b = entry(2), s = entry("job-7");
  table.set(1, a);
  table.set(2, b);
  table.set("job-7", s);
  assert.equal(table.size, 3);
  assert.equal(table.get(1), a);
  assert.equal(table.get("job-7"), s);
  assert.equal(table.get(3), undefined);
  assert.equal(table.get(1 + 64), undefined, "same slot, other id");
  assert.equal(table.get("1"), undefined);
  assert.equal(table.delete(1), true);
  assert.equal(table.delete(1), false);
  assert.equal(table.get(1), undefined);
  assert.deepEqual([...table.values()].map((e) => e.id).sort(), [2, "job-7"]);
  table.clear();
  assert.equal(table.size, 0);
  assert.deepEqual([...table.values()], []);
});

Deno.test("IdTable keeps a request that outlives a lap of its slots, and grows for many at once", () => {
  const table = new IdTable<Entry>();
  const old = entry(1);
  table.set(1, old);
  // A pipelined stream of short requests passes it many times over.
  for (let id = 2; id < 10_000; id++) {
    table.set(id, entry(id));
    assert.equal(table.delete(id), true);
  }
  assert.equal(table.get(1), old);
  assert.equal(table.size, 1);
  assert.equal(table.delete(1), true);
  assert.equal(table.size, 0);
  // 10,000 waiting at once: every one is found, then every one removed.
  for (let id = 20_000; id < 30_000; id++) table.set(id, entry(id));
  assert.equal(table.size, 10_000);
  for (let id = 20_000; id < 30_000; id++) assert.equal(table.get(id)?.id, id);
  assert.equal(new Set([...table.values()].map((e) => e.id)).size, 10_000);
  for (let id = 29_999; id >= 20_000; id--) assert.equal(table.delete(id), true);
  assert.equal(table.size, 0);
});

Deno.test("IdTable answers odd ids from the wire without mixing them up", () => {
  const table = new IdTable<Entry>();
  table.set(0, entry(0));
  for (const odd of [NaN, 1.5, -64, 2 ** 53 - 1, 2 ** 32]) assert.equal(table.get(odd), undefined);
  table.set(-64, entry(-64));
  table.set(2 ** 32, entry(2 ** 32));
  assert.equal(table.get(-64)?.id, -64);
  assert.equal(table.get(2 ** 32)?.id, 2 ** 32);
  assert.equal(table.get(0)?.id, 0);
  assert.equal(table.size, 3);
});
