/**
 * Typed errors of SocketBridge, every one of them: each carries a stable
 * machine-readable `code` that matches the `code` field of an error response
 * on the wire where one exists (the wire protocol is specified in
 * `docs/protocol.md`, shipped with this package).
 *
 * @module
 */

import { type ErrorCode, isApplicationCode } from "./protocol.ts";

export { type ErrorCode, isApplicationCode } from "./protocol.ts";

/**
 * The base class of every error this library throws on purpose.
 *
 * @example Telling SocketBridge errors apart
 * ```ts
 * import assert from "node:assert/strict";
 * import { SocketBridgeError, TimeoutError } from "@socketbridge/core";
 * const error = new TimeoutError(250);
 * assert.ok(error instanceof SocketBridgeError);
 * assert.ok(error.code === "timeout");
 * ```
 */
export class SocketBridgeError extends Error {
  /** The stable machine-readable code of this failure. */
  readonly code: ErrorCode;

  /**
   * Creates a SocketBridge error.
   *
   * @param code The stable code.
   * @param message What failed, with the value.
   * @param options The cause, if any.
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SocketBridgeError";
    this.code = code;
  }
}

/**
 * A length prefix announced more bytes than the reader accepts. Thrown from
 * the prefix alone: the body is never allocated or buffered.
 *
 * @example Inspecting the sizes
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameTooLargeError } from "@socketbridge/core";
 * const error = new FrameTooLargeError(2_000_000, 1_048_576);
 * assert.ok(error.size === 2_000_000 && error.limit === 1_048_576);
 * ```
 */
export class FrameTooLargeError extends SocketBridgeError {
  /** The length the prefix announced. */
  readonly size: number;
  /** The largest length the reader accepts. */
  readonly limit: number;

