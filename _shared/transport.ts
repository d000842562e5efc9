// Deno socket plumbing shared by the server and the client.

import { borrowMapped, giveBackMapped } from "../_wire/mapped_buffer.ts";

/** The part of `Deno.Conn` a reader needs. */
export interface Readable {
  read(p: Uint8Array): Promise<number | null>;
}

// A connection starts with a small read buffer, so an idle one holds
// little; reads that fill it double it, up to the largest.
const FIRST_READ_BYTES = 1_024;
const MAX_READ_BYTES = 65_536;
// Grown past this, a mapped reader's buffer is resizable.
const MAPPED_FROM_BYTES = 16_384;

/**
 * Reads a connection into one reused buffer, grown while reads fill it:
 * no stream layer, no allocation per read.
 */
export class ChunkReader {
  readonly #conn: Readable;
  readonly #maxReadBytes: number;
  #buffer: Uint8Array<ArrayBuffer> = new Uint8Array(FIRST_READ_BYTES);
  // The buffer outgrown by the last read, given back at the next (its chunk is valid until then).
  #outgrown?: Uint8Array<ArrayBuffer>;
  #ahead?: Promise<Uint8Array | null>;
  /**
   * Whether grown buffers are mapped (`borrowMapped`), given back at once
   * by `shrink()`. A server reads its strangers so (a crowd of them grows
   * and drops read buffers together); not its clients, since reading from
   * such a buffer costs a little more. Turned off, the next read moves to a
   * plain buffer.
   */
  mapped = false;
  /**
   * The largest the buffer grows for now (never past the reader's largest).
   * A server bounds a crowd of strangers' reads so: grown to 64 KiB each, a
   * thousand of them were read far past their part of the memory budget
   * before any paused.
   */
  limit = Infinity;

  /**
   * @param conn The connection.
   * @param maxReadBytes The largest the read buffer grows.
   */
  constructor(conn: Readable, maxReadBytes = MAX_READ_BYTES) {
    this.#conn = conn;
    this.#maxReadBytes = maxReadBytes;
  }

  /** The size of the read buffer now: a chunk this long may not be all there is. */
  get capacity(): number {
    return this.#buffer.length;
  }

  /**
   * Starts the next read now, if none is pending, without taking its chunk
   * (the next {@linkcode ChunkReader.read} returns it): resolves once that
   * read has brought data or the end, rejects if it failed. A paused
   * connection uses it to notice at once a peer that resets.
   */
  readAhead(): Promise<void> {
    this.#ahead ??= this.#read();
    return this.#ahead.then(() => {});
  }

  /**
   * Gives the grown read buffer back (a connection paused for memory holds
   * 1 KiB, not 64): the next reads grow it again. Not while a read is pending.
   */
  shrink(): void {
    if (this.#ahead === undefined && this.#buffer.length > FIRST_READ_BYTES) {
      // No chunk of it is in use: each is valid only until the next call.
      this.#giveBackOutgrown();
      giveBackMapped(this.#buffer);
      this.#buffer = new Uint8Array(FIRST_READ_BYTES);
    }
  }

  /** The next chunk (valid until the next call), or `null` at the end. */
  read(): Promise<Uint8Array | null> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    return ahead ?? this.#read();
  }

  async #read(): Promise<Uint8Array | null> {
    this.#giveBackOutgrown();
    if (!this.mapped && this.#buffer.buffer.resizable) {
      const mapped = this.#buffer;
      this.#buffer = new Uint8Array(mapped.length);
      giveBackMapped(mapped);
    }
    let count: number | null;
    try {
      count = await this.#conn.read(this.#buffer);
    } catch (error) {
      if (isClosedByUs(error)) return null;
      throw error;
    }
    if (count === null) return null;
    const chunk = this.#buffer.subarray(0, count);
    if (count === this.#buffer.length && count < this.#maxReadBytes) this.#grow(count);
    return chunk;
  }

  /** A larger buffer for the next read, within the limit; the chunk of the last stays valid. */
  #grow(count: number): void {
    // A power of two, so that a buffer given back fits the next reader grown as far.
    const size = Math.min(
      count * 2,
      2 ** Math.floor(Math.log2(Math.min(this.limit, this.#maxReadBytes))),
    );
    if (size > count) {
      if (this.#buffer.buffer.resizable) this.#outgrown = this.#buffer;
      this.#buffer = this.mapped && size >= MAPPED_FROM_BYTES
        ? borrowMapped(size)
        : new Uint8Array(size);
    }
  }

  #giveBackOutgrown(): void {
    if (this.#outgrown === undefined) return;
    giveBackMapped(this.#outgrown);
    this.#outgrown = undefined;
  }
}

/** Whether an error means the socket was closed (by either side). */
export function isClosedByUs(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

/** Whether an error is the peer dropping the connection. */
export function isPeerGone(error: unknown): boolean {
  return isClosedByUs(error) ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.UnexpectedEof;
}

/** Closes a connection, ignoring one that is already closed. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
