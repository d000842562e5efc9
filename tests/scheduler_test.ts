// The scheduler alone, through a fake host: no socket, every frame it sends
// recorded, so its rules (checks, order, slots, backlog, cancel, deadlines)
// are seen apart from the session that feeds it.

import assert from "node:assert/strict";
import { RequestScheduler, type SchedulerHost } from "../_server/scheduler.ts";
import { resolveSettings } from "../_server/settings.ts";
import type { RequestHandler, RequestInfo } from "../_server/handler_info.ts";
import type { ControlPeer } from "../_server/control.ts";
import { ConnectionClosedError, type SocketBridgeError } from "../errors.ts";
import type { WireErrorCode } from "../protocol.ts";
import { IdempotencyStore } from "../_server/idempotency.ts";
import { StatsBook } from "../_server/type_stats.ts";

interface Fake {
  scheduler: RequestScheduler;
  sent: Record<string, unknown>[];
  dropped: number;
  refusing?: WireErrorCode;
  settled: number;
}

function fake(
  handler: (payload: Record<string, unknown>, info: RequestInfo) => unknown,
  options: Parameters<typeof resolveSettings>[0] = {},
): Fake {
  const state: Fake = { sent: [], dropped: 0, settled: 0 } as unknown as Fake;
  const control: ControlPeer = {
    maxBytes: 1024,
    grant: () => [],
    hasFeature: () => false,
    cancel: (target) => state.scheduler.cancel(target),
    subscribe: () => [],
    patternCount: () => 0,
    unsubscribe: () => [],
    describe: () => ({ types: [] }),
    reply: () => false,
    stats: () => ({
      server: "test",
      started: new Date(0).toISOString(),
      connections: 0,
      types: [],
      events: { published: 0, delivered: 0, dropped: 0 },
    }),
  };
  const host: SchedulerHost = {
    settings: resolveSettings({ port: 0, ...options }),
    handler: handler as RequestHandler,
    idempotency: new IdempotencyStore(300_000, 100, () => {}),
    typeStats: new StatsBook(),
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    send: (body) => state.sent.push(JSON.parse(String(body))),
    control,
    chunks: () => false,
    room: () => Promise.resolve(),
    report: () => {},
    authorized: () => {},
    refusing: () => state.refusing,
    congested: () => false,
    settled: () => state.settled++,
    dropped: (count) => state.dropped += count,
  };
  state.scheduler = new RequestScheduler(host);
  return state;
}

const frame = (message: unknown) => new TextEncoder().encode(JSON.stringify(message));
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await tick();
  assert.ok(condition(), "condition never held");
}

Deno.test("scheduler: a handler that returns at once is answered at once, with its id", () => {
  const { scheduler, sent } = fake((payload) => ({ echo: payload }));
  scheduler.admit(frame({ type: "t", request_id: 1, auth_token: "", protocol_version: "1" }));
  assert.deepEqual(sent, [{
    status: "ok",
    message: "received",
    protocol_version: "1",
    request_id: 1,
    result: { echo: { type: "t" } },
  }]);
  assert.equal(scheduler.idle, true);
});

Deno.test("scheduler: refusals carry the request's id and never reach the handler", () => {
  let calls = 0;
  const { scheduler, sent } = fake(() => calls++, { token: "s3cret" });
  scheduler.admit(frame({ request_id: 1, auth_token: "guess" }));
  scheduler.admit(frame({ request_id: 2, auth_token: "s3cret", protocol_version: "9" }));
  scheduler.admit(frame([1]));
  scheduler.admit(new TextEncoder().encode("{"));
  assert.deepEqual(sent.map((answer) => [answer.code, answer.request_id]), [
    ["unauthorized", 1],
    ["protocol_mismatch", 2],
    ["invalid_message", undefined],
    ["invalid_json", undefined],
  ]);
  assert.equal(calls, 0);
});

Deno.test("scheduler: id-less answers keep arrival order while id-carrying ones go as they finish", async () => {
  const delays: Record<string, number> = { a: 30, b: 0, c: 10, x: 40, y: 0 };
  const { scheduler, sent } = fake(async (payload) => {
    await new Promise((resolve) => setTimeout(resolve, delays[payload.name as string]));
    return payload.name;
  });
  for (const name of ["a", "b", "c"]) scheduler.admit(frame({ name }));
  scheduler.admit(frame({ name: "x", request_id: "x" }));
  scheduler.admit(frame({ name: "y", request_id: "y" }));
  await until(() => sent.length === 5);
  const idless = sent.filter((answer) => answer.request_id === undefined).map((a) => a.result);
  assert.deepEqual(idless, ["a", "b", "c"]);
  assert.equal(sent[0].request_id, "y");
});

