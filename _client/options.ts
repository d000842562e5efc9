// The public option and client types of the clients, documented for users;
// client.ts re-exports them.

import type { RequestId } from "../protocol.ts";
import type { BridgeEvent, EventStream } from "./events.ts";
import type { ResultStream } from "./result_stream.ts";
import type { TypeDescription } from "../_server/request_types.ts";

/**
 * Where a client connects and what it sends along.
 *
 * @example Options for a Unix socket and for TLS
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConnectionOptions } from "@socketbridge/core";
 * const overUnix: ConnectionOptions = { path: "/run/user/1000/bridge.sock" };
 * const overTls: ConnectionOptions = {
 *   hostname: "localhost",
 *   port: 7443,
 *   tls: { caCerts: ["-----BEGIN CERTIFICATE-----..."] },
 * };
 * assert.ok(overUnix.path !== undefined && overTls.tls !== undefined);
 * ```
 */
export interface ConnectionOptions {
  /**
   * The server's host.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The server's TCP port.
   *
   * @default {7002}
   */
  port?: number;
  /** Connect to this Unix domain socket path instead of TCP. */
  path?: string;
  /**
   * Connect to the server published under this name (`serve({ name })`):
   * its address, and its token unless `token` is given, come from its
   * discovery file, read again before each reconnection. Not with
   * `hostname`, `port` or `path`. Needs `--allow-env=XDG_RUNTIME_DIR,TMPDIR`,
   * `--allow-sys=uid` and read access to the discovery directory.
   */
  name?: string;
  /**
   * Speak TLS: `true` trusts the system's roots, an object may add
   * `caCerts` (PEM) to trust a private certificate authority or a
   * self-signed certificate. The certificate must name `hostname`.
   */
  tls?: boolean | { caCerts?: string[] };
  /** The `auth_token` sent with every request. */
  token?: string;
  /**
   * The largest response body accepted, in bytes, checked from the prefix.
   *
   * @default {1048576}
   */
  maxBytes?: number;
}

/**
 * Per-request settings.
 *
 * @example A request that gives up after 250 ms or when the user cancels
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RequestOptions } from "@socketbridge/core";
 * const controller = new AbortController();
 * const options: RequestOptions = { timeout: 250, signal: controller.signal };
 * assert.ok(options.timeout === 250);
 * ```
 */
export interface RequestOptions {
  /** Aborting it rejects the request with the signal's reason at once. */
  signal?: AbortSignal;
  /**
   * Milliseconds to wait for the answer. Sent to the server as `timeout_ms`
   * so it stops working for a caller that gave up.
   */
  timeout?: number;
  /**
   * Sent as `idempotency_key` (1 to 128 characters): the server runs the
   * request at most once per key (per token) within its window, and answers
   * a repeat with the same answer (`replayed: true` once it is finished).
   */
  idempotencyKey?: string;
}

/**
 * Options of a client's `subscribe()`.
 *
 * @typeParam Data The events' `data`.
 *
 * @example Counting events in a callback, as they arrive
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve, type SubscribeOptions } from "@socketbridge/core";
 * await using server = serve({ port: 0 }, () => "ok");
 * await using client = await connect({ port: server.addr.port });
 * let builds = 0;
 * const options: SubscribeOptions<string> = {
 *   onEvent: (event) => {
 *     if (event.kind === "event") builds++;
 *   },
 * };
 * await using _subscription = await client.subscribe(["build.>"], options);
 * server.publish("build.app.done", "green");
 * while (builds === 0) await new Promise((resolve) => setTimeout(resolve, 1));
 * assert.ok(builds === 1);
 * ```
 */
export interface SubscribeOptions<Data = unknown> {
  /** Aborting it unsubscribes. */
  signal?: AbortSignal;
  /**
   * Called with each entry as it arrives (an event, a `dropped` count, a
   * `gap`), in order, instead of queueing it for a `for await` loop: the
   * cheapest way to take many events (no promise or iterator step per
   * event, and no queue, so the client never drops events of its own). Such a
   * subscription cannot be iterated; its `ended` promise tells how it ended.
   * A throw is reported like one from an event listener (`reportError`) and
   * the subscription goes on.
   */
  onEvent?: (event: BridgeEvent<Data>) => void;
}

