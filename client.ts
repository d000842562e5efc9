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
 * const port = (server.addr as Deno.NetAddr).port;
 * const response = await send({ port, token: "s3cret" }, { type: "ping" });
 * assert.ok(response.status === "ok" && response.result === "pong");
 * ```
 *
 * @module
 */

import { DEFAULT_MAX_BYTES, FrameDecoder } from "./codec.ts";
import { ConnectionClosedError, FrameTooLargeError, RemoteError, TimeoutError } from "./errors.ts";
import {
  type BridgeResponse,
  DEFAULT_PORT,
  ENVELOPE_KEYS,
  errorCodeOf,
  PROTOCOL_VERSION,
  type RequestId,
} from "./protocol.ts";
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
 *   port: (server.addr as Deno.NetAddr).port,
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
 *   port: (server.addr as Deno.NetAddr).port,
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
   * The default timeout of each request, in milliseconds; none when unset.
   */
  timeout?: number;
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
 *   port: (server.addr as Deno.NetAddr).port,
 * });
 * const sums = await Promise.all([client.request({ a: 1, b: 2 }), client.request({ a: 3, b: 4 })]);
 * assert.ok(sums[0] === 3 && sums[1] === 7);
 * ```
 */
export interface Client<Payload = Record<string, unknown>, Result = unknown>
  extends AsyncDisposable {
  /**
   * Sends one request and resolves with its `result`.
   *
   * @param payload The request, without envelope keys.
   * @param options A signal and a timeout for this request.
   * @returns The server's `result`.
   * @throws {RemoteError} When the server answered `status: "error"`.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {ConnectionClosedError} When the connection dropped first.
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
 * @throws {ConnectionClosedError} When the server closed before answering.
 * @throws {FrameTooLargeError} When the response is larger than `maxBytes`.
 * @throws {TypeError} When the payload is not an object or uses an envelope key.
 *
 * @example Sending a message, and reading an error answer
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0, token: "s3cret" }, (payload) => payload);
 * const port = (server.addr as Deno.NetAddr).port;
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
  const timeout = options.timeout ?? 30_000;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new TimeoutError(timeout)), timeout);
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
    clearTimeout(timer);
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
 * @throws {Deno.errors.ConnectionRefused} When nothing listens there.
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
 *   port: (server.addr as Deno.NetAddr).port,
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
 * One request waiting for its answer. A class, so the common case (no signal,
 * no timeout) costs one object and no closures.
 */
class Pending {
  readonly id?: RequestId;
  /** Resolve with `result` (and reject error answers), or with the whole response. */
  readonly #unwrap: boolean;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (error: unknown) => void;
  cancelled = false;
  timer?: ReturnType<typeof setTimeout>;
  signal?: AbortSignal;
  onAbort?: () => void;

  constructor(
    id: RequestId | undefined,
    unwrap: boolean,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ) {
    this.id = id;
    this.#unwrap = unwrap;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  resolve(response: BridgeResponse): void {
    this.#finish();
    if (!this.#unwrap) this.#resolve(response);
    else if (response.status === "ok") this.#resolve(response.result);
    else this.#reject(new RemoteError(errorCodeOf(response), String(response.message)));
  }

  reject(error: unknown): void {
    this.#finish();
    this.#reject(error);
  }

  #finish(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal!.removeEventListener("abort", this.onAbort);
  }
}

interface Link {
  readonly conn: Deno.Conn;
  readonly writer: FrameWriter;
}

class BridgeClient implements Client<Record<string, unknown>, unknown> {
  readonly #options: ConnectOptions;
  readonly #reconnect?: Required<ReconnectOptions>;
  readonly #pending = new Map<RequestId, Pending>();
  // Requests in send order, kept only while answers may come without ids.
  #queue: Pending[] = [];
  #echoesIds?: boolean;
  #link?: Link;
  #linking?: Promise<Link | undefined>;
  #nextId = 1;
  #closed = false;
  #wakeBackoff?: () => void;

  private constructor(options: ConnectOptions, reconnect: boolean) {
    this.#options = options;
    const wanted = reconnect ? options.reconnect : undefined;
    if (wanted) {
      const given = wanted === true ? {} : wanted;
      this.#reconnect = {
        initialDelay: given.initialDelay ?? 100,
        maxDelay: given.maxDelay ?? 5_000,
        maxAttempts: given.maxAttempts ?? Infinity,
      };
    }
  }

  static async open(options: ConnectOptions, reconnect: boolean): Promise<BridgeClient> {
    const client = new BridgeClient(options, reconnect);
    client.#attach(await dial(options, options.signal));
    return client;
  }

  get connected(): boolean {
    return this.#link !== undefined;
  }

  get pending(): number {
    let count = 0;
    for (const entry of this.#pending.values()) if (!entry.cancelled) count++;
    for (const entry of this.#queue) if (entry.id === undefined && !entry.cancelled) count++;
    return count;
  }

  request(payload: Record<string, unknown>, options?: RequestOptions): Promise<unknown> {
    return this.#send(payload, options ?? {}, true, true);
  }

  /**
   * Sends one request and resolves with the whole response object.
   * `announcedTimeout` is the `timeout_ms` sent when the deadline is kept by
   * the caller's signal rather than by `timeout`.
   */
  exchange(
    payload: Record<string, unknown>,
    options: RequestOptions,
    withId: boolean,
    announcedTimeout?: number,
  ): Promise<BridgeResponse> {
    return this.#send(payload, options, withId, false, announcedTimeout) as Promise<BridgeResponse>;
  }

  #send(
    payload: Record<string, unknown>,
    { signal, timeout = this.#options.timeout }: RequestOptions,
    withId: boolean,
    unwrap: boolean,
    announcedTimeout = timeout,
  ): Promise<unknown> {
    let body: string;
    const id = withId ? this.#nextId++ : undefined;
    try {
      signal?.throwIfAborted();
      body = encodeRequest(payload, this.#options.token, id, announcedTimeout);
    } catch (error) {
      return Promise.reject(error);
    }
    let entry!: Pending;
    const answer = new Promise((resolve, reject) => {
      entry = new Pending(id, unwrap, resolve, reject);
    });
    // The signal and the timeout run from now, reconnection wait included.
    if (signal !== undefined) {
      entry.signal = signal;
      entry.onAbort = () => this.#cancel(entry, signal.reason);
      signal.addEventListener("abort", entry.onAbort, { once: true });
    }
    if (timeout !== undefined) {
      entry.timer = setTimeout(() => this.#cancel(entry, new TimeoutError(timeout)), timeout);
    }
    const link = this.#link;
    if (link !== undefined) {
      this.#dispatch(link, entry, body);
    } else {
      this.#waitForLink().then(
        (link) => entry.cancelled || this.#dispatch(link, entry, body),
        (error) => entry.cancelled || entry.reject(error),
      );
    }
    return answer;
  }

  /** Registers the request for its answer and queues its frame. */
  #dispatch(link: Link, entry: Pending, body: string): void {
    if (entry.id !== undefined) this.#pending.set(entry.id, entry);
    if (entry.id === undefined || this.#echoesIds !== true) this.#queue.push(entry);
    link.writer.enqueue(body);
  }

  /**
   * A cancelled request frees its slot at once; its late answer, if one
   * comes, is dropped (by id, or by its place in the queue).
   */
  #cancel(entry: Pending, error: unknown): void {
    entry.cancelled = true;
    if (entry.id !== undefined) this.#pending.delete(entry.id);
    entry.reject(error);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeBackoff?.();
    const link = this.#link;
    if (link !== undefined) this.#detach(link, new ConnectionClosedError("Client closed"));
    await this.#linking;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #attach(conn: Deno.Conn): void {
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const writer = new FrameWriter(conn, Infinity);
    const link = { conn, writer };
    writer.onFailure = (error) =>
      this.#detach(link, new ConnectionClosedError(undefined, { cause: error }));
    this.#link = link;
    this.#readLoop(link);
  }

  async #readLoop(link: Link): Promise<void> {
    const reader = new ChunkReader(link.conn);
    const decoder = new FrameDecoder({ maxBytes: this.#options.maxBytes ?? DEFAULT_MAX_BYTES });
    let failure: unknown;
    try {
      while (true) {
        const chunk = await reader.read();
        if (chunk === null) break;
        decoder.push(chunk, (body) => this.#onResponse(body));
      }
    } catch (error) {
      failure = error;
    }
    if (failure instanceof FrameTooLargeError && this.#echoesIds !== true) {
      // Answers come in order: the oversized one is the oldest request's.
      this.#takeInOrder()?.reject(failure);
    }
    this.#detach(
      link,
      new ConnectionClosedError(
        failure === undefined || isPeerGone(failure)
          ? "Connection closed before the response arrived"
          : `Connection failed: ${failure instanceof Error ? failure.message : failure}`,
        { cause: failure },
      ),
    );
  }

  #onResponse(body: Uint8Array): void {
    let response: BridgeResponse;
    try {
      response = JSON.parse(decoder.decode(body));
    } catch {
      throw new SyntaxError("Cannot parse response: not JSON");
    }
    const id = response?.request_id;
    let entry: Pending | undefined;
    if (id !== undefined) {
      if (this.#echoesIds !== true) {
        this.#echoesIds = true;
        this.#queue = this.#queue.filter((queued) => queued.id === undefined);
      }
      entry = this.#pending.get(id);
      this.#pending.delete(id);
    } else {
      entry = this.#takeInOrder();
    }
    if (entry !== undefined && !entry.cancelled) entry.resolve(response);
  }

  #takeInOrder(): Pending | undefined {
    const entry = this.#queue.shift();
    if (entry?.id !== undefined) {
      // The server answered an id-carrying request without the id: it only
      // speaks Part A, and answers in order.
      this.#echoesIds = false;
      this.#pending.delete(entry.id);
    }
    return entry;
  }

  #detach(link: Link, error: ConnectionClosedError): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    closeQuietly(link.conn);
    const waiting = [...this.#pending.values(), ...this.#queue.filter((e) => e.id === undefined)];
    this.#pending.clear();
    this.#queue = [];
    this.#echoesIds = undefined;
    for (const entry of waiting) if (!entry.cancelled) entry.reject(error);
    if (!this.#closed && this.#reconnect !== undefined) {
      this.#linking = this.#redial();
    }
  }

  async #waitForLink(): Promise<Link> {
    const linking = this.#linking;
    if (this.#closed || linking === undefined) {
      throw new ConnectionClosedError(
        this.#closed ? "Client closed" : "Connection closed; reconnect is off",
      );
    }
    const link = await linking;
    if (link === undefined) throw new ConnectionClosedError("Client closed; gave up reconnecting");
    return link;
  }

  async #redial(): Promise<Link | undefined> {
    const { initialDelay, maxDelay, maxAttempts } = this.#reconnect!;
    for (let attempt = 0; attempt < maxAttempts && !this.#closed; attempt++) {
      const ceiling = Math.min(maxDelay, initialDelay * 2 ** attempt);
      // Full jitter between half and all of the ceiling spreads out clients
      // that lost the same server at the same moment.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ceiling * (0.5 + Math.random() / 2));
        this.#wakeBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeBackoff = undefined;
      if (this.#closed) break;
      try {
        this.#attach(await dial(this.#options));
        this.#linking = undefined;
        return this.#link;
      } catch {
        // Not back yet; wait longer.
      }
    }
    this.#closed = true;
    this.#linking = undefined;
    return undefined;
  }
}

