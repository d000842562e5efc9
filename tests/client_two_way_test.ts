// The two-way bridge from connect(): streams, subscriptions, cancellation
// that reaches the handler, renewal after a reconnect, and a clean
// degradation against servers that do not speak it.

import assert from "node:assert/strict";
import {
  CancelledError,
  connect,
  ConnectionClosedError,
  ProtocolError,
  type RequestInfo,
  serve,
} from "../mod.ts";
import { encodeMessage } from "../codec.ts";
import { concat, delay, portOf, rawServer } from "./_helpers.ts";
import { freePort, hasPython, startOriginalServer } from "./_processes.ts";

async function* count({ n }: { n: number }): AsyncGenerator<number, string> {
  for (let i = 1; i <= n; i++) yield i;
  return "done";
}

/** A handler that waits until aborted, recording the abort's reason. */
function waitForAbort(reasons: unknown[]) {
  return (_payload: unknown, { signal }: RequestInfo) =>
    new Promise((resolve) => {
      signal.addEventListener("abort", () => {
        reasons.push(signal.reason);
        resolve("aborted");
      });
    });
}

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await delay(2);
}

Deno.test("stream(): every chunk in order, then the final result", async () => {
  await using server = serve({ port: 0 }, count);
  await using client = await connect({ port: portOf(server) });
  const stream = client.stream<number, string>({ n: 1_000 });
  const seen: number[] = [];
  for await (const chunk of stream) seen.push(chunk);
  assert.deepEqual(seen, Array.from({ length: 1_000 }, (_, i) => i + 1));
  assert.equal(await stream.result, "done");
  // request() on a streaming handler gets the items, as a collecting server sends.
  assert.deepEqual(await client.request({ n: 3 }), [1, 2, 3]);
});

Deno.test("stream(): leaving the loop cancels the request on the server", async () => {
  let finished = false;
  const reasons: unknown[] = [];
  await using server = serve(
    { port: 0, onError() {} },
    async function* (_payload: unknown, { signal }: RequestInfo) {
      signal.addEventListener("abort", () => reasons.push(signal.reason));
      try {
        for (let i = 0;; i++) {
          yield i;
          await delay(2);
        }
      } finally {
        finished = true;
      }
    },
  );
  await using client = await connect({ port: portOf(server) });
  const stream = client.stream({});
  for await (const chunk of stream) if (chunk === 3) break;
  await assert.rejects(stream.result, CancelledError);
  await until(() => finished);
  assert.ok(finished, "the generator was stopped");
  assert.ok(reasons[0] instanceof CancelledError, String(reasons[0]));
  assert.equal(client.pending, 0);
});

Deno.test("aborting a request() sends $cancel: the handler's signal fires at once", async () => {
  const reasons: unknown[] = [];
  await using server = serve({ port: 0, onError() {} }, waitForAbort(reasons));
  await using client = await connect({ port: portOf(server) });
  const controller = new AbortController();
  const answer = client.request({}, { signal: controller.signal, timeout: 60_000 });
  await delay(20);
  const aborted = performance.now();
  controller.abort();
  await assert.rejects(answer);
  await until(() => reasons.length > 0);
  assert.ok(reasons[0] instanceof CancelledError, `reason: ${reasons[0]}`);
  // Far sooner than the 60 s timeout_ms the server was told.
  assert.ok(performance.now() - aborted < 2_000);
  assert.equal(server.stats().errors.cancelled, 1);
});

Deno.test("close() stops the handlers of pending requests", async () => {
  const reasons: unknown[] = [];
  await using server = serve({ port: 0, onError() {} }, waitForAbort(reasons));
  const client = await connect({ port: portOf(server) });
  const answer = client.request({});
  await delay(20);
  await client.close();
  await assert.rejects(answer, ConnectionClosedError);
  await until(() => reasons.length > 0);
  assert.equal(reasons.length, 1);
});

Deno.test("subscribe(): events for its patterns; leaving the loop unsubscribes", async () => {
  await using server = serve({ port: 0 }, () => "ok");
  await using client = await connect({ port: portOf(server) });
  const jobs = await client.subscribe<{ id: number }>(["jobs.*"]);
  const all = await client.subscribe(["jobs.>", "logs.>"]);
  assert.equal(server.publish("jobs.a", { id: 1 }), 1, "one frame per connection");
  server.publish("logs.x.y", "line");
  server.publish("jobs.b", { id: 2 });
  const fromJobs = [];
  for await (const event of jobs) {
    fromJobs.push(event);
    if (fromJobs.length === 2) break;
  }
  assert.deepEqual(fromJobs, [
    { kind: "event", topic: "jobs.a", data: { id: 1 } },
    { kind: "event", topic: "jobs.b", data: { id: 2 } },
  ]);
  assert.ok(jobs.closed);
  const fromAll = [];
  for await (const event of all) {
    fromAll.push(event.kind === "event" ? event.topic : event.kind);
    if (fromAll.length === 3) break;
  }
  assert.deepEqual(fromAll, ["jobs.a", "logs.x.y", "jobs.b"]);
  await until(() => server.publish("jobs.c", 0) === 0);
  assert.equal(server.publish("jobs.c", 0), 0, "nobody subscribed any more");
  await assert.rejects(client.subscribe(["a.>.b"]), TypeError);
});