/**
 * Options of {@linkcode send}.
 *
 * @example One request with a token and a 5-second budget
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, type SendOptions, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0, token: "s3cret" }, () => "pong");
 * const options: SendOptions = {
 *   port: server.addr.port,
 *   token: "s3cret",
 *   timeout: 5_000,
 * };
 * const response = await send(options, { type: "ping" });
 * assert.ok(response.result === "pong");
 * ```
 */
export interface SendOptions extends ConnectionOptions, RequestOptions {
  /**
   * Milliseconds to wait for connecting and the answer together. When set,
   * it is also sent as `timeout_ms`; the default is not, so a request with
   * default options is exactly what the original client sends.
   *
   * @default {30000}
   */
  timeout?: number;
}

/**
 * How {@linkcode connect} reconnects after the connection drops.
 *
 * @example Back off from 50 ms up to 2 s, and give up after 20 attempts
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReconnectOptions } from "@socketbridge/core";
 * const reconnect: ReconnectOptions = { initialDelay: 50, maxDelay: 2_000, maxAttempts: 20 };
 * assert.ok(reconnect.maxAttempts === 20);
 * ```
 */
export interface ReconnectOptions {
  /**
   * The first delay, in milliseconds; each failed attempt doubles it.
   *
   * @default {100}
   */
  initialDelay?: number;
  /**
   * The longest delay between attempts, in milliseconds.
   *
   * @default {5000}
   */
  maxDelay?: number;
  /**
   * Attempts before giving up for good; `Infinity` never gives up.
   *
   * @default {Infinity}
   */
  maxAttempts?: number;
  /**
   * Retry the first connect too, with the same backoff, so a client may
   * start before its server. `connect()` then resolves once connected (or
   * rejects once `maxAttempts` is spent or `signal` aborts).
   *
   * @default {false}
   */
  retryFirstConnect?: boolean;
}

/**
 * Options of {@linkcode connect}.
 *
 * @example A client that reconnects and times every request out at 10 s
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, type ConnectOptions, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0 }, () => "ok");
 * const options: ConnectOptions = {
 *   port: server.addr.port,
 *   timeout: 10_000,
 *   reconnect: { initialDelay: 100 },
 * };
 * await using client = await connect(options);
 * assert.ok(await client.request({}) === "ok");
 * ```
 */
export interface ConnectOptions extends ConnectionOptions {
  /** Aborting it abandons the first connection attempt. */
  signal?: AbortSignal;
  /**
   * The default timeout of each request, in milliseconds. None by default:
   * a persistent client's requests may legitimately run long, so each caller
   * chooses (unlike {@linkcode send}, whose one request defaults to 30 s).
   */
  timeout?: number;
  /**
   * Bytes of requests that may wait in the outbound queue. Past it, new
   * requests wait in line (their timeout and signal still run) until the
   * server reads; a request given up while waiting is never sent.
   *
   * @default {4194304}
   */
  maxOutboundBytes?: number;
  /**
   * Reconnect after the connection drops, with exponential backoff and
   * jitter, for later requests. Requests pending at the drop still reject
   * with {@linkcode ConnectionClosedError}: none is ever sent twice.
   *
   * @default {false}
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * With `reconnect`: give every request an idempotency key (a random one
   * unless it has its own) and, after a reconnect, send again the requests
   * whose answers were lost instead of failing them, so that each handler
   * runs once and each caller gets its answer (within the server's
   * idempotency window, on the same server process). Without it a request in
   * flight at a drop fails with `ConnectionClosedError` and is never resent.
   *
   * @default {false}
   */
  retry?: boolean;
  /**
   * Say `$hello` as the first frame of each connection, asking for chunks
   * and events: what `stream()` (as chunks arrive), `subscribe()`,
   * `describe()` and cancelling on the server need. `false` keeps the
   * connection byte for byte what a Part A client sends (a server without
   * the two-way protocol hands `$hello` to its handler).
   *
   * @default {true}
   */
  twoWay?: boolean;
  /**
   * Answers the server's calls back (protocol D3): with it, `$hello` asks
   * for "calls", and a handler's `info.call(payload)` runs this with the
   * payload; what it returns (or resolves to) is the call's result, what it
   * throws an error reply (an `ApplicationError`'s code and data, else
   * `handler_error`). `signal` aborts when the server cancels the call (its
   * request ended, or its timeout passed). It may itself make requests on
   * the same client. Without it the server's calls fail at once.
   *
   * @default {undefined}
   */
  onCall?: (payload: unknown, context: CallContext) => unknown;
}

