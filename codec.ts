/**
 * The SocketBridge wire format: a 4-byte unsigned big-endian length, then that
 * many bytes of UTF-8 JSON. Pure Web Streams and typed arrays, no `Deno.*`, so
 * it runs in Deno, Node, Bun and browsers alike.
 *
 * Two ways to read frames:
 * - {@linkcode FrameDecoderStream}, a `TransformStream` that turns any
 *   `ReadableStream<Uint8Array>` into a stream of frame bodies;
 * - {@linkcode FrameDecoder}, the push parser underneath it, for code that
 *   owns its read loop (the server does, to pace reads and run timers).
 *
 * Both yield exactly one body per frame whatever the chunking, cost linear
 * time in the bytes read (each byte is copied at most once, and a frame that
 * lies whole inside one chunk is not copied at all), and reject a length
 * prefix above `maxBytes` from the prefix alone, before allocating anything
 * for the body.
 *
 * @example Round-tripping a message through a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, encodeMessage, FrameDecoderStream } from "@socketbridge/core/codec";
 *
 * const bytes = encodeMessage({ type: "ping" });
 * const frames = ReadableStream.from([bytes.subarray(0, 3), bytes.subarray(3)])
 *   .pipeThrough(new FrameDecoderStream());
 * for await (const frame of frames) {
 *   assert.ok((decodeMessage(frame) as { type: string }).type === "ping");
 * }
 * ```
 *
 * @module
 */

import { HEADER_BYTES, MAX_FRAME_BYTES, writeHeader } from "./_wire/header.ts";

export { FrameTooLargeError, IncompleteFrameError } from "./errors.ts";

export { DEFAULT_MAX_BYTES, HEADER_BYTES, MAX_FRAME_BYTES } from "./_wire/header.ts";
export {
  FrameDecoder,
  type FrameDecoderOptions,
  FrameDecoderStream,
} from "./_wire/frame_decoder.ts";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Frames a body: prepends its length as 4 unsigned big-endian bytes.
 *
 * @param body The frame body.
 * @returns A new buffer holding the prefix and the body.
 * @throws {RangeError} If the body is longer than a prefix can announce.
 *
 * @example Framing three bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame } from "@socketbridge/core/codec";
 * const frame = encodeFrame(new Uint8Array([1, 2, 3]));
 * assert.ok(frame.join() === "0,0,0,3,1,2,3");
 * ```
 */
export function encodeFrame(body: Uint8Array): Uint8Array<ArrayBuffer> {
  if (body.length > MAX_FRAME_BYTES) {
    throw new RangeError(
      `Cannot encode frame: length ${body.length} exceeds ${MAX_FRAME_BYTES}`,
    );
  }
  const frame = new Uint8Array(HEADER_BYTES + body.length);
  writeHeader(frame, 0, body.length);
  frame.set(body, HEADER_BYTES);
  return frame;
}

/**
 * Serialises a value as JSON and frames it.
 *
 * @param value Any JSON-serialisable value (a request or response object).
 * @returns The framed UTF-8 JSON text.
 * @throws {TypeError} If the value cannot be serialised (a cycle, a BigInt).
 *
 * @example Framing a ping
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeMessage } from "@socketbridge/core/codec";
 * const frame = encodeMessage({ type: "ping" });
 * assert.ok(new DataView(frame.buffer).getUint32(0) === frame.length - 4);
 * ```
 */
export function encodeMessage(value: unknown): Uint8Array<ArrayBuffer> {
  return encodeFrame(encodeJson(value));
}

/** The UTF-8 bytes of the JSON text of `value`. */
function encodeJson(value: unknown): Uint8Array<ArrayBuffer> {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new TypeError(`Cannot encode ${typeof value} as JSON`);
  }
  return encoder.encode(text);
}

/**
 * Parses a frame body as UTF-8 JSON.
 *
 * @param body A frame body.
 * @returns The parsed value (not necessarily an object).
 * @throws {SyntaxError} If the body is not valid UTF-8 or not valid JSON.
 *
 * @example Parsing a body
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage } from "@socketbridge/core/codec";
 * const body = new TextEncoder().encode('{"status":"ok"}');
 * assert.ok((decodeMessage(body) as { status: string }).status === "ok");
 * ```
 */
export function decodeMessage(body: Uint8Array): unknown {
  let text: string;
  try {
    text = strictDecoder.decode(body);
  } catch (error) {
    throw new SyntaxError("Cannot decode frame: body is not valid UTF-8", {
      cause: error,
    });
  }
  return JSON.parse(text);
}
