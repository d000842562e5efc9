/**
 * SocketBridge clients: {@linkcode send}, the one-shot helper of the
 * original (connect, one request, one response, close), and
 * {@linkcode connect}, a persistent client that carries any number of
 * requests at once over one connection, with cancellation, timeouts and
 * optional reconnection.
 *
 * @example One request, one response
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0, token: "s3cret" }, () => "pong");
 * const port = server.addr.port;
 * const response = await send({ port, token: "s3cret" }, { type: "ping" });
 * assert.ok(response.status === "ok" && response.result === "pong");
 * ```
 *
 * @module
 */

import { DEFAULT_MAX_BYTES, FrameDecoder } from "./codec.ts";
import {
  ConnectError,
  ConnectionClosedError,
  FrameTooLargeError,
  ProtocolError,
  SocketBridgeError,
  TimeoutError,
} from "./errors.ts";
import {
  type BridgeResponse,
  ENVELOPE_KEYS,
  PROTOCOL_VERSION,
  type RequestId,
} from "./protocol.ts";
import { addressOf, checkDialOptions, dial } from "./_dial.ts";
import { parseAnswer } from "./_answer_text.ts";
import { AnswerBook, Pending } from "./_pending.ts";
import { foreignProtocol } from "./_sniff.ts";
import { checkDuration, startTimer } from "./_timers.ts";
import { ChunkReader, closeQuietly, isPeerGone } from "./_transport.ts";
import { FrameWriter } from "./_writer.ts";

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

const decoder = new TextDecoder();
const DEFAULT_SEND_TIMEOUT = 30_000;
const DEFAULT_CLIENT_OUTBOUND = 4_194_304;
const NO_OPTIONS: RequestOptions = Object.freeze({});

/**
 * Sends one request on a fresh connection and returns the response object,
 * `ok` or `error` alike (the original client's behaviour). Sends no
 * `request_id`, so it speaks to an original server exactly as the original
 * client did.
 *
 * @param options Where to connect, the token, the timeout and a signal.
 * @param payload The request object, without envelope keys.
 * @returns The server's response.
 * @throws {TimeoutError} When connecting and answering took longer than `timeout`.
 * @throws {ConnectError} When connecting failed (names the address).
 * @throws {ConnectionClosedError} When the server closed before answering.
 * @throws {ProtocolError} When the peer's answer is not a SocketBridge answer.
 * @throws {FrameTooLargeError} When the response is larger than `maxBytes`.
 * @throws {TypeError} When the payload is not an object or uses an envelope key.
 *
 * @example Sending a message, and reading an error answer
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0, token: "s3cret" }, (payload) => payload);
 * const port = server.addr.port;
 * const ok = await send({ port, token: "s3cret" }, { type: "message", text: "hi" });
 * assert.ok(ok.status === "ok");
 * const refused = await send({ port, token: "guess" }, { type: "message", text: "hi" });
 * assert.ok(refused.status === "error" && refused.code === "unauthorized");
 * ```
 */
