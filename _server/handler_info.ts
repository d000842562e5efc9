// What a handler is given: its type, and the RequestInfo it receives.

import type { RequestId } from "../protocol.ts";

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

  constructor(remoteAddr: Deno.Addr, requestId: RequestId | undefined, caller?: string) {
    this.remoteAddr = remoteAddr;
    this.requestId = requestId;
    this.caller = caller;
  }

  get signal(): AbortSignal {
    return HandlerInfo.controllerOf(this).signal;
  }

  static controllerOf(info: HandlerInfo): AbortController {
    info.#controller ??= new AbortController();
    return info.#controller;
  }
}
