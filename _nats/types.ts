// The public types of the NATS bridge; nats.ts re-exports them.

import type { RequestOptions } from "../_client/options.ts";
import type { ResultStream } from "../_client/result_stream.ts";

/**
 * Options of {@linkcode serveNats}.
 *
 * @example Serving a prefix in a queue group, events going out
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ServeNatsOptions } from "@socketbridge/core/nats";
 * const options: ServeNatsOptions = { prefix: "tools", queue: "tools", eventsOut: ["jobs.>"] };
 * assert.ok(options.prefix === "tools");
 * ```
 */
export interface ServeNatsOptions {
  /**
   * Requests arrive on `PREFIX.TYPE` (the payload gets `type: TYPE`; a
   * payload naming another type is refused) and on `PREFIX` itself (the
   * payload names its own type, if any). Dot-separated tokens, no wildcards.
   */
  prefix: string;
  /**
   * The NATS queue group: every process serving the same prefix in the same
   * group shares the requests, each going to one of them.
   *
   * @default {prefix}
   */
  queue?: string;
  /**
   * Events the server publishes that also go to NATS, on the subject named
   * by the topic: `true` for all, or topic patterns. No event goes out by
   * default.
   */
  eventsOut?: boolean | readonly string[];
  /**
   * NATS subjects (patterns) whose messages are published to the server's
   * own subscribers. A message's body is the event's data: JSON as it is,
   * other text as a string. Events that came in never go out again, and a
   * bridge never hears its own events back.
   */
  eventsIn?: readonly string[];
  /**
   * Requests over NATS running at once, past which new ones are answered
   * `busy` at once (NATS does not hand a refused request to another member
   * of the queue group: the caller may retry, and a retry may go elsewhere).
   *
   * @default {1024}
   */
  maxInFlight?: number;
  /**
   * Serve over NATS though the server has no token. Off by default: every
   * client of the NATS server could call the handler.
   */
  allowWithoutToken?: boolean;
}

/**
 * Counters of a bridge, from {@linkcode NatsBridge.stats}.
 *
 * @example Reading them
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NatsBridgeStats } from "@socketbridge/core/nats";
 * const stats: NatsBridgeStats = {
 *   requests: { received: 2, answered: 2, cancelled: 0, running: 0 },
 *   events: { out: 1, in: 0 },
 * };
 * assert.ok(stats.requests.received === stats.requests.answered);
 * ```
 */
export interface NatsBridgeStats {
  /**
   * Requests received over NATS, answered (errors included), cancelled by a
   * caller's `$cancel`, and running now.
   */
  requests: { received: number; answered: number; cancelled: number; running: number };
  /** Events sent out to NATS and received from it. */
  events: { out: number; in: number };
}

/**
 * A server also reachable over NATS, returned by {@linkcode serveNats}.
 *
 * @example Closing the bridge before the server
 * ```ts ignore
 * import { serveNats } from "@socketbridge/core/nats";
 * await using bridge = serveNats(server, nc, { prefix: "tools" });
 * console.log(bridge.stats().requests.received);
 * ```
 */
export interface NatsBridge extends AsyncDisposable {
  /**
   * Resolves once the bridge has closed: after {@linkcode NatsBridge.close},
   * or once the server has shut down.
   */
  readonly closed: Promise<void>;
  /**
   * Drains: NATS sends no more requests here (the queue group's other members
   * take them), those already received are served and answered within the
   * server's grace period (then answered `shutting_down`), and events stop
   * crossing. The NATS connection stays open: it is the caller's. Idempotent.
   */
  close(): Promise<void>;
  /** A snapshot of the bridge's counters. */
  stats(): NatsBridgeStats;
}

/**
 * Options of {@linkcode connectNats}.
 *
 * @example A client of the `tools` prefix with a token
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NatsClientOptions } from "@socketbridge/core/nats";
 * const options: NatsClientOptions = { prefix: "tools", token: "s3cret", timeout: 5_000 };
 * assert.ok(options.timeout === 5_000);
 * ```
 */
export interface NatsClientOptions {
  /** The prefix the servers serve (`PREFIX.TYPE` subjects). */
  prefix: string;
  /** The servers' token, sent as `auth_token`. */
  token?: string;
  /**
   * Milliseconds a request waits for its answer unless it says otherwise
   * (sent as `timeout_ms`): over NATS an answer lost with its server never
   * comes, so a request must not wait forever.
   *
   * @default {30000}
   */
  timeout?: number;
}

