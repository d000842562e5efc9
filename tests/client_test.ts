import assert from "node:assert/strict";
import { encodeMessage } from "../codec.ts";
import { connect, send } from "../client.ts";
import {
  ConnectError,
  ConnectionClosedError,
  FrameTooLargeError,
  RemoteError,
  TimeoutError,
} from "../errors.ts";
import { serve } from "../server.ts";
import { delay, portOf, rawServer, seeded } from "./_helpers.ts";
import { freePort } from "./_processes.ts";

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

const ok = (result: unknown, requestId?: unknown) =>
  encodeMessage({
    status: "ok",
    message: "received",
    protocol_version: "1",
    request_id: requestId,
    result,
  });

Deno.test("send() gets the project's server's answer and sends no request_id", async () => {
  const seen: unknown[] = [];
  await using server = serve({ port: 0, token: "k" }, (payload, info) => {
    seen.push(info.requestId);
    return payload;
  });
  const response = await send({ port: portOf(server), token: "k" }, {
    type: "message",
    text: "hi",
  });
  assert.deepEqual(response, {
    status: "ok",
    message: "received",
    protocol_version: "1",
    result: { type: "message", text: "hi" },
  });
  assert.deepEqual(seen, [undefined]);
  const refused = await send({ port: portOf(server), token: "nope" }, {});
  assert.equal(refused.status, "error");
  assert.equal(refused.code, "unauthorized");
});

Deno.test("send() puts the envelope beside the payload, as the original client does", async () => {
  await using peer = rawServer((_, conn) => writeAll(conn, ok(null)));
  await send({ port: peer.port, token: "secret" }, { type: "ping" });
  await send({ port: peer.port, timeout: 5_000 }, { type: "ping" });
  assert.deepEqual(peer.requests, [
    { type: "ping", auth_token: "secret", protocol_version: "1" },
    { type: "ping", protocol_version: "1", timeout_ms: 5_000 },
  ]);
  await assert.rejects(
    send({ port: peer.port }, { auth_token: "x" }),
    TypeError,
  );
  await assert.rejects(
    send({ port: peer.port }, [1] as unknown as Record<string, unknown>),
    TypeError,
  );
});

Deno.test("send() reads an answer that arrives one byte at a time, slowly", async () => {
  await using peer = rawServer(async (_, conn) => {
    for (const byte of ok("pieces")) {
      await writeAll(conn, new Uint8Array([byte]));
      await delay(1);
    }
  });
  const response = await send({ port: peer.port }, {});
  assert.equal(response.result, "pieces");
});

Deno.test("send() times out on a server that never answers", async () => {
  await using peer = rawServer(() => {});
  const error = await send({ port: peer.port, timeout: 50 }, {}).catch((e) => e);
  assert.ok(error instanceof TimeoutError, String(error));
  assert.equal(error.timeout, 50);
});

Deno.test("send() rejects an oversized answer from its prefix", async () => {
  await using peer = rawServer((_, conn) => writeAll(conn, new Uint8Array([0x7f, 0, 0, 0])));
  const error = await send({ port: peer.port, maxBytes: 1000 }, {}).catch((e) => e);
  assert.ok(error instanceof FrameTooLargeError, String(error));
  assert.equal(error.size, 0x7f00_0000);
});

Deno.test("send() rejects with ConnectionClosedError when the server closes without answering", async () => {
  await using peer = rawServer((_, conn) => conn.close());
  await assert.rejects(send({ port: peer.port }, {}), ConnectionClosedError);
});

Deno.test("send() honours an abort signal, before and during the request", async () => {
  await using peer = rawServer(() => {});
  const early = new AbortController();
  early.abort(new Error("early"));
  await assert.rejects(
    send({ port: peer.port, signal: early.signal }, {}),
    /early/,
  );
  const late = new AbortController();
  setTimeout(() => late.abort(new Error("late")), 20);
  await assert.rejects(
    send({ port: peer.port, signal: late.signal }, {}),
    /late/,
  );
});

