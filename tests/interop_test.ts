// Answers a client must not trust, the original's null ids, peers that are
// not SocketBridge at all, and timers armed from huge numbers.

import assert from "node:assert/strict";
import { encodeFrame, encodeMessage } from "../codec.ts";
import { connect, send } from "../client.ts";
import { ProtocolError, RemoteError } from "../errors.ts";
import { serve } from "../server.ts";
import { delay, RawPeer, rawServer } from "./_helpers.ts";
import { DENO, ROOT } from "./_processes.ts";

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

const answer = (fields: Record<string, unknown>) =>
  encodeMessage({ message: "received", protocol_version: "1", ...fields });

Deno.test("a null request_id in an answer means no id, for send() and connect()", async () => {
  // As the original does: unauthorized answers carry "request_id": null.
  await using peer = rawServer(async (_request, conn) => {
    await writeAll(
      conn,
      answer({ status: "error", message: "unauthorized", request_id: null }),
    );
  });
  const sent = await send({ port: peer.port }, {});
  assert.equal(sent.status, "error");
  assert.equal(sent.message, "unauthorized");
  await using client = await connect({ port: peer.port });
  const errors = await Promise.all(
    [1, 2, 3].map((n) => client.request({ n }).catch((e) => e)),
  );
  for (const error of errors) {
    assert.ok(error instanceof RemoteError, String(error));
    assert.equal(error.code, "unauthorized");
  }
  assert.equal(client.pending, 0);
});

Deno.test("connect() follows the original's habit: ids on error answers only, answers in order", async () => {
  await using peer = rawServer(async (request, conn) => {
    if (request.n === 2) {
      await writeAll(
        conn,
        answer({
          status: "error",
          message: "unauthorized",
          request_id: request.request_id,
        }),
      );
    } else {
      await writeAll(conn, answer({ status: "ok" }));
    }
  });
  await using client = await connect({ port: peer.port });
  const results = await Promise.all(
    [1, 2, 3, 4].map((n) => client.request({ n }).catch((e) => e)),
  );
  assert.equal(results[0], undefined);
  assert.ok(
    results[1] instanceof RemoteError && results[1].code === "unauthorized",
  );
  assert.equal(results[2], undefined);
  assert.equal(results[3], undefined);
  assert.equal(client.pending, 0);
});

Deno.test("serve() reads a null request_id as no id: answered in order, with no id", async () => {
  await using server = serve(
    { port: 0 },
    async (payload: { n: number; wait: number }) => {
      await delay(payload.wait);
      return payload.n;
    },
  );
  await using peer = await RawPeer.connect(server.addr.port);
  await peer.send({ n: 1, wait: 40, request_id: null });
  await peer.send({ n: 2, wait: 0, request_id: null });
  const first = await peer.receive();
  const second = await peer.receive();
  assert.equal(first?.result, 1);
  assert.equal(second?.result, 2);
  assert.equal("request_id" in first!, false);
});

Deno.test("serve() refuses numeric ids that are not safe integers with invalid_message", async () => {
  await using server = serve({ port: 0 }, () => "ran");
  await using peer = await RawPeer.connect(server.addr.port);
  for (
    const text of [
      '{"request_id":1e400}',
      '{"request_id":9007199254740993}',
      '{"request_id":1.5}',
    ]
  ) {
    const response = await peer.call(new TextEncoder().encode(text));
    assert.equal(response?.code, "invalid_message", text);
    assert.equal(
      response?.message,
      "invalid message: request_id must be a string or a safe integer",
    );
  }
  assert.equal(
    (await peer.call({ request_id: 9007199254740991 }))?.request_id,
    9007199254740991,
  );
});

Deno.test("an answer to an id never sent, or a second answer to one id, is a ProtocolError", async (t) => {
  await t.step("an id never sent", async () => {
    await using peer = rawServer(async (_request, conn) => {
      await writeAll(
        conn,
        answer({ status: "ok", request_id: 999, result: "stray" }),
      );
    });
    await using client = await connect({ port: peer.port });
    const error = await client.request({}).catch((e) => e);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /request_id 999, which no request is waiting for/,
    );
  });
  await t.step(
    "a second answer to one id fails the requests still waiting",
    async () => {
      await using peer = rawServer(async (request, conn) => {
        if (request.request_id !== 1) return;
        const ok = answer({ status: "ok", request_id: 1, result: "once" });
        await writeAll(conn, ok);
        await delay(10);
        await writeAll(conn, ok);
      });
      // Without $hello: this peer's first request must be the caller's.
      await using client = await connect({ port: peer.port, twoWay: false });
      const first = client.request({});
      const second = client.request({}).catch((e) => e);
      assert.equal(await first, "once");
      assert.ok(await second instanceof ProtocolError);
      assert.equal(
        client.connected,
        false,
        "a connection that broke the protocol is closed",
      );
    },
  );
  await t.step("send() takes the first answer as its answer", async () => {
    await using peer = rawServer(async (_request, conn) => {
      await writeAll(conn, answer({ status: "ok", result: "first" }));
      await writeAll(conn, answer({ status: "ok", result: "second" }));
    });
    assert.equal((await send({ port: peer.port }, {})).result, "first");
  });
});

