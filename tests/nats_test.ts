// The NATS bridge against a real nats-server: requests on PREFIX.TYPE with
// the same envelope rules and answers as a socket, streams and cancels,
// events out and in without loops, scoped tokens and keys. Over time:
// nats_lifecycle_test.ts.

import assert from "node:assert/strict";
import { connect, ConnectError, RemoteError, requestTypes, serve, TimeoutError } from "../mod.ts";
import { connectNats, serveNats } from "../nats.ts";
import { delay } from "./_helpers.ts";
import { natsTest, rawRequest } from "./_nats.ts";

const TOKEN = "nats-test-token";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

natsTest("a request over NATS gets the JSON a socket client gets", async (_nats, nc) => {
  await using server = serve({ port: 0, token: TOKEN }, (payload) => ({ seen: payload }));
  await using _bridge = serveNats(server, nc, { prefix: "tools" });
  const request = { text: "hi", auth_token: TOKEN, protocol_version: "1", request_id: 7 };
  const overNats = await rawRequest(nc, "tools.echo", request);
  await using client = await connect({ port: server.addr.port, token: TOKEN, twoWay: false });
  const overSocket = await client.request({ type: "echo", text: "hi" });
  assert.deepEqual(overNats, {
    status: "ok",
    message: "received",
    protocol_version: "1",
    request_id: 7,
    result: overSocket,
  });
  assert.deepEqual(overSocket, { seen: { text: "hi", type: "echo" } });
});

natsTest("the envelope rules hold over NATS, each with its code", async (_nats, nc) => {
  const errors: string[] = [];
  await using server = serve(
    { port: 0, token: TOKEN, maxBytes: 1_024, onError: (_e, { code }) => errors.push(code!) },
    async (_payload, { signal }) => {
      await delay(5_000, signal).catch(() => {});
      return "late";
    },
  );
  await using _bridge = serveNats(server, nc, { prefix: "tools" });
  const codeOf = async (subject: string, body: unknown) =>
    (await rawRequest(nc, subject, body)).code;
  assert.equal(await codeOf("tools.x", { auth_token: "wrong" }), "unauthorized");
  assert.equal(
    await codeOf("tools.x", { auth_token: TOKEN, protocol_version: "9" }),
    "protocol_mismatch",
  );
  assert.equal(await codeOf("tools.x", "{not json"), "invalid_json");
  assert.equal(await codeOf("tools.x", "[1]"), "invalid_message");
  assert.equal(await codeOf("tools.x", { type: "y", auth_token: TOKEN }), "invalid_message");
  assert.equal(
    await codeOf("tools.x", { pad: "x".repeat(2_000), auth_token: TOKEN }),
    "payload_too_large",
  );
  assert.equal(await codeOf("tools.x", { auth_token: TOKEN, timeout_ms: 50 }), "timeout");
  assert.equal(await codeOf("tools.$nope", { auth_token: TOKEN }), "unknown_type");
  assert.ok(errors.includes("unauthorized") && errors.includes("payload_too_large"));
});

natsTest("declared types are served per subject, and $describe lists them", async (_nats, nc) => {
  await using server = serve(
    { port: 0, token: TOKEN },
    requestTypes({
      add: { description: "a + b", handler: ({ a, b }: { a: number; b: number }) => a + b },
    }),
  );
  await using _bridge = serveNats(server, nc, { prefix: "math" });
  await using client = connectNats(nc, { prefix: "math", token: TOKEN });
  assert.equal(await client.request({ type: "add", a: 2, b: 3 }), 5);
  const described = await rawRequest(nc, "math.$describe", { auth_token: TOKEN });
  assert.deepEqual(described.result.types.map((t: { type: string }) => t.type), ["add"]);
  const unknown = await client.request({ type: "sub", a: 1, b: 1 }).catch((e) => e);
  assert.ok(unknown instanceof RemoteError && unknown.code === "unknown_type");
});

natsTest(
  "a client with a wrong token, a timeout, or nobody serving gets a clear error",
  async (_nats, nc) => {
    await using server = serve({ port: 0, token: TOKEN }, async (_p, { signal }) => {
      await delay(2_000, signal).catch(() => {});
      return "slow";
    });
    await using _bridge = serveNats(server, nc, { prefix: "tools" });
    await using wrong = connectNats(nc, { prefix: "tools", token: "nope" });
    const refused = await wrong.request({ type: "x" }).catch((e) => e);
    assert.ok(refused instanceof RemoteError && refused.code === "unauthorized");
    await using client = connectNats(nc, { prefix: "tools", token: TOKEN });
    const late = await client.request({ type: "x" }, { timeout: 100 }).catch((e) => e);
    assert.ok(late instanceof TimeoutError);
    await using nobody = connectNats(nc, { prefix: "nobody", token: TOKEN });
    const missing = await nobody.request({ type: "x" }).catch((e) => e);
    assert.ok(missing instanceof ConnectError, String(missing));
    assert.equal(client.pending + nobody.pending + wrong.pending, 0);
  },
);

