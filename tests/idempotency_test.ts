// Idempotency keys (protocol D2): a key runs its request once, on the
// server and across a client's reconnects.

import assert from "node:assert/strict";
import { connect, RemoteError, serve } from "../mod.ts";
import { portOf, RawPeer } from "./_helpers.ts";
import { chaosProxy } from "./_chaos.ts";
import { IdempotencyStore } from "../_server/idempotency.ts";

Deno.test("ten thousand requests with one key at once: the handler runs once, each gets its answer", async () => {
  let ticks = 0;
  await using server = serve({ port: 0 }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return ++ticks;
  });
  await using client = await connect({ port: portOf(server) });
  const answers = await Promise.all(
    Array.from(
      { length: 10_000 },
      () => client.request({ type: "tick" }, { idempotencyKey: "once" }),
    ),
  );
  assert.equal(ticks, 1);
  assert.ok(answers.every((answer) => answer === 1));
  // Later: the stored answer again, marked replayed; the handler still ran once.
  await using peer = await RawPeer.connect(portOf(server));
  const replayed = await peer.call({ type: "tick", idempotency_key: "once", request_id: "r" });
  assert.deepEqual(replayed, {
    status: "ok",
    message: "received",
    protocol_version: "1",
    result: 1,
    request_id: "r",
    replayed: true,
  });
  assert.equal(ticks, 1);
});

Deno.test("a key is kept for idempotencyWindow and forgotten after it, with the time read as requests come", async () => {
  let ticks = 0;
  await using server = serve({ port: 0, idempotencyWindow: 400 }, () => ++ticks);
  await using peer = await RawPeer.connect(portOf(server));
  const tick = async (id: number) =>
    await peer.call({ type: "tick", idempotency_key: "k", request_id: id }) as {
      result: number;
      replayed?: boolean;
    };
  assert.equal((await tick(1)).result, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const within = await tick(2);
  assert.deepEqual([within.result, within.replayed], [1, true], "a later turn, within the window");
  // Past the window (counted from the first request), the key runs again.
  await new Promise((resolve) => setTimeout(resolve, 450));
  const after = await tick(3);
  assert.deepEqual([after.result, after.replayed], [2, undefined]);
  assert.equal(ticks, 2);
});

Deno.test("a key reused with another payload is idempotency_conflict; keys are per token", async () => {
  let runs = 0;
  await using server = serve({
    port: 0,
    token: "own",
    tokens: { other: { token: "0ther", types: ["*"] } },
  }, (payload: { n: number }) => {
    runs++;
    return payload.n;
  });
  await using own = await connect({ port: portOf(server), token: "own" });
  await using other = await connect({ port: portOf(server), token: "0ther" });
  assert.equal(await own.request({ n: 1 }, { idempotencyKey: "k" }), 1);
  const conflict = await own.request({ n: 2 }, { idempotencyKey: "k" }).catch((e) => e);
  assert.ok(conflict instanceof RemoteError);
  assert.equal(conflict.code, "idempotency_conflict");
  assert.equal(conflict.message, "idempotency key reused with another payload");
  // The same key under another token is another key.
  assert.equal(await other.request({ n: 2 }, { idempotencyKey: "k" }), 2);
  assert.equal(runs, 2);
});

Deno.test("retry: requests whose answers a cut connection lost are sent again, and each handler runs once", async () => {
  const runs = new Map<number, number>();
  await using server = serve({ port: 0 }, async (payload: { n: number }) => {
    runs.set(payload.n, (runs.get(payload.n) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, payload.n % 7));
    return payload.n;
  });
  // Each connection through the proxy carries 3,000 bytes each way, then is cut.
  await using proxy = chaosProxy(portOf(server), { seed: 11, truncateAfter: 3_000 });
  await using client = await connect({
    port: proxy.port,
    reconnect: { initialDelay: 5, maxDelay: 20 },
    retry: true,
    timeout: 30_000,
  });
  let reconnects = 0;
  client.addEventListener("reconnecting", () => reconnects++);
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, n) => client.request({ n })),
  );
  assert.deepEqual(answers, Array.from({ length: 200 }, (_, n) => n));
  assert.ok(reconnects >= 2, `only ${reconnects} reconnects: the cut never happened`);
  const twice = [...runs].filter(([, count]) => count !== 1);
  assert.deepEqual(twice, [], "a handler ran more than once");
  assert.equal(runs.size, 200);
});

Deno.test("retry without reconnect is refused when connecting", async () => {
  await using server = serve({ port: 0 }, () => 1);
  await assert.rejects(connect({ port: portOf(server), retry: true }), /set reconnect too/);
});

/** A keyed request's body as a client sends it, and its payload as the handler sees it. */
function keyed(key: string, payload: Record<string, unknown>, requestId: number) {
  const text = JSON.stringify({ ...payload, idempotency_key: key, request_id: requestId });
  const body = new TextEncoder().encode(text);
  return { request: { body }, payload, size: body.length };
}

