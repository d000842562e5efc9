/**
 * The shapes and constants of SocketBridge protocol version "1": the request
 * envelope, the response object, and the original error texts with their
 * stable codes (specified in `docs/protocol.md`, shipped with this package).
 *
 * @example Building an error response by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { ERROR_MESSAGES, PROTOCOL_VERSION, type BridgeResponse } from "@socketbridge/core/protocol";
 * const response: BridgeResponse = {
 *   status: "error",
 *   message: ERROR_MESSAGES.unauthorized,
 *   code: "unauthorized",
 *   protocol_version: PROTOCOL_VERSION,
 * };
 * assert.ok(response.message === "unauthorized");
 * ```
 *
 * @module
 */

/**
 * The protocol version this library speaks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROTOCOL_VERSION } from "@socketbridge/core";
 * assert.ok(PROTOCOL_VERSION === "1");
 * ```
 */
export const PROTOCOL_VERSION = "1";

/**
 * The default TCP port, as in the original.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_PORT } from "@socketbridge/core";
 * assert.ok(DEFAULT_PORT === 7002);
 * ```
 */
export const DEFAULT_PORT = 7002;

/**
 * The name and version this library gives as a server: in `$hello`'s answer,
 * a discovery file's `library`, the MCP adapter's name and the tracer's
 * version.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVER_NAME } from "@socketbridge/core/protocol";
 * assert.match(SERVER_NAME, /^socketbridge-deno\/\d+\.\d+\.\d+$/);
 * ```
 */
export const SERVER_NAME = "socketbridge-deno/0.1.0";

/**
 * The request keys that form the envelope. They are removed before the
 * handler sees the payload. `traceparent` and `tracestate` carry W3C trace
 * context; a client sends them only while tracing is on.
 *
 * @example Checking a payload for reserved keys
 * ```ts
 * import assert from "node:assert/strict";
 * import { ENVELOPE_KEYS } from "@socketbridge/core/protocol";
 * const payload = { type: "ping", request_id: 1 };
 * assert.ok(Object.keys(payload).some((key) => ENVELOPE_KEYS.includes(key)));
 * ```
 */
export const ENVELOPE_KEYS: readonly string[] = [
  "auth_token",
  "protocol_version",
  "request_id",
  "timeout_ms",
  "idempotency_key",
  "traceparent",
  "tracestate",
];

/**
 * A request identifier: echoed back verbatim in the response.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RequestId } from "@socketbridge/core";
 * const ids: RequestId[] = [1, "job-42"];
 * assert.ok(ids.length === 2);
 * ```
 */
export type RequestId = string | number;

/**
 * The error codes a server puts on the wire.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ERROR_MESSAGES, type WireErrorCode } from "@socketbridge/core/protocol";
 * const code: WireErrorCode = "protocol_mismatch";
 * assert.ok(ERROR_MESSAGES[code] === "protocol mismatch");
 * ```
 */
export type WireErrorCode = Exclude<
  ErrorCode,
  "connection_closed" | "connect_failed" | "protocol_error" | "incomplete_frame" | "bridge_status"
>;

/**
 * The `message` text of each error code. The first six are the original's
 * texts, byte for byte (`handler_error` is followed by `: <text>`).
 *
 * @example The original texts
 * ```ts
 * import assert from "node:assert/strict";
 * import { ERROR_MESSAGES } from "@socketbridge/core/protocol";
 * assert.ok(ERROR_MESSAGES.payload_too_large === "payload too large");
 * assert.ok(ERROR_MESSAGES.unauthorized_host === "unauthorized host");
 * ```
 */
export const ERROR_MESSAGES: Readonly<Record<WireErrorCode, string>> = {
  payload_too_large: "payload too large",
  invalid_json: "invalid json",
  invalid_message: "invalid message",
  unauthorized_host: "unauthorized host",
  unauthorized: "unauthorized",
  protocol_mismatch: "protocol mismatch",
  handler_error: "handler error",
  timeout: "timeout",
  busy: "busy",
  shutting_down: "shutting down",
  cancelled: "cancelled",
  unknown_type: "unknown type",
  invalid_payload: "invalid payload",
  forbidden: "forbidden",
  idempotency_conflict: "idempotency key reused with another payload",
};

/**
 * A response as it travels on the wire.
 *
 * @typeParam Result The type of `result` on success.
 *
 * @example Reading a response
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BridgeResponse } from "@socketbridge/core";
 * const response: BridgeResponse<number> = JSON.parse(
 *   '{"status":"ok","message":"received","protocol_version":"1","request_id":7,"result":42}',
 * );
 * assert.ok(response.status === "ok" && response.result === 42);
 * ```
 */
export interface BridgeResponse<Result = unknown> {
  /** The outcome. */
  status: "ok" | "error";
  /** `"received"` on success; on error, the text of {@linkcode ERROR_MESSAGES}. */
  message: string;
  /** Always `"1"`. */
  protocol_version: string;
  /** The request's `request_id`, when it carried one. */
  request_id?: RequestId;
  /** On success, what the handler returned, when it returned something. */
  result?: Result;
  /** On error, the stable code (absent from an original server's answers). */
  code?: WireErrorCode | (string & Record<never, never>);
  /** On an application's own error, its details (any JSON value). */
  data?: unknown;
}

