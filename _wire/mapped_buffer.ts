// Buffers mapped apart from malloc's heap: resizable ArrayBuffers, whose
// memory V8 takes from the system page by page and gives back when one is
// shrunk. A buffer dropped into malloc's heap stays in the process (a crowd
// of peers growing and dropping read and frame buffers left hundreds of
// MiB there); one of these, let go, leaves at once. Reading from a view of
// one costs a little more (about 30 ns a small frame), so only buffers that
// come and go under load are mapped. Pure: no Deno APIs.

/** A zero-filled buffer of `size` bytes, mapped apart from malloc's heap. */
export function mappedBuffer(size: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(size, { maxByteLength: size }));
}

/**
 * Gives a buffer's memory back now if it is mapped (its views become
 * empty); a plain one is left to the collector. Only for a buffer nothing
 * reads any more.
 */
export function letGo(buffer: Uint8Array<ArrayBuffer>): void {
  if (buffer.buffer.resizable) buffer.buffer.resize(0);
}
