// One serialized writer per connection: frames never interleave, and every
// frame queued in the same turn of the event loop goes out in one write.

import { HEADER_BYTES, writeHeader } from "../_wire/header.ts";
import { borrowBuffer, returnBuffer } from "../_wire/buffer_pool.ts";
import { startTimer, type TimerHandle } from "./timers.ts";
import { untilAborted } from "./until_aborted.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

/** The part of `Deno.Conn` the writer needs. */
export interface Writable {
  write(p: Uint8Array): Promise<number>;
}

// Bytes bodies up to this size are copied into the batch; larger ones are
// written as they are, after their prefix.
const SCRATCH_BYTES = 65_536;
const encoder = new TextEncoder();

export class FrameWriter {
  readonly #sink: Writable;
  readonly #highWaterMark: number;
  #queue: (Uint8Array | FrameText | EncodedFrame)[] = [];
  #bufferedBytes = 0;
  // Bytes already encoded and being written (the batch, or a large text's own buffer).
  #encodedBytes = 0;
  #writing = false;
  // Large texts encoded ahead of their write (at most one).
  #encoded = 0;
  #failure: unknown = undefined;
  #waiters: { when: () => boolean; resolve: () => void }[] = [];
  // While bytes wait to be written: when the peer last took some (or when
  // the first write began). Undefined while nothing waits.
  #lastProgress?: number;
  /** Called after each write with the bytes and frames it put on the wire. */
  onWritten?: (bytes: number, frames: number) => void;
  /** Called once the socket refuses a write; the connection is then dead. */
  onFailure?: (error: unknown) => void;

  constructor(sink: Writable, highWaterMark: number) {
    this.#sink = sink;
    this.#highWaterMark = highWaterMark;
  }

  /** Bytes queued or being written, prefixes included (a large text's buffer as it is). */
  get bufferedBytes(): number {
    return this.#bufferedBytes + this.#encodedBytes;
  }

  /** Whether the buffered bytes are above the high-water mark. */
  get full(): boolean {
    return this.bufferedBytes > this.#highWaterMark;
  }

  /** Milliseconds since the peer last took bytes while some wait to be written (0 when none wait). */
  get stalledFor(): number {
    return this.#lastProgress === undefined ? 0 : performance.now() - this.#lastProgress;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Queues one frame body: bytes, or JSON text (whole or in pieces) to be
   * sent as UTF-8: a small one is encoded straight into the batch's write
   * buffer at the flush, a large one into a buffer of its own at once.
   * Returns false if the socket already failed.
   */
  enqueue(body: Uint8Array | FrameText): boolean {
    if (this.#failure !== undefined) return false;
    // A large text is encoded now, while it is young: held as text until
    // the flush, after the other connections' reads of the same turn, it
    // outlived a young collection and waited in the old generation for a
    // full one (a crowd of peers sending 1 MiB echoes left hundreds of MiB
    // of such garbage). One at a time: the texts queued behind it are
    // encoded as their turn comes, each into the buffer the last one gave
    // back (a fresh large buffer costs more than encoding into it).
    let entry: Uint8Array | FrameText | EncodedFrame = body;
    if (!(body instanceof Uint8Array) && body.length > SCRATCH_BYTES && this.#encoded === 0) {
      entry = encodeFrame(body);
      this.#encoded++;
    }
    this.#queue.push(entry);
    // For a string its length stands in for its byte count: only the
    // high-water mark reads this, and the flush subtracts the same figure.
    this.#bufferedBytes += HEADER_BYTES + entry.length;
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#flush());
    }
    return true;
  }

  /** Resolves once the buffer is at or below the high-water mark, or failed. */
  ready(): Promise<void> {
    return this.#wait(() => !this.full);
  }

  /**
   * Resolves true once the buffer is at or below the high-water mark (or
   * the socket failed, or `closed` aborted), false if `ms` passed first.
   * The clock runs from when the peer last took bytes, not from this call:
   * a peer that stopped reading long ago has that much less time left.
   */
  async readyWithin(ms: number, closed: AbortSignal): Promise<boolean> {
    ms = Math.max(0, ms - this.stalledFor);
    let timer: TimerHandle;
    let late = false;
    const deadline = new Promise<void>((resolve) =>
      timer = startTimer(() => {
        late = true;
        resolve();
      }, ms)
    );
    await untilAborted(Promise.race([this.ready(), deadline]), closed);
    if (timer !== undefined) clearTimeout(timer);
    return !late || this.#failure !== undefined || !this.full;
  }

  /** Resolves once everything queued is written, or the socket failed. */
  drained(): Promise<void> {
    return this.#wait(() => this.bufferedBytes === 0);
  }

  #wait(when: () => boolean): Promise<void> {
    if (when() || this.#failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ when, resolve }));
  }

  #notify(): void {
    const failed = this.#failure !== undefined;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!failed && !waiter.when()) return true;
      waiter.resolve();
      return false;
    });
  }

  /** A body no longer queued: what it was charged goes. */
  #release(body: Uint8Array | FrameText | EncodedFrame): void {
    this.#bufferedBytes -= HEADER_BYTES + body.length;
  }

  /** A large body's prefix, then the body as it is. */
  async #writeBytes(body: Uint8Array): Promise<number> {
    const header = new Uint8Array(HEADER_BYTES);
    writeHeader(header, 0, body.length);
    await this.#writeAll(header);
    await this.#writeAll(body);
    return HEADER_BYTES + body.length;
  }

  /** A large text's frame, encoded when it was queued; its buffer goes back once written. */
  async #writeEncoded(encoded: EncodedFrame): Promise<number> {
    const bytes = encoded.frame.length;
    try {
      await this.#writeAll(encoded.frame);
    } finally {
      // Given back even when the write failed: its memory leaves now, not at a collection.
      encoded.dispose();
      this.#encoded--;
    }
    return bytes;
  }

  /** A large text queued behind another: encoded now, charged as its bytes while written. */
  async #writeText(text: FrameText): Promise<number> {
    const encoded = encodeFrame(text);
    this.#encoded++;
    this.#encodedBytes += encoded.length;
    try {
      return await this.#writeEncoded(encoded);
    } finally {
      this.#encodedBytes -= encoded.length;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let written = 0; written < bytes.length;) {
      this.#lastProgress ??= performance.now();
      written += await this.#sink.write(bytes.subarray(written));
      // The peer took bytes just now (one clock read per write, not per frame).
      this.#lastProgress = performance.now();
    }
  }

  async #flush(): Promise<void> {
    let batch: (Uint8Array | FrameText | EncodedFrame)[] = [];
    try {
      while (this.#queue.length > 0) {
        batch = this.#queue;
        this.#queue = [];
        let capacity = 0;
        for (const body of batch) {
          // A large body is written on its own, after its prefix: no copy into the batch.
          capacity += HEADER_BYTES +
            (body instanceof EncodedFrame || body.length > SCRATCH_BYTES
              ? 0
              : (body instanceof Uint8Array ? body.length : 3 * body.length));
        }
        // Batches borrow from the process's pool: an idle connection holds no buffer.
        const buffer = borrowBuffer(capacity).subarray(0, capacity);
        let size = 0;
        let total = 0;
        for (let i = 0; i < batch.length; i++) {
          const body = batch[i];
          let length: number;
          if (body instanceof EncodedFrame || body.length > SCRATCH_BYTES) {
            if (size > 0) await this.#writeAll(buffer.subarray(0, size));
            total += size;
            size = 0;
            if (body instanceof EncodedFrame) total += await this.#writeEncoded(body);
            else if (body instanceof Uint8Array) total += await this.#writeBytes(body);
            else total += await this.#writeText(body);
            this.#release(body);
            continue;
          }
          if (body instanceof Uint8Array) {
            buffer.set(body, size + HEADER_BYTES);
            length = body.length;
          } else {
            length = encodeText(body as FrameText, buffer.subarray(size + HEADER_BYTES));
          }
          writeHeader(buffer, size, length);
          size += HEADER_BYTES + length;
          // Encoded: the body is charged as the bytes of the batch from now on.
          this.#release(body);
          this.#encodedBytes += HEADER_BYTES + length;
        }
        if (size > 0) await this.#writeAll(buffer.subarray(0, size));
        total += size;
        this.#encodedBytes = 0;
        returnBuffer(new Uint8Array(buffer.buffer));
        this.onWritten?.(total, batch.length);
        this.#notify();
      }
    } catch (error) {
      this.#failure = error;
      // Frames encoded but never written give their buffers back (once: disposing twice is harmless).
      for (const body of [...batch, ...this.#queue]) {
        if (body instanceof EncodedFrame) body.dispose();
      }
      this.#encoded = 0;
      this.#queue = [];
      this.#bufferedBytes = 0;
      this.#encodedBytes = 0;
      this.onFailure?.(error);
    } finally {
      this.#writing = false;
      this.#lastProgress = undefined;
      this.#notify();
    }
  }
}