natsTest(
  "streams come over NATS as chunks; leaving the loop cancels the handler",
  async (_nats, nc) => {
    let stopped!: () => void;
    const handlerStopped = new Promise<void>((resolve) => stopped = resolve);
    await using server = serve({ port: 0, token: TOKEN }, async function* (payload) {
      if (payload.type === "count") {
        for (let i = 1; i <= 3; i++) yield i;
        return "done";
      }
      try {
        for (let i = 0;; i++) {
          yield i;
          await delay(10);
        }
      } finally {
        stopped();
      }
    });
    await using bridge = serveNats(server, nc, { prefix: "tools" });
    await using client = connectNats(nc, { prefix: "tools", token: TOKEN });
    const stream = client.stream({ type: "count" });
    const seen: unknown[] = [];
    for await (const chunk of stream) seen.push(chunk);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(await stream.result, "done");
    // A plain NATS requester gets the collected result.
    assert.deepEqual((await rawRequest(nc, "tools.count", { auth_token: TOKEN })).result, [
      1,
      2,
      3,
    ]);
    const endless = client.stream<number>({ type: "endless" });
    for await (const chunk of endless) if (chunk >= 2) break;
    await handlerStopped;
    await delay(20);
    assert.equal(bridge.stats().requests.cancelled, 1);
    assert.equal(bridge.stats().requests.running, 0);
  },
);

natsTest("events go out to NATS and come in from it, never looping", async (_nats, nc) => {
  await using server = serve({ port: 0, token: TOKEN }, () => "ok");
  await using bridge = serveNats(server, nc, {
    prefix: "tools",
    eventsOut: ["jobs.>"],
    eventsIn: ["jobs.>", "metrics.*"],
  });
  const outside: string[] = [];
  const watcher = nc.subscribe("jobs.>", {
    callback: (_e, msg) => outside.push(`${msg.subject} ${decoder.decode(msg.data)}`),
  });
  await using client = await connect({ port: server.addr.port, token: TOKEN });
  await using events = await client.subscribe(["jobs.>", "metrics.*"]);
  await nc.flush();
  server.publish("jobs.build.done", { ok: true });
  server.publish("other.topic", 1); // not a pattern that goes out
  nc.publish("metrics.cpu", encoder.encode("0.5"));
  nc.publish("metrics.note", encoder.encode("plain text"));
  const seen: string[] = [];
  for await (const entry of events) {
    if (entry.kind === "event") seen.push(`${entry.topic} ${JSON.stringify(entry.data)}`);
    if (seen.length === 3) break;
  }
  await nc.flush();
  await delay(50);
  assert.deepEqual(seen.sort(), [
    'jobs.build.done {"ok":true}',
    "metrics.cpu 0.5",
    'metrics.note "plain text"',
  ]);
  // Out once, and not heard back: the local subscriber saw jobs.build.done once.
  assert.deepEqual(outside, ['jobs.build.done {"ok":true}']);
  assert.deepEqual(bridge.stats().events, { out: 1, in: 2 });
  watcher.unsubscribe();
});

natsTest("two bridges in and out on the same subjects pass each event once", async (_nats, nc) => {
  await using a = serve({ port: 0, token: TOKEN }, () => "a");
  await using b = serve({ port: 0, token: TOKEN }, () => "b");
  const routes = { prefix: "tools", eventsOut: true, eventsIn: ["news.>"] } as const;
  await using _bridgeA = serveNats(a, nc, routes);
  await using _bridgeB = serveNats(b, nc, routes);
  await using clientB = await connect({ port: b.addr.port, token: TOKEN });
  await using events = await clientB.subscribe(["news.>"]);
  await nc.flush();
  a.publish("news.one", 1);
  a.publish("news.two", 2);
  const seen: unknown[] = [];
  for await (const entry of events) {
    if (entry.kind === "event") seen.push(entry.data);
    if (seen.length === 2) break;
  }
  await nc.flush();
  await delay(100);
  assert.deepEqual(seen, [1, 2]);
  assert.equal(b.stats().events.published, 2, "B re-sent nothing and heard nothing twice");
  assert.equal(a.stats().events.published, 2, "A never heard its own events back");
});

natsTest("serving over NATS without a token is refused unless asked for", async (_nats, nc) => {
  await using server = serve({ port: 0 }, () => "open");
  assert.throws(() => serveNats(server, nc, { prefix: "tools" }), /without a token/);
  assert.throws(
    () => serveNats(server, nc, { prefix: "to ols", allowWithoutToken: true }),
    /prefix must be/,
  );
  assert.throws(
    () => serveNats(server, nc, { prefix: "tools", allowWithoutToken: true, eventsIn: ["a..b"] }),
    /Cannot bridge events/,
  );
  await using client = connectNats(nc, { prefix: "tools", timeout: 2_000 });
  // A bridge refused for a bad pattern subscribed to nothing.
  assert.ok((await client.request({}).catch((e) => e)) instanceof ConnectError);
  await using _bridge = serveNats(server, nc, { prefix: "tools", allowWithoutToken: true });
  assert.equal(await client.request({}), "open");
});

