// Events on topics: the server's hub that publishes to every subscribed
// connection, and each connection's outlet (its patterns, and the events it
// lost while its peer read too slowly). Pure: no Deno APIs.

import { PROTOCOL_VERSION } from "../protocol.ts";
import { PatternSet, topicProblem } from "../_wire/topics.ts";

/** Where an outlet's frames go: the connection's outbound queue. */
export interface EventSink {
  /** Bytes the outbound queue may still take before it is full. */
  room(): number;
  /** Queues a frame: JSON text, or its UTF-8 bytes (shared by every outlet: never changed). */
  enqueue(frame: string | Uint8Array): void;
}

/** Event counters shared by the hub and its outlets. */
export interface EventCounters {
  published: number;
  delivered: number;
  dropped: number;
}

const HEADER_BYTES = 4;
const encoder = new TextEncoder();

/** One connection's subscriptions. */
export class EventOutlet {
  readonly patterns: PatternSet = new PatternSet();
  readonly #sink: EventSink;
  readonly #counters: EventCounters;
  // Events dropped since the peer last heard of a loss.
  #dropped = 0;

  constructor(sink: EventSink, counters: EventCounters) {
    this.#sink = sink;
    this.#counters = counters;
  }

  /**
   * Queues one event frame if it fits the connection's outbound bound;
   * otherwise counts it lost. A loss is told (`$dropped`) before the next
   * event that fits, or as soon as the queue drains.
   */
  deliver(frame: Uint8Array): boolean {
    const size = HEADER_BYTES + frame.length;
    if (this.#sink.room() < size + (this.#dropped > 0 ? 64 : 0)) {
      this.#dropped++;
      this.#counters.dropped++;
      return false;
    }
    this.flushDropped();
    this.#sink.enqueue(frame);
    this.#counters.delivered++;
    return true;
  }

  /** Tells the peer how many events it lost, if any and if there is room. */
  flushDropped(): void {
    if (this.#dropped === 0 || this.#sink.room() < 64) return;
    this.#sink.enqueue(droppedFrame(this.#dropped));
    this.#dropped = 0;
  }
}

/**
 * Watches what the server publishes, with the data already as JSON text:
 * how a bridge carries the server's events beyond its own connections.
 */
export type PublishTap = (topic: string, dataText: string) => void;

/** The server's publisher: every connection with at least one pattern. */
export class EventHub {
  readonly counters: EventCounters = { published: 0, delivered: 0, dropped: 0 };
  readonly #outlets = new Set<EventOutlet>();
  readonly #taps = new Set<PublishTap>();

  /** Adds or removes an outlet as its patterns become some or none. */
  update(outlet: EventOutlet): void {
    if (outlet.patterns.size > 0) this.#outlets.add(outlet);
    else this.#outlets.delete(outlet);
  }

  remove(outlet: EventOutlet): void {
    this.#outlets.delete(outlet);
  }

  /** Adds a tap; the returned function removes it. */
  tap(tap: PublishTap): () => void {
    this.#taps.add(tap);
    return () => this.#taps.delete(tap);
  }

  /**
   * Publishes `data` on `topic` to every matching outlet, in the calling
   * turn: never waits for a slow connection. Taps see it too.
   *
   * @returns How many connections it was queued for.
   * @throws {TypeError} For a bad topic or data that is not JSON.
   */
  publish(topic: string, data: unknown): number {
    const problem = topicProblem(topic);
    if (problem !== undefined) throw new TypeError(`Cannot publish: ${problem}`);
    const text = dataText(data);
    for (const tap of this.#taps) tap(topic, text);
    return this.publishLocal(topic, text);
  }

  /**
   * Publishes JSON text already checked (by a bridge, from outside) to the
   * local subscribers only: taps never see it, so nothing loops back out.
   */
  publishLocal(topic: string, dataText: string): number {
    const frame = `{"event":${
      JSON.stringify(topic)
    },"data":${dataText},"protocol_version":"${PROTOCOL_VERSION}"}`;
    this.counters.published++;
    let reached = 0;
    // Encoded once, when some outlet wants it, for all of them: not once per connection.
    let bytes: Uint8Array | undefined;
    for (const outlet of this.#outlets) {
      if (!outlet.patterns.matches(topic)) continue;
      bytes ??= encoder.encode(frame);
      if (outlet.deliver(bytes)) reached++;
    }
    return reached;
  }
}

/** The JSON text of an event's data (`null` for undefined). */
function dataText(data: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (error) {
    throw new TypeError(
      `Cannot publish: data is not JSON-serializable: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  return text ?? "null";
}

function droppedFrame(count: number): string {
  return `{"event":"$dropped","data":{"count":${count}},"protocol_version":"${PROTOCOL_VERSION}"}`;
}
