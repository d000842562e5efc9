/**
 * The SocketBridge server: {@linkcode serve} listens on TCP (loopback by
 * default), TLS or a Unix domain socket, and answers each request frame with
 * what a handler returns.
 *
 * @example An echo server on a free loopback port
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0 }, (payload) => payload);
 * assert.ok(server.addr.hostname === "127.0.0.1");
 * const response = await send({ port: server.addr.port }, { echo: "me" });
 * assert.ok((response.result as { echo: string }).echo === "me");
 * ```
 *
 * @module
 */

import type { Handler, RequestHandler } from "./_server/handler_info.ts";
import type { ServeTcpOptions, ServeUnixOptions } from "./_server/options.ts";
import type { Server } from "./_server/types.ts";
import { BridgeServer } from "./_server/bridge_server.ts";

export type { CallOptions, Handler, RequestInfo } from "./_server/handler_info.ts";
export {
  type RequestType,
  requestType,
  requestTypes,
  type RequestTypesOptions,
  type TypeDescription,
  type TypedHandler,
} from "./_server/request_types.ts";
export type { SchemaResult, StandardSchemaLike } from "./_server/schema.ts";
export type { Server, ServerStats } from "./_server/types.ts";
export type {
  ErrorContext,
  RequestRecord,
  ScopedToken,
  ServeOptions,
  ServeTcpOptions,
  ServeUnixOptions,
} from "./_server/options.ts";

/**
 * Serves SocketBridge requests with `handler`. Binds at once (like
 * `Deno.serve`) and returns the running server.
 *
 * Each request frame passes the checks of the protocol in the original's
 * order (size, JSON, object, host, token, version); the handler gets the
 * payload without the envelope keys. Requests that carry a `request_id` run
 * concurrently and are answered as they finish; those without one are run
 * and answered one after another, in arrival order, as the original did.
 *
 * @typeParam Payload The request payload the handler accepts.
 * @typeParam Result What the handler returns.
 * Called as `serve(handler)` it listens on 127.0.0.1:7002 with every
 * default, as `Deno.serve(handler)` does. The options decide the transport,
 * and with it the type of `server.addr`: `Deno.NetAddr` for TCP and TLS,
 * `Deno.UnixAddr` with `path`.
 *
 * @param options Where to listen and what to enforce.
 * @param handler Answers each valid request.
 * @returns The running server.
 * @throws {TypeError} On a non-loopback `hostname` without a token (unless
 * `allowRemoteWithoutToken`), a bad allowlist entry or a bad option.
 * @throws {TypeError} When `handler` is not a function, or `path` comes with
 * `port` or `hostname`.
 * @throws {Deno.errors.AddrInUse} When the port is taken, or a live server
 * holds the socket path (`Deno.errors.AddrInUse` with the address in its
 * message).
 *
 * @example Serving with a token and reading the port back
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 *
 * await using server = serve(
 *   { port: 0, token: "s3cret" },
 *   (payload: { text: string }) => ({ echoed: payload.text }),
 * );
 * const response = await send({ port: server.addr.port, token: "s3cret" }, { text: "hi" });
 * assert.ok((response.result as { echoed: string }).echoed === "hi");
 * ```
 */
export function serve<Payload = Record<string, unknown>, Result = unknown>(
  handler: Handler<Payload, Result>,
): Server<Deno.NetAddr>;
/**
 * Serves on a Unix domain socket; `server.addr` is a `Deno.UnixAddr`.
 *
 * @typeParam Payload The request payload the handler accepts.
 * @typeParam Result What the handler returns.
 * @param options The socket path and what to enforce.
 * @param handler Answers each valid request.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When a live server holds the path.
 *
 * @example A server on a socket path
 * ```ts ignore
 * import { serve } from "@socketbridge/core";
 * await using server = serve({ path: "/run/user/1000/bridge.sock" }, () => "ok");
 * console.log(server.addr.path);
 * ```
 */
export function serve<Payload = Record<string, unknown>, Result = unknown>(
  options: ServeUnixOptions,
  handler: Handler<Payload, Result>,
): Server<Deno.UnixAddr>;
/**
 * Serves on TCP, or TLS with `cert` and `key`; `server.addr` is a
 * `Deno.NetAddr`.
 *
 * @typeParam Payload The request payload the handler accepts.
 * @typeParam Result What the handler returns.
 * @param options Where to listen and what to enforce.
 * @param handler Answers each valid request.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 *
 * @example Reading the port back after `port: 0`
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@socketbridge/core";
 * await using server = serve({ port: 0 }, () => "ok");
 * assert.ok(server.addr.port > 0);
 * ```
 */
export function serve<Payload = Record<string, unknown>, Result = unknown>(
  options: ServeTcpOptions,
  handler: Handler<Payload, Result>,
): Server<Deno.NetAddr>;
export function serve<Payload = Record<string, unknown>, Result = unknown>(
  optionsOrHandler: ServeTcpOptions | ServeUnixOptions | Handler<Payload, Result>,
  handler?: Handler<Payload, Result>,
): Server<Deno.NetAddr> | Server<Deno.UnixAddr> {
  if (typeof optionsOrHandler === "function") {
    if (handler !== undefined) {
      throw new TypeError("Cannot serve: pass serve(handler) or serve(options, handler)");
    }
    return new BridgeServer({}, optionsOrHandler as RequestHandler) as Server<Deno.NetAddr>;
  }
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot serve: the handler must be a function, got ${
        handler === null ? "null" : typeof handler
      }`,
    );
  }
  return new BridgeServer(optionsOrHandler, handler as RequestHandler) as
    | Server<Deno.NetAddr>
    | Server<Deno.UnixAddr>;
}
