// An application's own errors: the codes that are not the protocol's, and
// the error a handler throws (and a client receives) with one.

import type { ErrorCode } from "./errors.ts";

/**
 * An application's own failure, with its own `code` and optional `data`:
 * thrown by a handler, it is answered as
 * `{"status": "error", "message", "code", "data"}` (not `handler_error`);
 * a client's `request()` rejects with it when an answer carries a code that
 * is not one of the protocol's.
 *
 * @example A handler that says what went wrong, and a caller that reads it
 * ```ts
 * import assert from "node:assert/strict";
 * import { ApplicationError, connect, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0 }, (payload: { path: string }) => {
 *   throw new ApplicationError("not_found", "no such file", { path: payload.path });
 * });
 * await using client = await connect({ port: server.addr.port });
 * const error = await client.request({ path: "/nope" }).catch((e) => e);
 * assert.ok(error instanceof ApplicationError);
 * assert.ok(error.code === "not_found" && error.message === "no such file");
 * assert.deepEqual(error.data, { path: "/nope" });
 * ```
 */
export class ApplicationError extends Error {
  /** The application's code: lower_snake_case, not one of the protocol's codes. */
  readonly code: string;
  /** Details for the caller: any JSON value, or undefined. */
  readonly data?: unknown;

  /**
   * Creates an application error.
   *
   * @param code lower_snake_case, not one of the protocol's codes.
   * @param message What went wrong, for people.
   * @param data Details for the caller (any JSON value).
   * @param options The cause, if any.
   * @throws {TypeError} When `code` is not lower_snake_case or is a protocol code.
   */
  constructor(code: string, message: string, data?: unknown, options?: ErrorOptions) {
    super(message, options);
    if (!isApplicationCode(code)) {
      throw new TypeError(
        `Cannot make ApplicationError: code "${code}" must be lower_snake_case and not a protocol code`,
      );
    }
    this.name = "ApplicationError";
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

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
