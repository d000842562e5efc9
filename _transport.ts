// Deno socket plumbing shared by the server and the client.

/** The part of `Deno.Conn` a reader needs. */
export interface Readable {
  read(p: Uint8Array): Promise<number | null>;
}

const READ_BUFFER_BYTES = 65_536;
const SMALL_READ_BYTES = 4_096;

/**
 * A `ReadableStream` over `conn.read()`. Unlike `conn.readable`, reaching its
 * end does not close the connection, so the owner can still answer a peer
 * that half-closed its side. It reads only when pulled (high-water mark 0):
 * a consumer that stops reading stops the socket, and TCP pushes back.
 * A read that fails because the owner closed the connection ends the stream.
 */
export function connReadable(conn: Readable): ReadableStream<Uint8Array> {
  let buffer = new Uint8Array(READ_BUFFER_BYTES);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch (error) {
        if (isClosedByUs(error)) controller.close();
        else controller.error(error);
        return;
      }
      if (count === null) {
        controller.close();
      } else if (count <= SMALL_READ_BYTES) {
        // Small reads are copied so the big buffer can be reused.
        controller.enqueue(buffer.slice(0, count));
      } else {
        controller.enqueue(buffer.subarray(0, count));
        buffer = new Uint8Array(READ_BUFFER_BYTES);
      }
    },
  }, { highWaterMark: 0 });
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

/**
 * Ends a connection so the peer still reads what was written: shuts down
 * our side, reads and throws away at most `maxBytes` of whatever the peer was
 * still sending (closing with unread input would make the kernel reset the
 * connection and drop our answer), for at most `ms`, then closes.
 */
export async function lingerClose(
  conn: Deno.Conn,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxBytes: number,
  ms: number,
): Promise<void> {
  try {
    await conn.closeWrite();
  } catch {
    // The peer is gone already; nothing to linger for.
    closeQuietly(conn);
    return;
  }
  const timer = setTimeout(() => closeQuietly(conn), ms);
  try {
    for (let discarded = 0; discarded <= maxBytes;) {
      const { value, done } = await reader.read();
      if (done) break;
      discarded += value.length;
    }
  } catch {
    // Reset by the peer: it is gone.
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}