/**
 * The JSON text of a request: the payload's keys, then the envelope's, as
 * the original client writes them. Spliced as text rather than spread into
 * a new object: it is the client's hot path.
 */
function encodeRequest(
  payload: Record<string, unknown>,
  token: string | undefined,
  requestId: RequestId | undefined,
  timeout: number | undefined,
): string {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new TypeError("Cannot send payload: expected an object");
  }
  for (const key of ENVELOPE_KEYS) {
    if (key in payload) {
      throw new TypeError(`Cannot send payload: key "${key}" is reserved for the envelope`);
    }
  }
  const text = JSON.stringify(payload);
  let envelope = `"protocol_version":"${PROTOCOL_VERSION}"`;
  if (token !== undefined) envelope = `"auth_token":${JSON.stringify(token)},${envelope}`;
  if (requestId !== undefined) envelope += `,"request_id":${JSON.stringify(requestId)}`;
  if (timeout !== undefined) envelope += `,"timeout_ms":${JSON.stringify(timeout)}`;
  // A payload whose toJSON() does not give an object has no keys to keep.
  if (text === undefined || text[0] !== "{") {
    throw new TypeError("Cannot send payload: it does not serialise to a JSON object");
  }
  return text === "{}" ? `{${envelope}}` : `${text.slice(0, -1)},${envelope}}`;
}

async function dial(options: ConnectionOptions, signal?: AbortSignal): Promise<Deno.Conn> {
  signal?.throwIfAborted();
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_PORT;
  const tls = options.tls;
  const connecting: Promise<Deno.Conn> = options.path !== undefined
    ? Deno.connect({ transport: "unix", path: options.path })
    : tls
    ? Deno.connectTls({ hostname, port, caCerts: tls === true ? undefined : tls.caCerts })
    : Deno.connect({ hostname, port });
  if (signal === undefined) return await connecting;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      connecting,
      new Promise<never>((_, reject) => {
        onAbort = () => {
          connecting.then(closeQuietly, () => {});
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}
