// serve() on the wire: answers and their shape, every row of the error
// table, the order of checks, oversized prefixes and bodies, UTF-8.

import assert from "node:assert/strict";
import { encodeFrame } from "../codec.ts";
import { echoServer, RawPeer } from "./_helpers.ts";

type Payload = Record<string, unknown>;

Deno.test("serve() answers a valid request with status ok, received and the result", async () => {
  const { server, port, seen } = echoServer({ token: "s3cret" });
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  const response = await peer.call({
    type: "ping",
    auth_token: "s3cret",
    protocol_version: "1",
    request_id: "a1",
  });
  assert.deepEqual(response, {
    status: "ok",
    message: "received",
    protocol_version: "1",
    request_id: "a1",
    result: { type: "ping" },
  });
  // The handler never sees the envelope, the token least of all.
  assert.deepEqual(seen, [{ payload: { type: "ping" }, requestId: "a1" }]);
});

Deno.test("serve() hands the payload over without any envelope key, in order, an own __proto__ kept as data", async () => {
  const { server, port, seen } = echoServer({ token: "s3cret" });
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  // Envelope keys first, last and in between; a "__proto__" key as JSON.parse makes it.
  const text = '{"auth_token":"s3cret","b":1,"request_id":9,"__proto__":{"polluted":true},' +
    '"timeout_ms":5000,"a":[1,2],"traceparent":"00-0af7651916cd43dd8448eb211c80319c-' +
    'b7ad6b7169203331-01","tracestate":"x=1","protocol_version":"1"}';
  await peer.write(encodeFrame(new TextEncoder().encode(text)));
  const response = await peer.receive();
  assert.equal(response?.status, "ok");
  const payload = seen[0].payload;
  assert.deepEqual(Object.keys(payload), ["b", "__proto__", "a"]);
  assert.equal(Object.getPrototypeOf(payload), Object.prototype);
  assert.equal((payload as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(Object.getOwnPropertyDescriptor(payload, "__proto__")?.value, {
    polluted: true,
  });
  assert.deepEqual(payload.a, [1, 2]);
});

Deno.test("serve() accepts a request without protocol_version as version 1", async () => {
  const { server, port } = echoServer();
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  const response = await peer.call({ type: "ping" });
  assert.equal(response?.status, "ok");
  assert.equal(response?.request_id, undefined);
});

Deno.test("serve() answers every row of the error table with the original text and our code", async (t) => {
  const { server, port, seen } = echoServer({ token: "tok", maxBytes: 64 });
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  const rows: [string, Uint8Array | unknown, string, string, unknown][] = [
    [
      "payload too large",
      new Uint8Array(65),
      "payload too large",
      "payload_too_large",
      undefined,
    ],
    [
      "invalid json",
      new TextEncoder().encode("{nope"),
      "invalid json",
      "invalid_json",
      undefined,
    ],
    [
      "bad UTF-8",
      new Uint8Array([0x7b, 0xff, 0x7d]),
      "invalid json",
      "invalid_json",
      undefined,
    ],
    ["array", [1, 2], "invalid message", "invalid_message", undefined],
    ["string", "hello", "invalid message", "invalid_message", undefined],
    ["number", 42, "invalid message", "invalid_message", undefined],
    ["null", null, "invalid message", "invalid_message", undefined],
    ["missing token", { request_id: 1 }, "unauthorized", "unauthorized", 1],
    [
      "wrong token",
      { auth_token: "tok!", request_id: "x" },
      "unauthorized",
      "unauthorized",
      "x",
    ],
    [
      "token of another type",
      { auth_token: 7, request_id: 2 },
      "unauthorized",
      "unauthorized",
      2,
    ],
    [
      "protocol mismatch",
      { auth_token: "tok", protocol_version: "2", request_id: 3 },
      "protocol mismatch",
      "protocol_mismatch",
      3,
    ],
    [
      "numeric version",
      { auth_token: "tok", protocol_version: 1 },
      "protocol mismatch",
      "protocol_mismatch",
      undefined,
    ],
    [
      "handler error",
      { auth_token: "tok", fail: "boom", request_id: 4 },
      "handler error: boom",
      "handler_error",
      4,
    ],
  ];
  for (const [name, request, message, code, requestId] of rows) {
    await t.step(name, async () => {
      const response = await peer.call(request);
      assert.deepEqual(response, {
        status: "error",
        message,
        code,
        protocol_version: "1",
        ...(requestId === undefined ? {} : { request_id: requestId }),
      });
    });
  }
  await t.step("the connection still serves after every error", async () => {
    const response = await peer.call({ auth_token: "tok", n: 1 });
    assert.deepEqual(response?.result, { n: 1 });
  });
  assert.equal(
    seen.length,
    2,
    "only the throwing request and the last reached the handler",
  );
  assert.deepEqual(server.stats().errors, {
    payload_too_large: 1,
    invalid_json: 2,
    invalid_message: 4,
    unauthorized: 3,
    protocol_mismatch: 2,
    handler_error: 1,
  });
});

Deno.test("serve() checks in the original order: object before token, token before version", async () => {
  const { server, port } = echoServer({ token: "tok" });
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  assert.equal(
    (await peer.call([{ auth_token: "tok" }]))?.code,
    "invalid_message",
  );
  assert.equal(
    (await peer.call({ protocol_version: "9" }))?.code,
    "unauthorized",
  );
  assert.equal(
    (await peer.call({ auth_token: "tok", protocol_version: "9" }))?.code,
    "protocol_mismatch",
  );
});

Deno.test("serve() rejects a malformed request_id or timeout_ms as invalid_message", async () => {
  const { server, port, seen } = echoServer();
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  const badId = await peer.call({ request_id: { nested: true } });
  assert.equal(badId?.code, "invalid_message");
  assert.match(badId!.message, /request_id/);
  const badTimeout = await peer.call({ request_id: 5, timeout_ms: "soon" });
  assert.equal(badTimeout?.code, "invalid_message");
  assert.equal(badTimeout?.request_id, 5);
  assert.equal(seen.length, 0);
});

Deno.test("serve() answers an oversized prefix without reading its body, then closes far past the cap", async () => {
  const { server, port } = echoServer({ maxBytes: 1024 });
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  // 4 GiB announced, nothing sent: the answer comes from the prefix alone.
  await peer.write(new Uint8Array([0xff, 0xff, 0xff, 0xfe]));
  const response = await peer.receive();
  assert.equal(response?.code, "payload_too_large");
  assert.equal(response?.message, "payload too large");
  assert.ok(await peer.closedByServer());
});

Deno.test("serve() skips an oversized body a little past the cap and keeps the connection", async () => {
  const { server, port } = echoServer({ maxBytes: 1024 });
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  await peer.send(new Uint8Array(3000).fill(0x20));
  await peer.send({ after: true });
  assert.equal((await peer.receive())?.code, "payload_too_large");
  assert.deepEqual((await peer.receive())?.result, { after: true });
});

Deno.test("encodeFrame() frames bodies the server reads as one request each", async () => {
  const { server, port } = echoServer();
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  const text = new TextEncoder();
  const two = new Uint8Array([
    ...encodeFrame(text.encode('{"a":1}')),
    ...encodeFrame(text.encode('{"b":2}')),
  ]);
  await peer.write(two);
  assert.deepEqual((await peer.receive())?.result, { a: 1 });
  assert.deepEqual((await peer.receive())?.result, { b: 2 });
});

Deno.test("serve() accepts a real U+FFFD in a request and refuses bytes that are not UTF-8", async () => {
  const { server, port } = echoServer();
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  assert.deepEqual((await peer.call({ text: "a\uFFFDb" }))?.result, {
    text: "a\uFFFDb",
  });
  const bad = new TextEncoder().encode('{"text":"ab"}');
  bad[10] = 0xc3; // a lead byte with no continuation
  assert.equal((await peer.call(bad))?.code, "invalid_json");
});