Deno.test("subscribe(): a server-side loss arrives as a dropped entry, never silently", async () => {
  await using server = serve({ port: 0, maxOutboundBytes: 8_192 }, () => "ok");
  await using client = await connect({ port: portOf(server) });
  const events = await client.subscribe(["t"]);
  const data = "z".repeat(2_000);
  for (let i = 0; i < 500; i++) server.publish("t", data);
  server.publish("t", "end");
  let received = 0;
  let dropped = 0;
  for await (const event of events) {
    if (event.kind === "dropped") dropped += event.count;
    else if (event.kind === "event" && event.data === "end") break;
    else received++;
  }
  assert.ok(dropped > 0);
  assert.equal(received + dropped, 500);
  assert.equal(server.stats().events.dropped, dropped);
});

Deno.test("reconnect renews subscriptions; the gap is told", async () => {
  const port = freePort();
  let server = serve({ port }, () => "ok");
  const client = await connect({ port, reconnect: { initialDelay: 10, maxDelay: 50 } });
  try {
    const events = await client.subscribe(["news.>"]);
    const iterator = events[Symbol.asyncIterator]();
    server.publish("news.one", 1);
    assert.deepEqual((await iterator.next()).value, { kind: "event", topic: "news.one", data: 1 });
    await server.shutdown();
    server = serve({ port }, () => "ok");
    assert.deepEqual((await iterator.next()).value, { kind: "gap" });
    server.publish("news.two", 2);
    assert.deepEqual((await iterator.next()).value, { kind: "event", topic: "news.two", data: 2 });
    await iterator.return!();
  } finally {
    await client.close();
    await server.shutdown();
  }
});

Deno.test("without reconnect, a lost connection ends subscriptions with its error", async () => {
  const server = serve({ port: 0 }, () => "ok");
  const client = await connect({ port: portOf(server), reconnect: false });
  const events = await client.subscribe(["x"]);
  await server.shutdown();
  await assert.rejects(async () => {
    for await (const _ of events) { /* nothing comes */ }
  }, ConnectionClosedError);
  await client.close();
});

Deno.test("twoWay: false sends no $hello; such a client cannot subscribe", async () => {
  await using peer = rawServer(() => {});
  await using client = await connect({ port: peer.port, twoWay: false });
  client.request({ type: "first" }).catch(() => {});
  await until(() => peer.requests.length > 0);
  assert.equal(peer.requests[0].type, "first");
  await assert.rejects(client.subscribe(["a"]), TypeError);
});

Deno.test({
  name:
    "against the original server: requests work, streams collect, subscribe and describe say why not",
  ignore: !hasPython(),
  async fn() {
    await using original = await startOriginalServer("orig");
    await using client = await connect({ port: original.port, token: "orig" });
    assert.equal(await client.request({ type: "ping" }), undefined);
    const stream = client.stream({ type: "count", n: 3 });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(chunks, []);
    assert.equal(await stream.result, undefined);
    const refused = await client.subscribe(["a"]).catch((error) => error);
    assert.ok(refused instanceof ProtocolError, String(refused));
    assert.match(refused.message, /does not speak the two-way protocol/);
    await assert.rejects(client.describe(), ProtocolError);
  },
});

Deno.test("events that arrive before the server confirms a subscription are not that subscription's", async () => {
  // A peer that plays the race out: events still on their way from before an
  // unsubscribe arrive after the new subscription was made, then a hole (the
  // server had no subscription for a moment), then the answer, then more.
  const frame = (value: unknown) => encodeMessage(value as Record<string, unknown>);
  const event = (n: number) => frame({ event: "tick", data: n, protocol_version: "1" });
  const ok = (id: unknown, result: unknown) =>
    frame({ status: "ok", message: "received", protocol_version: "1", request_id: id, result });
  await using peer = rawServer(async (request, conn) => {
    const id = request.request_id;
    if (request.type === "$hello") await conn.write(ok(id, { features: ["events"] }));
    if (request.type === "$subscribe") {
      await conn.write(concat([event(1), event(2), ok(id, { topics: ["tick"] }), event(7)]));
    }
  });
  await using client = await connect({ port: peer.port });
  const events = await client.subscribe<number>(["tick"]);
  const first = await events[Symbol.asyncIterator]().next();
  assert.deepEqual(first.value, { kind: "event", topic: "tick", data: 7 });
});
