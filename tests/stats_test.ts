// `$stats` (protocol D4): per type figures of a running server, and the
// bounded window its percentiles come from.

import assert from "node:assert/strict";
import { LatencyWindow, MAX_TYPES, OTHER_TYPES, StatsBook } from "../_server/type_stats.ts";
import { ApplicationError, connect, requestTypes, serve, type StatsReport } from "../mod.ts";
import { portOf, RawPeer } from "./_helpers.ts";

Deno.test("LatencyWindow: exact nearest-rank percentiles of what it holds, and only its last N", () => {
  const window = new LatencyWindow(100);
  assert.deepEqual(window.summary(), { p50: 0, p99: 0, max: 0 });
  for (let ms = 100; ms >= 1; ms--) window.record(ms);
  assert.deepEqual(window.summary(), { p50: 50, p99: 99, max: 100 });
  // 100 more, all 1000: the ring holds only these now.
  for (let i = 0; i < 100; i++) window.record(1000);
  assert.deepEqual(window.summary(), { p50: 1000, p99: 1000, max: 1000 });
  const small = new LatencyWindow(4);
  for (const ms of [5, 1, 3]) small.record(ms);
  assert.deepEqual(small.summary(), { p50: 3, p99: 5, max: 5 });
});

Deno.test("StatsBook counts requests and errors per type; times only once asked", () => {
  const book = new StatsBook(new Date("2026-01-01T00:00:00Z"));
  const ok = '{"status":"ok","message":"received","protocol_version":"1"}';
  const error = '{"status":"error","message":"busy","code":"busy","protocol_version":"1"}';
  book.answered(book.of("a"), ok, undefined, 0);
  book.answered(book.of("a"), error, undefined, 0);
  book.answered(book.of(""), ok, undefined, 0);
  const [a, none] = book.reports(() => true);
  assert.deepEqual([a.type, a.requests, a.errors, a.last_error?.code], ["a", 2, 1, "busy"]);
  assert.deepEqual([none.type, none.requests], ["", 1]);
  assert.deepEqual(a.processing_ms, { p50: 0, p99: 0, max: 0 });
  assert.equal(book.timing, true);
  assert.deepEqual(book.reports((type) => type !== "a").map((r) => r.type), [""]);
});

Deno.test("StatsBook keeps at most MAX_TYPES types apart: a peer naming new types cannot grow it", () => {
  const book = new StatsBook();
  const ok = '{"status":"ok","message":"received","protocol_version":"1"}';
  const extra = 500;
  for (let i = 0; i < MAX_TYPES + extra; i++) book.answered(book.of(`type-${i}`), ok, undefined, 0);
  // A type seen before the bound keeps its own figures after it.
  book.answered(book.of("type-0"), ok, undefined, 0);
  const reports = book.reports(() => true);
  assert.equal(reports.length, MAX_TYPES + 1);
  assert.equal(reports.find((r) => r.type === "type-0")?.requests, 2);
  assert.equal(reports.find((r) => r.type === OTHER_TYPES)?.requests, extra);
  assert.equal(reports.reduce((sum, r) => sum + r.requests, 0), MAX_TYPES + extra + 1);
});

Deno.test("$stats reports every type a server answered, in flight, errors and times; a scoped token sees its own types", async () => {
  const gate = Promise.withResolvers<void>();
  await using server = serve(
    { port: 0, token: "own", tokens: { ro: { token: "r0", types: ["fast"] } } },
    requestTypes({
      fast: { description: "Fast", handler: () => "ok" },
      held: { description: "Held", handler: () => gate.promise.then(() => "done") },
      broken: {
        description: "Fails",
        handler: () => {
          throw new ApplicationError("not_found", "nothing here");
        },
      },
    }),
  );
  await using client = await connect({ port: portOf(server), token: "own" });
  await using peer = await RawPeer.connect(portOf(server));
  // The first $stats switches timing on; later requests are timed.
  await peer.call({ type: "$stats", auth_token: "own" });
  for (let i = 0; i < 3; i++) await client.request({ type: "fast" });
  await client.request({ type: "broken" }).catch(() => {});
  await client.request({}).catch(() => {});
  const held = client.request({ type: "held" });
  held.catch(() => {}); // Awaited below; a failed assertion before must not leave it dangling.
  // The held request is under way on the client's connection: ask until the server has it.
  const ask = async () =>
    (await peer.call({ type: "$stats", auth_token: "own" }))?.result as StatsReport;
  for (let i = 0; i < 100 && !(await ask()).types.some((t) => t.type === "held"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const stats = (await peer.call({ type: "$stats", auth_token: "own" }))?.result as StatsReport;
  assert.match(stats.server, /^socketbridge-deno\//);
  assert.ok(!Number.isNaN(Date.parse(stats.started)));
  assert.equal(stats.connections, 2);
  const byType = Object.fromEntries(stats.types.map((entry) => [entry.type, entry]));
  assert.deepEqual([byType.fast.requests, byType.fast.errors, byType.fast.in_flight], [3, 0, 0]);
  assert.ok(byType.fast.processing_ms.max >= byType.fast.processing_ms.p50);
  assert.deepEqual([byType.broken.errors, byType.broken.last_error?.code], [1, "not_found"]);
  assert.equal(byType[""].errors, 1);
  assert.deepEqual([byType.held.in_flight, byType.held.requests], [1, 0]);
  assert.deepEqual(stats.events, { published: 0, delivered: 0, dropped: 0 });
  const scoped = (await peer.call({ type: "$stats", auth_token: "r0" }))?.result as {
    types: { type: string }[];
  };
  assert.deepEqual(scoped.types.map((entry) => entry.type), ["fast"]);
  gate.resolve();
  assert.equal(await held, "done");
});
