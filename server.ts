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
 * const { hostname, port } = server.addr as Deno.NetAddr;
 * assert.ok(hostname === "127.0.0.1");
 * const response = await send({ port }, { echo: "me" });
 * assert.ok((response.result as { echo: string }).echo === "me");
 * ```
 *
 * @module
 */

import { DEFAULT_MAX_BYTES, FrameDecoder } from "./codec.ts";
import {
  ConnectionClosedError,
  type ErrorCode,
  FrameTooLargeError,
  SocketBridgeError,
  TimeoutError,
} from "./errors.ts";
import {
  DEFAULT_PORT,
  ERROR_MESSAGES,
  PROTOCOL_VERSION,
  type RequestId,
  type WireErrorCode,
} from "./protocol.ts";
import { Allowlist, isLoopback, readGrantedEnv, TokenCheck } from "./_policy.ts";
import { ChunkReader, closeQuietly, isClosedByUs, isPeerGone } from "./_transport.ts";
import { FrameWriter } from "./_writer.ts";

/**
 * What the handler learns about a request besides its payload.
 *
 * @example Stopping work when the caller gives up
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RequestInfo, serve } from "@socketbridge/core";
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
 * assert.ok(server.addr.transport === "tcp");
 * ```
 */
export interface RequestInfo {
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
  /** The request's `request_id`, when it carried one. */
  readonly requestId?: RequestId;
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
 * @example A typed handler
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Handler } from "@socketbridge/core";
 * const double: Handler<{ n: number }, number> = (payload) => payload.n * 2;
 * assert.ok(double({ n: 21 }, {} as never) === 42);
 * ```
 */
export type Handler<Payload = Record<string, unknown>, Result = unknown> = (
  payload: Payload,
  info: RequestInfo,
) => Result | Promise<Result>;

/**
 * Where and how an error was seen, for {@linkcode ServeOptions.onError}.
 *
 * @example Counting error responses by code
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ErrorContext, serve } from "@socketbridge/core";
 * const counts = new Map<string, number>();
 * function onError(_error: unknown, { code }: ErrorContext): void {
 *   if (code !== undefined) counts.set(code, (counts.get(code) ?? 0) + 1);
 * }
 * await using server = serve({ port: 0, onError }, () => {
 *   throw new Error("nope");
 * });
 * assert.ok(server.addr.transport === "tcp");
 * ```
 */
export interface ErrorContext {
  /** The peer, when the error concerns one connection. */
  readonly remoteAddr?: Deno.Addr;
  /** The wire code answered, when the error became an error response. */
  readonly code?: ErrorCode;
}

/**
 * Options of {@linkcode serve}, shaped like `Deno.serve`'s.
 *
 * @example A hardened loopback server
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve, type ServeOptions } from "@socketbridge/core";
 * const options: ServeOptions = {
 *   port: 0,
 *   token: "s3cret",
 *   allowlist: ["127.0.0.1", "::1"],
 *   maxBytes: 64 * 1024,
 *   maxConnections: 64,
 *   frameTimeout: 5_000,
 *   handlerTimeout: 30_000,
 * };
 * await using server = serve(options, (payload) => payload);
 * assert.ok((server.addr as Deno.NetAddr).hostname === "127.0.0.1");
 * ```
 */
