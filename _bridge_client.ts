// The client behind send() and connect(): one link (connection, writer and
// book of pending requests) at a time, requests waiting for room or for a
// link, the read loop, and reconnection with backoff.

import { DEFAULT_MAX_BYTES, FrameDecoder } from "./codec.ts";
import {
  ConnectError,
  ConnectionClosedError,
  FrameTooLargeError,
  ProtocolError,
  SocketBridgeError,
  TimeoutError,
} from "./errors.ts";
import type { BridgeResponse } from "./protocol.ts";
import type {
  Client,
  ConnectOptions,
  ReconnectOptions,
  RequestOptions,
} from "./_client_options.ts";
import { addressOf, checkDialOptions, dial } from "./_dial.ts";
import { parseAnswer } from "./_answer_text.ts";
import { checkPayload, encodeRequest, envelopeOf } from "./_request_text.ts";
import { AnswerBook, Pending } from "./_pending.ts";
import { foreignProtocol } from "./_sniff.ts";
import { checkDuration, startTimer } from "./_timers.ts";
import { ChunkReader, closeQuietly, isPeerGone } from "./_transport.ts";
import { FrameWriter } from "./_writer.ts";

const decoder = new TextDecoder();
const DEFAULT_CLIENT_OUTBOUND = 4_194_304;
const NO_OPTIONS: RequestOptions = Object.freeze({});

/** The link to the server: one connection and its writer. */
interface Link {
  readonly conn: Deno.Conn;
  readonly writer: FrameWriter;
  readonly book: AnswerBook;
}

export class BridgeClient extends EventTarget implements Client<Record<string, unknown>, unknown> {
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
