// The client behind send() and connect(): one link (link.ts) at a
// time, requests waiting for room or for a link, reconnection with backoff,
// and the two-way bridge's calls: streams, subscriptions (renewed on each
// new link), `describe()`, and `$cancel` for requests given up.

import {
  ConnectError,
  ConnectionClosedError,
  ProtocolError,
  type SocketBridgeError,
  TimeoutError,
} from "../errors.ts";
import type { BridgeResponse, RequestId } from "../protocol.ts";
import type { Client, ConnectOptions, RequestOptions, SubscribeOptions } from "./options.ts";
import { addressOf, dial, resolveTarget, type Target } from "./dial.ts";
import { checkPayload, envelopeOf } from "../_wire/request_text.ts";
import { Pending, type PendingInit } from "./answer_book.ts";
import { checkDuration, startTimer } from "../_shared/timers.ts";
import { Link, type LinkHost } from "./link.ts";
import { answerCalls } from "./calls.ts";
import { Backoff } from "./backoff.ts";
import type { EventRouter, EventStream } from "./events.ts";
import { ClientSubscriptions } from "./subscriptions.ts";
import { pendingStream, type ResultStream } from "./result_stream.ts";
import type { TypeDescription } from "../_server/request_types.ts";
import { traceCall, tracer } from "../_shared/tracing.ts";

const DEFAULT_CLIENT_OUTBOUND = 4_194_304;
const NO_OPTIONS: RequestOptions = Object.freeze({});

/** How a request is submitted: what the caller's options do not say. */
interface Submission extends Omit<PendingInit, "id" | "payload"> {
  /** Give it a `request_id` (every request of connect()'s; send() sends none). */
  readonly withId: boolean;
  /** Wires the request to a stream before it can be answered. */
  readonly attach?: (entry: Pending) => void;
}

/** A request or stream of the caller's: an id, and the result unwrapped. */
const AS_REQUEST: Submission = Object.freeze({ withId: true, unwrap: true });

export class BridgeClient extends EventTarget implements Client<Record<string, unknown>, unknown> {
  readonly #options: ConnectOptions;
  readonly #target: Target;
  readonly #backoff?: Backoff;
  readonly #maxOutboundBytes: number;
  readonly #defaultTimeout?: number;
  readonly #envelope: string;
  readonly #tracer = tracer();
  // Requests waiting for a link or for room in the outbound queue, in order.
  #unsent: Pending[] = [];
  #pumping = false;
  #link?: Link;
  #linking?: Promise<Link | undefined>;
  #nextId = 1;
  #closed = false;
  readonly #twoWay: boolean;
  readonly #retry: boolean;
  readonly #subscriptions: ClientSubscriptions;
  readonly #router: EventRouter;
  readonly #linkHost: LinkHost;