Deno.test("a frame that is not an answer settles the request once, with a ProtocolError", async (t) => {
  for (
    const text of [
      "null",
      "[1]",
      '"text"',
      "42",
      '{"no":"status"}',
      "{bad json",
    ]
  ) {
    await t.step(text, async () => {
      await using peer = rawServer(async (_request, conn) => {
        await writeAll(conn, encodeFrame(new TextEncoder().encode(text)));
      });
      await using client = await connect({ port: peer.port });
      // A timeout far away: the request must settle from the bad frame alone.
      const error = await client.request({}, { timeout: 60_000 }).catch((e) => e);
      assert.ok(error instanceof ProtocolError, `${text}: ${error}`);
      assert.equal(client.pending, 0);
      const sent = await send({ port: peer.port }, {}).catch((e) => e);
      assert.ok(sent instanceof ProtocolError, `send(): ${sent}`);
    });
  }
});

Deno.test("a peer that is not SocketBridge is named as such: HTTP, TLS", async () => {
  await using http = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("hello"),
  );
  const fromHttp = await send({ port: http.addr.port }, {}).catch((e) => e);
  assert.ok(fromHttp instanceof ProtocolError, String(fromHttp));
  assert.match(
    fromHttp.message,
    /is not a SocketBridge server: it answered with HTTP/,
  );
  const cert = Deno.readTextFileSync(`${ROOT}tests/fixtures/localhost.crt`);
  const key = Deno.readTextFileSync(`${ROOT}tests/fixtures/localhost.key`);
  await using tls = serve({ port: 0, cert, key }, () => "never");
  const fromTls = await send({ port: tls.addr.port, timeout: 5_000 }, {}).catch(
    (e) => e,
  );
  assert.ok(fromTls instanceof ProtocolError, String(fromTls));
  assert.match(fromTls.message, /it answered with TLS/);
});

Deno.test("timeouts of 2^31 ms and more mean never: nothing fires early, nothing prints", async () => {
  // In a child process, so that anything the runtime prints can be seen.
  const script = `
    import { connect, send, serve } from "${ROOT}mod.ts";
    const huge = [2 ** 31, 3e9, 1e308, Infinity];
    const server = serve({
      port: 0, idleTimeout: 3e9, frameTimeout: 1e308, authTimeout: 2 ** 40,
      handlerTimeout: 2 ** 31, gracePeriod: 5e9, writeTimeout: 1e12,
    }, async (payload) => { await new Promise((r) => setTimeout(r, 50)); return payload.n; });
    const port = server.addr.port;
    const out = [];
    for (const n of [2 ** 31, 3e9, 1e308]) {
      const peer = await Deno.connect({ port, hostname: "127.0.0.1" });
      const body = new TextEncoder().encode(JSON.stringify({ n: 1, request_id: 1, timeout_ms: n }));
      const frame = new Uint8Array(4 + body.length);
      new DataView(frame.buffer).setUint32(0, body.length);
      frame.set(body, 4);
      await peer.write(frame);
      const buf = new Uint8Array(4096);
      const count = await peer.read(buf);
      out.push(JSON.parse(new TextDecoder().decode(buf.subarray(4, count))).status);
      peer.close();
    }
    for (const timeout of huge) out.push((await send({ port, timeout }, { n: 2 })).result);
    const client = await connect({ port, timeout: 3e9, reconnect: { initialDelay: 1e12, maxDelay: 1e15 } });
    for (const timeout of huge) out.push(await client.request({ n: 3 }, { timeout }));
    await client.close();
    await server.shutdown();
    console.log(JSON.stringify(out));
  `;
  const output = await new Deno.Command(DENO, {
    args: ["eval", "--no-prompt", script],
    cwd: ROOT,
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.ok(output.success, stderr);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), [
    "ok",
    "ok",
    "ok",
    2,
    2,
    2,
    2,
    3,
    3,
    3,
    3,
  ]);
  assert.equal(
    stderr,
    "",
    "the library prints nothing, not even a runtime warning",
  );
});

