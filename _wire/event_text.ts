// Reading an event frame. An event in the exact shape our server writes
// ({"event":TOPIC,"data":DATA,"protocol_version":"1"}) is read from its
// bytes: only the data is decoded and parsed, and a topic like the last one
// read is not decoded again. A subscriber taking events from many
// connections does little else, and JSON.parse of the whole frame (its keys,
// its object, its topic string) was most of that. Pure: no Deno APIs.

import { startsWith } from "./byte_prefix.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EVENT_KEY = encoder.encode('{"event":"');
const DATA_KEY = encoder.encode(',"data":');
const TAIL = encoder.encode(',"protocol_version":"1"}');
const QUOTE = 0x22;
const FIRST_PRINTABLE = 0x20;
const BACKSLASH = 0x5c;
const LAST_ASCII = 0x7f;
const MAX_TOPIC_BYTES = 256;

/** An event read from its frame. */
export interface EventText {
  readonly topic: string;
  readonly data: unknown;
}

/**
 * Reads event frames, remembering the last topic's bytes and string.
 * `read` gives what `JSON.parse` of the whole frame would, for a frame in
 * our server's shape; anything else (another key order, an escaped topic,
 * more keys, not JSON) is `undefined`, for the caller to parse whole.
 */
export class EventReader {
  #topicBytes = new Uint8Array(MAX_TOPIC_BYTES);
  #topicLength = -1;
  #topic = "";

  read(body: Uint8Array): EventText | undefined {
    if (
      body.length < EVENT_KEY.length + DATA_KEY.length + TAIL.length + 2 ||
      !startsWith(body, EVENT_KEY, 0)
    ) {
      return undefined;
    }
    const topicStart = EVENT_KEY.length;
    const known = this.#topicBytes;
    let topicEnd = topicStart;
    // Whether the topic is the last one read, found in the same pass.
    let same = true;
    // A topic with escapes, control characters (not JSON) or characters
    // beyond ASCII takes the slow path.
    while (topicEnd < body.length && body[topicEnd] !== QUOTE) {
      const byte = body[topicEnd];
      if (byte === BACKSLASH || byte < FIRST_PRINTABLE || byte > LAST_ASCII) return undefined;
      same &&= known[topicEnd - topicStart] === byte;
      topicEnd++;
    }
    const dataStart = topicEnd + 1 + DATA_KEY.length;
    const dataEnd = body.length - TAIL.length;
    if (
      topicEnd - topicStart > MAX_TOPIC_BYTES || dataStart >= dataEnd ||
      !startsWith(body, DATA_KEY, topicEnd + 1) || !startsWith(body, TAIL, dataEnd)
    ) {
      return undefined;
    }
    let data: unknown;
    try {
      // Exactly one JSON value, or this throws: "data":1,"x":2 is not one.
      // The frame decoded whole, then the data sliced out: cheaper than a
      // view of the data to decode. Everything before and after the data is
      // ASCII, so its offsets in the text are its offsets in the bytes.
      const text = decoder.decode(body);
      data = JSON.parse(text.slice(dataStart, text.length - TAIL.length));
    } catch {
      return undefined;
    }
    const topic = same && topicEnd - topicStart === this.#topicLength
      ? this.#topic
      : this.#newTopic(body, topicStart, topicEnd);
    return { topic, data };
  }

  #newTopic(body: Uint8Array, start: number, end: number): string {
    const length = end - start;
    const known = this.#topicBytes;
    known.set(body.subarray(start, end));
    this.#topicLength = length;
    this.#topic = String.fromCharCode(...body.subarray(start, end));
    return this.#topic;
  }
}
