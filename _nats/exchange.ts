// One request that arrived over NATS, from its message to its answer: it
// runs through the same RequestScheduler as a socket's frames (envelope
// checks, token, version, timeout_ms, streams, error codes), as a
// connection that carries exactly one request and answers to the message's
// reply subject.

import type { ErrorCode, SocketBridgeError } from "../errors.ts";
import type { RequestId, StatsReport, WireErrorCode } from "../protocol.ts";
import { RequestScheduler, type SchedulerHost } from "../_server/scheduler.ts";
import type { ControlPeer } from "../_server/control.ts";
import type { RequestHandler } from "../_server/handler_info.ts";
import type { Settings } from "../_server/settings.ts";
import type { IdempotencyStore } from "../_server/idempotency.ts";
import type { StatsBook } from "../_server/type_stats.ts";
import { describedTypes } from "../_server/request_types.ts";
import type { NatsHeadersLike, NatsMessageLike } from "./types.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

/** What an exchange needs from its bridge. */
export interface ExchangeHost {
  readonly settings: Settings;
  readonly handler: RequestHandler;
  readonly idempotency: IdempotencyStore;
  readonly typeStats: StatsBook;
  statsReport(include: (type: string) => boolean): StatsReport;
  /** Stands in for the peer's address, which NATS does not tell. */
  readonly remoteAddr: Deno.Addr;
  report(error: unknown, code?: ErrorCode): void;
  refusing(): WireErrorCode | undefined;
  /** The exchange answered: it is no longer in flight. */
  done(exchange: NatsExchange): void;
}

/** The header a caller sets to receive chunk messages before the answer. */
export const FEATURES_HEADER = "SocketBridge-Features";

const encoder = new TextEncoder();

/**
 * One request over NATS: its own scheduler's host (a connection of one
 * request) and its control peer. Methods rather than a literal of closures:
 * one is made per message.
 */
export class NatsExchange implements ControlPeer, SchedulerHost {
  readonly #host: ExchangeHost;
  readonly #msg: NatsMessageLike;
  readonly #chunks: boolean;
  readonly #scheduler: RequestScheduler;
  #answered = false;

  constructor(host: ExchangeHost, msg: NatsMessageLike) {
    this.#host = host;
    this.#msg = msg;
    this.#chunks = wantsChunks(msg.headers);
    this.#scheduler = new RequestScheduler(this);
  }

  // SchedulerHost: NATS takes what it is given (its client buffers), so
  // there is never a lack of room; nothing is queued, so nothing is dropped.
  get settings(): Settings {
    return this.#host.settings;
  }

  get handler(): RequestHandler {
    return this.#host.handler;
  }

  get idempotency(): IdempotencyStore {
    return this.#host.idempotency;
  }

  get remoteAddr(): Deno.Addr {
    return this.#host.remoteAddr;
  }

  get control(): ControlPeer {
    return this;
  }

  chunks(): boolean {
    return this.#chunks;
  }

  room(): Promise<void> {
    return Promise.resolve();
  }

  congested(): boolean {
    return false;
  }

  report(error: unknown, code?: ErrorCode): void {
    this.#host.report(error, code);
  }

  authorized(): void {}

  refusing(): WireErrorCode | undefined {
    return this.#host.refusing();
  }

  settled(): void {}

  dropped(): void {}

  /** The subject answers go to: how a `$cancel` over NATS names its target. */
  get replySubject(): string {
    return this.#msg.reply ?? "";
  }

  start(type: string | undefined): void {
    this.#scheduler.admit(this.#msg.data, type);
  }

  /** Answers a message that cannot be read (oversized) with an error. */
  refuse(code: WireErrorCode, cause: Error): void {
    this.#scheduler.refuse(code, cause);
  }

  /** Aborts the handler: its answer is `code: cancelled`, or `reason`'s. */
  abort(reason: SocketBridgeError): void {
    this.#scheduler.abandon(reason);
  }

  send(frame: FrameText): void {
    if (this.#answered) return;
    const body = String(frame);
    // Chunk frames start with their request_id; every answer with its status.
    const final = body.startsWith('{"status"');
    if (final) {
      this.#answered = true;
      this.#host.done(this);
    }
    if (!this.#msg.reply) return;
    try {
      this.#msg.respond(encoder.encode(body));
    } catch (error) {
      this.#host.report(error);
    }
  }

  // ControlPeer: over NATS a request is its own connection; it has no
  // features to grant, nothing to subscribe, and cancels go to the bridge.
  get maxBytes(): number {
    return this.#host.settings.maxBytes;
  }

  grant(): string[] {
    return [];
  }

  hasFeature(): boolean {
    return false;
  }

  cancel(_target: RequestId): boolean {
    return false;
  }

  subscribe(): string[] {
    return [];
  }

  patternCount(): number {
    return 0;
  }

  unsubscribe(): string[] {
    return [];
  }

  describe(): ReturnType<typeof describedTypes> {
    return describedTypes(this.#host.handler);
  }

  get typeStats(): ExchangeHost["typeStats"] {
    return this.#host.typeStats;
  }

  stats(include: (type: string) => boolean): StatsReport {
    return this.#host.statsReport(include);
  }

  /** No call is ever made over NATS (a request has no connection to call back): nothing to reply to. */
  reply(): boolean {
    return false;
  }
}

function wantsChunks(headers: NatsHeadersLike | undefined): boolean {
  return headers?.get(FEATURES_HEADER).split(",").some((f) => f.trim() === "chunks") ?? false;
}
