// Buffers mapped apart from malloc's heap: resizable ArrayBuffers, whose
// memory V8 takes from the system page by page and gives back when one is
// shrunk. A buffer dropped into malloc's heap stays in the process (a crowd
// of peers growing and dropping read and frame buffers left hundreds of
// MiB there); one of these, let go, leaves at once. Reading from a view of
// one costs a little more (about 30 ns a small frame), so only buffers that
// come and go under load are mapped. Pure: no Deno APIs.

/** A zero-filled buffer of `size` bytes, mapped apart from malloc's heap. */
function mappedBuffer(size: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(size, { maxByteLength: size }));
}

/**
 * Gives a buffer's memory back now if it is mapped (its views become
 * empty); a plain one is left to the collector. Only for a buffer nothing
 * reads any more.
 */
function letGo(buffer: Uint8Array<ArrayBuffer>): void {
  if (buffer.buffer.resizable) buffer.buffer.resize(0);
}

// Mapped buffers given back, kept for the next borrower of the same size.
// Mapping a buffer and letting it go are system calls (20-40 us a pair
// for 16-64 KiB): a crowd of strangers, each paused and read again many
// times, mapped and let go read buffers by the ten thousand, a third of
// the server's work while its well-behaved clients waited. Bounded, each
// size on its own (large answers' buffers must not leave no room for read
// buffers) and all together: what the shelf has no room for is let go.
const SHELF_BYTES_A_SIZE = 4 * 1_048_576;
const SHELF_BYTES = 16 * 1_048_576;
const shelf = new Map<number, Uint8Array<ArrayBuffer>[]>();
let shelvedBytes = 0;

/** A mapped buffer of `size` bytes: one given back at that size, or a new one (zero-filled). */
export function borrowMapped(size: number): Uint8Array<ArrayBuffer> {
  const kept = shelf.get(size)?.pop();
  if (kept === undefined) return mappedBuffer(size);
  shelvedBytes -= size;
  return kept;
}

/**
 * Gives back a buffer nothing reads any more: a mapped one is kept for the
 * next borrower while the shelf has room, else let go; a plain one is left
 * to the collector.
 */
export function giveBackMapped(buffer: Uint8Array<ArrayBuffer>): void {
  const size = buffer.length;
  if (!buffer.buffer.resizable || size === 0) return;
  let kept = shelf.get(size);
  if (shelvedBytes + size > SHELF_BYTES || ((kept?.length ?? 0) + 1) * size > SHELF_BYTES_A_SIZE) {
    letGo(buffer);
    return;
  }
  if (kept === undefined) shelf.set(size, kept = []);
  kept.push(buffer);
  shelvedBytes += size;
}
