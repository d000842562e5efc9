// A running server, also served over NATS: requests on PREFIX.TYPE in a
// queue group (each answered by one exchange), `$cancel` heard by every
// member, the server's events out to NATS and chosen subjects in, and the
// NATS client's own troubles reported through the server's onError.

import { CancelledError, FrameTooLargeError, SocketBridgeError } from "../errors.ts";
import { NatsStatusError } from "./status_error.ts";
import type { StatsReport, WireErrorCode } from "../protocol.ts";
import { coreOf, type ServerCore } from "../_server/host.ts";
import type { Server } from "../_server/types.ts";
import { type ExchangeHost, NatsExchange } from "./exchange.ts";
import { NatsEvents } from "./events.ts";
import type {
  NatsBridge,
  NatsBridgeStats,
  NatsConnectionLike,
  NatsMessageLike,
  NatsSubscriptionLike,
  ServeNatsOptions,
} from "./types.ts";
import { startTimer, type TimerHandle } from "../_shared/timers.ts";
import { parseRequest, Refusal } from "../_wire/envelope.ts";

const DEFAULT_MAX_IN_FLIGHT = 1_024;

export class ServerOverNats implements NatsBridge, ExchangeHost {
  readonly closed: Promise<void>;
  #markClosed!: () => void;
  readonly #core: ServerCore;
  readonly #nc: NatsConnectionLike;
  readonly #prefix: string;
  readonly #maxInFlight: number;
  readonly #identify?: (given: unknown) => unknown;
  readonly #requests: NatsSubscriptionLike[] = [];
  readonly #cancels: NatsSubscriptionLike;
  readonly #events: NatsEvents;
  readonly #running = new Map<string, NatsExchange>();
  readonly #inFlight = new Set<NatsExchange>();
  readonly #counters = { received: 0, answered: 0, cancelled: 0 };
  #idle?: () => void;
  #close?: Promise<void>;
  readonly #stopStatus: () => void;
  readonly remoteAddr: Deno.Addr;

