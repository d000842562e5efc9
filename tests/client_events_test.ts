import assert from "node:assert/strict";
import { type BridgeEvent, EventStream } from "../mod.ts";
import { EventRouter } from "../_client/events.ts";

Deno.test("a subscription that falls 10,000 events behind tells its loss in order, before later events", async () => {
  const left: unknown[] = [];
  const events = new EventStream<number>(["t"], { leave: (s) => left.push(s) });
  for (let i = 0; i < 10_005; i++) events.push({ kind: "event", topic: "t", data: i });
  events.push({ kind: "dropped", count: 2 }); // the server's own report merges in
  events.push({ kind: "event", topic: "t", data: 10_007 }); // room again? no: still full
  const seen: BridgeEvent<number>[] = [];
  for await (const entry of events) {
    seen.push(entry);
    if (seen.length === 10_001) {
      // Drained below the bound: what arrives now is queued again.
      events.push({ kind: "event", topic: "t", data: 10_008 });
    }
    if (entry.kind === "event" && entry.data === 10_008) break;
  }
  assert.deepEqual(seen.slice(0, 10_000).map((e) => e.kind === "event" ? e.data : -1), [
    ...Array(10_000).keys(),
  ]);
  assert.deepEqual(seen[10_000], { kind: "dropped", count: 8 }, "5 + 2 + 1 lost, told once");
  assert.deepEqual(seen.at(-1), { kind: "event", topic: "t", data: 10_008 });
  assert.equal(left.length, 1, "leaving the loop unsubscribed");
});

Deno.test("EventRouter shares a pattern among subscriptions and tells the server only first and last use", () => {
  const router = new EventRouter();
  const owner = { leave() {} };
  const a = new EventStream(["x.*", "y"], owner);
  const b = new EventStream(["x.*"], owner);
  assert.deepEqual(router.add(a), ["x.*", "y"]);
  assert.deepEqual(router.add(b), []);
  assert.deepEqual(router.remove(a), ["y"]);
  assert.deepEqual(router.patterns(), ["x.*"]);
  assert.deepEqual(router.remove(b), ["x.*"]);
  assert.deepEqual(router.remove(b), []);
});
