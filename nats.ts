/**
 * SocketBridge beyond one host, over NATS: {@linkcode serveNats} makes a
 * running server's handler reachable as NATS request/reply on `PREFIX.TYPE`
 * subjects in a queue group (so several hosts share the load, and any NATS
 * client in any language can call it), and carries its events to and from
 * NATS subjects; {@linkcode connectNats} is a client with the same
 * `request` / `stream` API over a NATS connection.
 *
 * The NATS client is the official `nats` package from npm; the core module
 * never loads it. You open (and close) the NATS connection yourself.
 *
 * @example A server in a queue group, and a client calling it over NATS
 * ```ts ignore
 * import { connect } from "npm:nats@2";
 * import { serve } from "@socketbridge/core";
 * import { connectNats, serveNats } from "@socketbridge/core/nats";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * await using server = serve({ port: 0, token: "s3cret" }, (payload) => payload);
 * await using bridge = serveNats(server, nc, { prefix: "tools" });
 * await using client = connectNats(nc, { prefix: "tools", token: "s3cret" });
 * console.log(await client.request({ type: "echo", text: "hi" }));
 * await nc.drain();
 * ```
 *
 * @module
 */

import type { Server } from "./_server/types.ts";
import { ServerOverNats } from "./_nats/serve.ts";
import { ClientOverNats } from "./_nats/client.ts";
import type {
  NatsBridge,
  NatsClient,
  NatsClientOptions,
  NatsConnectionLike,
  ServeNatsOptions,
} from "./_nats/types.ts";

export {
  type NatsBridge,
  type NatsBridgeStats,
  type NatsClient,
  type NatsClientOptions,
  type NatsConnectionLike,
  type NatsHeadersLike,
  type NatsMessageLike,
  type ServeNatsOptions,
} from "./_nats/types.ts";
export { NatsStatusError } from "./_nats/status_error.ts";

/**
 * Serves a running server's handler over NATS too, next to its socket.
 *
 * A request published on `PREFIX.TYPE` is answered on its reply subject
 * with exactly the JSON a socket client gets, after the same checks (size,
 * JSON, token, version, `timeout_ms`). The payload gets `type: TYPE`; a
 * request on `PREFIX` itself keeps the type its payload names. Every
 * process serving the prefix in the same queue group shares the requests.
 * A caller that sets the header `SocketBridge-Features: chunks` receives a
 * streamed result's chunks before the answer; a `$cancel` published on
 * `PREFIX.$cancel` naming a request's reply subject aborts it.
 *
 * The handler's `info.remoteAddr` is the NATS server's address: NATS does not
 * tell who published a message.
 *
 * Reconnects, disconnects, lame-duck notices and permission errors of the
 * NATS client go to the server's `onError` as {@linkcode NatsStatusError}.
 * The bridge closes when the server shuts down, or with `close()`.
 *
 * @param server A server returned by `serve()`.
 * @param nc An open NATS connection (the caller's: the bridge never closes it).
 * @param options The prefix, queue group and which events cross.
 * @returns The running bridge.
 * @throws {TypeError} When the server has no token (unless
 * `allowWithoutToken`), for a bad prefix or event pattern, or a server not
 * made by `serve()`.
 *
 * @example Serving the declared types of a tool server over NATS
 * ```ts ignore
 * import { connect } from "npm:nats@2";
 * import { requestTypes, serve } from "@socketbridge/core";
 * import { serveNats } from "@socketbridge/core/nats";
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * await using server = serve(
 *   { port: 0, token: Deno.env.get("SOCKETBRIDGE_TOKEN") },
 *   requestTypes({ add: { handler: ({ a, b }: { a: number; b: number }) => a + b } }),
 * );
 * // `nats req tools.add '{"a":1,"b":2,"auth_token":"..."}'` now answers too.
 * await using bridge = serveNats(server, nc, { prefix: "tools", eventsOut: true });
 * ```
 */
export function serveNats(
  server: Server,
  nc: NatsConnectionLike,
  options: ServeNatsOptions,
): NatsBridge {
  return new ServerOverNats(server, nc, options);
}

/**
 * A client of the servers serving `prefix` over NATS: `request()` and
 * `stream()` as on a socket client, each request answered by one server of
 * the queue group. Every request has a timeout (30 s by default): over NATS
 * an answer lost with its server never comes.
 *
 * @typeParam Payload The request payload.
 * @typeParam Result What the server's handler returns.
 * @param nc An open NATS connection (the caller's: closing the client leaves it open).
 * @param options The prefix, token and default timeout.
 * @returns The client.
 *
 * @example Calling a tool server over NATS
 * ```ts ignore
 * import { connect } from "npm:nats@2";
 * import { connectNats } from "@socketbridge/core/nats";
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * await using client = connectNats(nc, { prefix: "tools", token: "s3cret" });
 * console.log(await client.request({ type: "add", a: 1, b: 2 })); // 3
 * for await (const line of client.stream({ type: "tail", lines: 3 })) console.log(line);
 * ```
 */
export function connectNats<Payload = Record<string, unknown>, Result = unknown>(
  nc: NatsConnectionLike,
  options: NatsClientOptions,
): NatsClient<Payload, Result> {
  return new ClientOverNats<Payload, Result>(nc, options);
}