  private constructor(options: ConnectOptions, reconnect: boolean) {
    super();
    // Options and discovery settled once, before anything is dialled.
    this.#target = resolveTarget(options);
    this.#options = options;
    this.#envelope = envelopeOf(options.token ?? this.#target.token);
    this.#maxOutboundBytes = options.maxOutboundBytes ?? DEFAULT_CLIENT_OUTBOUND;
    this.#twoWay = reconnect && options.twoWay !== false;
    if (options.retry && !options.reconnect) {
      throw new TypeError(
        "Cannot connect: retry resends requests after a reconnect; set reconnect too",
      );
    }
    this.#retry = reconnect && options.retry === true;
    this.#subscriptions = new ClientSubscriptions({
      address: addressOf(options),
      connected: () => this.#link !== undefined,
      features: (what) => this.#helloAnswer(what),
      control: (payload, requestOptions, onAnswer) =>
        this.#control(payload, requestOptions, onAnswer),
    });
    this.#router = this.#subscriptions.router;
    this.#linkHost = {
      address: addressOf(options),
      maxBytes: options.maxBytes,
      maxOutboundBytes: this.#maxOutboundBytes,
      envelope: this.#envelope,
      twoWay: this.#twoWay,
      nextId: () => this.#nextId++,
      event: (topic, data) => this.#router.event(topic, data),
      dropped: (count) => this.#router.dropped(count),
      lost: (link, error) => this.#detach(link, error),
      calls: options.onCall === undefined ? undefined : answerCalls(options.onCall, {
        current: (link) => this.#link === link,
        reply: (reply) => this.#control({ type: "$reply", ...reply }).catch(() => {}),
      }),
    };
    if (options.timeout !== undefined) {
      this.#defaultTimeout = checkDuration("timeout", options.timeout);
    }
    const wanted = reconnect ? options.reconnect : undefined;
    if (wanted) this.#backoff = new Backoff(wanted);
  }

  static async open(options: ConnectOptions, reconnect: boolean): Promise<BridgeClient> {
    const client = new BridgeClient(options, reconnect);
    if (client.#backoff?.options.retryFirstConnect) {
      const link = await client.#redial(options.signal, 0);
      if (link === undefined) {
        options.signal?.throwIfAborted();
        throw new ConnectError(
          addressOf(options),
          `Cannot connect to ${addressOf(options)}: gave up`,
        );
      }
    } else {
      client.#attach(await dial(client.#target, options.signal), false);
    }
    return client;
  }

  get connected(): boolean {
    return this.#link !== undefined;
  }

  get pending(): number {
    return this.#unsent.filter((entry) => !entry.settled && !entry.internal).length +
      (this.#link?.book.size ?? 0);
  }

  request(payload: Record<string, unknown>, options?: RequestOptions): Promise<unknown> {
    return this.#submit(payload, options ?? NO_OPTIONS, AS_REQUEST);
  }

  stream<Chunk = unknown, Final = unknown>(
    payload: Record<string, unknown>,
    options?: RequestOptions,
  ): ResultStream<Chunk, Final> {
    const { stream, attach } = pendingStream<Chunk, Final>((entry, reason) =>
      this.#giveUp(entry, reason)
    );
    const link = this.#link;
    const answer = this.#submit(payload, options ?? NO_OPTIONS, { ...AS_REQUEST, attach });
    answer.then(async (result) => {
      // A server that does not stream collects the items into the result.
      const features = stream.sawChunk ? undefined : await link?.hello;
      const collected = !stream.sawChunk && !features?.has("chunks") && Array.isArray(result);
      stream.finish(result as Final, collected ? result as Chunk[] : undefined);
    }, (error) => stream.fail(error));
    return stream;
  }

  subscribe<Data = unknown>(
    patterns: readonly string[],
    options?: SubscribeOptions<Data>,
  ): Promise<EventStream<Data>> {
    return this.#subscriptions.subscribe<Data>(patterns, options);
  }

  async describe(options?: RequestOptions): Promise<TypeDescription[]> {
    await this.#helloAnswer("describe");
    const result = await this.#control({ type: "$describe" }, options);
    const types = (result as { types?: unknown } | undefined)?.types;
    if (!Array.isArray(types)) throw new ProtocolError("Peer answered $describe without types");
    return types as TypeDescription[];
  }

  /** Sends one of the protocol's control requests; it is not counted as pending. */
  #control(
    payload: Record<string, unknown>,
    options?: RequestOptions,
    onAnswer?: () => void,
  ): Promise<unknown> {
    return this.#submit(payload, options ?? NO_OPTIONS, {
      ...AS_REQUEST,
      internal: true,
      onAnswer,
    });
  }

  /** The features the current link's server granted; throws when it speaks no Part C. */
  async #helloAnswer(what: string): Promise<ReadonlySet<string>> {
    if (!this.#twoWay) {
      throw new TypeError(`Cannot ${what}: this client was made with twoWay: false`);
    }
    const link = this.#link ?? await this.#linking;
    if (link === undefined) throw this.#noLinkError();
    const features = await link.hello;
    if (features === undefined) {
      throw new ProtocolError(
        `Cannot ${what}: the server at ${addressOf(this.#options)} does not speak the two-way ` +
          "protocol (it answered $hello without features)",
      );
    }
    return features;
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
    return this.#submit(payload, options, { withId, unwrap: false, announcedTimeout }) as Promise<
      BridgeResponse
    >;
  }

  #submit(
    payload: Record<string, unknown>,
    options: RequestOptions,
    { withId, attach, announcedTimeout, ...init }: Submission,
  ): Promise<unknown> {
    const { signal, timeout = this.#defaultTimeout } = options;
    announcedTimeout ??= timeout;
    try {
      signal?.throwIfAborted();
      checkPayload(payload);
      if (timeout !== undefined) checkDuration("timeout", timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = withId ? this.#nextId++ : undefined;
    const idempotencyKey = options.idempotencyKey ??
      (this.#retry && !init.internal ? crypto.randomUUID() : undefined);
    const entry = new Pending({ ...init, id, payload, announcedTimeout, idempotencyKey });
    const answer = entry.outcome;
    attach?.(entry);
    if (this.#tracer !== undefined && !entry.internal) {
      entry.traceparent = traceCall(this.#tracer, payload.type, entry.id, answer, () => entry.size);
    }
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
      link.put(entry);
    } else if (link === undefined && this.#linking === undefined) {
      entry.fail(this.#noLinkError());
    } else {
      this.#unsent.push(entry);
      if (link !== undefined) this.#pump(link);
    }
    return answer;
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
        if (!entry.settled) link.put(entry);
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
    const link = this.#link;
    if (entry.sent && link !== undefined) {
      link.book.givenUp(entry);
      if (entry.id !== undefined) this.#cancelOnServer(link, entry.id);
    }
    entry.fail(error);
  }

  /** Tells a two-way server to stop the handler of a request given up. */
  #cancelOnServer(link: Link, target: RequestId): void {
    link.hello.then((features) => {
      if (features === undefined || this.#link !== link) return;
      this.#control({ type: "$cancel", target }).catch(() => {});
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#backoff?.wake();
    const link = this.#link;
    const closing = new ConnectionClosedError("Client closed");
    if (link !== undefined && !link.closed) await link.cancelAll();
    if (link !== undefined) this.#detach(link, closing);
    this.#failUnsent(closing);
    this.#router.endAll();
    await this.#linking;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #attach(conn: Deno.Conn, reconnected: boolean): void {
    const link = new Link(conn, this.#linkHost);
    this.#link = link;
    if (reconnected && this.#router.size > 0) {
      link.hello.then((features) => this.#subscriptions.renew(features, () => this.#link === link));
    }
    this.dispatchEvent(new CustomEvent("open", { detail: { reconnected } }));
    this.#pump(link);
  }

  #detach(link: Link, error: SocketBridgeError): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    // With retry, a keyed request whose answer was lost goes out again on the
    // next link: the server runs it at most once and answers each time.
    const retried = link.close(error, this.#retry ? (entry) => entry.retriable : undefined);
    for (const entry of retried) entry.sent = false;
    if (retried.length > 0) this.#unsent = retried.concat(this.#unsent);
    this.dispatchEvent(new CustomEvent("close", { detail: { error } }));
    if (!this.#closed && this.#backoff !== undefined) {
      this.#linking = this.#redial(undefined, 1);
    } else {
      this.#failUnsent(error);
      this.#router.endAll(this.#closed ? undefined : error);
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
    const backoff = this.#backoff!;
    const { maxAttempts } = backoff.options;
    const onAbort = () => backoff.wake();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (let attempt = 0; attempt < maxAttempts && !this.#closed; attempt++) {
        if (signal?.aborted) return undefined;
        if (attempt + firstDelayed > 0) {
          const wait = backoff.delay(attempt + firstDelayed - 1);
          this.dispatchEvent(
            new CustomEvent("reconnecting", { detail: { attempt: attempt + 1, delay: wait } }),
          );
          await backoff.wait(wait);
          if (this.#closed || signal?.aborted) break;
        }
        try {
          // A name is read again for each reconnection: a restarted server may listen elsewhere.
          const target = attempt + firstDelayed > 0 && this.#options.name !== undefined
            ? resolveTarget(this.#options)
            : this.#target;
          this.#attach(await dial(target, signal), firstDelayed > 0);
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
        const gaveUp = new ConnectionClosedError("Client closed; gave up reconnecting");
        this.#failUnsent(gaveUp);
        this.#router.endAll(gaveUp);
      }
      return undefined;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#linking = undefined;
    }
  }
}
