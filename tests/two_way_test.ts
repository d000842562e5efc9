// The two-way bridge on the server, seen from raw sockets: `$hello`, chunk
// frames, `$cancel`, declared types, and that a peer that never says
// `$hello` sees exactly what it saw before. Events: subscriptions_test.ts.

import assert from "node:assert/strict";
import { ApplicationError, CancelledError, type RequestInfo, requestTypes, serve } from "../mod.ts";
import { delay, portOf, RawPeer } from "./_helpers.ts";
import { hello, receive, untilAnswer } from "./_two_way.ts";

async function* count(payload: { n: number }): AsyncGenerator<number, string> {
  for (let i = 1; i <= payload.n; i++) yield i;
  return "done";
}

Deno.test("a peer that never says $hello gets collected results and no event frame", async () => {
  await using server = serve({ port: 0 }, count);
  await using peer = await RawPeer.connect(portOf(server));
  assert.deepEqual(await peer.call({ n: 3 }), {
    status: "ok",
    message: "received",
    protocol_version: "1",
    result: [1, 2, 3],
  });
  assert.deepEqual((await peer.call({ n: 2, request_id: 9 }))?.result, [1, 2]);
  assert.equal(server.publish("any.topic", 1), 0);
  // The next frame is the answer to the next request: nothing came between.
  assert.deepEqual((await peer.call({ n: 1 }))?.result, [1]);
});

Deno.test("$hello grants the features asked that the server has, and says what it is", async () => {
  await using server = serve({ port: 0, maxBytes: 4096 }, () => "ok");
  await using peer = await RawPeer.connect(portOf(server));
  assert.deepEqual(await hello(peer, ["events", "telepathy", "chunks"]), {
    features: ["chunks", "events"],
    max_bytes: 4096,
    server: "socketbridge-deno/0.1.0",
  });
  const bad = await peer.call({ type: "$hello", features: "chunks", request_id: 1 });
  assert.equal(bad?.code, "invalid_message");
  assert.equal(bad?.request_id, 1);
});

Deno.test("$hello is said once per connection: a second is refused and changes nothing", async () => {
  await using server = serve({ port: 0 }, (payload: { n: number }) => count(payload));
  await using peer = await RawPeer.connect(portOf(server));
  await hello(peer, ["chunks"]);
  const again = await peer.call({ type: "$hello", features: [], request_id: "again" });
  assert.deepEqual([again?.code, again?.message], [
    "invalid_message",
    "invalid message: $hello was already said on this connection",
  ]);
  // Chunks are still on: a stream started after the refusal streams.
  await peer.send({ n: 2, request_id: 5 });
  const frames = await untilAnswer(peer, 5);
  assert.deepEqual(frames.map((frame) => "chunk" in frame ? frame.chunk : frame.result), [
    1,
    2,
    "done",
  ]);
});

Deno.test("$hello's server name carries the version in deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  await using server = serve({ port: 0 }, () => "ok");
  await using peer = await RawPeer.connect(portOf(server));
  assert.equal((await hello(peer, [])).server, `socketbridge-deno/${config.version}`);
});

Deno.test("control requests never reach the handler; an unknown $ type is unknown_type", async () => {
  const seen: unknown[] = [];
  await using server = serve({ port: 0, token: "t" }, (payload) => {
    seen.push(payload);
    return "handled";
  });
  await using peer = await RawPeer.connect(portOf(server));
  const answers = [];
  for (const type of ["$hello", "$describe", "$bogus", "$cancel", "$subscribe"]) {
    answers.push(await peer.call({ type, auth_token: "t", features: [], request_id: type }));
  }
  assert.deepEqual(seen, []);
  assert.deepEqual(answers.map((answer) => answer?.code ?? answer?.status), [
    "ok",
    "ok",
    "unknown_type",
    "invalid_message",
    "invalid_message",
  ]);
  assert.equal(answers[2]?.message, "unknown type: $bogus");
  assert.deepEqual(answers[1]?.result, { types: [] });
  // Control requests pass the same checks as any other.
  const refused = await peer.call({ type: "$hello", features: [], auth_token: "wrong" });
  assert.equal(refused?.code, "unauthorized");
});

