// The incremental frame parser and its stream; codec.ts re-exports them.
// Pure: no Deno APIs.

import { FrameTooLargeError, IncompleteFrameError } from "../errors.ts";
import { DEFAULT_MAX_BYTES, HEADER_BYTES, MAX_FRAME_BYTES, readHeader } from "./header.ts";
import { borrowBuffer, returnBuffer } from "./buffer_pool.ts";

/**
 * Options of {@linkcode FrameDecoder} and {@linkcode FrameDecoderStream}.
 *
 * @example Skipping oversized frames instead of failing
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameDecoder, type FrameDecoderOptions } from "@socketbridge/core/codec";
 * const skipped: number[] = [];
 * const options: FrameDecoderOptions = { maxBytes: 4, onOversized: (size) => skipped.push(size) };
 * const decoder = new FrameDecoder(options);
 * const bodies: Uint8Array[] = [];
 * decoder.push(encodeFrame(new Uint8Array(9)), (body) => bodies.push(body));
 * decoder.push(encodeFrame(new Uint8Array(2)), (body) => bodies.push(body));
 * assert.ok(skipped[0] === 9 && bodies.length === 1);
 * ```
 */
export interface FrameDecoderOptions {
  /**
   * The largest body accepted, in bytes. A larger prefix is rejected before
   * anything is allocated for its body.
   *
   * @default {1048576}
   */
  maxBytes?: number;
  /**
   * Called with the announced length of an oversized frame, instead of
   * throwing {@linkcode FrameTooLargeError}; the decoder then skips that
   * many bytes as they arrive, without buffering them, and goes on with the
   * next frame. Leave it unset to fail on the first oversized prefix.
   */
  onOversized?: (size: number) => void;
  /**
   * Assemble bodies that span chunks in buffers shared by every decoder that
   * lends, and lend them to `onFrame`: such a body is valid only until
   * `onFrame` returns (copy it to keep it). For a reader that parses each
   * body at once, it spares a fresh buffer for every large frame.
   *
   * @default {false}
   */
  lendBodies?: boolean;
}

/**
 * An incremental frame parser: push chunks in, get whole frame bodies out.
 * A body that lies whole inside one chunk is handed out as a view of that
 * chunk (no copy); one that spans chunks is assembled once into a buffer of
 * exactly its size.
 *
 * @example Decoding frames pushed one byte at a time
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameDecoder } from "@socketbridge/core/codec";
 *
 * const bytes = encodeFrame(new Uint8Array([7, 8, 9]));
 * const decoder = new FrameDecoder();
 * const bodies: Uint8Array[] = [];
 * for (const byte of bytes) decoder.push(new Uint8Array([byte]), (b) => bodies.push(b));
 * assert.ok(bodies.length === 1 && bodies[0].join() === "7,8,9");
 * assert.ok(decoder.idle);
 * ```
 */
export class FrameDecoder {
  readonly #maxBytes: number;
  readonly #onOversized?: (size: number) => void;
  readonly #lend: boolean;
  // A prefix split across chunks, gathered as a number: no buffer to hold.
  #header = 0;
  #headerFilled = 0;
  // The unfinished body: its announced length, and a buffer grown with what
  // has arrived (never reserved up front: a prefix costs the sender 4 bytes).
  #body: Uint8Array<ArrayBuffer> | undefined;
  #bodyLength = 0;
  #bodyFilled = 0;
  #skipRemaining = 0;
  #failure: FrameTooLargeError | undefined;

  /**
   * Creates a decoder at a frame boundary.
   *
   * @param options The body cap and what to do past it.
   * @throws {RangeError} If `maxBytes` is not a whole number from 0 to 2^32-1.
   */
  constructor(options: FrameDecoderOptions = {}) {
    this.#maxBytes = checkMaxBytes(options.maxBytes ?? DEFAULT_MAX_BYTES);
    this.#onOversized = options.onOversized;
    this.#lend = options.lendBodies === true;
  }

  /**
   * `true` at a frame boundary: no part of an unfinished frame is held.
   *
   * @returns Whether the decoder holds nothing.
   */
  get idle(): boolean {
    return this.#headerFilled === 0 && this.#body === undefined &&
      this.#skipRemaining === 0;
  }

