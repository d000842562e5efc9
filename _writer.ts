// One serialized writer per connection: frames never interleave, and every
// frame queued in the same turn of the event loop goes out in one write.

import { HEADER_BYTES, writeHeader } from "./codec.ts";

/** The part of `Deno.Conn` the writer needs. */
export interface Writable {
  write(p: Uint8Array): Promise<number>;
}

const SCRATCH_BYTES = 65_536;

export class FrameWriter {
  readonly #sink: Writable;
  readonly #highWaterMark: number;
  #queue: Uint8Array[] = [];
  #bufferedBytes = 0;
  #writing = false;
  #failure: unknown = undefined;
  #waiters: { when: () => boolean; resolve: () => void }[] = [];
  /** Called once the socket refuses a write; the connection is then dead. */
  onFailure?: (error: unknown) => void;

  constructor(sink: Writable, highWaterMark: number) {
    this.#sink = sink;
    this.#highWaterMark = highWaterMark;
  }

  /** Bytes queued or being written, prefixes included. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Whether the buffered bytes are above the high-water mark. */
  get full(): boolean {
    return this.#bufferedBytes > this.#highWaterMark;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Queues one frame body. Returns false if the socket already failed. */
  enqueue(body: Uint8Array): boolean {
    if (this.#failure !== undefined) return false;
    this.#queue.push(body);
    this.#bufferedBytes += HEADER_BYTES + body.length;
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

  /** Resolves once everything queued is written, or the socket failed. */
  drained(): Promise<void> {
    return this.#wait(() => this.#bufferedBytes === 0);
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

  // One buffer is reused for batches up to this size: writes are serialized,
  // so it is free again once the previous write is done.
  #scratch?: Uint8Array;

  #batchBuffer(size: number): Uint8Array {
    if (size > SCRATCH_BYTES) return new Uint8Array(size);
    this.#scratch ??= new Uint8Array(SCRATCH_BYTES);
    return this.#scratch.subarray(0, size);
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        let size = 0;
        for (const body of batch) size += HEADER_BYTES + body.length;
        const bytes = this.#batchBuffer(size);
        let offset = 0;
        for (const body of batch) {
          writeHeader(bytes, offset, body.length);
          bytes.set(body, offset + HEADER_BYTES);
          offset += HEADER_BYTES + body.length;
        }
        for (let written = 0; written < size;) {
          written += await this.#sink.write(bytes.subarray(written));
        }
        this.#bufferedBytes -= size;
        this.#notify();
      }
    } catch (error) {
      this.#failure = error;
      this.#queue = [];
      this.#bufferedBytes = 0;
      this.onFailure?.(error);
    } finally {
      this.#writing = false;
      this.#notify();
    }
  }
}