Deno.test("send() fails clearly when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await send({ port }, {}).catch((e) => e);
  assert.ok(error instanceof ConnectError, String(error));
  assert.equal(error.address, `127.0.0.1:${port}`);
  assert.match(
    error.message,
    new RegExp(`127\\.0\\.0\\.1:${port}: nothing listens there`),
  );
  assert.ok(error.cause instanceof Deno.errors.ConnectionRefused);
  const missing = await send({ path: "/tmp/socketbridge-test-a.sock" }, {})
    .catch((e) => e);
  assert.ok(missing instanceof ConnectError);
  assert.match(
    missing.message,
    /socketbridge-test-a\.sock: no socket file at that path/,
  );
  await assert.rejects(send({ path: "/tmp/x.sock", port: 1 }, {}), TypeError);
});

Deno.test("connect() settles 10,000 requests in flight, answered out of order, each once with its own result", async () => {
  const random = seeded(11);
  await using server = serve(
    { port: 0, maxInFlight: 512 },
    async (payload: { n: number }) => {
      await delay(Math.floor(random() * 5));
      return payload.n * 2;
    },
  );
  await using client = await connect<{ n: number }, number>({
    port: portOf(server),
  });
  const settled = new Array<number>(10_000).fill(0);
  const results = await Promise.all(
    Array.from(
      { length: 10_000 },
      (_, n) =>
        client.request({ n }).then((result) => {
          settled[n]++;
          return result;
        }),
    ),
  );
  results.forEach((result, n) => assert.equal(result, n * 2));
  assert.ok(settled.every((count) => count === 1));
  assert.equal(client.pending, 0);
});

Deno.test("connect() rejects an error answer with a RemoteError carrying code and message", async () => {
  await using server = serve({ port: 0, token: "t" }, () => {
    throw new Error("nope");
  });
  await using bad = await connect({ port: portOf(server), token: "wrong" });
  const unauthorized = await bad.request({}).catch((e) => e);
  assert.ok(unauthorized instanceof RemoteError);
  assert.equal(unauthorized.code, "unauthorized");
  await using good = await connect({ port: portOf(server), token: "t" });
  const failed = await good.request({}).catch((e: RemoteError) => e);
  assert.ok(failed instanceof RemoteError);
  assert.equal(failed.code, "handler_error");
  assert.equal(failed.message, "handler error: nope");
});

Deno.test("connect() sends a request's timeout as timeout_ms", async () => {
  // An original server answers `$hello` as any message; the request itself is never answered.
  await using peer = rawServer((request, conn) =>
    request.type === "$hello" ? writeAll(conn, ok(null, request.request_id)) : undefined
  );
  await using client = await connect({ port: peer.port });
  const error = await client.request({ n: 1 }, { timeout: 40 }).catch((e) => e);
  assert.ok(error instanceof TimeoutError);
  const sent = peer.requests.find((request) => request.n === 1);
  assert.equal(sent?.timeout_ms, 40);
});

Deno.test("connect() times out a request, and the server stops working for it", async () => {
  let abortedBy: unknown;
  await using server = serve(
    { port: 0 },
    (_p, info) =>
      new Promise((resolve) => {
        info.signal.addEventListener("abort", () => {
          abortedBy = info.signal.reason;
          resolve(null);
        });
      }),
  );
  await using client = await connect({ port: portOf(server) });
  const error = await client.request({}, { timeout: 40 }).catch((e) => e);
  assert.ok(error instanceof TimeoutError);
  assert.equal(client.pending, 0);
  await delay(30);
  // The server's own deadline (from timeout_ms) and the client's `$cancel`
  // both come at 40 ms: whichever is first stops the handler.
  assert.ok(
    ["TimeoutError", "CancelledError"].includes((abortedBy as Error)?.name),
    `aborted by ${abortedBy}`,
  );
});

Deno.test("connect() aborts before send without sending, and after send drops the late answer", async () => {
  const answers: ((value?: unknown) => void)[] = [];
  let calls = 0;
  await using server = serve({ port: 0 }, (payload: { n: number }) => {
    calls++;
    if (payload.n === 1) {
      return new Promise((resolve) => answers.push(() => resolve("late")));
    }
    return payload.n;
  });
  await using client = await connect({ port: portOf(server) });
  const before = new AbortController();
  before.abort(new Error("not sent"));
  await assert.rejects(
    client.request({ n: 0 }, { signal: before.signal }),
    /not sent/,
  );
  const after = new AbortController();
  const pending = client.request({ n: 1 }, { signal: after.signal });
  await delay(20);
  after.abort(new Error("gave up"));
  await assert.rejects(pending, /gave up/);
  answers[0]();
  assert.equal(await client.request({ n: 2 }), 2);
  assert.equal(
    calls,
    2,
    "the aborted-before-send request never reached the server",
  );
});