  /**
   * How many bytes of the unfinished frame have arrived (prefix included).
   *
   * @returns The count; 0 when {@linkcode FrameDecoder.idle}.
   */
  get pendingBytes(): number {
    return this.#headerFilled +
      (this.#body === undefined ? 0 : HEADER_BYTES + this.#bodyFilled);
  }

  /**
   * How much memory the unfinished frame holds: the buffer its body is
   * assembled in (grown as bytes arrive, so at most twice what came), and
   * the prefix bytes so far.
   *
   * @returns The count; 0 when {@linkcode FrameDecoder.idle}.
   */
  get heldBytes(): number {
    return this.#headerFilled + (this.#body === undefined ? 0 : this.#body.length);
  }

  /**
   * Feeds one chunk. Calls `onFrame` once per body completed by it, in order.
   *
   * @param chunk The next bytes of the stream.
   * @param onFrame Receives each completed body. A body that is a view of
   * `chunk` stays valid as long as the caller does not reuse `chunk`.
   * @throws {FrameTooLargeError} On a prefix above `maxBytes` when no
   * `onOversized` was given; the decoder is unusable afterwards, and bodies
   * that came before the prefix in the chunk were already delivered.
   */
  push(chunk: Uint8Array, onFrame: (body: Uint8Array) => void): void {
    if (this.#failure !== undefined) throw this.#failure;
    const end = chunk.length;
    let offset = 0;
    while (offset < end) {
      if (this.#skipRemaining > 0) {
        const skipped = Math.min(this.#skipRemaining, end - offset);
        this.#skipRemaining -= skipped;
        offset += skipped;
        continue;
      }
      let body = this.#body;
      if (body === undefined) {
        let length: number;
        if (this.#headerFilled === 0 && end - offset >= HEADER_BYTES) {
          length = readHeader(chunk, offset);
          offset += HEADER_BYTES;
        } else {
          this.#header = (this.#header * 256) + chunk[offset++];
          if (++this.#headerFilled < HEADER_BYTES) continue;
          length = this.#header;
          this.#header = 0;
          this.#headerFilled = 0;
        }
        if (length > this.#maxBytes) {
          if (this.#onOversized === undefined) {
            this.#failure = new FrameTooLargeError(length, this.#maxBytes);
            throw this.#failure;
          }
          this.#skipRemaining = length;
          this.#onOversized(length);
          continue;
        }
        if (end - offset >= length) {
          offset += length;
          onFrame(chunk.subarray(offset - length, offset));
          continue;
        }
        body = this.#body = this.#buffer(Math.min(length, Math.max(end - offset, 4_096) * 2));
        this.#bodyLength = length;
        this.#bodyFilled = 0;
      }
      const copied = Math.min(this.#bodyLength - this.#bodyFilled, end - offset);
      if (this.#bodyFilled + copied > body.length) {
        // Grow geometrically, never past the announced length.
        const grown = this.#buffer(
          Math.min(this.#bodyLength, Math.max(body.length * 2, this.#bodyFilled + copied)),
        );
        grown.set(body.subarray(0, this.#bodyFilled));
        if (this.#lend) returnBuffer(body);
        body = this.#body = grown;
      }
      body.set(chunk.subarray(offset, offset + copied), this.#bodyFilled);
      this.#bodyFilled += copied;
      offset += copied;
      if (this.#bodyFilled === this.#bodyLength) {
        this.#body = undefined;
        if (!this.#lend) onFrame(body);
        else {
          try {
            onFrame(body.subarray(0, this.#bodyLength));
          } finally {
            returnBuffer(body);
          }
        }
      }
    }
  }

  #buffer(size: number): Uint8Array<ArrayBuffer> {
    // Lent bodies of 16 KiB or more are mapped: a crowd of strangers sending large frames
    // grows and drops them together, and plain ones stayed in malloc's heap after they left.
    return this.#lend ? borrowBuffer(size, true) : new Uint8Array(size);
  }

  /**
   * Declares the end of the stream. Whatever an unfinished frame held is let
   * go: afterwards the decoder is {@linkcode FrameDecoder.idle}.
   *
   * @throws {IncompleteFrameError} If the stream ended inside a frame.
   */
  finish(): void {
    if (this.idle) return;
    const pending = this.pendingBytes;
    // A lent body's buffer goes back to the pool (or to the system) now.
    if (this.#lend && this.#body !== undefined) returnBuffer(this.#body);
    this.#body = undefined;
    this.#header = 0;
    this.#headerFilled = 0;
    this.#skipRemaining = 0;
    throw new IncompleteFrameError(pending);
  }
}

/**
 * A `TransformStream` from a byte stream to frame bodies, one chunk out per
 * frame. Errors the stream with {@linkcode FrameTooLargeError} on an
 * oversized prefix and with {@linkcode IncompleteFrameError} when the input
 * ends inside a frame.
 *
 * @example Reading frames from any byte stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameDecoderStream } from "@socketbridge/core/codec";
 *
 * const bytes = new Uint8Array([
 *   ...encodeFrame(new Uint8Array([1])),
 *   ...encodeFrame(new Uint8Array([2, 3])),
 * ]);
 * const bodies = await Array.fromAsync(
 *   ReadableStream.from([bytes]).pipeThrough(new FrameDecoderStream()),
 * );
 * assert.ok(bodies.length === 2 && bodies[1].join() === "2,3");
 * ```
 */
export class FrameDecoderStream extends TransformStream<Uint8Array, Uint8Array> {
  /**
   * Creates the stream.
   *
   * @param options The body cap. `onOversized` is honoured too: with it the
   * stream skips oversized frames instead of failing.
   */
  constructor(options: FrameDecoderOptions = {}) {
    const decoder = new FrameDecoder(options);
    super({
      transform(chunk, controller) {
        decoder.push(chunk, (body) => controller.enqueue(body));
      },
      flush() {
        decoder.finish();
      },
    });
  }
}

function checkMaxBytes(maxBytes: number): number {
  if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > MAX_FRAME_BYTES) {
    throw new RangeError(
      `Cannot use maxBytes ${maxBytes}: expected a whole number from 0 to ${MAX_FRAME_BYTES}`,
    );
  }
  return maxBytes;
}