Deno.test("chunks: one frame per item in order, then the final answer; none without an id", async () => {
  await using server = serve({ port: 0 }, count);
  await using peer = await RawPeer.connect(portOf(server));
  await hello(peer, ["chunks"]);
  await peer.send({ n: 3, request_id: 7 });
  assert.deepEqual(await untilAnswer(peer, 7), [
    { request_id: 7, chunk: 1, protocol_version: "1" },
    { request_id: 7, chunk: 2, protocol_version: "1" },
    { request_id: 7, chunk: 3, protocol_version: "1" },
    { status: "ok", message: "received", protocol_version: "1", request_id: 7, result: "done" },
  ]);
  // Without a request_id a chunk could not name its request: collected.
  assert.deepEqual((await peer.call({ n: 2 }))?.result, [1, 2]);
});

Deno.test("an error mid-stream ends it with one error answer after the chunks so far", async () => {
  await using server = serve({ port: 0, onError() {} }, async function* () {
    yield "a";
    throw new Error("disk on fire");
  });
  await using peer = await RawPeer.connect(portOf(server));
  await hello(peer, ["chunks"]);
  await peer.send({ request_id: 1 });
  const frames = await untilAnswer(peer, 1);
  assert.deepEqual(frames[0], { request_id: 1, chunk: "a", protocol_version: "1" });
  assert.equal(frames.length, 2);
  assert.equal(frames[1].code, "handler_error");
  assert.equal(frames[1].message, "handler error: disk on fire");
});

Deno.test("a stream is pulled only while the peer reads, and stopped when the peer leaves", async () => {
  let produced = 0;
  let finished = false;
  let aborted = false;
  await using server = serve(
    { port: 0, maxOutboundBytes: 65_536 },
    async function* (_payload: unknown, { signal }: RequestInfo) {
      signal.addEventListener("abort", () => aborted = true);
      try {
        while (true) {
          produced++;
          yield "x".repeat(1_000);
        }
      } finally {
        finished = true;
      }
    },
  );
  const peer = await RawPeer.connect(portOf(server));
  await hello(peer, ["chunks"]);
  await peer.send({ request_id: 1 });
  await delay(300);
  const early = produced;
  await delay(300);
  // Bounded by the outbound queue and the kernel's socket buffers, not by time.
  assert.ok(early * 1_000 < 32 * 1024 * 1024, `produced ${early} items for a peer not reading`);
  assert.ok(produced - early < 64, `still producing: ${early} then ${produced}`);
  peer.close();
  for (let i = 0; i < 100 && !finished; i++) await delay(10);
  assert.ok(finished, "the generator's finally ran");
  assert.ok(aborted, "the handler's signal was aborted");
});

Deno.test("timeout_ms ends a stream with one timeout answer and no chunk after it", async () => {
  let finished = false;
  await using server = serve({ port: 0, onError() {} }, async function* () {
    try {
      for (let i = 0;; i++) {
        await delay(5);
        yield i;
      }
    } finally {
      finished = true;
    }
  });
  await using peer = await RawPeer.connect(portOf(server));
  await hello(peer, ["chunks"]);
  await peer.send({ request_id: "s", timeout_ms: 60 });
  const frames = await untilAnswer(peer, "s");
  assert.equal(frames.at(-1)?.code, "timeout");
  assert.ok(frames.length > 1, "some chunks came first");
  // Anything after the answer would be read before this answer.
  assert.equal((await peer.call({ type: "$describe", request_id: "d" }))?.request_id, "d");
  for (let i = 0; i < 50 && !finished; i++) await delay(10);
  assert.ok(finished);
});