Deno.test("scheduler: past maxInFlight frames wait, a $cancel goes ahead of them, and a cancelled one never starts", async () => {
  const started: string[] = [];
  const releases: (() => void)[] = [];
  const { scheduler, sent } = fake((payload) => {
    started.push(payload.name as string);
    return new Promise((resolve) => releases.push(() => resolve(payload.name)));
  }, { maxInFlight: 1 });
  scheduler.admit(frame({ name: "first", request_id: 1 }));
  scheduler.admit(frame({ name: "second", request_id: 2 }));
  assert.equal(scheduler.backlogged, true);
  scheduler.admit(frame({ type: "$cancel", target: 2, request_id: 3 }));
  assert.deepEqual(sent.map((answer) => [answer.request_id, answer.result]), [
    [3, { cancelled: true }],
  ]);
  releases.shift()!();
  await until(() => sent.length === 3);
  assert.deepEqual(started, ["first"]);
  assert.deepEqual(sent.slice(1).map((answer) => [answer.request_id, answer.code ?? "ok"]), [
    [1, "ok"],
    [2, "cancelled"],
  ]);
});

Deno.test("scheduler: timeout_ms aborts the handler's signal and answers timeout once", async () => {
  let aborted: unknown;
  const { scheduler, sent } = fake((_payload, info) =>
    new Promise((resolve) => {
      info.signal.addEventListener("abort", () => {
        aborted = info.signal.reason;
        setTimeout(() => resolve("too late"), 5);
      });
    })
  );
  scheduler.admit(frame({ request_id: 9, timeout_ms: 10 }));
  await until(() => sent.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal((aborted as SocketBridgeError).code, "timeout");
  assert.deepEqual(sent.map((answer) => [answer.request_id, answer.code]), [[9, "timeout"]]);
});

Deno.test("scheduler: abandoned with the connection closed, running handlers abort and waiting frames are dropped, counted", async () => {
  const signals: AbortSignal[] = [];
  const withSignal = fake((_payload, info) => {
    signals.push(info.signal);
    return new Promise(() => {});
  }, { maxInFlight: 1 });
  for (let id = 1; id <= 3; id++) withSignal.scheduler.admit(frame({ request_id: id }));
  withSignal.scheduler.abandon(new ConnectionClosedError("gone"));
  await tick();
  assert.equal(withSignal.dropped, 2);
  assert.equal(signals.length, 1);
  assert.ok(signals[0].aborted);
  assert.deepEqual(withSignal.sent, []);
  assert.equal(withSignal.scheduler.backlogged, false);
});

Deno.test("scheduler: while the host refuses new work (shutting down), requests get that code", () => {
  const state = fake(() => "never");
  state.refusing = "shutting_down";
  state.scheduler.admit(frame({ request_id: 5 }));
  assert.deepEqual(state.sent.map((answer) => [answer.request_id, answer.code]), [
    [5, "shutting_down"],
  ]);
});

Deno.test("scheduler: one run per idempotency key; waiting duplicates share its answer, later ones replay it, another payload conflicts", async () => {
  let runs = 0;
  const release = Promise.withResolvers<void>();
  const { scheduler, sent } = fake(async (payload) => {
    runs++;
    await release.promise;
    return { tick: runs, n: payload.n };
  });
  for (let id = 1; id <= 3; id++) {
    scheduler.admit(frame({ n: 1, request_id: id, idempotency_key: "k-1" }));
  }
  release.resolve();
  await until(() => sent.length === 3);
  assert.equal(runs, 1);
  assert.deepEqual(sent.map((answer) => [answer.request_id, answer.result, answer.replayed]), [
    [1, { tick: 1, n: 1 }, undefined],
    [2, { tick: 1, n: 1 }, undefined],
    [3, { tick: 1, n: 1 }, undefined],
  ]);
  scheduler.admit(frame({ n: 1, request_id: 4, idempotency_key: "k-1" }));
  await until(() => sent.length === 4);
  assert.deepEqual([sent[3].request_id, sent[3].result, sent[3].replayed], [
    4,
    { tick: 1, n: 1 },
    true,
  ]);
  scheduler.admit(frame({ n: 2, request_id: 5, idempotency_key: "k-1" }));
  await until(() => sent.length === 5);
  assert.deepEqual([sent[4].code, sent[4].message], [
    "idempotency_conflict",
    "idempotency key reused with another payload",
  ]);
  scheduler.admit(frame({ n: 1, request_id: 6, idempotency_key: "x".repeat(129) }));
  await until(() => sent.length === 6);
  assert.equal(sent[5].code, "invalid_message");
  assert.equal(runs, 1);
});