/**
 * What {@linkcode ConnectOptions.onCall} is told of one call.
 *
 * @example An approval step
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CallContext } from "@socketbridge/core";
 * const approve = (payload: unknown, { signal }: CallContext) => !signal.aborted && payload !== null;
 * assert.ok(approve({ deploy: "app" }, { signal: new AbortController().signal, requestId: 1 }));
 * ```
 */
export interface CallContext {
  /** Aborts when the server cancels the call. */
  readonly signal: AbortSignal;
  /** The `request_id` of the request whose handler calls. */
  readonly requestId?: RequestId;
}

/**
 * A persistent connection to a SocketBridge server, from {@linkcode connect}.
 *
 * It is an `EventTarget` of connection events, each a `CustomEvent`:
 * `"open"` (`detail.reconnected`), `"close"` (`detail.error`, why it closed)
 * and `"reconnecting"` (`detail.attempt`, `detail.delay` in ms).
 *
 * @typeParam Payload The request payload type.
 * @typeParam Result The type of `result` in answers.
 *
 * @example Typed requests on one connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Client, connect, serve } from "@socketbridge/core";
 * type Sum = { a: number; b: number };
 * await using server = serve({ port: 0 }, (payload: Sum) => payload.a + payload.b);
 * await using client: Client<Sum, number> = await connect({
 *   port: server.addr.port,
 * });
 * const sums = await Promise.all([client.request({ a: 1, b: 2 }), client.request({ a: 3, b: 4 })]);
 * assert.ok(sums[0] === 3 && sums[1] === 7);
 * ```
 */
export interface Client<Payload = Record<string, unknown>, Result = unknown>
  extends AsyncDisposable, EventTarget {
  /**
   * Sends one request and resolves with its `result`.
   *
   * @param payload The request, without envelope keys.
   * @param options A signal and a timeout for this request.
   * @returns The server's `result`.
   * @throws {RemoteError} When the server answered `status: "error"`.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {ConnectionClosedError} When the connection dropped first.
   * @throws {ProtocolError} When the server's answers broke the protocol.
   */
  request(payload: Payload, options?: RequestOptions): Promise<Result>;
  /**
   * Sends one request whose handler streams its result: iterate the answer
   * for the chunks, read `result` for the final value. Leaving the loop
   * early cancels the request on the server. From a server without the
   * two-way protocol, the loop yields the items of the collected result.
   *
   * @typeParam Chunk Each streamed item.
   * @typeParam Final The final result.
   * @param payload The request, without envelope keys.
   * @param options A signal and a timeout for the whole stream.
   * @returns The stream of chunks, with its `result`.
   */
  stream<Chunk = unknown, Final = unknown>(
    payload: Payload,
    options?: RequestOptions,
  ): ResultStream<Chunk, Final>;
  /**
   * Subscribes to events on topics matching `patterns` (NATS subject
   * syntax: `*` one token, `>` the rest). Resolves once the server has
   * the subscription: every event published from then on is delivered, or
   * counted in a `dropped` entry. With `reconnect`, subscriptions are
   * renewed on the new connection and each hears of the `gap`.
   *
   * @typeParam Data The events' `data`.
   * @param patterns Topic patterns, such as `["jobs.*.done", "logs.>"]`.
   * @param options Aborting `signal` unsubscribes; `onEvent` takes each
   *   entry as it arrives, instead of a `for await` loop.
   * @returns The subscription: iterate it (unless it has `onEvent`); leaving
   *   the loop unsubscribes.
   * @throws {TypeError} For a malformed pattern.
   * @throws {ProtocolError} When the server does not offer events.
   */
  subscribe<Data = unknown>(
    patterns: readonly string[],
    options?: SubscribeOptions<Data>,
  ): Promise<EventStream<Data>>;
  /**
   * Lists the request types the server declares (`$describe`).
   *
   * @param options A signal and a timeout.
   * @returns Each type with its description and JSON Schema; `[]` when the
   * server's handler declares none.
   * @throws {ProtocolError} When the server does not speak the two-way protocol.
   */
  describe(options?: RequestOptions): Promise<TypeDescription[]>;
  /** Whether the client has a live connection now. */
  readonly connected: boolean;
  /** Requests sent and not yet answered, timed out or aborted. */
  readonly pending: number;
  /**
   * Closes the connection: pending requests reject with
   * {@linkcode ConnectionClosedError}, no reconnection follows. Idempotent.
   */
  close(): Promise<void>;
}
