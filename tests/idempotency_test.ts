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

Deno.test("IdempotencyStore forgets keys past the window and the oldest past the bound, and charges stored answers", () => {
  let charged = 0;
  const store = new IdempotencyStore(1_000, 3, (bytes) => charged += bytes);
  const answer = (n: number) =>
    `{"status":"ok","message":"received","protocol_version":"1","request_id":${n},"result":${n}}`;
  const run = (key: string, n: number, now: number) => {
    const verdict = store.begin(undefined, key, { n }, n, now);
    if (verdict.kind === "run") store.finish(verdict.entry, answer(n));
    return verdict.kind;
  };
  assert.deepEqual([run("a", 1, 0), run("b", 2, 10), run("c", 3, 20)], ["run", "run", "run"]);
  assert.equal(charged, answer(1).length + answer(2).length + answer(3).length);
  assert.equal(run("a", 1, 30), "answer");
  // A fourth key: the oldest ("a") is forgotten, and its answer's bytes released.
  assert.equal(run("d", 4, 40), "run");
  assert.equal(store.size, 3);
  assert.equal(run("a", 1, 50), "run");
  // Past the window, every key from before is forgotten.
  assert.equal(run("e", 5, 2_000), "run");
  assert.equal(store.size, 1);
  assert.equal(charged, answer(5).length);
  // The same key under another caller is another key.
  assert.equal(store.begin("ci", "e", { n: 5 }, 6, 2_001).kind, "run");
});

Deno.test("IdempotencyStore charges a request's payload while it keeps it, and releases it for the digest", () => {
  let charged = 0;
  const store = new IdempotencyStore(60_000, 10, (bytes) => charged += bytes);
  const first = store.begin(undefined, "k", { n: 1 }, 1, 0, 500);
  assert.equal(first.kind, "run");
  assert.equal(charged, 500);
  // The key comes again while the first runs: the payload gives way to its digest.
  assert.equal(store.begin(undefined, "k", { n: 1 }, 2, 1, 500).kind, "answer");
  assert.equal(charged, 0);
  const body = '{"status":"ok","message":"received","protocol_version":"1","result":1}';
  if (first.kind === "run") store.finish(first.entry, body);
  assert.equal(charged, body.length);
  // Past the window the key is forgotten and all it was charged given back.
  assert.equal(store.begin(undefined, "other", {}, 3, 60_001).kind, "run");
  assert.equal(charged, 0);
});
