// The server serve() returns: it binds where its checked settings say,
// publishes its discovery file, accepts connections (the allowlist and the
// connection bound checked before a byte is read), gives each a Session,
// and shuts down gracefully. server.ts is its public face.

import { ERROR_MESSAGES, SERVER_NAME, type StatsReport, type WireErrorCode } from "../protocol.ts";
import { MemoryBudget } from "./budget.ts";
import { IdempotencyStore } from "./idempotency.ts";
import { StatsBook } from "./type_stats.ts";
import { EventHub } from "./event_hub.ts";
import type { RequestHandler } from "./handler_info.ts";
import { Session } from "./session.ts";
import { type AnyServeOptions, resolveSettings, type Settings } from "./settings.ts";
import type { ErrorContext } from "./options.ts";
import type { Server, ServerStats } from "./types.ts";
import { bindUnix, type UnixBinding } from "./unix.ts";
import { listenTcp } from "./listen.ts";
import { publishDiscovery } from "../_shared/discovery.ts";
import { closeQuietly, isClosedByUs } from "../_shared/transport.ts";
import { startTimer, type TimerHandle, yieldToEventLoop } from "../_shared/timers.ts";
import { registerCore } from "./host.ts";

// After a grace period the answers get this long to go out before every
// connection is closed, whatever its peer does.
const SHUTDOWN_FLUSH_MS = 1_000;
// Accept failures (out of file descriptors, say) back off up to this long.
const MAX_ACCEPT_BACKOFF_MS = 1_000;
// Connections accepted in a row before the accept loop yields the event loop a turn.
const ACCEPTS_PER_TURN = 8;

export class BridgeServer implements Server {
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

  statsReport(include: (type: string) => boolean): StatsReport {
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
    let accepted = 0;
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
        // Connections waiting in the backlog are accepted one after another
        // without the event loop turning, and while that lasts the runtime
        // polls no socket: a well-behaved client's request waited 60-130 ms
        // behind a thousand peers connecting at once. A turn every few.
        if (++accepted % ACCEPTS_PER_TURN === 0) await yieldToEventLoop();
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
