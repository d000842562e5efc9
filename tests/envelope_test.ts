import assert from "node:assert/strict";
import { TextPieces } from "../_wire/text_pieces.ts";
import { encodeRequest, envelopeOf } from "../_wire/request_text.ts";
import {
  errorBody,
  okBody,
  openEnvelope,
  parseRequest,
  Refusal,
  withType,
} from "../_wire/envelope.ts";
import { OWNER } from "../_wire/scopes.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const secret = (given: unknown) => given === "s3cret" ? OWNER : undefined;

Deno.test("parseRequest() refuses bad UTF-8 and bad JSON as invalid_json, non-objects as invalid_message", () => {
  const cases: [Uint8Array, string][] = [
    [bytes("{"), "invalid_json"],
    [new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), "invalid_json"],
    [bytes("[1,2]"), "invalid_message"],
    [bytes('"text"'), "invalid_message"],
    [bytes("null"), "invalid_message"],
    [bytes("42"), "invalid_message"],
  ];
  for (const [body, code] of cases) {
    const parsed = parseRequest(body);
    assert.ok(parsed instanceof Refusal, new TextDecoder().decode(body));
    assert.equal(parsed.code, code);
  }
  assert.deepEqual(parseRequest(bytes('{"type":"\uFFFD"}')), { type: "\uFFFD" });
});

Deno.test("openEnvelope() checks in the original's order: id shape, token, version, timeout", () => {
  const refusal = (message: Record<string, unknown>) => {
    const opened = openEnvelope(message, secret);
    return opened instanceof Refusal ? [opened.code, opened.requestId] : ["opened"];
  };
  assert.deepEqual(refusal({ request_id: 1.5, auth_token: "no" }), ["invalid_message", undefined]);
  assert.deepEqual(refusal({ request_id: 7, auth_token: "no", protocol_version: "2" }), [
    "unauthorized",
    7,
  ]);
  assert.deepEqual(refusal({ request_id: "a", auth_token: "s3cret", protocol_version: "2" }), [
    "protocol_mismatch",
    "a",
  ]);
  assert.deepEqual(refusal({ auth_token: "s3cret", timeout_ms: -1 }), [
    "invalid_message",
    undefined,
  ]);
  assert.deepEqual(refusal({ auth_token: "s3cret", timeout_ms: "5" }), [
    "invalid_message",
    undefined,
  ]);
  assert.deepEqual(refusal({ auth_token: "s3cret", request_id: null }), ["opened"]);
});

Deno.test("openEnvelope() hands the handler the payload without any envelope key, and never the token", () => {
  const message = JSON.parse(
    '{"type":"t","n":1,"auth_token":"s3cret","protocol_version":"1","request_id":3,' +
      '"timeout_ms":50,"traceparent":"x","tracestate":"y","__proto__":{"polluted":true}}',
  );
  const opened = openEnvelope(message, secret);
  assert.ok(!(opened instanceof Refusal));
  assert.deepEqual(Object.keys(opened.payload), ["type", "n", "__proto__"]);
  assert.equal(opened.requestId, 3);
  assert.equal(opened.timeoutMs, 50);
  assert.equal(Object.getPrototypeOf(opened.payload), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const bare = { type: "t" };
  assert.equal((openEnvelope(bare, undefined) as { payload: unknown }).payload, bare);
});

Deno.test("withType() sets a missing type and refuses a payload naming another", () => {
  assert.deepEqual(withType({ n: 1 }, "echo"), { n: 1, type: "echo" });
  assert.deepEqual(withType({ type: "echo" }, "echo"), { type: "echo" });
  const refused = withType({ type: "count", request_id: 4 }, "echo");
  assert.ok(refused instanceof Refusal);
  assert.equal(refused.code, "invalid_message");
  assert.equal(refused.requestId, 4);
  assert.match(refused.message!, /"count" is not the subject's "echo"/);
});

Deno.test("okBody() and errorBody() write exactly what JSON.stringify of the answer would", () => {
  const large = { text: "é".repeat(70_000) };
  for (
    const [result, id] of [[{ a: [1, "é"] }, 1], [undefined, "x"], [null, undefined], [
      large,
      2,
    ]] as const
  ) {
    const expected: Record<string, unknown> = {
      status: "ok",
      message: "received",
      protocol_version: "1",
    };
    if (id !== undefined) expected.request_id = id;
    if (result !== undefined) expected.result = result;
    const body = okBody(result, id);
    // Around a large result the text comes in pieces, never joined.
    assert.equal(body instanceof TextPieces, result === large);
    assert.equal(String(body), JSON.stringify(expected));
    const answering = okBody(result, id, { largeStrings: true });
    assert.equal(String(answering), JSON.stringify(expected));
    // Answering a large request, the result's large string is a piece of its own: not copied.
    assert.equal(
      answering instanceof TextPieces && answering.pieces.includes(large.text),
      result === large,
    );
  }
  assert.throws(() => okBody(10n, 1), TypeError);
  assert.deepEqual(JSON.parse(errorBody("unauthorized", undefined)), {
    status: "error",
    message: "unauthorized",
    code: "unauthorized",
    protocol_version: "1",
  });
  assert.deepEqual(JSON.parse(errorBody("not_found", 9, "no such file", { path: "/x" })), {
    status: "error",
    message: "no such file",
    code: "not_found",
    protocol_version: "1",
    request_id: 9,
    data: { path: "/x" },
  });
});

Deno.test("encodeRequest() splices the envelope after the payload's keys; a large payload stays in pieces", () => {
  const envelope = envelopeOf("t0ken");
  const small = encodeRequest({ type: "x", n: 1 }, envelope, 7, 500);
  assert.equal(
    small,
    '{"type":"x","n":1,"auth_token":"t0ken","protocol_version":"1","request_id":7,"timeout_ms":500}',
  );
  assert.equal(encodeRequest({}, envelope, undefined, undefined), `{${envelope}}`);
  const large = { type: "big", text: "é".repeat(70_000) };
  const pieces = encodeRequest(large, envelope, 8, undefined, undefined, "key-1");
  assert.ok(pieces instanceof TextPieces);
  assert.equal(pieces.length, String(pieces).length);
  assert.deepEqual(JSON.parse(String(pieces)), {
    ...large,
    auth_token: "t0ken",
    protocol_version: "1",
    request_id: 8,
    idempotency_key: "key-1",
  });
});