natsTest(
  "aborting a request over NATS aborts its handler on the member running it",
  async (_nats, nc) => {
    let aborted!: (reason: unknown) => void;
    const handlerAborted = new Promise((resolve) => aborted = resolve);
    await using server = serve({ port: 0, token: TOKEN }, async (_payload, { signal }) => {
      signal.addEventListener("abort", () => aborted(signal.reason), { once: true });
      await delay(5_000, signal).catch(() => {});
      return "too late";
    });
    await using bridge = serveNats(server, nc, { prefix: "tools" });
    await using client = connectNats(nc, { prefix: "tools", token: TOKEN });
    const controller = new AbortController();
    const call = client.request({ type: "slow" }, { signal: controller.signal }).catch((e) => e);
    await delay(100);
    controller.abort(new Error("user gave up"));
    assert.equal(((await call) as Error).message, "user gave up");
    const reason = await handlerAborted;
    assert.equal((reason as Error).name, "CancelledError");
    // The $cancel (which the queue subscription also hears) is not counted as a request.
    for (let i = 0; i < 50 && bridge.stats().requests.running > 0; i++) await delay(10);
    assert.deepEqual(bridge.stats().requests, {
      received: 1,
      answered: 1,
      cancelled: 1,
      running: 0,
    });
    assert.equal(client.pending, 0);
  },
);

natsTest(
  "connectNats checks timeouts and payloads as the socket client does",
  async (_nats, nc) => {
    await using server = serve({ port: 0, token: TOKEN }, async () => {
      await delay(50);
      return "slow but there";
    });
    await using _bridge = serveNats(server, nc, { prefix: "tools" });
    assert.throws(() => connectNats(nc, { prefix: "tools", timeout: -1 }), TypeError);
    await using client = connectNats(nc, { prefix: "tools", token: TOKEN });
    await assert.rejects(() => client.request({}, { timeout: NaN }), TypeError);
    await assert.rejects(() => client.request({ request_id: 1 }), /reserved for the envelope/);
    // A timeout past what setTimeout holds means "practically never", not 1 ms.
    assert.equal(await client.request({}, { timeout: 2 ** 32 }), "slow but there");
    assert.equal(client.pending, 0);
  },
);

natsTest(
  "over NATS the same scoped tokens apply, keys run once, and a handler cannot call back",
  async (_nats, nc) => {
    let ticks = 0;
    await using server = serve(
      { port: 0, token: TOKEN, tokens: { reader: { token: "r3ad", types: ["status"] } } },
      requestTypes({
        status: { description: "Status", handler: (_p, info) => ({ caller: info.caller }) },
        deploy: { description: "Deploys", handler: () => ++ticks },
        ask: {
          description: "Calls back",
          handler: (_p, info) => info.call({ q: 1 }).catch((e: Error) => e.message),
        },
      }),
    );
    await using _bridge = serveNats(server, nc, { prefix: "tools" });
    assert.deepEqual(await rawRequest(nc, "tools.deploy", { auth_token: "r3ad", request_id: 1 }), {
      status: "error",
      message: "forbidden: deploy",
      code: "forbidden",
      protocol_version: "1",
      request_id: 1,
    });
    assert.deepEqual((await rawRequest(nc, "tools.status", { auth_token: "r3ad" })).result, {
      caller: "reader",
    });
    for (let i = 0; i < 3; i++) {
      const answer = await rawRequest(nc, "tools.deploy", {
        auth_token: TOKEN,
        idempotency_key: "k",
      });
      assert.equal(answer.result, 1);
    }
    assert.equal(ticks, 1);
    assert.match(
      (await rawRequest(nc, "tools.ask", { auth_token: TOKEN })).result,
      /did not ask for calls/,
    );
  },
);

natsTest(
  "connectNats sends a request's idempotency key: the handler runs once per key",
  async (_nats, nc) => {
    let ticks = 0;
    await using server = serve(
      { port: 0, token: TOKEN },
      requestTypes({ tick: { description: "Counts", handler: () => ++ticks } }),
    );
    await using _bridge = serveNats(server, nc, { prefix: "counter" });
    await using client = connectNats(nc, { prefix: "counter", token: TOKEN });
    const once = await Promise.all(
      [1, 2, 3].map(() => client.request({ type: "tick" }, { idempotencyKey: "deploy-42" })),
    );
    assert.deepEqual(once, [1, 1, 1]);
    assert.equal(await client.request({ type: "tick" }), 2, "no key: it runs");
    await assert.rejects(
      client.request({ type: "tick", other: true }, { idempotencyKey: "deploy-42" }),
      (error: unknown) => error instanceof RemoteError && error.code === "idempotency_conflict",
    );
    assert.equal(ticks, 2);
  },
);