Deno.test("$cancel aborts a running request: it answers cancelled, once; the cancel says whether it hit", async () => {
  const reasons: unknown[] = [];
  await using server = serve(
    { port: 0, onError() {} },
    (_payload, { signal }) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve("finished"), 10_000);
        signal.addEventListener("abort", () => {
          reasons.push(signal.reason);
          clearTimeout(timer);
          resolve("too late");
        });
      }),
  );
  await using peer = await RawPeer.connect(portOf(server));
  await peer.send({ request_id: 1 });
  await peer.send({ type: "$cancel", target: 1, request_id: 2 });
  const first = await receive(peer);
  const second = await receive(peer);
  assert.deepEqual(first, {
    status: "ok",
    message: "received",
    protocol_version: "1",
    request_id: 2,
    result: { cancelled: true },
  });
  assert.deepEqual(second, {
    status: "error",
    message: "cancelled",
    code: "cancelled",
    protocol_version: "1",
    request_id: 1,
  });
  assert.ok(reasons[0] instanceof CancelledError);
  const again = await peer.call({ type: "$cancel", target: 1, request_id: 3 });
  assert.deepEqual(again?.result, { cancelled: false });
  const never = await peer.call({ type: "$cancel", target: "nope", request_id: 4 });
  assert.deepEqual(never?.result, { cancelled: false });
  assert.equal(server.stats().errors.cancelled, 1);
});

Deno.test("$cancel goes ahead of requests waiting for a slot, and a waiting target never starts", async () => {
  let started = 0;
  await using server = serve({ port: 0, maxInFlight: 1, onError() {} }, (_payload, { signal }) => {
    started++;
    return new Promise((resolve) => signal.addEventListener("abort", () => resolve("stopped")));
  });
  await using peer = await RawPeer.connect(portOf(server));
  await peer.send({ request_id: "busy" });
  await peer.send({ request_id: "queued" });
  await delay(20);
  await peer.send({ type: "$cancel", target: "queued", request_id: "c1" });
  assert.deepEqual((await receive(peer)).result, { cancelled: true });
  await peer.send({ type: "$cancel", target: "busy", request_id: "c2" });
  const rest = [await receive(peer), await receive(peer), await receive(peer)];
  const byId = Object.fromEntries(rest.map((frame) => [frame.request_id, frame]));
  assert.deepEqual(byId.c2.result, { cancelled: true });
  assert.equal(byId.busy.code, "cancelled");
  assert.equal(byId.queued.code, "cancelled");
  assert.equal(started, 1, "the queued request never ran");
});

Deno.test("declared types: dispatch on type, unknown_type, invalid_payload, and $describe", async () => {
  await using server = serve(
    { port: 0 },
    requestTypes({
      add: {
        description: "Adds a and b",
        schema: { type: "object", required: ["a", "b"] },
        handler: (payload: { a: unknown; b: unknown }) => {
          if (typeof payload.a !== "number" || typeof payload.b !== "number") {
            throw new (class extends Error {})("not numbers");
          }
          return payload.a + payload.b;
        },
      },
    }),
  );
  await using peer = await RawPeer.connect(portOf(server));
  assert.equal((await peer.call({ type: "add", a: 2, b: 3 }))?.result, 5);
  const unknown = await peer.call({ type: "sub" });
  assert.equal(unknown?.code, "unknown_type");
  assert.equal(unknown?.message, "unknown type: sub");
  assert.equal((await peer.call({}))?.code, "unknown_type");
  assert.deepEqual((await peer.call({ type: "$describe" }))?.result, {
    types: [{
      type: "add",
      description: "Adds a and b",
      schema: { type: "object", required: ["a", "b"] },
    }],
  });
  assert.throws(() => requestTypes({ $x: { description: "", handler: () => 1 } }), TypeError);
});

Deno.test("an ApplicationError is answered with its own code and data; a bad one is a TypeError", async () => {
  await using server = serve({ port: 0, onError() {} }, (payload: { data?: unknown }) => {
    throw new ApplicationError("not_found", "no such file", payload.data);
  });
  await using peer = await RawPeer.connect(portOf(server));
  assert.deepEqual(await peer.call({ data: { path: "/x" }, request_id: 1 }), {
    status: "error",
    message: "no such file",
    code: "not_found",
    protocol_version: "1",
    request_id: 1,
    data: { path: "/x" },
  });
  // Without data, no data key: what a peer that does not know it expects.
  assert.deepEqual(Object.keys((await peer.call({})) ?? {}), [
    "status",
    "message",
    "code",
    "protocol_version",
  ]);
  assert.throws(() => new ApplicationError("timeout", "x"), TypeError);
  assert.throws(() => new ApplicationError("Not-Found", "x"), TypeError);
  assert.equal(server.stats().errors.handler_error, undefined);
});