/**
 * Finds the code of an error response, including one from an original server
 * that sends only the text: what to branch on after {@linkcode send} (which
 * returns error answers rather than throwing), whatever server answered.
 *
 * @param response An error response.
 * @returns Its `code`, or the code whose original text its `message` has.
 *
 * @example Reading an original server's error
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorCodeOf } from "@socketbridge/core/protocol";
 * const code = errorCodeOf({ status: "error", message: "handler error: boom", protocol_version: "1" });
 * assert.ok(code === "handler_error");
 * ```
 */
export function errorCodeOf(response: BridgeResponse): WireErrorCode {
  if (response.code !== undefined && response.code in ERROR_MESSAGES) {
    return response.code as WireErrorCode;
  }
  for (const [code, text] of Object.entries(ERROR_MESSAGES)) {
    if (response.message === text) return code as WireErrorCode;
  }
  return "handler_error";
}

/**
 * The stable codes an error response may carry on the wire, plus the codes of
 * local failures (`connection_closed`, `connect_failed`, `protocol_error`,
 * `incomplete_frame`) and of a bridge's transport reporting a change of its
 * state (`bridge_status`: a NATS disconnect, reconnect or permission error).
 *
 * @example Branching on a failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ErrorCode, SocketBridgeError, TimeoutError } from "@socketbridge/core";
 * function retryable(error: unknown): boolean {
 *   const retry: ErrorCode[] = ["timeout", "busy", "shutting_down", "connection_closed"];
 *   return error instanceof SocketBridgeError && retry.includes(error.code);
 * }
 * assert.ok(retryable(new TimeoutError(100)));
 * ```
 */
export type ErrorCode =
  | "payload_too_large"
  | "invalid_json"
  | "invalid_message"
  | "unauthorized_host"
  | "unauthorized"
  | "protocol_mismatch"
  | "handler_error"
  | "timeout"
  | "busy"
  | "shutting_down"
  | "cancelled"
  | "unknown_type"
  | "invalid_payload"
  | "forbidden"
  | "idempotency_conflict"
  | "connection_closed"
  | "connect_failed"
  | "protocol_error"
  | "incomplete_frame"
  | "bridge_status";

const PROTOCOL_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "payload_too_large",
  "invalid_json",
  "invalid_message",
  "unauthorized_host",
  "unauthorized",
  "protocol_mismatch",
  "handler_error",
  "timeout",
  "busy",
  "shutting_down",
  "cancelled",
  "unknown_type",
  "invalid_payload",
  "connection_closed",
  "connect_failed",
  "protocol_error",
  "incomplete_frame",
  "forbidden",
  "idempotency_conflict",
]);

/**
 * Whether `code` may be an application's own: lower_snake_case and not one
 * of the protocol's codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isApplicationCode } from "@socketbridge/core/errors";
 * assert.ok(isApplicationCode("not_found"));
 * assert.ok(!isApplicationCode("timeout") && !isApplicationCode("Not-Found"));
 * ```
 */
export function isApplicationCode(code: unknown): code is string {
  return typeof code === "string" && /^[a-z][a-z0-9_]*$/.test(code) && !PROTOCOL_CODES.has(code);
}

/**
 * What a `$stats` request is answered with (protocol section 14.4): a
 * server's figures since it started, per request type.
 *
 * @example Reading the busiest type
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StatsReport } from "@socketbridge/core/protocol";
 * const report: StatsReport = {
 *   server: "socketbridge-deno/0.1.0",
 *   started: "2026-11-28T09:00:00.000Z",
 *   connections: 1,
 *   types: [{
 *     type: "echo", requests: 3, errors: 0, in_flight: 0,
 *     processing_ms: { p50: 0.2, p99: 0.9, max: 1.1 }, last_error: null,
 *   }],
 *   events: { published: 0, delivered: 0, dropped: 0 },
 * };
 * assert.ok(report.types[0].requests === 3);
 * ```
 */
export interface StatsReport {
  /** `NAME/VERSION` of the server. */
  server: string;
  /** When it started, as an ISO time. */
  started: string;
  /** Connections open now. */
  connections: number;
  /** Each request type seen ("" for requests without one). */
  types: TypeStatsReport[];
  /** Events published, event frames delivered, and dropped for slow subscribers. */
  events: { published: number; delivered: number; dropped: number };
}

/**
 * One request type's figures in a {@linkcode StatsReport}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TypeStatsReport } from "@socketbridge/core/protocol";
 * const entry: TypeStatsReport = {
 *   type: "", requests: 1, errors: 1, in_flight: 0,
 *   processing_ms: { p50: 0, p99: 0, max: 0 },
 *   last_error: { code: "unknown_type", message: "unknown type: x", at: "2026-11-28T09:00:00.000Z" },
 * };
 * assert.ok(entry.last_error?.code === "unknown_type");
 * ```
 */
export interface TypeStatsReport {
  /** The type ("" for requests without one). */
  type: string;
  /** Answers given since the server started. */
  requests: number;
  /** Of those, error answers. */
  errors: number;
  /** Running now. */
  in_flight: number;
  /** Over the latest requests of the type (a bounded window). */
  processing_ms: { p50: number; p99: number; max: number };
  /** The latest error answer, or null. */
  last_error: { code: string; message: string; at: string } | null;
}
