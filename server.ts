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

import { ERROR_MESSAGES, SERVER_NAME, type WireErrorCode } from "./protocol.ts";
import { MemoryBudget } from "./_server/budget.ts";
import { IdempotencyStore } from "./_server/idempotency.ts";
import { StatsBook } from "./_server/type_stats.ts";
import { EventHub } from "./_server/event_hub.ts";
import type { Handler, RequestHandler } from "./_server/handler_info.ts";
import { Session } from "./_server/session.ts";
import { type AnyServeOptions, resolveSettings, type Settings } from "./_server/settings.ts";
import type { ErrorContext, ServeTcpOptions, ServeUnixOptions } from "./_server/options.ts";
import type { Server, ServerStats } from "./_server/types.ts";
import { bindUnix, type UnixBinding } from "./_server/unix.ts";
import { listenTcp } from "./_server/listen.ts";
import { publishDiscovery } from "./_shared/discovery.ts";
import { closeQuietly, isClosedByUs } from "./_shared/transport.ts";
import { startTimer, type TimerHandle } from "./_shared/timers.ts";
import { registerCore } from "./_server/host.ts";

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

// After a grace period the answers get this long to go out before every
// connection is closed, whatever its peer does.
const SHUTDOWN_FLUSH_MS = 1_000;
// Accept failures (out of file descriptors, say) back off up to this long.
const MAX_ACCEPT_BACKOFF_MS = 1_000;

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

class BridgeServer implements Server {
  readonly addr: Deno.Addr;
  readonly finished: Promise<void>;
  readonly settings: Settings;
  readonly handler: RequestHandler;
  readonly budget: MemoryBudget;
  readonly idempotency: IdempotencyStore;
  readonly typeStats: StatsBook = new StatsBook();
  readonly hub: EventHub = new EventHub();
  readonly #onError?: (error: unknown, context: ErrorContext) => void;
  readonly #sessions = new Set<Session>();
  // Sessions yet to complete an authorised request, oldest first.
  readonly #unproven = new Set<Session>();
  readonly counters = {
    connections: { open: 0, total: 0 },
    frames: { in: 0, out: 0 },
    bytes: { in: 0, out: 0 },
    errors: {} as Partial<Record<WireErrorCode, number>>,
    requests: { dropped: 0 },
  };
  readonly #listener: Deno.Listener;
  readonly #unix?: UnixBinding;
  #shuttingDown = false;
  #shutdown?: Promise<void>;
  #unpublish?: () => void;

  constructor(options: AnyServeOptions, handler: RequestHandler) {
    this.handler = handler;
    this.#onError = options.onError;
    // Every option is checked before anything is bound.
    this.settings = resolveSettings(options);
    this.budget = new MemoryBudget(this.settings.maxBufferedBytes);
    this.idempotency = new IdempotencyStore(
      this.settings.idempotencyWindow,
      this.settings.maxIdempotencyKeys,
      (bytes) => this.budget.adjust(bytes),
    );
    const { listen, discovery } = this.settings;
    if (listen.transport === "unix") {
      this.#unix = bindUnix(listen.path);
      this.#listener = this.#unix.listener;
    } else {
      this.#listener = listenTcp(listen);
    }
    this.addr = this.#listener.addr;
    if (discovery !== undefined) {
      try {
        this.#unpublish = publishDiscovery(
          discovery.name,
          this.addr,
          discovery.tls,
          discovery.token,
        );
      } catch (error) {
        this.#closeListener();
        this.#unix?.release();
        throw error;
      }
    }
    options.onListen?.(this.addr);
    this.finished = this.#acceptLoop();
    registerCore(this, this);
    const signal = options.signal;
    if (signal?.aborted) {
      this.shutdown();
    } else if (signal !== undefined) {
      const onAbort = () => this.shutdown();
      signal.addEventListener("abort", onAbort, { once: true });
      // Done with the signal once finished: a listener left on it would keep
      // a long AbortSignal.timeout() (and the process) alive for nothing.
      this.finished.finally(() => signal.removeEventListener("abort", onAbort));
    }
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  get crowded(): boolean {
    return this.#sessions.size > 1;
  }