  constructor(server: Server, nc: NatsConnectionLike, options: ServeNatsOptions) {
    this.#core = coreOf(server);
    this.#nc = nc;
    const prefix = checkPrefix(options.prefix);
    this.#prefix = prefix;
    const callers = this.#core.settings.callers;
    if (callers === undefined && options.allowWithoutToken !== true) {
      throw new TypeError(
        "Cannot serve over NATS without a token: every client of the NATS server could call the " +
          "handler. Give serve() a token, or pass allowWithoutToken: true",
      );
    }
    this.#identify = callers === undefined ? undefined : (given) => callers.identify(given);
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.remoteAddr = natsAddr(nc);
    // First: it refuses a bad event pattern before anything is subscribed.
    this.#events = new NatsEvents(nc, this.#core.hub, options, (error) => this.report(error));
    const queue = options.queue ?? prefix;
    const serveOn = (subject: string, typeOf: (msg: NatsMessageLike) => string | undefined) =>
      nc.subscribe(subject, {
        queue,
        callback: (error, msg) =>
          error === null
            ? this.#request(msg, typeOf(msg))
            : this.#reportNats("subscription", error),
      });
    this.#requests.push(
      // On PREFIX the payload names its own type; on PREFIX.TYPE the subject does.
      serveOn(prefix, () => undefined),
      serveOn(`${prefix}.>`, (msg) => msg.subject.slice(prefix.length + 1)),
    );
    // Every member hears a cancel: only the one running the target acts on it.
    this.#cancels = nc.subscribe(`${prefix}.$cancel`, {
      callback: (error, msg) => {
        if (error !== null) return this.#reportNats("subscription", error);
        this.#cancel(msg);
      },
    });
    this.#stopStatus = this.#watchStatus();
    this.closed = new Promise((resolve) => this.#markClosed = resolve);
    this.#core.finished.then(() => this.close());
  }

  get settings(): ServerCore["settings"] {
    return this.#core.settings;
  }

  get idempotency(): ServerCore["idempotency"] {
    return this.#core.idempotency;
  }

  get typeStats(): ServerCore["typeStats"] {
    return this.#core.typeStats;
  }

  statsReport(include: (type: string) => boolean): StatsReport {
    return this.#core.statsReport(include);
  }

  get handler(): ServerCore["handler"] {
    return this.#core.handler;
  }

  stats(): NatsBridgeStats {
    return {
      requests: { ...this.#counters, running: this.#inFlight.size },
      events: this.#events.counters(),
    };
  }

  report(error: unknown, code?: SocketBridgeError["code"]): void {
    this.#core.report(error, { remoteAddr: this.remoteAddr, code });
  }

  refusing(): WireErrorCode | undefined {
    if (this.#core.shuttingDown) return "shutting_down";
    return this.#inFlight.size > this.#maxInFlight ? "busy" : undefined;
  }

  done(exchange: NatsExchange): void {
    this.#counters.answered++;
    this.#inFlight.delete(exchange);
    if (exchange.replySubject !== "") this.#running.delete(exchange.replySubject);
    if (this.#inFlight.size === 0) this.#idle?.();
  }

  #request(msg: NatsMessageLike, type: string | undefined): void {
    // The cancel subscription hears these: a cancel is not a request.
    if (type === "$cancel") return;
    this.#counters.received++;
    const exchange = new NatsExchange(this, msg);
    this.#inFlight.add(exchange);
    if (msg.reply) this.#running.set(msg.reply, exchange);
    const maxBytes = this.#core.settings.maxBytes;
    // Never parsed: refused as a socket's oversized frame is.
    if (msg.data.length > maxBytes) {
      exchange.refuse("payload_too_large", new FrameTooLargeError(msg.data.length, maxBytes));
    } else {
      exchange.start(type);
    }
  }

  /** `{"target": REPLY_SUBJECT, "auth_token": ...}`: aborts that request if it runs here. */
  #cancel(msg: NatsMessageLike): void {
    const message = parseRequest(msg.data);
    if (message instanceof Refusal) return;
    if (this.#identify !== undefined && this.#identify(message.auth_token) === undefined) {
      this.report(
        new SocketBridgeError("unauthorized", "unauthorized $cancel over NATS"),
        "unauthorized",
      );
      return;
    }
    const target = typeof message.target === "string"
      ? this.#running.get(message.target)
      : undefined;
    if (target === undefined) return;
    this.#counters.cancelled++;
    target.abort(new CancelledError());
  }

  #reportNats(what: string, error: unknown): void {
    this.report(
      new NatsStatusError(what, error instanceof Error ? error.message : String(error), {
        cause: error,
      }),
    );
  }

  /** Reports each state change of the NATS client until the bridge closes. */
  #watchStatus(): () => void {
    const statuses = this.#nc.status();
    (async () => {
      for await (const status of statuses) {
        if (
          status.type === "disconnect" || status.type === "reconnect" || status.type === "ldm" ||
          status.type === "error"
        ) {
          const permission = status.permissionContext;
          const detail = permission === undefined
            ? String(status.data)
            : `permission denied to ${permission.operation} ${permission.subject}`;
          this.report(new NatsStatusError(status.type, detail));
        }
      }
    })().catch((error) => this.#reportNats("status", error));
    return () => (statuses as { stop?: () => void }).stop?.();
  }

  close(): Promise<void> {
    this.#close ??= this.#closeNow();
    return this.#close;
  }

  async #closeNow(): Promise<void> {
    this.#events.close();
    // Drain: the NATS server sends nothing more here (the other members of
    // the queue group take it), and what it already sent is still served.
    await Promise.allSettled(this.#requests.map((sub) => sub.drain()));
    if (this.#inFlight.size > 0) {
      const idle = new Promise<void>((resolve) => this.#idle = resolve);
      const grace = this.#core.settings.gracePeriod;
      let timer: TimerHandle;
      // An endless grace period (Infinity) arms nothing: the bridge waits for every request.
      const late = new Promise<void>((resolve) => timer = startTimer(resolve, grace));
      await Promise.race([idle, late]);
      clearTimeout(timer);
      const over = new SocketBridgeError(
        "shutting_down",
        "Server is shutting down: grace period over",
      );
      for (const exchange of this.#inFlight) exchange.abort(over);
    }
    this.#cancels.unsubscribe();
    this.#stopStatus();
    if (!this.#nc.isClosed()) {
      await this.#nc.flush().catch((error) => this.#reportNats("flush", error));
    }
    this.#markClosed();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The NATS server's address: NATS does not tell who sent a message. */
function natsAddr(nc: NatsConnectionLike): Deno.NetAddr {
  const [hostname, port] = splitHostPort(nc.getServer());
  return { transport: "tcp", hostname, port };
}

function splitHostPort(server: string): [string, number] {
  const at = server.lastIndexOf(":");
  const host = at === -1 ? server : server.slice(0, at);
  return [host.replace(/^\[|\]$/g, ""), at === -1 ? 4222 : Number(server.slice(at + 1)) || 4222];
}

const TOKEN = /^[^\s.*>]+$/;

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== "string" || !prefix.split(".").every((token) => TOKEN.test(token))) {
    throw new TypeError(
      `Cannot serve over NATS: prefix must be dot-separated tokens without wildcards, got ${
        JSON.stringify(prefix)
      }`,
    );
  }
  return prefix;
}