export interface ServeOptions {
  /**
   * The address to bind. A non-loopback address needs a `token` (or
   * `allowRemoteWithoutToken`).
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The TCP port; `0` picks a free one (read it back from `server.addr`).
   *
   * @default {7002}
   */
  port?: number;
  /**
   * Serve on this Unix domain socket path instead of TCP. The socket file is
   * made readable and writable by its owner only, a stale file left by a
   * dead server is replaced, and the file is removed on shutdown.
   */
  path?: string;
  /** PEM certificate chain: with `key`, serve TLS instead of plain TCP. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /**
   * The shared secret every request must carry as `auth_token`, compared in
   * constant time and never handed to the handler. An empty string means no
   * token.
   *
   * @default {the SOCKETBRIDGE_TOKEN environment variable, when readable}
   */
  token?: string;
  /**
   * Peer addresses or CIDR networks (IPv4, IPv6, IPv4-mapped IPv6) allowed to
   * connect. Others get `unauthorized host` before any byte of theirs is
   * read. Not applied to Unix sockets, whose file mode decides who connects.
   *
   * @default {the comma-separated SOCKETBRIDGE_ALLOWLIST, when readable; else everyone}
   */
  allowlist?: readonly string[];
  /**
   * The largest request body, in bytes, enforced from the length prefix.
   *
   * @default {SOCKETBRIDGE_MAX_BYTES when readable; else 1048576}
   */
  maxBytes?: number;
  /**
   * Allow binding a non-loopback address without a token. Anyone who can
   * reach the port can then call the handler.
   *
   * @default {false}
   */
  allowRemoteWithoutToken?: boolean;
  /**
   * Requests of one connection running at once. Past it the server reads no
   * further from that connection until one finishes, so TCP pushes back.
   *
   * @default {128}
   */
  maxInFlight?: number;
  /**
   * Connections open at once. A peer past it gets a `busy` error and is
   * closed; the others are unaffected.
   *
   * @default {1024}
   */
  maxConnections?: number;
  /**
   * Milliseconds a connection may sit with no frame in progress and nothing
   * in flight before it is closed; `0` never closes it.
   *
   * @default {0}
   */
  idleTimeout?: number;
  /**
   * Milliseconds in which the rest of a frame must arrive once its first
   * byte has; a slower peer is closed (the slowloris defence). `0` disables.
   *
   * @default {10000}
   */
  frameTimeout?: number;
  /**
   * Milliseconds a handler may run; past it its signal is aborted and the
   * caller gets a `timeout` error. `0` leaves only the caller's `timeout_ms`.
   *
   * @default {0}
   */
  handlerTimeout?: number;
  /**
   * Milliseconds `shutdown()` lets handlers in flight finish before aborting
   * them (their callers then get `shutting_down`).
   *
   * @default {5000}
   */
  gracePeriod?: number;
  /**
   * Bytes of answers a connection may have waiting to be written. Past it
   * the server stops reading from that peer until it reads its answers, and
   * closes it if they do not drain within `writeTimeout`.
   *
   * @default {4194304}
   */
  maxOutboundBytes?: number;
  /**
   * Milliseconds a peer that does not read its answers is given before it is
   * closed, once `maxOutboundBytes` is reached.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /** Aborting it shuts the server down gracefully. */
  signal?: AbortSignal;
  /** Called once the server listens, with its address. Prints nothing by default. */
  onListen?: (addr: Deno.Addr) => void;
  /**
   * Called for every failure worth knowing: each error response (with its
   * `code`), each handler throw (the thrown value), each connection that
   * failed. Never receives a request body or the token. Prints nothing by
   * default.
   */
  onError?: (error: unknown, context: ErrorContext) => void;
}

/**
 * Counters of a running server, from {@linkcode Server.stats}.
 *
 * @example Reading the counters
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0, token: "t" }, () => 1);
 * await send({ port: (server.addr as Deno.NetAddr).port, token: "wrong" }, {});
 * const stats = server.stats();
 * assert.ok(stats.frames.in === 1 && stats.errors.unauthorized === 1);
 * ```
 */
export interface ServerStats {
  /** Connections open now and accepted in all. */
  connections: { open: number; total: number };
  /** Request frames read and response frames written. */
  frames: { in: number; out: number };
  /** Bytes read and written, prefixes included. */
  bytes: { in: number; out: number };
  /** Error responses sent, by code. */
  errors: Partial<Record<WireErrorCode, number>>;
}

/**
 * A running server, returned by {@linkcode serve}.
 *
 * @example Shutting down gracefully
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@socketbridge/core";
 * const server = serve({ port: 0 }, () => "ok");
 * assert.ok(server.addr.transport === "tcp");
 * await server.shutdown();
 * await server.finished;
 * ```
 */
export interface Server extends AsyncDisposable {
  /** The bound address (read the port from it after `port: 0`). */
  readonly addr: Deno.Addr;
  /** Resolves once the server has shut down and every connection closed. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, answers requests that arrive meanwhile with
   * `shutting_down`, lets handlers in flight finish within the grace period,
   * flushes every answer and closes. Idempotent.
   *
   * @returns {@linkcode Server.finished}.
   */
  shutdown(): Promise<void>;
  /** A snapshot of the server's counters. */
  stats(): ServerStats;
}

const MAX_DISCARD_FACTOR = 4;
const LINGER_MS = 1_000;
const HTTP_METHODS = [
  "GET ",
  "POST",
  "PUT ",
  "HEAD",
  "DELE",
  "OPTI",
  "PATC",
  "CONN",
  "TRAC",
  "PRI ",
].map((method) =>
  ((method.charCodeAt(0) << 24) | (method.charCodeAt(1) << 16) |
    (method.charCodeAt(2) << 8) | method.charCodeAt(3)) >>> 0
);
const HTTP_REFUSAL_TEXT =
  "This port speaks SocketBridge (length-prefixed JSON frames), not HTTP.\n";
