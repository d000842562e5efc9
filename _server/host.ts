// The core of a running server (settings, handler, event hub, where errors
// go): what each connection's session is given (with the state sessions
// share, session.ts's SessionHost) and what a bridge (NATS, say) finds from
// the public Server object without widening its public type.

import type { RequestHandler } from "./handler_info.ts";
import type { EventHub } from "./event_hub.ts";
import type { Settings } from "./settings.ts";
import type { ErrorContext } from "./options.ts";
import type { Server } from "./types.ts";
import type { MemoryBudget } from "./budget.ts";
import type { IdempotencyStore } from "./idempotency.ts";
import type { StatsBook } from "./type_stats.ts";
import type { ErrorCode } from "../errors.ts";
import type { StatsReport, WireErrorCode } from "../protocol.ts";
import type { ControlPeer } from "./control.ts";
import type { CallPort } from "./handler_info.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

/** The parts of a running server a bridge serves from. */
export interface ServerCore {
  /** Per type figures, recorded by every connection and bridge (D4). */
  readonly typeStats: StatsBook;
  /** `$stats`'s answer, with the types `include` keeps (a scoped token's). */
  statsReport(include: (type: string) => boolean): StatsReport;
  /** The idempotency keys remembered for every connection and bridge (D2). */
  readonly idempotency: IdempotencyStore;
  readonly settings: Settings;
  readonly handler: RequestHandler;
  readonly hub: EventHub;
  readonly shuttingDown: boolean;
  readonly finished: Promise<void>;
  report(error: unknown, context: ErrorContext): void;
}

/** What a session needs from its server: the core, and what all sessions share. */
export interface SessionHost<Session> extends ServerCore {
  readonly budget: MemoryBudget;
  /** Whether other connections share the event loop with this one. */
  readonly crowded: boolean;
  readonly counters: {
    frames: { in: number; out: number };
    bytes: { in: number; out: number };
    requests: { dropped: number };
  };
  /** The session completed its first authorised request. */
  proven(session: Session): void;
}

const cores = new WeakMap<Server, ServerCore>();

/** Called once by each server this module's `serve()` makes. */
export function registerCore(server: Server, core: ServerCore): void {
  cores.set(server, core);
}

/**
 * The core of a server made by `serve()`.
 *
 * @throws {TypeError} For anything else.
 */
export function coreOf(server: Server): ServerCore {
  const core = cores.get(server);
  if (core === undefined) {
    throw new TypeError("Cannot bridge: expected a server returned by serve()");
  }
  return core;
}

/** What the scheduler needs from its connection. */
export interface SchedulerHost {
  readonly settings: Settings;
  readonly handler: RequestHandler;
  readonly remoteAddr: Deno.Addr;
  /** The server's remembered idempotency keys (D2). */
  readonly idempotency: IdempotencyStore;
  /** The server's per type figures, for `$stats` (D4). */
  readonly typeStats: StatsBook;
  /** Where a handler's calls back go (D3), when the peer asked for calls. */
  calls?(): CallPort | undefined;
  /** Queues an answer's (or a chunk's) JSON text. */
  send(body: FrameText): void;
  /** What control requests read and change on the connection. */
  readonly control: ControlPeer;
  /** Whether the peer opted into chunk frames. */
  chunks(): boolean;
  /** Resolves once answers may be queued again (or the connection closed). */
  room(): Promise<void>;
  report(error: unknown, code?: ErrorCode): void;
  /** A request passed the token check: the connection has proven itself. */
  authorized(): void;
  /** The code to refuse new work with (shutting down, out of memory), if any. */
  refusing(): WireErrorCode | undefined;
  /** Whether answers are piling up unread: new requests wait rather than add to them. */
  congested(): boolean;
  /** A request finished: a slot is free, perhaps the connection is idle. */
  settled(): void;
  /** Counts queued requests dropped without an answer. */
  dropped(count: number): void;
}