Deno.test("IdempotencyStore forgets keys past the window and the oldest past the bound, and charges what it keeps", () => {
  let charged = 0;
  const store = new IdempotencyStore(1_000, 3, (bytes) => charged += bytes);
  const answer = (n: number) =>
    `{"status":"ok","message":"received","protocol_version":"1","request_id":${n},"result":${n}}`;
  const sizes = new Map<string, number>();
  const run = (key: string, n: number, now: number, caller?: string) => {
    const { request, payload, size } = keyed(key, { n }, n);
    const verdict = store.begin(caller, key, request, payload, n, now);
    if (verdict.kind === "run") {
      store.finish(verdict.ticket, answer(n));
      sizes.set(key, size + answer(n).length);
    }
    return verdict.kind;
  };
  assert.deepEqual([run("a", 1, 0), run("b", 2, 10), run("c", 3, 20)], ["run", "run", "run"]);
  assert.equal(charged, sizes.get("a")! + sizes.get("b")! + sizes.get("c")!);
  assert.equal(run("a", 1, 30), "answer");
  // A fourth key: the oldest ("a") is forgotten, and all it was charged released.
  assert.equal(run("d", 4, 40), "run");
  assert.equal(store.size, 3);
  assert.equal(charged, sizes.get("b")! + sizes.get("c")! + sizes.get("d")!);
  assert.equal(run("a", 1, 50), "run");
  // Past the window, every key from before is forgotten.
  assert.equal(run("e", 5, 2_000), "run");
  assert.equal(store.size, 1);
  assert.equal(charged, sizes.get("e")!);
  // The same key under another caller is another key.
  assert.equal(run("e", 5, 2_001, "ci"), "run");
  assert.equal(store.size, 2);
});

Deno.test("IdempotencyStore: duplicates waiting on a first request nobody answered are told cancelled, with their own ids", async () => {
  const store = new IdempotencyStore(60_000, 10, () => {});
  const begin = (id: number | undefined) => {
    const { request, payload } = keyed("k", { n: 1 }, id ?? 0);
    return store.begin(undefined, "k", request, payload, id, 0);
  };
  const first = begin(1);
  assert.equal(first.kind, "run");
  const waiting = [begin(2), begin(undefined)];
  // The first request's connection went away before its answer was made.
  store.finish((first as { ticket: number }).ticket, "");
  const answers = await Promise.all(
    waiting.map((verdict) => (verdict as { answer: Promise<string> }).answer),
  );
  const abandoned = {
    status: "error",
    message:
      "cancelled: the request first sent with this idempotency key was abandoned; send it again",
    code: "cancelled",
    protocol_version: "1",
  };
  assert.deepEqual(answers.map((answer) => JSON.parse(answer)), [
    { ...abandoned, request_id: 2 },
    abandoned,
  ]);
  // Nothing is remembered for the key: it runs again.
  assert.equal(begin(3).kind, "run");
});

Deno.test("IdempotencyStore compares a repeated key's payload with the first request's, whatever the handler did to it", async () => {
  const store = new IdempotencyStore(60_000, 10, () => {});
  const begin = (payload: Record<string, unknown>, id: number) => {
    const { request } = keyed("k", payload, id);
    return store.begin(undefined, "k", request, payload, id, id);
  };
  /** The answer a verdict gives, parsed. */
  const answerOf = async (verdict: ReturnType<typeof begin>) => {
    assert.equal(verdict.kind, "answer");
    return verdict.kind === "answer" ? JSON.parse(await verdict.answer) : undefined;
  };
  const payload = { n: 1, list: [1, 2] };
  const verdict = begin(payload, 1);
  assert.equal(verdict.kind, "run");
  // The handler changes the payload it was given: what came on the wire counts.
  payload.n = 2;
  const waiting = begin({ n: 1, list: [1, 2] }, 2);
  assert.equal(begin({ n: 1, list: [1, 3] }, 3).kind, "conflict");
  if (verdict.kind === "run") {
    store.finish(verdict.ticket, '{"status":"ok","message":"received","request_id":1,"result":7}');
  }
  const answer = { status: "ok", message: "received", result: 7 };
  assert.deepEqual(await answerOf(waiting), { ...answer, request_id: 2 });
  assert.deepEqual(await answerOf(begin({ n: 1, list: [1, 2] }, 4)), {
    ...answer,
    request_id: 4,
    replayed: true,
  });
});

Deno.test("IdempotencyStore keeps every key and answer through growth, large records and churn, as a Map does", () => {
  let charged = 0;
  const bound = 3_000;
  const store = new IdempotencyStore(Infinity, bound, (bytes) => charged += bytes);
  const model = new Map<string, { n: number; answer: string; size: number }>();
  const order: string[] = [];
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 48271) >>> 0) % 0x7fffffff);
  for (let n = 0; n < 12_000; n++) {
    const key = `key-${n}`;
    // Now and then a large request or answer, kept apart from the ring; some answers are not ASCII.
    const pad = next() % 50 === 0 ? "x".repeat(20_000) : "é".repeat(next() % 3);
    const { request, payload, size } = keyed(key, { n, pad }, n);
    const verdict = store.begin(undefined, key, request, payload, n, n);
    assert.equal(verdict.kind, "run");
    const answer = JSON.stringify({ status: "ok", result: { n, pad } });
    if (verdict.kind === "run") store.finish(verdict.ticket, answer);
    model.set(key, { n, answer, size: size + new TextEncoder().encode(answer).length });
    order.push(key);
    if (order.length > bound) model.delete(order[order.length - bound - 1]);
  }
  assert.equal(store.size, bound);
  let expected = 0;
  for (const { size } of model.values()) expected += size;
  assert.equal(charged, expected);
  for (const [key, kept] of model) {
    const pad = JSON.parse(kept.answer).result.pad;
    const { request, payload } = keyed(key, { n: kept.n, pad }, 0);
    const verdict = store.begin(undefined, key, request, payload, 0, 0);
    assert.ok(verdict.kind === "answer" && typeof verdict.answer === "string", key);
    assert.deepEqual(JSON.parse(verdict.answer).result, { n: kept.n, pad });
  }
  // Keys past the bound are new again.
  for (const key of [order[0], order[order.length - bound - 1]]) {
    const { request, payload } = keyed(key, { n: -1, pad: "" }, 0);
    assert.equal(store.begin(undefined, key, request, payload, 0, 0).kind, "run", key);
  }
});