/** Encodes `text`, whole or in pieces, into `into` (room for three bytes a character); returns the bytes written. */
function encodeText(text: FrameText, into: Uint8Array): number {
  if (typeof text === "string") return encoder.encodeInto(text, into).written;
  let written = 0;
  for (const piece of text.pieces) {
    written += encoder.encodeInto(piece, into.subarray(written)).written;
  }
  return written;
}

/**
 * A large text's whole frame (prefix and UTF-8 body) in a borrowed buffer
 * sized for one byte a character (grown only for text that needs more),
 * not three: a 1 MiB answer held for a peer that does not read holds
 * 1 MiB, not 3.
 */
class EncodedFrame {
  readonly frame: Uint8Array<ArrayBuffer>;
  /**
   * Its body's bytes, as a queued body's length counts. The rest of the
   * buffer is not counted: fresh, it is untouched pages; from the pool,
   * memory the pool holds anyway.
   */
  readonly length: number;
  #buffer?: Uint8Array<ArrayBuffer>;

  constructor(buffer: Uint8Array<ArrayBuffer>, written: number) {
    this.#buffer = buffer;
    this.frame = buffer.subarray(0, HEADER_BYTES + written);
    this.length = written;
  }

  /** Gives the buffer back (once). */
  dispose(): void {
    if (this.#buffer !== undefined) returnBuffer(this.#buffer);
    this.#buffer = undefined;
  }
}

/** Encodes a large text into a frame of its own. */
function encodeFrame(text: FrameText): EncodedFrame {
  let buffer = borrowBuffer(HEADER_BYTES + text.length);
  let written = 0;
  // Characters of the text not yet encoded, for growing the buffer.
  let left = text.length;
  for (const piece of typeof text === "string" ? [text] : text.pieces) {
    let { read, written: more } = encoder.encodeInto(
      piece,
      buffer.subarray(HEADER_BYTES + written),
    );
    written += more;
    while (read < piece.length) {
      // Each character left takes at most three bytes.
      const grown = borrowBuffer(HEADER_BYTES + written + 3 * (left - read));
      grown.set(buffer.subarray(0, HEADER_BYTES + written));
      returnBuffer(buffer);
      buffer = grown;
      const rest = encoder.encodeInto(piece.slice(read), buffer.subarray(HEADER_BYTES + written));
      read += rest.read;
      written += rest.written;
    }
    left -= piece.length;
  }
  writeHeader(buffer, 0, written);
  return new EncodedFrame(buffer, written);
}
