// Buffers borrowed for one use and given back, shared by every connection of
// the process: the writers' batches (a connection holds no write buffer
// while idle) and the bodies a frame decoder lends (a body that arrives over
// several reads). A fresh large Uint8Array is zero-filled memory straight
// from the system (a 1 MiB one cost ~0.3 ms on average, against 27 us to
// copy 1 MiB into a buffer already there). Sizes go by powers of two; many
// small ones are kept (one per connection writing at once), within a total.
// Pure: no Deno APIs.
//
// Buffers larger than LARGEST_SMALL_CLASS are mapped (mapped_buffer.ts),
// and so are those of 16 KiB or more a borrower asks mapped (a decoder's
// bodies): given back, they wait on the mapped buffers' shelf, or give
// their memory back at once when it is full. Under a thousand peers each
// sending a large frame, plain buffers were what the process kept (in
// malloc's heap, after they left).

import { borrowMapped, giveBackMapped } from "./mapped_buffer.ts";

const SMALLEST_CLASS = 12; // 4 KiB
const SMALLEST_MAPPED_CLASS = 14; // 16 KiB
const LARGEST_SMALL_CLASS = 16; // 64 KiB: larger buffers are mapped
const KEPT_SMALL = 64;
const KEPT_TOTAL_BYTES = 16 * 1_048_576;

const kept: Uint8Array<ArrayBuffer>[][] = [];
let keptBytes = 0;

function classOf(size: number): number {
  return Math.max(SMALLEST_CLASS, Math.ceil(Math.log2(Math.max(1, size))));
}

/**
 * A buffer of at least `size` bytes (its contents are whatever it held
 * last); `mapped`, one of 16 KiB or more is mapped.
 */
export function borrowBuffer(size: number, mapped = false): Uint8Array<ArrayBuffer> {
  const sizeClass = classOf(size);
  const bytes = 2 ** sizeClass;
  if (sizeClass > LARGEST_SMALL_CLASS || (mapped && sizeClass >= SMALLEST_MAPPED_CLASS)) {
    return borrowMapped(bytes);
  }
  const buffer = kept[sizeClass]?.pop();
  if (buffer === undefined) return new Uint8Array(bytes);
  keptBytes -= buffer.length;
  return buffer;
}

/** Gives a borrowed buffer back; kept for the next borrower if there is room. */
export function returnBuffer(buffer: Uint8Array<ArrayBuffer>): void {
  if (buffer.buffer.resizable) {
    giveBackMapped(buffer);
    return;
  }
  const sizeClass = classOf(buffer.length);
  if (buffer.length !== 2 ** sizeClass) return;
  const shelf = kept[sizeClass] ??= [];
  if (shelf.length >= KEPT_SMALL || keptBytes + buffer.length > KEPT_TOTAL_BYTES) return;
  shelf.push(buffer);
  keptBytes += buffer.length;
}
