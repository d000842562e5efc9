// One connection of a client: its writer, its book of requests waiting for
// answers, the `$hello` it opens with, and its read loop, which hands each
// frame to the request, stream or subscriptions it belongs to.

import { DEFAULT_MAX_BYTES, FrameDecoder } from "../codec.ts";
import {
  ConnectionClosedError,
  FrameTooLargeError,
  ProtocolError,
  SocketBridgeError,
} from "../errors.ts";
import type { BridgeResponse } from "../protocol.ts";
import { parseAnswer } from "../_wire/answer_text.ts";
import { EventReader } from "../_wire/event_text.ts";
import { encodeRequest } from "../_wire/request_text.ts";
import type { FrameText } from "../_wire/text_pieces.ts";
import { AnswerBook, Pending } from "./answer_book.ts";
import { foreignProtocol, textExcerpt } from "../_wire/sniff.ts";
import { ChunkReader, closeQuietly, isPeerGone } from "../_shared/transport.ts";
import { FrameWriter } from "../_shared/writer.ts";

const FEATURES_ASKED = ["chunks", "events"];
const CANCEL_FLUSH_MS = 100;

// A client reads one server, which may send it much at once (events to a
// subscriber, a stream): its reads grow to 256 KiB, four times the server's,
// so that a busy connection takes fewer reads (fan-out to 100 subscriber
// connections in one process: 1.52x nats at the median of 12 rounds, 1.46x
// with 64 KiB). Only a connection whose reads fill the buffer grows it.
const CLIENT_MAX_READ_BYTES = 262_144;

/** What a link needs from its client. */
export interface LinkHost {
  /** The server's address, for messages. */
  readonly address: string;
  readonly maxBytes?: number;
  readonly maxOutboundBytes: number;
  /** The envelope keys every request carries, as JSON text. */
  readonly envelope: string;
  /** Whether to open with `$hello` (and accept chunk and event frames). */
  readonly twoWay: boolean;
  nextId(): number;
  event(topic: string, data: unknown): void;
  dropped(count: number): void;
  /** The link failed or was closed by the peer: every request on it is failed already. */
  lost(link: Link, error: SocketBridgeError): void;
  /** Answers the server's calls back (D3): asks for "calls" in `$hello` when set. */
  readonly calls?: {
    call(link: Link, callId: number, payload: unknown, requestId: unknown): void;
    cancel(link: Link, callId: number): void;
  };
}

export class Link {
  readonly conn: Deno.Conn;
  readonly writer: FrameWriter;
  readonly book: AnswerBook = new AnswerBook();
  /** The features the server granted to `$hello`; undefined: it does not speak Part C. */
  readonly hello: Promise<ReadonlySet<string> | undefined>;
  readonly #host: LinkHost;
  // Event frames in our server's shape, read without parsing their keys.
  readonly #events = new EventReader();
  #closed = false;
  // What `$hello` granted, once answered; undefined before, or without Part C.
  #features?: ReadonlySet<string>;

