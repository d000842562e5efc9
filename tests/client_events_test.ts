import assert from "node:assert/strict";
import { type BridgeEvent, connect, EventStream, serve } from "../mod.ts";
import { ConnectionClosedError } from "../errors.ts";
import { eventually } from "./_helpers.ts";
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

Deno.test("subscribe({ onEvent }): each entry goes to the callback in order, a throw is reported and the rest still arrive", async () => {
  await using server = serve({ port: 0, maxOutboundBytes: 16_384 }, () => "ok");
  await using client = await connect({ port: server.addr.port });
  const seen: BridgeEvent<number>[] = [];
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    reported.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    const subscription = await client.subscribe<number>(["jobs.>"], {
      onEvent: (entry) => {
        seen.push(entry);
        if (entry.kind === "event" && entry.data === 2) throw new Error("the callback failed");
      },
    });
    assert.throws(() => subscription[Symbol.asyncIterator](), TypeError);
    for (let n = 0; n < 5; n++) server.publish(`jobs.${n}`, n);
    server.publish("other", 99);
    await eventually(() => seen.length === 5);
    assert.deepEqual(
      seen,
      [0, 1, 2, 3, 4].map((n) => ({ kind: "event", topic: `jobs.${n}`, data: n })),
    );
    assert.equal(reported.length, 1);
    assert.match((reported[0] as Error).message, /the callback failed/);
    subscription.unsubscribe();
    assert.equal(await client.request({ n: 1 }), "ok", "the server has the unsubscribe");
    server.publish("jobs.late", 5);
    assert.equal(await client.request({ n: 2 }), "ok");
    assert.equal(seen.length, 5, "nothing after unsubscribe()");
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

Deno.test("subscribe({ onEvent }) refuses a callback that is not a function", async () => {
  await using server = serve({ port: 0 }, () => "ok");
  await using client = await connect({ port: server.addr.port });
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    client.subscribe(["x"], { onEvent: "log" as any }),
    /onEvent must be a function/,
  );
});

Deno.test("subscribe({ onEvent }): ended resolves on unsubscribe and rejects when the connection is lost for good", async () => {
  const server = serve({ port: 0 }, () => "ok");
  const client = await connect({ port: server.addr.port });
  const quiet = await client.subscribe(["a"], { onEvent: () => {} });
  const lost = await client.subscribe(["b"], { onEvent: () => {} });
  quiet.unsubscribe();
  assert.equal(await quiet.ended, undefined);
  // The server goes away; this client does not reconnect.
  await server.shutdown();
  const error = await lost.ended.then(() => undefined, (reason) => reason);
  assert.ok(error instanceof ConnectionClosedError, `ended with ${error}`);
  assert.ok(lost.closed);
  await client.close();
});