Deno.test("connect() against a Part A peer: answers matched in order, a late answer to a timed-out request dropped", async () => {
  // The original server: one request at a time, answers in order, no ids.
  await using peer = rawServer(async (request, conn) => {
    if (request.slow) await delay(80);
    await writeAll(conn, ok(request.n));
  });
  await using client = await connect({ port: peer.port });
  const slow = client.request({ n: 1, slow: true }, { timeout: 20 }).catch((
    e,
  ) => e);
  const next = client.request({ n: 2 });
  const third = client.request({ n: 3 });
  assert.ok(await slow instanceof TimeoutError);
  assert.equal(await next, 2, "the late answer to n=1 must not reach n=2");
  assert.equal(await third, 3);
});

Deno.test("connect() rejects every pending request promptly when the server dies, and reconnects for later ones", async () => {
  const port = freePort();
  const hang = (_p: unknown, info: { signal: AbortSignal }) =>
    new Promise((resolve) => info.signal.addEventListener("abort", resolve));
  const first = serve({ port, gracePeriod: 0 }, hang);
  await using client = await connect({
    port,
    reconnect: { initialDelay: 10, maxDelay: 50 },
  });
  const pending = Array.from(
    { length: 5 },
    () => client.request({}).catch((e) => e),
  );
  await delay(20);
  const shutdown = first.shutdown();
  const errors = await Promise.all(pending);
  await shutdown;
  for (const error of errors) {
    assert.ok(
      error instanceof ConnectionClosedError || error instanceof RemoteError,
      String(error),
    );
  }
  await using _second = serve({ port }, () => "back");
  assert.equal(await client.request({}, { timeout: 2000 }), "back");
});

Deno.test("connect() without reconnect rejects later requests with ConnectionClosedError", async () => {
  const server = serve({ port: 0 }, () => 1);
  const client = await connect({ port: portOf(server) });
  assert.equal(await client.request({}), 1);
  await server.shutdown();
  await delay(10);
  await assert.rejects(client.request({}), ConnectionClosedError);
  assert.equal(client.connected, false);
  await client.close();
});

Deno.test("connect() close() rejects pending requests and is idempotent", async () => {
  await using server = serve(
    { port: 0 },
    (_p, info) => new Promise((resolve) => info.signal.addEventListener("abort", resolve)),
  );
  const client = await connect({ port: portOf(server) });
  const pending = client.request({});
  await delay(10);
  await client.close();
  await client.close();
  await assert.rejects(pending, ConnectionClosedError);
  await assert.rejects(client.request({}), ConnectionClosedError);
});

Deno.test("connect() caps answers at maxBytes and closes the connection", async () => {
  await using server = serve(
    { port: 0 },
    (payload: { size: number }) => "x".repeat(payload.size),
  );
  await using client = await connect({ port: portOf(server), maxBytes: 1000 });
  assert.equal(await client.request({ size: 10 }), "x".repeat(10));
  // Once the server echoes ids, an oversized answer cannot be told apart:
  // every pending request learns the connection closed, and why.
  const [big, other] = await Promise.all([
    client.request({ size: 5000 }).catch((e: Error) => e),
    client.request({ size: 1 }).catch((e: Error) => e),
  ]);
  for (const error of [big, other]) {
    assert.ok(error instanceof ConnectionClosedError, String(error));
    assert.ok(error.cause instanceof FrameTooLargeError);
  }
  assert.equal(client.connected, false);
});

Deno.test("connect() keeps a request's timeout and signal while it waits for a reconnection", async () => {
  const server = serve({ port: 0 }, () => "up");
  const client = await connect({
    port: portOf(server),
    reconnect: { initialDelay: 5_000 },
  });
  assert.equal(await client.request({}), "up");
  await server.shutdown();
  await delay(20);
  assert.equal(client.connected, false);
  const started = performance.now();
  await assert.rejects(client.request({}, { timeout: 50 }), TimeoutError);
  assert.ok(performance.now() - started < 1_000);
  const controller = new AbortController();
  const aborted = client.request({}, { signal: controller.signal });
  controller.abort(new Error("stop waiting"));
  await assert.rejects(aborted, /stop waiting/);
  assert.equal(client.pending, 0);
  await client.close();
});