Deno.test("bad timeouts are a TypeError, not a timer that fires at once", async () => {
  await using server = serve({ port: 0 }, () => "ok");
  for (const timeout of [-1, NaN]) {
    await assert.rejects(
      send({ port: server.addr.port, timeout }, {}),
      TypeError,
    );
    await using client = await connect({ port: server.addr.port });
    await assert.rejects(client.request({}, { timeout }), TypeError);
    assert.throws(
      () => serve({ port: 0, idleTimeout: timeout }, () => 1),
      TypeError,
    );
  }
});

Deno.test("the client's fast path reads an event exactly as JSON.parse does, or leaves it to JSON.parse", async () => {
  const { EventReader } = await import("../_wire/event_text.ts");
  const reader = new EventReader();
  const bytes = (text: string) => new TextEncoder().encode(text);
  const tail = ',"protocol_version":"1"}';
  const ours = [
    `{"event":"jobs.1.done","data":{"a":[1,2,{"b":null}]}${tail}`,
    `{"event":"jobs.1.done","data":"second, same topic"${tail}`,
    `{"event":"jobs.2.done","data":"}"${tail}`,
    `{"event":"jobs.2","data":"a shorter topic"${tail}`,
    `{"event":"jobs.2.done.x","data":"a longer one"${tail}`,
    `{"event":"jobs.3.done.x","data":"one byte apart"${tail}`,
    `{"event":"$dropped","data":{"count":3}${tail}`,
    `{"event":"t","data":"é ✓ 😀"${tail}`,
    `{"event":"t","data":null${tail}`,
  ];
  for (const text of ours) {
    const read = reader.read(bytes(text));
    const parsed = JSON.parse(text);
    assert.deepEqual(read, { topic: parsed.event, data: parsed.data }, text);
  }
  // Bytes that are not UTF-8 in the data read as the whole frame's lenient decoding reads them.
  const broken = new Uint8Array([
    ...bytes('{"event":"t","data":"a'),
    0xe2,
    ...bytes(`"${tail}`),
  ]);
  const lenient = JSON.parse(new TextDecoder().decode(broken));
  assert.deepEqual(reader.read(broken), { topic: "t", data: lenient.data });
  // Another shape, escapes, more keys, or no JSON at all: left for JSON.parse to read (or refuse).
  for (
    const text of [
      `{"event":"t","data":1,"data":2${tail}`,
      `{"event":"t","data":1,"extra":true${tail}`,
      `{"event":"a\\"b","data":1${tail}`,
      `{"event":"a\u0001b","data":1${tail}`,
      `{"event":"caf\u00e9","data":1${tail}`,
      `{"event":"t","data":${tail}`,
      `{"event":"t", "data":1${tail}`,
      `{"data":1,"event":"t"${tail}`,
      `{"event":"t","data":1,"protocol_version":"2"}`,
      `{"event":"${"x".repeat(300)}","data":1${tail}`,
      '{"status":"ok","message":"received","protocol_version":"1","request_id":1}',
    ]
  ) {
    assert.equal(reader.read(bytes(text)), undefined, text);
  }
  // A raw control character in a topic is not JSON: the slow path must see it, and refuse it.
  const raw = `{"event":"a\u0001b","data":1${tail}`.replace("\\u0001", "\u0001");
  assert.equal(reader.read(bytes(raw)), undefined);
  assert.throws(() => JSON.parse(raw), SyntaxError);
});

Deno.test("the client's fast path reads an answer exactly as JSON.parse does", async () => {
  const { parseAnswer } = await import("../_wire/answer_text.ts");
  const bytes = (text: string) => new TextEncoder().encode(text);
  const prefix = '{"status":"ok","message":"received","protocol_version":"1","request_id":';
  for (
    const text of [
      `${prefix}7}`,
      `${prefix}7,"result":{"a":[1,2,{"b":null}]}}`,
      `${prefix}7,"result":"}"}`,
      `${prefix}7,"result":1,"result":2}`,
      `${prefix}7,"result":1,"extra":true}`,
      `${prefix}12345678901234567890,"result":1}`,
      `${prefix}-1,"result":1}`,
      `${prefix}"s","result":1}`,
      `${prefix}7 ,"result":1}`,
      `${prefix}0,"result":1}`,
      `${prefix}123456789012345,"result":"é ✓ 😀"}`,
      `${prefix}1234567890123456,"result":1}`,
      `${prefix}7,"result":[1,{"x":"y"}] }`,
      '{"status":"error","message":"unauthorized","protocol_version":"1","request_id":null}',
    ]
  ) {
    assert.deepEqual(parseAnswer(bytes(text)), JSON.parse(text), text);
  }
  for (const bad of [`${prefix}7,"result":}`, `${prefix}07,"result":1}`, `${prefix}7,"result":1`]) {
    assert.throws(() => parseAnswer(bytes(bad)), SyntaxError, bad);
  }
});