/**
 * A client of servers over NATS, returned by {@linkcode connectNats}: the
 * `request` and `stream` of a socket client.
 *
 * @typeParam Payload The request payload.
 * @typeParam Result What the server's handler returns.
 *
 * @example Calling and streaming
 * ```ts ignore
 * import { connect } from "npm:nats@2";
 * import { connectNats } from "@socketbridge/core/nats";
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * await using client = connectNats(nc, { prefix: "tools", token: "s3cret" });
 * console.log(await client.request({ type: "add", a: 1, b: 2 }));
 * ```
 */
export interface NatsClient<Payload = Record<string, unknown>, Result = unknown>
  extends AsyncDisposable {
  /**
   * Sends one request to a server of the prefix and resolves with its
   * `result`. Published on `PREFIX.TYPE` when the payload's `type` can be
   * subject tokens, else on `PREFIX`.
   *
   * @param payload The request, without envelope keys.
   * @param options A signal and a timeout (sent as `timeout_ms`; the client's default otherwise).
   * @returns The server's `result`.
   * @throws {RemoteError} When the server answered `status: "error"` (an
   * `ApplicationError` for an application's own code).
   * @throws {TimeoutError} When no answer came in time (its server may have died).
   * @throws {ConnectError} When no server serves the prefix (NATS "no responders").
   */
  request(payload: Payload, options?: RequestOptions): Promise<Result>;
  /**
   * Sends one request whose handler streams its result: iterate for the
   * chunks, read `result` for the final value. Leaving the loop early
   * cancels the request on the server that runs it.
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
  /** Requests sent and not yet answered, timed out or aborted. */
  readonly pending: number;
  /**
   * Gives up every pending request (`ConnectionClosedError`, and a
   * `$cancel` to the servers) and stops listening for answers. The NATS
   * connection stays open. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * What the bridge uses of a NATS connection: the `NatsConnection` that
 * `connect()` of the `nats` package returns fits it. Declared here so the
 * public types do not take in the whole NATS client's.
 *
 * @example A connection from the nats package fits
 * ```ts ignore
 * import { connect } from "npm:nats@2";
 * import type { NatsConnectionLike } from "@socketbridge/core/nats";
 * const nc: NatsConnectionLike = await connect({ servers: "127.0.0.1:4222" });
 * ```
 */
export interface NatsConnectionLike {
  /** Subscribes, in a queue group when `queue` is given; messages go to `callback`. */
  subscribe(
    subject: string,
    options: { queue?: string; callback: (error: Error | null, msg: NatsMessageLike) => void },
  ): { unsubscribe(): void; drain(): Promise<void> };
  /** Publishes, with a reply subject and headers when given. */
  publish(
    subject: string,
    data: Uint8Array,
    options?: { reply?: string; headers?: NatsHeadersLike },
  ): void;
  /** The client's state changes. */
  status(): AsyncIterable<
    { type: string; data: unknown; permissionContext?: { operation: string; subject: string } }
  >;
  /** Resolves once the NATS server has seen everything published so far. */
  flush(): Promise<void>;
  /** Whether the connection is closed for good. */
  isClosed(): boolean;
  /** The NATS server connected to, `host:port`. */
  getServer(): string;
}

/**
 * A NATS message as the bridge reads it.
 *
 * @example The fields it reads
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NatsMessageLike } from "@socketbridge/core/nats";
 * const msg: NatsMessageLike = {
 *   subject: "tools.echo",
 *   data: new Uint8Array(),
 *   respond: () => true,
 * };
 * assert.ok(msg.reply === undefined);
 * ```
 */
export interface NatsMessageLike {
  /** The subject it was published on. */
  readonly subject: string;
  /** Where the answer goes, for a request. */
  readonly reply?: string;
  /** The body. */
  readonly data: Uint8Array;
  /** Its headers, if any. */
  readonly headers?: NatsHeadersLike;
  /** Publishes `data` on the reply subject. */
  respond(data?: Uint8Array): boolean;
}

/**
 * NATS message headers as the bridge reads and writes them.
 *
 * @example Reading one
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NatsHeadersLike } from "@socketbridge/core/nats";
 * const values = new Map([["SocketBridge-Features", "chunks"]]);
 * const marks: NatsHeadersLike = {
 *   get: (key) => values.get(key) ?? "",
 *   set: (key, value) => void values.set(key, value),
 *   code: 0,
 * };
 * assert.ok(marks.get("SocketBridge-Features") === "chunks");
 * ```
 */
export interface NatsHeadersLike {
  /** The header's value, `""` when absent. */
  get(key: string): string;
  /** Sets the header. */
  set(key: string, value: string): void;
  /** A status code (503: no responders), 0 on ordinary messages. */
  readonly code: number;
}

/** A subscription, as the bridge ends it. */
export type NatsSubscriptionLike = ReturnType<NatsConnectionLike["subscribe"]>;
