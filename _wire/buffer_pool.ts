// Buffers borrowed for one use and given back, shared by every connection of
// the process: the writers' batches (a connection holds no write buffer
// while idle) and the bodies a frame decoder lends (a body that arrives over
// several reads). A fresh large Uint8Array is zero-filled memory straight
// from the system (a 1 MiB one cost ~0.3 ms on average, against 27 us to
// copy 1 MiB into a buffer already there). Sizes go by powers of two; many
// small ones are kept (one per connection writing at once), a few large
// ones, within a total. Pure: no Deno APIs.
//
// A buffer larger than LARGEST_SMALL_CLASS is mapped (mapped_buffer.ts),
// and one the pool has no room for is let go at once instead of waiting
// for a collection: under a thousand peers each sending a large frame,
// that memory was what the process kept (and kept after they left).

import { letGo, mappedBuffer } from "./mapped_buffer.ts";

const SMALLEST_CLASS = 12; // 4 KiB
const LARGEST_SMALL_CLASS = 16; // 64 KiB: larger buffers are mapped
const KEPT_SMALL = 64;
const KEPT_LARGE = 4;
const KEPT_TOTAL_BYTES = 16 * 1_048_576;

const kept: Uint8Array<ArrayBuffer>[][] = [];
let keptBytes = 0;

function classOf(size: number): number {
  return Math.max(SMALLEST_CLASS, Math.ceil(Math.log2(Math.max(1, size))));
}

/** A buffer of at least `size` bytes (its contents are whatever it held last). */
export function borrowBuffer(size: number): Uint8Array<ArrayBuffer> {
  const sizeClass = classOf(size);
  const buffer = kept[sizeClass]?.pop();
  if (buffer !== undefined) {
    keptBytes -= buffer.length;
    return buffer;
  }
  const bytes = 2 ** sizeClass;
  return sizeClass <= LARGEST_SMALL_CLASS ? new Uint8Array(bytes) : mappedBuffer(bytes);
}

/** Gives a borrowed buffer back; kept for the next borrower if there is room. */
export function returnBuffer(buffer: Uint8Array<ArrayBuffer>): void {
  const sizeClass = classOf(buffer.length);
  if (buffer.length !== 2 ** sizeClass) return;
  const shelf = kept[sizeClass] ??= [];
  const room = sizeClass <= LARGEST_SMALL_CLASS ? KEPT_SMALL : KEPT_LARGE;
  if (shelf.length >= room || keptBytes + buffer.length > KEPT_TOTAL_BYTES) {
    // Not kept: a large (mapped) one's memory goes back now.
    letGo(buffer);
    return;
  }
  shelf.push(buffer);
  keptBytes += buffer.length;
}
