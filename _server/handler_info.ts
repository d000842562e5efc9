// What a handler is given: its type, and the RequestInfo it receives.

import type { RequestId } from "../protocol.ts";
import { CancelledError, ProtocolError } from "../errors.ts";

/**
 * What the handler learns about a request besides its payload.
 *
 * @example Stopping work when the caller gives up
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RequestInfo, send, serve } from "@socketbridge/core";
 * async function slowHandler(_payload: unknown, { signal, requestId }: RequestInfo): Promise<string> {
 *   await new Promise((resolve) => {
 *     const timer = setTimeout(resolve, 10);
 *     signal.addEventListener("abort", () => {
 *       clearTimeout(timer);
 *       resolve(undefined);
 *     });
 *   });
 *   return `done ${requestId ?? "(no id)"}`;
 * }
 * await using server = serve({ port: 0 }, slowHandler);
 * const response = await send({ port: server.addr.port }, {});
 * assert.ok(response.result === "done (no id)");
 * ```
 */
export interface RequestInfo {
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
  /** The request's `request_id`, when it carried one. */
  readonly requestId?: RequestId;
  /**
   * The name of the scoped token the request carried (`ServeOptions.tokens`);
   * undefined for the server's own token, or a server without one. Never the
   * token itself.
   */
  readonly caller?: string;
  /**
   * Aborted when nobody waits for the answer any more: the caller's
   * `timeout_ms` or the server's `handlerTimeout` passed (reason: a
   * `TimeoutError`), the peer went away, or a shutdown's grace period ended.
   */
  readonly signal: AbortSignal;
  /**
   * Calls back the client that made this request (protocol D3: approval,
   * input, a value only it has) and resolves with its result. Needs a
   * client that asked for calls (`connect({ onCall })`); on any other
   * connection (an original client, one without `onCall`, the NATS bridge)
   * it rejects at once with a ProtocolError that says so. The call is
   * cancelled when this request ends, when `options.timeout` passes
   * (`TimeoutError`) or `options.signal` aborts; an error the client
   * answers rejects with a `RemoteError` carrying its code.
   */
  call(payload: unknown, options?: CallOptions): Promise<unknown>;
}

/**
 * How {@linkcode RequestInfo.call} calls back.
 *
 * @example Asking the caller, with a deadline
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CallOptions } from "@socketbridge/core";
 * const options: CallOptions = { timeout: 30_000 };
 * assert.ok(options.timeout === 30_000);
 * ```
 */
export interface CallOptions {
  /** Milliseconds the client has to answer; sent to it as `timeout_ms`. */
  timeout?: number;
  /** Aborting it cancels the call. */
  signal?: AbortSignal;
}

/** Where a request's calls go: its connection, when that asked for calls. */
export interface CallPort {
  call(
    payload: unknown,
    requestId: RequestId | undefined,
    ended: AbortSignal,
    options?: CallOptions,
  ): Promise<unknown>;
}

/**
 * Answers one request. What it returns (or resolves to) becomes `result`;
 * what it throws becomes `handler error: <message>`.
 *
 * @typeParam Payload The request without its envelope keys.
 * @typeParam Result What the handler returns.
 *
 * @example A typed handler, served and called
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, type Handler, serve } from "@socketbridge/core";
 * const double: Handler<{ n: number }, number> = (payload) => payload.n * 2;
 * await using server = serve({ port: 0 }, double);
 * await using client = await connect<{ n: number }, number>({ port: server.addr.port });
 * assert.ok(await client.request({ n: 21 }) === 42);
 * ```
 */
export type Handler<Payload = Record<string, unknown>, Result = unknown> = (
  payload: Payload,
  info: RequestInfo,
) => Result | Promise<Result>;

/** A handler as the server calls it. */
export type RequestHandler = Handler<unknown, unknown>;

/**
 * The handler's {@linkcode RequestInfo}. A class rather than an object
 * literal with a getter: a literal's getter is a fresh closure each time, so
 * every request would get its own hidden class (allocated in old space),
 * which grew the heap several-fold under load. The AbortController is made
 * only when the handler reads `signal` or runs asynchronously.
 */
export class HandlerInfo implements RequestInfo {
  readonly remoteAddr: Deno.Addr;
  readonly requestId?: RequestId;
  readonly caller?: string;
  #controller?: AbortController;
  readonly #calls?: () => CallPort | undefined;
  // Made by the first call: aborted when the request ends, which cancels its calls.
  #ended?: AbortController;

  constructor(
    remoteAddr: Deno.Addr,
    requestId: RequestId | undefined,
    caller?: string,
    calls?: () => CallPort | undefined,
  ) {
    this.remoteAddr = remoteAddr;
    this.requestId = requestId;
    this.caller = caller;
    this.#calls = calls;
  }

  call(payload: unknown, options?: CallOptions): Promise<unknown> {
    const port = this.#calls?.();
    if (port === undefined) {
      return Promise.reject(
        new ProtocolError(
          "Cannot call back: the connection of this request did not ask for calls " +
            '($hello with "calls", as connect({ onCall }) does)',
        ),
      );
    }
    this.#ended ??= new AbortController();
    const ended = AbortSignal.any([this.signal, this.#ended.signal]);
    return port.call(payload, this.requestId, ended, options);
  }

  /** The request is answered: the calls it still has are cancelled. */
  static end(info: HandlerInfo): void {
    info.#ended?.abort(new CancelledError("The request that made this call has ended"));
  }

  get signal(): AbortSignal {
    return HandlerInfo.controllerOf(this).signal;
  }

  static controllerOf(info: HandlerInfo): AbortController {
    info.#controller ??= new AbortController();
    return info.#controller;
  }
}