  /**
   * Creates the error for an oversized length prefix.
   *
   * @param size The announced length.
   * @param limit The reader's `maxBytes`.
   * @param options The cause, if any.
   */
  constructor(size: number, limit: number, options?: ErrorOptions) {
    super(
      "payload_too_large",
      `Cannot decode frame: length ${size} exceeds maxBytes ${limit}`,
      options,
    );
    this.name = "FrameTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

/**
 * A stream ended in the middle of a frame.
 *
 * @example Inspecting what was missing
 * ```ts
 * import assert from "node:assert/strict";
 * import { IncompleteFrameError } from "@socketbridge/core/errors";
 * const error = new IncompleteFrameError(3);
 * assert.ok(error.code === "incomplete_frame" && error.buffered === 3);
 * ```
 */
export class IncompleteFrameError extends SocketBridgeError {
  /** How many bytes of the unfinished frame had arrived. */
  readonly buffered: number;

  /**
   * Creates the error for a stream that ended mid-frame.
   *
   * @param buffered The bytes of the unfinished frame that had arrived.
   * @param options The cause, if any.
   */
  constructor(buffered: number, options?: ErrorOptions) {
    super(
      "incomplete_frame",
      `Cannot decode frame: stream ended after ${buffered} bytes of an unfinished frame`,
      options,
    );
    this.name = "IncompleteFrameError";
    this.buffered = buffered;
  }
}

/**
 * The connection closed before the answer arrived. A request that fails with
 * it may or may not have reached the server; it is never sent again for you.
 *
 * @example Checking the code
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionClosedError } from "@socketbridge/core";
 * assert.ok(new ConnectionClosedError().code === "connection_closed");
 * ```
 */
export class ConnectionClosedError extends SocketBridgeError {
  /**
   * Creates the error for a connection that closed too soon.
   *
   * @param message What was under way when the connection closed.
   * @param options The cause, if any.
   */
  constructor(
    message = "Connection closed before the response arrived",
    options?: ErrorOptions,
  ) {
    super("connection_closed", message, options);
    this.name = "ConnectionClosedError";
  }
}

/**
 * A request did not get its answer in time.
 *
 * @example Reading the timeout back
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimeoutError } from "@socketbridge/core";
 * assert.ok(new TimeoutError(100).timeout === 100);
 * ```
 */
export class TimeoutError extends SocketBridgeError {
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;

  /**
   * Creates the error for a timeout that passed.
   *
   * @param timeout The timeout that passed, in milliseconds.
   * @param options The cause, if any.
   */
  constructor(timeout: number, options?: ErrorOptions) {
    super("timeout", `Request timed out after ${timeout} ms`, options);
    this.name = "TimeoutError";
    this.timeout = timeout;
  }
}

/**
 * The server answered with `status: "error"`. Carries the server's `code`
 * (when it sent one: an original server does not) and its `message`.
 *
 * @example Reading what the server said
 * ```ts
 * import assert from "node:assert/strict";
 * import { RemoteError } from "@socketbridge/core";
 * const error = new RemoteError("unauthorized", "unauthorized");
 * assert.ok(error.code === "unauthorized");
 * assert.ok(error.message === "unauthorized");
 * ```
 */
export class RemoteError extends SocketBridgeError {
  /**
   * What the answer carried in `data`, if anything: for `invalid_payload`,
   * `{ issues: [{ path, message }, ...] }`, each thing wrong with the payload.
   */
  readonly data?: unknown;

  /**
   * Creates the error for a server's error response.
   *
   * @param code The server's `code`; `handler_error` for an original server's
   * `handler error: ...` text, and the code matching any other original text.
   * @param message The server's `message`, verbatim.
   * @param options The cause, if any, and the answer's `data`.
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions & { data?: unknown }) {
    super(code, message, options);
    this.name = "RemoteError";
    if (options?.data !== undefined) this.data = options.data;
  }
}

/**
 * The peer broke the protocol: it answered with a frame that is not a
 * SocketBridge answer (not a JSON object, no `status`), answered a request it
 * was never sent or answered one twice, or is not a SocketBridge server at
 * all (an HTTP or TLS server). The connection cannot be trusted after it, so
 * it is closed and every request pending on it rejects with this error.
 *
 * @example Telling a wrong peer from a failed request
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError, SocketBridgeError } from "@socketbridge/core";
 * const error = new ProtocolError("Peer is not a SocketBridge server: it answered with HTTP");
 * assert.ok(error instanceof SocketBridgeError && error.code === "protocol_error");
 * ```
 */
export class ProtocolError extends SocketBridgeError {
  /**
   * Creates the error for a peer that broke the protocol.
   *
   * @param message What the peer did.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("protocol_error", message, options);
    this.name = "ProtocolError";
  }
}

/**
 * Connecting failed: nothing listens at the address, the host is unknown,
 * the socket file is missing, or TLS could not be set up. Names the address
 * and carries the runtime's error as `cause`.
 *
 * @example Reading where a connect failed
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectError, send } from "@socketbridge/core";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close();
 * const error = await send({ port }, {}).catch((error) => error);
 * assert.ok(error instanceof ConnectError && error.address === `127.0.0.1:${port}`);
 * ```
 */
export class ConnectError extends SocketBridgeError {
  /** Where the connect went: `host:port` or the socket path. */
  readonly address: string;

  /**
   * Creates the error for a failed connect.
   *
   * @param address `host:port`, or the Unix socket path.
   * @param message What failed, with the address and a hint.
   * @param options The runtime's error as `cause`.
   */
  constructor(address: string, message: string, options?: ErrorOptions) {
    super("connect_failed", message, options);
    this.name = "ConnectError";
    this.address = address;
  }
}

/**
 * Thrown by a handler to refuse a payload that does not fit its request
 * type: the caller gets `code: "invalid_payload"` and the message
 * `invalid payload: <problem>`, rather than a `handler_error`.
 *
 * @example Refusing a bad field
 * ```ts
 * import assert from "node:assert/strict";
 * import { PayloadError, send, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0 }, (payload: { n?: unknown }) => {
 *   if (typeof payload.n !== "number") throw new PayloadError("n must be a number");
 *   return payload.n * 2;
 * });
 * const response = await send({ port: server.addr.port }, { n: "x" });
 * assert.ok(response.code === "invalid_payload");
 * assert.ok(response.message === "invalid payload: n must be a number");
 * assert.deepEqual(response.data, { issues: [{ path: [], message: "n must be a number" }] });
 * ```
 */
export class PayloadError extends SocketBridgeError {
  /** What is wrong with the payload, without the `invalid payload: ` prefix. */
  readonly problem: string;
  /**
   * Each thing wrong, with the path of the field it concerns: the answer's
   * `data.issues`, so that a caller can fix its request without parsing
   * prose. One issue with an empty path (the whole payload) by default.
   */
  readonly issues: readonly PayloadIssue[];

  /**
   * Creates the error for a payload its request type refuses.
   *
   * @param problem What is wrong, naming the field.
   * @param options The cause, if any, and the issues one by one.
   */
  constructor(problem: string, options?: ErrorOptions & { issues?: readonly PayloadIssue[] }) {
    super("invalid_payload", `invalid payload: ${problem}`, options);
    this.name = "PayloadError";
    this.problem = problem;
    this.issues = options?.issues ?? [{ path: [], message: problem }];
  }
}

/**
 * One thing wrong with a payload: where (the keys and indexes from the
 * payload's top to the field) and what.
 *
 * @example An issue of a nested field
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PayloadIssue } from "@socketbridge/core";
 * const issue: PayloadIssue = { path: ["items", 2, "price"], message: "must be a number" };
 * assert.ok(issue.path.length === 3);
 * ```
 */
export interface PayloadIssue {
  /** Keys and array indexes from the payload down to the field; `[]` for the whole payload. */
  readonly path: readonly (string | number)[];
  /** What is wrong there. */
  readonly message: string;
}

/**
 * A request was cancelled: its caller sent `$cancel` for it (the reason of
 * the handler's signal), or gave it up before its answer came.
 *
 * @example Telling a cancel from a timeout in a handler
 * ```ts
 * import assert from "node:assert/strict";
 * import { CancelledError, SocketBridgeError } from "@socketbridge/core";
 * const reason: unknown = new CancelledError();
 * assert.ok(reason instanceof SocketBridgeError && reason.code === "cancelled");
 * ```
 */
export class CancelledError extends SocketBridgeError {
  /**
   * Creates the error for a cancelled request.
   *
   * @param message What cancelled it.
   * @param options The cause, if any.
   */
  constructor(message = "Request cancelled by its caller", options?: ErrorOptions) {
    super("cancelled", message, options);
    this.name = "CancelledError";
  }
}

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