  constructor(conn: Deno.Conn, host: LinkHost) {
    this.conn = conn;
    this.#host = host;
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.writer = new FrameWriter(conn, host.maxOutboundBytes);
    this.writer.onFailure = (error) =>
      this.#lose(new ConnectionClosedError(undefined, { cause: error }));
    this.hello = host.twoWay ? this.#sayHello() : Promise.resolve(undefined);
    this.#readLoop();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Encodes a request into the writer and books it for its answer. */
  put(entry: Pending): void {
    let body: FrameText;
    try {
      body = encodeRequest(
        entry.payload!,
        this.#host.envelope,
        entry.id,
        entry.announcedTimeout,
        entry.traceparent,
        entry.idempotencyKey,
      );
    } catch (error) {
      entry.fail(error);
      return;
    }
    // A keyed request keeps its payload: a retry on a new link sends it again.
    if (entry.idempotencyKey === undefined) entry.payload = undefined;
    entry.size = body.length;
    this.book.sent(entry);
    this.writer.enqueue(body);
  }

  /**
   * Before a close: asks a two-way server to stop every request still
   * running (a closed socket reads as a half-close, after which a server
   * still finishes and answers what it accepted). Waits at most
   * CANCEL_FLUSH_MS for the cancels to be written.
   */
  async cancelAll(): Promise<void> {
    if (this.#features === undefined) return;
    const targets = this.book.waitingIds();
    if (targets.length === 0) return;
    for (const target of targets) {
      const entry = new Pending({
        id: this.#host.nextId(),
        payload: { type: "$cancel", target },
        internal: true,
      });
      // Nobody waits for these answers: the connection closes next.
      entry.outcome.catch(() => {});
      this.put(entry);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.writer.drained(),
      new Promise((resolve) => timer = setTimeout(resolve, CANCEL_FLUSH_MS)),
    ]);
    clearTimeout(timer);
  }

  /**
   * Closes the connection and fails every request waiting on it, except
   * those `keep` takes (to be sent again elsewhere), which it returns.
   */
  close(error: SocketBridgeError, keep?: (entry: Pending) => boolean): Pending[] {
    if (this.#closed) return [];
    this.#closed = true;
    closeQuietly(this.conn);
    const kept: Pending[] = [];
    for (const entry of this.book.drain()) {
      if (keep?.(entry)) kept.push(entry);
      else entry.fail(error);
    }
    return kept;
  }

  /** The first frame on the link, ahead of every request: pipelined, not awaited. */
  #sayHello(): Promise<ReadonlySet<string> | undefined> {
    const entry = new Pending({
      id: this.#host.nextId(),
      payload: {
        type: "$hello",
        features: this.#host.calls === undefined ? FEATURES_ASKED : [...FEATURES_ASKED, "calls"],
      },
      internal: true,
    });
    this.put(entry);
    return entry.outcome.then((result) => {
      const features = (result as { features?: unknown } | undefined)?.features;
      if (Array.isArray(features)) this.#features = new Set(features.map(String));
      return this.#features;
    }, () => undefined);
  }

  #lose(error: SocketBridgeError): void {
    if (this.#closed) return;
    // The host closes it first, keeping what it will send again elsewhere.
    this.#host.lost(this, error);
    this.close(error);
  }

  async #readLoop(): Promise<void> {
    const reader = new ChunkReader(this.conn, CLIENT_MAX_READ_BYTES);
    // Each answer is parsed as it arrives: its body may be lent.
    const frames = new FrameDecoder({
      maxBytes: this.#host.maxBytes ?? DEFAULT_MAX_BYTES,
      lendBodies: true,
    });
    let answered = 0;
    let failure: unknown;
    // The peer's first bytes, kept to name it if it is not SocketBridge at all.
    let opening: Uint8Array | undefined;
    try {
      while (true) {
        const chunk = await reader.read();
        if (chunk === null) break;
        opening ??= chunk.slice(0, 64);
        frames.push(chunk, (body) => {
          answered++;
          this.#onFrame(body);
        });
        if (this.#closed) return;
      }
    } catch (error) {
      failure = error;
    }
    if (failure instanceof FrameTooLargeError) {
      const foreign = answered === 0 ? foreignProtocol(failure.size) : undefined;
      const excerpt = answered === 0 && opening !== undefined ? textExcerpt(opening) : undefined;
      if (foreign !== undefined) {
        failure = new ProtocolError(
          `Peer at ${this.#host.address} is not a SocketBridge server: it answered with ${foreign}`,
        );
      } else if (excerpt !== undefined) {
        failure = new ProtocolError(
          `Peer at ${this.#host.address} is not a SocketBridge server: it sent \`${excerpt}\``,
        );
      } else {
        // In order, the oversized answer is the oldest request's.
        this.book.takeOldest()?.fail(failure);
      }
    }
    this.#lose(
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

  /** Settles what a frame belongs to; throws ProtocolError on a bad one. */
  #onFrame(body: Uint8Array): void {
    if (this.#host.twoWay) {
      const event = this.#events.read(body);
      if (event !== undefined) return this.#onEvent(event.topic, event.data);
    }
    let frame: unknown;
    try {
      frame = parseAnswer(body);
    } catch {
      throw new ProtocolError("Peer sent a frame that is not JSON");
    }
    if (
      this.#host.twoWay && typeof frame === "object" && frame !== null && !("status" in frame)
    ) {
      return this.#onPush(frame as Record<string, unknown>);
    }
    const match = this.book.match(frame);
    if (match instanceof Pending) match.answer(frame as BridgeResponse);
    else if (match !== undefined) this.#lose(match);
  }

  /** A chunk or event frame: routed to its stream or the subscriptions. */
  #onPush(frame: Record<string, unknown>): void {
    const callId = frame.call_id;
    if (typeof callId === "number" && this.#host.calls !== undefined) {
      if (frame.cancel === true) this.#host.calls.cancel(this, callId);
      else this.#host.calls.call(this, callId, frame.payload, frame.request_id);
      return;
    }
    if ("chunk" in frame) {
      this.book.chunkTarget(frame.request_id)?.chunk(frame.chunk);
    } else if (typeof frame.event === "string") {
      this.#onEvent(frame.event, frame.data);
    } else {
      // Neither an answer nor a push: the book names what is wrong with it.
      this.book.match(frame);
    }
  }

  #onEvent(topic: string, data: unknown): void {
    if (topic === "$dropped") {
      const count = (data as { count?: unknown } | null)?.count;
      this.#host.dropped(typeof count === "number" ? count : 1);
    } else {
      this.#host.event(topic, data);
    }
  }
}