  statsReport(include: (type: string) => boolean): Record<string, unknown> {
    const { published, delivered, dropped } = this.hub.counters;
    return {
      server: SERVER_NAME,
      started: this.typeStats.started.toISOString(),
      connections: this.counters.connections.open,
      types: this.typeStats.reports(include),
      events: { published, delivered, dropped },
    };
  }

  stats(): ServerStats {
    return {
      ...structuredClone(this.counters),
      events: { ...this.hub.counters },
      memory: {
        buffered: this.budget.used,
        limit: this.budget.limit,
        evicted: this.budget.evicted,
      },
    };
  }

  publish(topic: string, data?: unknown): number {
    return this.hub.publish(topic, data);
  }

  ref(): void {
    this.#listener.ref();
  }

  unref(): void {
    this.#listener.unref();
  }

  report(error: unknown, context: ErrorContext): void {
    if (context.code !== undefined && context.code in ERROR_MESSAGES) {
      const code = context.code as WireErrorCode;
      this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
    }
    try {
      this.#onError?.(error, context);
    } catch {
      // A throwing hook must not take a connection down with it.
    }
  }

  proven(session: Session): void {
    this.#unproven.delete(session);
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutdownNow();
    return this.#shutdown;
  }

  async #shutdownNow(): Promise<void> {
    this.#shuttingDown = true;
    this.#closeListener();
    for (const session of this.#sessions) session.beginShutdown();
    let flush: TimerHandle;
    // Past the grace period nothing queued starts and handlers are aborted;
    // a second later every connection is closed, read or not. An endless
    // grace period (Infinity) arms nothing: shutdown waits for the handlers.
    const grace = startTimer(() => {
      for (const session of this.#sessions) session.abandon();
      flush = setTimeout(() => {
        for (const session of this.#sessions) session.forceClose();
      }, SHUTDOWN_FLUSH_MS);
    }, this.settings.gracePeriod);
    try {
      await this.finished;
    } finally {
      clearTimeout(grace);
      clearTimeout(flush);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  async #acceptLoop(): Promise<void> {
    const listener = this.#listener;
    // Each admission until its connection is closed: what finishing awaits.
    const admitted = new Set<Promise<void>>();
    let backoff = 0;
    try {
      while (!this.#shuttingDown) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
          backoff = 0;
        } catch (error) {
          if (isClosedByUs(error) || this.#shuttingDown) break;
          this.report(error, {});
          // Out of file descriptors, say: retrying at once would spin.
          backoff = Math.min(MAX_ACCEPT_BACKOFF_MS, Math.max(5, backoff * 2));
          await new Promise((resolve) => setTimeout(resolve, backoff));
          continue;
        }
        const admission = this.#admit(conn);
        admitted.add(admission);
        admission.finally(() => admitted.delete(admission));
      }
    } finally {
      this.#closeListener();
    }
    await Promise.all(admitted);
    this.#unix?.release();
    this.#unpublish?.();
  }

  #closeListener(): void {
    if (this.#unix !== undefined) this.#unix.close();
    else closeQuietly(this.#listener as unknown as Deno.Conn);
  }

  async #admit(conn: Deno.Conn): Promise<void> {
    const counters = this.counters.connections;
    counters.total++;
    const session = new Session(this, conn);
    const remote = conn.remoteAddr;
    if (
      this.settings.allowlist !== undefined && remote.transport !== "unix" &&
      !this.settings.allowlist.allows((remote as Deno.NetAddr).hostname)
    ) {
      return await session.refuse("unauthorized_host");
    }
    if (this.#shuttingDown) return await session.refuse("shutting_down");
    if (this.#sessions.size >= this.settings.maxConnections && !this.#evictUnproven()) {
      return await session.refuse("busy");
    }
    this.#sessions.add(session);
    if (this.settings.authTimeout > 0) this.#unproven.add(session);
    counters.open++;
    try {
      await session.run();
    } finally {
      counters.open--;
      this.#sessions.delete(session);
      this.#unproven.delete(session);
    }
  }

  /** Closes the oldest connection that never proved itself, to admit a new one. */
  #evictUnproven(): boolean {
    const oldest = this.#unproven.values().next().value;
    if (oldest === undefined) return false;
    this.#unproven.delete(oldest);
    this.#sessions.delete(oldest);
    oldest.forceClose(
      "Every slot is taken: closing the oldest connection with no authorised request",
    );
    return true;
  }
}
