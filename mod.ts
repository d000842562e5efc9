/**
 * SocketBridge: length-prefixed JSON frames over a socket, for local agents,
 * tools, test harnesses and helper processes to talk to each other. Loopback
 * by default, with an auth token, a host allowlist, a size cap and a
 * protocol-version check; wire-compatible with the original Python
 * SocketBridge.
 *
 * - {@linkcode serve} answers requests with a handler.
 * - {@linkcode send} makes one request on a fresh connection.
 * - {@linkcode connect} keeps one connection for many concurrent requests.
 * - `@socketbridge/core/codec` has the framing alone, runtime-neutral.
 *
 * @example A server and a client in one process
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0 }, (payload: { n: number }) => payload.n * 2);
 * const { port } = server.addr;
 * await using client = await connect<{ n: number }, number>({ port });
 * assert.ok(await client.request({ n: 21 }) === 42);
 * ```
 *
 * @module
 */

export {
  type BridgeEvent,
  type CallContext,
  type ChunkOf,
  type Client,
  connect,
  type ConnectionOptions,
  type ConnectOptions,
  type DeclaredTypes,
  EventStream,
  type FinalOf,
  type PayloadOf,
  type ReconnectOptions,
  type RequestOptions,
  type ResultOf,
  ResultStream,
  send,
  type SendOptions,
  type SubscribeOptions,
  type TypedClient,
  typedClient,
} from "./client.ts";
export {
  type CallOptions,
  type ErrorContext,
  type Handler,
  type RequestInfo,
  type RequestRecord,
  type RequestType,
  requestType,
  requestTypes,
  type RequestTypesOptions,
  type SchemaResult,
  type ScopedToken,
  serve,
  type ServeOptions,
  type Server,
  type ServerStats,
  type ServeTcpOptions,
  type ServeUnixOptions,
  type StandardSchemaLike,
  type TypeDescription,
  type TypedHandler,
} from "./server.ts";
export {
  type BridgeResponse,
  DEFAULT_PORT,
  errorCodeOf,
  PROTOCOL_VERSION,
  type RequestId,
  type StatsReport,
  type TypeStatsReport,
  type WireErrorCode,
} from "./protocol.ts";
export {
  ApplicationError,
  CancelledError,
  ConnectError,
  ConnectionClosedError,
  type ErrorCode,
  FrameTooLargeError,
  PayloadError,
  type PayloadIssue,
  ProtocolError,
  RemoteError,
  SocketBridgeError,
  TimeoutError,
} from "./errors.ts";