const HTTP_REFUSAL = new TextEncoder().encode(
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${HTTP_REFUSAL_TEXT.length}\r\nConnection: close\r\n\r\n${HTTP_REFUSAL_TEXT}`,
);
const OK_PREFIX = `{"status":"ok","message":"received","protocol_version":"${PROTOCOL_VERSION}"`;
const lenientDecoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes UTF-8, throwing on invalid bytes. The lenient decoder is the fast
 * path; only text that holds a replacement character (bad input, or a real
 * U+FFFD) is decoded again strictly to tell the two apart.
 */
function decodeUtf8(bytes: Uint8Array): string {
  const text = lenientDecoder.decode(bytes);
  return text.includes("\uFFFD") ? strictDecoder.decode(bytes) : text;
}

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
 * @param options Where to listen and what to enforce.
 * @param handler Answers each valid request.
 * @returns The running server.
 * @throws {TypeError} On a non-loopback `hostname` without a token (unless
 * `allowRemoteWithoutToken`), a bad allowlist entry or a bad option.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
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
 * const port = (server.addr as Deno.NetAddr).port;
 * const response = await send({ port, token: "s3cret" }, { text: "hi" });
 * assert.ok((response.result as { echoed: string }).echoed === "hi");
 * ```
 */
export function serve<Payload = Record<string, unknown>, Result = unknown>(
  options: ServeOptions,
  handler: Handler<Payload, Result>,
): Server {
  return new BridgeServer(options, handler as Handler<unknown, unknown>);
}

interface Settings {
  readonly maxBytes: number;
  readonly token?: TokenCheck;
  readonly allowlist?: Allowlist;
  readonly maxInFlight: number;
  readonly maxConnections: number;
  readonly idleTimeout: number;
  readonly frameTimeout: number;
  readonly handlerTimeout: number;
  readonly gracePeriod: number;
  readonly maxOutboundBytes: number;
  readonly writeTimeout: number;
}

class BridgeServer implements Server {
  readonly addr: Deno.Addr;
  readonly finished: Promise<void>;
  readonly #settings: Settings;
  readonly #handler: Handler<unknown, unknown>;
  readonly #onError?: (error: unknown, context: ErrorContext) => void;
  readonly #sessions = new Set<Session>();
  readonly #stats: ServerStats = {
    connections: { open: 0, total: 0 },
    frames: { in: 0, out: 0 },
    bytes: { in: 0, out: 0 },
    errors: {},
  };
  #listener?: Deno.Listener;
  #shuttingDown = false;
  #shutdown?: Promise<void>;

  constructor(options: ServeOptions, handler: Handler<unknown, unknown>) {
    this.#handler = handler;
    this.#onError = options.onError;
    this.#settings = resolveSettings(options);
    const listener = listen(options, this.#settings.token !== undefined);
    if (listener !== undefined) {
      this.#listener = listener;
      this.addr = listener.addr;
      options.onListen?.(this.addr);
      this.finished = this.#acceptLoop(listener);
    } else {
      // A socket file is in the way: find out whether a server still owns it.
      const path = options.path!;
      this.addr = { transport: "unix", path };
      this.finished = this.#acceptLoop(replaceStaleSocket(path), options.onListen);
      this.finished.catch((error) => this.report(error, {}));
    }
    const signal = options.signal;
    if (signal?.aborted) {
      this.shutdown();
    } else {
      signal?.addEventListener("abort", () => this.shutdown(), { once: true });
    }
  }

  get settings(): Settings {
    return this.#settings;
  }

  get handler(): Handler<unknown, unknown> {
    return this.#handler;
  }

  get counters(): ServerStats {
    return this.#stats;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  stats(): ServerStats {
    return structuredClone(this.#stats);
  }

  report(error: unknown, context: ErrorContext): void {
    if (context.code !== undefined && context.code in ERROR_MESSAGES) {
      const code = context.code as WireErrorCode;
      this.#stats.errors[code] = (this.#stats.errors[code] ?? 0) + 1;
    }
    try {
      this.#onError?.(error, context);
    } catch {
      // A throwing hook must not take a connection down with it.
    }
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutdownNow();
    return this.#shutdown;
  }

  async #shutdownNow(): Promise<void> {
    this.#shuttingDown = true;
    if (this.#listener !== undefined) closeQuietly(this.#listener as unknown as Deno.Conn);
    for (const session of this.#sessions) session.beginShutdown();
    const grace = setTimeout(() => {
      for (const session of this.#sessions) session.abortHandlers("shutting_down");
    }, this.#settings.gracePeriod);
    try {
      await this.finished;
    } finally {
      clearTimeout(grace);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  async #acceptLoop(
    bound: Deno.Listener | Promise<Deno.Listener>,
    onListen?: (addr: Deno.Addr) => void,
  ): Promise<void> {
    const listener = await bound;
    this.#listener = listener;
    if (this.#shuttingDown) {
      closeQuietly(listener as unknown as Deno.Conn);
      removeSocketFile((this.addr as Deno.UnixAddr).path);
      return;
    }
    onListen?.(this.addr);
    // Each admission until its connection is closed: what finishing awaits.
    const admitted = new Set<Promise<void>>();
    try {
      while (true) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch (error) {
          if (isClosedByUs(error) || this.#shuttingDown) break;
          this.report(error, {});
          continue;
        }
        const admission = this.#admit(conn);
        admitted.add(admission);
        admission.finally(() => admitted.delete(admission));
      }
    } finally {
      closeQuietly(listener as unknown as Deno.Conn);
    }
    await Promise.all(admitted);
    const path = this.addr.transport === "unix" ? this.addr.path : undefined;
    if (path !== undefined) removeSocketFile(path);
  }

  async #admit(conn: Deno.Conn): Promise<void> {
    const counters = this.#stats.connections;
    counters.total++;
    const session = new Session(this, conn);
    const remote = conn.remoteAddr;
    if (
      this.#settings.allowlist !== undefined && remote.transport !== "unix" &&
      !this.#settings.allowlist.allows((remote as Deno.NetAddr).hostname)
    ) {
      await session.refuse("unauthorized_host");
      return;
    }
    if (this.#sessions.size >= this.#settings.maxConnections) {
      await session.refuse("busy");
      return;
    }
    if (this.#shuttingDown) {
      await session.refuse("shutting_down");
      return;
    }
    this.#sessions.add(session);
    counters.open++;
    try {
      await session.run();
    } finally {
      counters.open--;
      this.#sessions.delete(session);
    }
  }
}

function resolveSettings(options: ServeOptions): Settings {
  const tokenText = options.token ?? readGrantedEnv("SOCKETBRIDGE_TOKEN") ?? "";
  const allowText = options.allowlist ??
    readGrantedEnv("SOCKETBRIDGE_ALLOWLIST")?.split(",");
  const envMaxBytes = readGrantedEnv("SOCKETBRIDGE_MAX_BYTES");
  const maxBytes = options.maxBytes ??
    (envMaxBytes === undefined ? DEFAULT_MAX_BYTES : Number(envMaxBytes));
  const entries = allowText?.map((entry) => entry.trim()).filter((e) => e !== "");
  return {
    maxBytes: count("maxBytes", maxBytes, 0xffff_ffff),
    token: tokenText === "" ? undefined : new TokenCheck(tokenText),
    allowlist: entries === undefined ? undefined : new Allowlist(entries),
    maxInFlight: count("maxInFlight", options.maxInFlight ?? 128, 1e9, 1),
    maxConnections: count("maxConnections", options.maxConnections ?? 1024, 1e9, 1),
    idleTimeout: count("idleTimeout", options.idleTimeout ?? 0),
    frameTimeout: count("frameTimeout", options.frameTimeout ?? 10_000),
    handlerTimeout: count("handlerTimeout", options.handlerTimeout ?? 0),
    gracePeriod: count("gracePeriod", options.gracePeriod ?? 5_000),
    maxOutboundBytes: count("maxOutboundBytes", options.maxOutboundBytes ?? 4_194_304),
    writeTimeout: count("writeTimeout", options.writeTimeout ?? 30_000, 2 ** 31 - 1, 1),
  };
}

function count(name: string, value: number, max = 2 ** 31 - 1, min = 0): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `Cannot use ${name} ${value}: expected a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

/** Binds the listener; `undefined` when a Unix socket file is in the way. */
function listen(options: ServeOptions, hasToken: boolean): Deno.Listener | undefined {
  if (options.path !== undefined) {
    try {
      return bindUnix(options.path);
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) return undefined;
      throw error;
    }
  }
  const hostname = options.hostname ?? "127.0.0.1";
  const port = count("port", options.port ?? DEFAULT_PORT, 65_535);
  if (!isLoopback(hostname) && !hasToken && !options.allowRemoteWithoutToken) {
    throw new TypeError(
      `Cannot serve on ${hostname} without a token: anyone who reaches it could call the handler. ` +
        "Set token (or SOCKETBRIDGE_TOKEN), or allowRemoteWithoutToken: true to accept that",
    );
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("Cannot serve TLS: cert and key go together");
  }
  if (options.cert !== undefined && options.key !== undefined) {
    return Deno.listenTls({ hostname, port, cert: options.cert, key: options.key });
  }
  return Deno.listen({ hostname, port });
}

function bindUnix(path: string): Deno.Listener {
  const listener = Deno.listen({ transport: "unix", path });
  // Owner only: other local users cannot connect at all.
  Deno.chmodSync(path, 0o600);
  return listener;
}

/**
 * Binds `path` once the file there is shown to be stale: a socket no server
 * answers on (a server that died without removing it). A live server's
 * socket, or a file that is not a socket, is left alone.
 */
async function replaceStaleSocket(path: string): Promise<Deno.Listener> {
  try {
    const probe = await Deno.connect({ transport: "unix", path });
    probe.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
    if (!Deno.lstatSync(path).isSocket) {
      throw new Deno.errors.AddrInUse(
        `Cannot serve on ${path}: a file that is not a socket is there`,
      );
    }
    Deno.removeSync(path);
    return bindUnix(path);
  }
  throw new Deno.errors.AddrInUse(`Cannot serve on ${path}: another server is listening there`);
}

function removeSocketFile(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Already gone, or not ours to remove.
  }
}

interface Envelope {
  payload: Record<string, unknown>;
  requestId?: RequestId;
  timeoutMs?: number;
}

class Session {
  readonly #server: BridgeServer;
  readonly #settings: Settings;
  readonly #conn: Deno.Conn;
  readonly #remoteAddr: Deno.Addr;
  readonly #writer: FrameWriter;
  readonly #reader: ChunkReader;
  readonly #decoder: FrameDecoder;
  readonly #handlers = new Set<AbortController>();
  #inFlight = 0;
  // Frames read past maxInFlight wait here, in order, for a free slot.
  #backlog: Uint8Array[] = [];
  #backlogHead = 0;
  // The answer of the last request without an id, and how many such
  // answers are still to come: later id-less answers wait their turn.
  #ordered: Promise<unknown> = Promise.resolve();
  #orderedPending = 0;
  #wake?: () => void;
  #framesRead = 0;
  #draining = false;
  // Ending: input is dropped; `#ended` runs the FIN once nothing is in flight.
  #ending = false;
  #last?: Uint8Array;
  #ended?: Promise<void>;
  #discarded = 0;
  #closed = false;
  #timer?: ReturnType<typeof setTimeout>;
  #timerKind?: "frame" | "idle" | "ending";

  constructor(server: BridgeServer, conn: Deno.Conn) {
    this.#server = server;
    this.#settings = server.settings;
    this.#conn = conn;
    this.#remoteAddr = conn.remoteAddr;
    this.#writer = new FrameWriter(conn, this.#settings.maxOutboundBytes);
    this.#writer.onWritten = (bytes) => this.#server.counters.bytes.out += bytes;
    this.#writer.onFailure = (error) => {
      if (!isPeerGone(error)) this.#report(error);
      this.#close();
    };
    this.#reader = new ChunkReader(conn);
    this.#decoder = new FrameDecoder({
      maxBytes: this.#settings.maxBytes,
      onOversized: (size) => this.#oversized(size),
    });
  }

  /** Answers a peer that may not be served with one error, then ends it. */
  async refuse(code: WireErrorCode): Promise<void> {
    this.#send(this.#errorBody(code, undefined));
    this.#endAfterAnswers();
    await this.run();
  }

  async run(): Promise<void> {
    try {
      if ("setNoDelay" in this.#conn) (this.#conn as Deno.TcpConn).setNoDelay(true);
      this.#arm();
      // While draining for a shutdown it reads on, answering shutting_down,
      // until its last handler finishes; once ending, it reads only to drop.
      while (!this.#closed) {
        if (!this.#ending && (this.#backlog.length > this.#backlogHead || this.#writer.full)) {
          if (!(await this.#waitForRoom())) break;
          continue;
        }
        const value = await this.#reader.read();
        if (value === null) break;
        this.#server.counters.bytes.in += value.length;
        if (this.#ending) {
          // Closing: what the peer still sends is read only to be dropped.
          this.#discarded += value.length;
          if (this.#discarded > this.#settings.maxBytes) this.#close();
          continue;
        }
        const before = this.#framesRead;
        this.#decoder.push(value, (body) => this.#admitFrame(body));
        this.#arm(this.#framesRead !== before);
        if (this.#draining && this.#inFlight === 0 && this.#decoder.idle) this.#endAfterAnswers();
      }
    } catch (error) {
      // A reset or a failed TLS handshake: the peer is gone, stop its handlers.
      if (!isPeerGone(error)) this.#report(error);
      this.abortHandlers("connection_closed");
    }
    await this.#finish();
  }

  beginShutdown(): void {
    this.#draining = true;
    // Stop a read that waits for a peer with nothing in flight.
    if (this.#inFlight === 0 && this.#decoder.idle) this.#endAfterAnswers();
  }

  abortHandlers(why: "shutting_down" | "connection_closed"): void {
    if (this.#handlers.size === 0) return;
    const reason = why === "shutting_down"
      ? new SocketBridgeError("shutting_down", "Server is shutting down: grace period over")
      : new ConnectionClosedError("Peer connection closed; nobody waits for this answer");
    for (const controller of this.#handlers) controller.abort(reason);
  }

  /**
   * Ends the connection so the peer still reads every answer: closing a
   * socket with unread input makes the kernel reset it, and a reset drops
   * the answers still on their way. From this call on, input is read only to
   * be dropped (at most maxBytes). Once every request in flight is answered
   * and written (then `last`, raw, if given), our side is ended (FIN), and
   * the socket closes LINGER_MS later, or when the peer closes. The whole
   * ending is bounded by writeTimeout + LINGER_MS for a peer that reads
   * nothing.
   */
  #endAfterAnswers(last?: Uint8Array): void {
    if (this.#closed || this.#ending) return;
    this.#last = last;
    this.#ending = true;
    this.#setTimer("ending", this.#settings.writeTimeout + LINGER_MS);
    this.#finishEnding();
  }

  /** The second half of #endAfterAnswers, once nothing is in flight. */
  #finishEnding(): void {
    if (!this.#ending || this.#inFlight > 0 || this.#ended !== undefined) return;
    this.#ended = (async () => {
      await this.#writer.drained();
      if (this.#closed) return;
      if (this.#last !== undefined) await this.#conn.write(this.#last).catch(() => 0);
      await this.#conn.closeWrite().catch(() => this.#close());
      if (!this.#closed) this.#setTimer("ending", LINGER_MS);
    })();
  }

  async #finish(): Promise<void> {
    // An ending keeps its timer: it bounds the wait for a peer that reads nothing.
    if (!this.#ending) clearTimeout(this.#timer);
    // Every accepted request gets its answer before the socket closes.
    while (this.#inFlight > 0 && !this.#closed) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    await this.#writer.drained();
    await this.#ended;
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    closeQuietly(this.#conn);
    this.abortHandlers("connection_closed");
    this.#wake?.();
  }

  /** Waits until a handler finishes or the outbound queue drains. */
  async #waitForRoom(): Promise<boolean> {
    clearTimeout(this.#timer);
    if (this.#writer.full) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        this.#writer.ready().then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), this.#settings.writeTimeout);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.#report(new SocketBridgeError("busy", "Peer does not read its answers; closing"));
        this.#close();
        return false;
      }
    } else {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    this.#arm();
    return !this.#closed;
  }

  /**
   * Sets the one timer a connection needs: the frame deadline while a frame
   * is arriving (restarted when a frame completes), else the idle deadline
   * while nothing is in flight.
   */
  #arm(frameCompleted = false): void {
    if (this.#ending) return;
    const { frameTimeout, idleTimeout } = this.#settings;
    if (!this.#decoder.idle && frameTimeout > 0) {
      if (this.#timerKind === "frame" && !frameCompleted) return;
      this.#setTimer("frame", frameTimeout);
    } else if (this.#decoder.idle && this.#inFlight === 0 && idleTimeout > 0) {
      this.#setTimer("idle", idleTimeout);
    } else {
      clearTimeout(this.#timer);
      this.#timerKind = undefined;
    }
  }

  /** Sets the one timer; "ending" closes quietly (its linger ran out). */
  #setTimer(kind: "frame" | "idle" | "ending", ms: number): void {
    clearTimeout(this.#timer);
    this.#timerKind = kind;
    this.#timer = setTimeout(() => {
      this.#timerKind = undefined;
      if (kind === "ending") return this.#close();
      if (kind === "idle" && (this.#inFlight > 0 || this.#writer.bufferedBytes > 0)) return;
      this.#report(
        new SocketBridgeError(
          "timeout",
          kind === "frame"
            ? `Frame incomplete after ${ms} ms; closing`
            : `Connection idle for ${ms} ms; closing`,
        ),
      );
      this.#close();
    }, ms);
  }

  #oversized(size: number): void {
    if (this.#framesRead === 0 && HTTP_METHODS.includes(size)) {
      this.#report(new SocketBridgeError("invalid_message", "Peer speaks HTTP; closing"));
      this.#endAfterAnswers(HTTP_REFUSAL);
      return;
    }
    if (this.#framesRead === 0 && (size >>> 16) >= 0x1603 && (size >>> 16) <= 0x1604) {
      this.#report(
        new SocketBridgeError("invalid_message", "Peer opened with a TLS handshake; closing"),
      );
      this.#endAfterAnswers();
      return;
    }
    this.#framesRead++;
    this.#server.counters.frames.in++;
    this.#sendError(
      "payload_too_large",
      undefined,
      undefined,
      new FrameTooLargeError(size, this.#settings.maxBytes),
    );
    // Small excess is skipped in place and the connection goes on, as the
    // original does; a prefix far past the cap is not worth reading: close.
    if (size > this.#settings.maxBytes * MAX_DISCARD_FACTOR) this.#endAfterAnswers();
  }

  #admitFrame(body: Uint8Array): void {
    if (this.#backlog.length > this.#backlogHead || this.#inFlight >= this.#settings.maxInFlight) {
      // The body may be a view of the read buffer, reused by the next read.
      this.#backlog.push(body.slice());
    } else {
      this.#onFrame(body);
    }
  }

  #onFrame(body: Uint8Array): void {
    this.#framesRead++;
    this.#server.counters.frames.in++;
    let message: unknown;
    try {
      message = JSON.parse(decodeUtf8(body));
    } catch {
      this.#sendError("invalid_json", undefined);
      return;
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      this.#sendError("invalid_message", undefined);
      return;
    }
    const envelope = this.#open(message as Record<string, unknown>);
    if (envelope === undefined) return;
    if (this.#draining || this.#server.shuttingDown) {
      this.#sendError("shutting_down", envelope.requestId);
      return;
    }
    this.#dispatch(envelope);
  }

  /** Runs the envelope checks; answers and returns undefined on failure. */
  #open(message: Record<string, unknown>): Envelope | undefined {
    const {
      auth_token: token,
      protocol_version: version,
      request_id: requestId,
      timeout_ms: timeoutMs,
      ...payload
    } = message;
    if (requestId !== undefined && typeof requestId !== "string" && typeof requestId !== "number") {
      this.#sendError(
        "invalid_message",
        undefined,
        "invalid message: request_id must be a string or a number",
      );
      return undefined;
    }
    if (this.#settings.token !== undefined && !this.#settings.token.matches(token)) {
      this.#sendError("unauthorized", requestId);
      return undefined;
    }
    if (version !== undefined && version !== PROTOCOL_VERSION) {
      this.#sendError("protocol_mismatch", requestId);
      return undefined;
    }
    if (
      timeoutMs !== undefined &&
      (typeof timeoutMs !== "number" || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs))
    ) {
      this.#sendError(
        "invalid_message",
        requestId,
        "invalid message: timeout_ms must be a non-negative number",
      );
      return undefined;
    }
    return { payload, requestId, timeoutMs };
  }

  #dispatch(envelope: Envelope): void {
    if (envelope.requestId === undefined && this.#orderedPending > 0) {
      // Requests without an id run one after another, answered in order.
      this.#inOrder(() => this.#execute(envelope));
      return;
    }
    const answer = this.#execute(envelope);
    if (typeof answer === "string") this.#send(answer);
    else if (envelope.requestId === undefined) this.#inOrder(() => answer);
    else this.#track(answer);
  }

  /** Answers after every earlier request without an id is answered. */
  #inOrder(answer: () => string | Promise<string>): void {
    this.#orderedPending++;
    const body = this.#ordered.then(answer);
    this.#ordered = body;
    this.#track(body.finally(() => this.#orderedPending--));
  }

  #track(answer: Promise<string>): void {
    this.#inFlight++;
    answer.then((body) => {
      this.#send(body);
      this.#inFlight--;
      this.#settled();
    });
  }

  #settled(): void {
    const backlog = this.#backlog;
    while (this.#backlogHead < backlog.length && this.#inFlight < this.#settings.maxInFlight) {
      this.#onFrame(backlog[this.#backlogHead++]);
    }
    if (this.#backlogHead === backlog.length) {
      this.#backlog = [];
      this.#backlogHead = 0;
    }
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    if (this.#inFlight === 0) {
      if (this.#draining && this.#decoder.idle) this.#endAfterAnswers();
      this.#finishEnding();
      this.#arm();
    }
  }

  /**
   * Runs the handler. A handler that returns at once is answered at once,
   * with no promise, timer or AbortController (the signal is made only if the
   * handler reads it). One that returns a promise runs under its deadline,
   * and the returned promise never rejects.
   */
  #execute({ payload, requestId, timeoutMs }: Envelope): string | Promise<string> {
    const info = new HandlerInfo(this.#remoteAddr, requestId);
    let result: unknown;
    try {
      result = this.#server.handler(payload, info);
    } catch (error) {
      return this.#handlerFailed(error, requestId);
    }
    if (!isThenable(result)) return this.#okBody(result, requestId);
    const running = HandlerInfo.controllerOf(info);
    const signal = running.signal;
    const handlerTimeout = this.#settings.handlerTimeout;
    const deadline = handlerTimeout > 0
      ? Math.min(handlerTimeout, timeoutMs ?? Infinity)
      : timeoutMs;
    this.#handlers.add(running);
    return new Promise<string>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      const settle = (answer: () => string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#handlers.delete(running);
        resolve(answer());
      };
      const onAbort = (): void => {
        const code = signal.reason instanceof TimeoutError ? "timeout" : "shutting_down";
        settle(() => this.#errorBody(code, requestId));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort);
      if (deadline !== undefined) {
        timer = setTimeout(() => running.abort(new TimeoutError(deadline)), deadline);
      }
      Promise.resolve(result).then(
        (value) => settle(() => this.#okBody(value, requestId)),
        (error) => settle(() => this.#handlerFailed(error, requestId)),
      );
    });
  }

  #handlerFailed(error: unknown, requestId: RequestId | undefined): string {
    this.#report(error, "handler_error");
    return this.#errorBody("handler_error", requestId, `handler error: ${describe(error)}`);
  }

  /** The JSON text of an `ok` answer, written out by hand: it is the hot path. */
  #okBody(result: unknown, requestId: RequestId | undefined): string {
    let text = OK_PREFIX;
    if (requestId !== undefined) text += `,"request_id":${JSON.stringify(requestId)}`;
    try {
      const resultText = JSON.stringify(result);
      if (resultText !== undefined) text += `,"result":${resultText}`;
    } catch (error) {
      this.#report(error, "handler_error");
      return this.#errorBody(
        "handler_error",
        requestId,
        `handler error: result is not JSON-serializable: ${describe(error)}`,
      );
    }
    return `${text}}`;
  }

  #errorBody(
    code: WireErrorCode,
    requestId: RequestId | undefined,
    message: string = ERROR_MESSAGES[code],
    cause?: Error,
  ): string {
    // Handler failures are reported where they are caught, with the thrown value.
    if (code !== "handler_error") this.#report(cause ?? new SocketBridgeError(code, message), code);
    return JSON.stringify({
      status: "error",
      message,
      code,
      protocol_version: PROTOCOL_VERSION,
      request_id: requestId,
    });
  }

  /** Answers an error at once, or in turn when the request had no id. */
  #sendError(
    code: WireErrorCode,
    requestId: RequestId | undefined,
    message?: string,
    cause?: Error,
  ): void {
    const body = this.#errorBody(code, requestId, message, cause);
    if (requestId !== undefined || this.#orderedPending === 0) this.#send(body);
    else this.#inOrder(() => body);
  }

  #send(body: string): void {
    if (this.#writer.enqueue(body)) this.#server.counters.frames.out++;
  }

  #report(error: unknown, code?: ErrorCode): void {
    this.#server.report(error, { remoteAddr: this.#remoteAddr, code });
  }
}

/**
 * The handler's {@linkcode RequestInfo}. A class rather than an object
 * literal with a getter: a literal's getter is a fresh closure each time, so
 * every request would get its own hidden class (allocated in old space),
 * which grew the heap several-fold under load. The AbortController is made
 * only when the handler reads `signal` or runs asynchronously.
 */
class HandlerInfo implements RequestInfo {
  readonly remoteAddr: Deno.Addr;
  readonly requestId?: RequestId;
  #controller?: AbortController;

  constructor(remoteAddr: Deno.Addr, requestId: RequestId | undefined) {
    this.remoteAddr = remoteAddr;
    this.requestId = requestId;
  }

  get signal(): AbortSignal {
    return HandlerInfo.controllerOf(this).signal;
  }

  static controllerOf(info: HandlerInfo): AbortController {
    info.#controller ??= new AbortController();
    return info.#controller;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