export async function send<Result = unknown>(
  options: SendOptions,
  payload: Record<string, unknown>,
): Promise<BridgeResponse<Result>> {
  const timeout = checkDuration("timeout", options.timeout ?? DEFAULT_SEND_TIMEOUT);
  const deadline = new AbortController();
  const timer = startTimer(() => deadline.abort(new TimeoutError(timeout)), timeout);
  const signal = options.signal === undefined
    ? deadline.signal
    : AbortSignal.any([options.signal, deadline.signal]);
  try {
    const client = await BridgeClient.open({ ...options, signal }, false);
    try {
      // timeout_ms travels only when the caller chose a timeout: with the
      // default, the request is byte for byte what the original client sends.
      const response = await client.exchange(payload, { signal }, false, options.timeout);
      return response as BridgeResponse<Result>;
    } finally {
      await client.close();
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * Opens a persistent connection. Resolves once connected.
 *
 * Every request gets a `request_id` and is matched to its answer by it, so
 * any number may be in flight. Against an original server, which answers in
 * order and echoes no id, answers are matched in order instead.
 *
 * @typeParam Payload The request payload type.
 * @typeParam Result The type of `result` in answers.
 * @param options Where to connect, the token, timeouts, reconnection.
 * @returns The connected client.
 * @throws {ConnectError} When nothing listens there (names the address).
 * @throws {TypeError} On contradictory options (`path` with `port`).
 *
 * @example Many requests on one connection, one of them cancelled
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0 }, async (payload: { n: number }, { signal }) => {
 *   if (payload.n < 0) await new Promise((resolve) => signal.addEventListener("abort", resolve));
 *   return payload.n * 10;
 * });
 * await using client = await connect<{ n: number }, number>({
 *   port: server.addr.port,
 * });
 * const answers = await Promise.all([1, 2, 3].map((n) => client.request({ n })));
 * assert.ok(answers.join() === "10,20,30");
 * const controller = new AbortController();
 * const slow = client.request({ n: -1 }, { signal: controller.signal, timeout: 5_000 });
 * controller.abort(new Error("user gave up"));
 * const error = await slow.catch((error: Error) => error);
 * assert.ok(error instanceof Error && error.message === "user gave up");
 * ```
 */
export function connect<Payload = Record<string, unknown>, Result = unknown>(
  options: ConnectOptions = {},
): Promise<Client<Payload, Result>> {
  return BridgeClient.open(options, true) as Promise<Client<Payload, Result>>;
}

/**

/** The link to the server: one connection and its writer. */
interface Link {
  readonly conn: Deno.Conn;
  readonly writer: FrameWriter;
  readonly book: AnswerBook;
}

class BridgeClient extends EventTarget implements Client<Record<string, unknown>, unknown> {
  readonly #options: ConnectOptions;
  readonly #reconnect?: Required<ReconnectOptions>;
  readonly #maxOutboundBytes: number;
  readonly #defaultTimeout?: number;
  readonly #envelope: string;
  // Requests waiting for a link or for room in the outbound queue, in order.
  #unsent: Pending[] = [];
  #pumping = false;
  #link?: Link;
  #linking?: Promise<Link | undefined>;
  #nextId = 1;
  #closed = false;
  #wakeBackoff?: () => void;

  private constructor(options: ConnectOptions, reconnect: boolean) {
    super();
    checkDialOptions(options);
    this.#options = options;
    this.#envelope = envelopeOf(options.token);
    this.#maxOutboundBytes = options.maxOutboundBytes ?? DEFAULT_CLIENT_OUTBOUND;
    if (options.timeout !== undefined) {
      this.#defaultTimeout = checkDuration("timeout", options.timeout);
    }
    const wanted = reconnect ? options.reconnect : undefined;
    if (wanted) {
      const given = wanted === true ? {} : wanted;
      this.#reconnect = {
        initialDelay: checkDuration("initialDelay", given.initialDelay ?? 100),
        maxDelay: checkDuration("maxDelay", given.maxDelay ?? 5_000),
        maxAttempts: given.maxAttempts ?? Infinity,
        retryFirstConnect: given.retryFirstConnect ?? false,
      };
    }
  }

  static async open(options: ConnectOptions, reconnect: boolean): Promise<BridgeClient> {
    const client = new BridgeClient(options, reconnect);
    if (client.#reconnect?.retryFirstConnect) {
      const link = await client.#redial(options.signal, 0);
      if (link === undefined) {
        options.signal?.throwIfAborted();
        throw new ConnectError(
          addressOf(options),
          `Cannot connect to ${addressOf(options)}: gave up`,
        );
      }
    } else {
      client.#attach(await dial(options, options.signal), false);
    }
    return client;
  }

  get connected(): boolean {
    return this.#link !== undefined;
  }

  get pending(): number {
    return this.#unsent.filter((entry) => !entry.settled).length + (this.#link?.book.size ?? 0);
  }

  request(payload: Record<string, unknown>, options?: RequestOptions): Promise<unknown> {
    return this.#submit(payload, options ?? NO_OPTIONS, true, true);
  }

  /**
   * Sends one request and resolves with the whole response object, the first
   * answer that comes. `announcedTimeout` is the `timeout_ms` sent when the
   * deadline is kept by the caller's signal rather than by `timeout`.
   */
  exchange(
    payload: Record<string, unknown>,
    options: RequestOptions,
    withId: boolean,
    announcedTimeout?: number,
  ): Promise<BridgeResponse> {
    return this.#submit(payload, options, withId, false, announcedTimeout) as Promise<
      BridgeResponse
    >;
  }

  #submit(
    payload: Record<string, unknown>,
    { signal, timeout = this.#defaultTimeout }: RequestOptions,
    withId: boolean,
    unwrap: boolean,
    announcedTimeout = timeout,
  ): Promise<unknown> {
    try {
      signal?.throwIfAborted();
      checkPayload(payload);
      if (timeout !== undefined) checkDuration("timeout", timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    let entry!: Pending;
    const answer = new Promise((resolve, reject) => {
      entry = new Pending(withId ? this.#nextId++ : undefined, unwrap, resolve, reject);
    });
    entry.payload = payload;
    entry.announcedTimeout = announcedTimeout;
    // The signal and the timeout run from now, waits for room or a link included.
    if (signal !== undefined) {
      entry.signal = signal;
      entry.onAbort = () => this.#giveUp(entry, signal.reason);
      signal.addEventListener("abort", entry.onAbort, { once: true });
    }
    if (timeout !== undefined) {
      entry.timer = startTimer(() => this.#giveUp(entry, new TimeoutError(timeout)), timeout);
    }
    const link = this.#link;
    if (link !== undefined && this.#unsent.length === 0 && !link.writer.full) {
      this.#put(link, entry);
    } else if (link === undefined && this.#linking === undefined) {
      entry.fail(this.#noLinkError());
    } else {
      this.#unsent.push(entry);
      if (link !== undefined) this.#pump(link);
    }
    return answer;
  }

  /** Encodes the request into the link's writer and books it for its answer. */
  #put(link: Link, entry: Pending): void {
    let body: string;
    try {
      body = encodeRequest(entry.payload!, this.#envelope, entry.id, entry.announcedTimeout);
    } catch (error) {
      entry.fail(error);
      return;
    }
    entry.payload = undefined;
    entry.size = body.length;
    link.book.sent(entry);
    link.writer.enqueue(body);
  }

  /** Moves waiting requests into the writer while it has room. */
  async #pump(link: Link): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#unsent.length > 0 && this.#link === link) {
        if (link.writer.full) {
          await link.writer.ready();
          continue;
        }
        const entry = this.#unsent.shift()!;
        if (!entry.settled) this.#put(link, entry);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * A request given up (timeout or abort) settles at once. Unsent, it never
   * goes out; sent, its late answer is dropped when it comes.
   */
  #giveUp(entry: Pending, error: unknown): void {
    if (entry.settled) return;
    if (entry.sent) this.#link?.book.givenUp(entry);
    entry.fail(error);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeBackoff?.();
    const link = this.#link;
    const closing = new ConnectionClosedError("Client closed");
    if (link !== undefined) this.#detach(link, closing);
    this.#failUnsent(closing);
    await this.#linking;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #attach(conn: Deno.Conn, reconnected: boolean): void {
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const writer = new FrameWriter(conn, this.#maxOutboundBytes);
    const link: Link = { conn, writer, book: new AnswerBook() };
    writer.onFailure = (error) =>
      this.#detach(link, new ConnectionClosedError(undefined, { cause: error }));
    this.#link = link;
    this.#readLoop(link);
    this.dispatchEvent(new CustomEvent("open", { detail: { reconnected } }));
    this.#pump(link);
  }

  async #readLoop(link: Link): Promise<void> {
    const reader = new ChunkReader(link.conn);
    const maxBytes = this.#options.maxBytes ?? DEFAULT_MAX_BYTES;
    const frames = new FrameDecoder({ maxBytes });
    let answered = 0;
    let failure: unknown;
    try {
      while (true) {
        const chunk = await reader.read();
        if (chunk === null) break;
        frames.push(chunk, (body) => {
          answered++;
          this.#onAnswer(link, body);
        });
        if (this.#link !== link) return;
      }
    } catch (error) {
      failure = error;
    }
    if (failure instanceof FrameTooLargeError) {
      const foreign = answered === 0 ? foreignProtocol(failure.size) : undefined;
      if (foreign !== undefined) {
        const address = addressOf(this.#options);
        failure = new ProtocolError(
          `Peer at ${address} is not a SocketBridge server: it answered with ${foreign}`,
        );
      } else {
        // In order, the oversized answer is the oldest request's.
        link.book.takeOldest()?.fail(failure);
      }
    }
    this.#detach(
      link,
      failure instanceof SocketBridgeError && !(failure instanceof FrameTooLargeError)
        ? failure
        : new ConnectionClosedError(
          failure === undefined || isPeerGone(failure)
            ? "Connection closed before the response arrived"
            : `Connection failed: ${failure instanceof Error ? failure.message : failure}`,
          { cause: failure },
        ),
    );
  }

  /** Settles the request an answer belongs to; throws ProtocolError on a bad one. */
  #onAnswer(link: Link, body: Uint8Array): void {
    let response: unknown;
    try {
      response = parseAnswer(decoder.decode(body));
    } catch {
      throw new ProtocolError("Peer sent a frame that is not JSON");
    }
    const match = link.book.match(response);
    if (match instanceof Pending) match.answer(response as BridgeResponse);
    else if (match !== undefined) this.#detach(link, match);
  }

  #detach(link: Link, error: SocketBridgeError): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    closeQuietly(link.conn);
    for (const entry of link.book.drain()) entry.fail(error);
    this.dispatchEvent(new CustomEvent("close", { detail: { error } }));
    if (!this.#closed && this.#reconnect !== undefined) {
      this.#linking = this.#redial(undefined, 1);
    } else {
      this.#failUnsent(error);
    }
  }

  #failUnsent(error: unknown): void {
    const unsent = this.#unsent;
    this.#unsent = [];
    for (const entry of unsent) entry.fail(error);
  }

  #noLinkError(): ConnectionClosedError {
    return new ConnectionClosedError(
      this.#closed ? "Client closed" : "Connection closed; reconnect is off",
    );
  }

  /** Dials until connected, with exponential backoff and full jitter. */
  async #redial(signal: AbortSignal | undefined, firstDelayed: number): Promise<Link | undefined> {
    const { initialDelay, maxDelay, maxAttempts } = this.#reconnect!;
    const onAbort = () => this.#wakeBackoff?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (let attempt = 0; attempt < maxAttempts && !this.#closed; attempt++) {
        if (signal?.aborted) return undefined;
        if (attempt + firstDelayed > 0) {
          const ceiling = Math.min(maxDelay, initialDelay * 2 ** (attempt + firstDelayed - 1));
          // Between half and all of the ceiling: clients that lost the same
          // server at the same moment do not come back at the same moment.
          const wait = ceiling * (0.5 + Math.random() / 2);
          this.dispatchEvent(
            new CustomEvent("reconnecting", { detail: { attempt: attempt + 1, delay: wait } }),
          );
          await new Promise<void>((resolve) => {
            const timer = startTimer(resolve, wait);
            this.#wakeBackoff = () => {
              if (timer !== undefined) clearTimeout(timer);
              resolve();
            };
          });
          this.#wakeBackoff = undefined;
          if (this.#closed || signal?.aborted) break;
        }
        try {
          this.#attach(await dial(this.#options, signal), firstDelayed > 0);
          this.#linking = undefined;
          return this.#link;
        } catch (error) {
          if (signal?.aborted) break;
          if (!(error instanceof ConnectError)) throw error;
          // Not back yet; wait longer.
        }
      }
      if (firstDelayed > 0) {
        this.#closed = true;
        this.#failUnsent(new ConnectionClosedError("Client closed; gave up reconnecting"));
      }
      return undefined;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#linking = undefined;
    }
  }
}

/** Refuses a payload that is not an object or uses an envelope key. */
function checkPayload(payload: Record<string, unknown>): void {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new TypeError("Cannot send payload: expected an object");
  }
  for (const key of ENVELOPE_KEYS) {
    if (key in payload) {
      throw new TypeError(`Cannot send payload: key "${key}" is reserved for the envelope`);
    }
  }
}

/**
 * The JSON text of a request: the payload's keys, then the envelope's, as
 * the original client writes them. Spliced as text rather than spread into
 * a new object: it is the client's hot path.
 */
function encodeRequest(
  payload: Record<string, unknown>,
  envelope: string,
  requestId: RequestId | undefined,
  timeout: number | undefined,
): string {
  const text = JSON.stringify(payload);
  // A payload whose toJSON() does not give an object has no keys to keep.
  if (text === undefined || text.charCodeAt(0) !== 123) {
    throw new TypeError("Cannot send payload: it does not serialise to a JSON object");
  }
  let tail = envelope;
  if (requestId !== undefined) {
    tail += typeof requestId === "number"
      ? `,"request_id":${requestId}`
      : `,"request_id":${JSON.stringify(requestId)}`;
  }
  if (timeout !== undefined && Number.isFinite(timeout)) tail += `,"timeout_ms":${timeout}`;
  return text.length === 2 ? `{${tail}}` : `${text.slice(0, -1)},${tail}}`;
}

/** The envelope keys every request of a client carries, as JSON text. */
function envelopeOf(token: string | undefined): string {
  const version = `"protocol_version":"${PROTOCOL_VERSION}"`;
  return token === undefined ? version : `"auth_token":${JSON.stringify(token)},${version}`;
}
