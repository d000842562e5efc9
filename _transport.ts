// Deno socket plumbing shared by the server and the client.

/** The part of `Deno.Conn` a reader needs. */
export interface Readable {
  read(p: Uint8Array): Promise<number | null>;
}

const READ_BUFFER_BYTES = 65_536;

/**
 * Reads a connection chunk by chunk through `conn.read()`. Unlike
 * `conn.readable`, reaching the end does not close the connection, so the
 * owner can still answer a peer that half-closed its side. It reads only when
 * asked: a caller that stops asking stops the socket, and TCP pushes back.
 *
 * One buffer serves every read, so reading allocates nothing: each chunk is
 * a view valid until the next `read()`. Callers decode it at once and copy
 * what they keep. A read that fails because the owner closed the connection
 * reads as the end.
 */
export class ChunkReader {
  readonly #conn: Readable;
  readonly #buffer = new Uint8Array(READ_BUFFER_BYTES);

  constructor(conn: Readable) {
    this.#conn = conn;
  }

  /** The next chunk (valid until the next call), or `null` at the end. */
  async read(): Promise<Uint8Array | null> {
    let count: number | null;
    try {
      count = await this.#conn.read(this.#buffer);
    } catch (error) {
      if (isClosedByUs(error)) return null;
      throw error;
    }
    return count === null ? null : this.#buffer.subarray(0, count);
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
