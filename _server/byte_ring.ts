// Bytes kept for a while, outside the garbage collector's view: records
// appended to one buffer that is used as a ring. A record's owner says
// whether it still holds it; the oldest records nobody holds are given back
// as new ones are written, and when the ring is full of held records it
// grows, its held records compacted into the new buffer. Meant for records
// that are mostly given up in the order they were written (the idempotency
// store's requests and answers): one held for long only keeps the ring from
// reusing what follows it until then. Pure: no Deno APIs.

/** Whether the owner still holds the record of `id` and `kind` whose data starts at `at`. */
export type Holds = (id: number, kind: number, at: number) => boolean;
/** The record of `id` and `kind` now starts at `at` (the ring grew). */
export type Moved = (id: number, kind: number, at: number) => void;

// A record: its size in the ring (u32), its kind (u32, PAD: the rest of the
// buffer is unused), its owner's id (f64), then the data, padded to 8 bytes.
const HEADER = 16;
const PAD = 0;
const FIRST_CAPACITY = 64 * 1024;
// The largest the ring grows: offsets stay small integers, and a store that
// holds more keeps its further records elsewhere.
const MAX_CAPACITY = 2 ** 30;

const encoder = new TextEncoder();

export class ByteRing {
  readonly #holds: Holds;
  readonly #moved: Moved;
  readonly #maxCapacity: number;
  #bytes = new Uint8Array(FIRST_CAPACITY);
  // The headers, read as words (records start on 8-byte boundaries).
  #words = new Uint32Array(this.#bytes.buffer);
  #ids = new Float64Array(this.#bytes.buffer);
  // Records are written at #head and given back from #tail; #used counts
  // the bytes between them (padding included), so that full and empty differ.
  #head = 0;
  #tail = 0;
  #used = 0;

  /**
   * @param holds Whether the owner still holds a record.
   * @param moved Tells the owner where a record moved when the ring grew.
   * @param maxCapacity The largest the ring grows (at least its first size).
   */
  constructor(holds: Holds, moved: Moved, maxCapacity = MAX_CAPACITY) {
    this.#holds = holds;
    this.#moved = moved;
    this.#maxCapacity = Math.max(maxCapacity, FIRST_CAPACITY);
  }

  /** The buffer's size in bytes. */
  get capacity(): number {
    return this.#bytes.length;
  }

  /**
   * Stores a copy of `data` as a record of `id` and `kind` (not PAD); returns
   * where its data starts, or -1 when the ring is full at its largest size.
   */
  write(id: number, kind: number, data: Uint8Array): number {
    const at = this.#reserve(data.length);
    if (at < 0) return -1;
    this.#bytes.set(data, at);
    this.#commit(id, kind, at, data.length);
    return at;
  }

  /**
   * Stores `text` as UTF-8 like `write`; returns where its data starts (-1:
   * the ring is full at its largest size), and its length in bytes as `written`.
   */
  writeText(id: number, kind: number, text: string): { at: number; written: number } {
    const at = this.#reserve(text.length * 3);
    if (at < 0) return { at, written: 0 };
    const { written } = encoder.encodeInto(text, this.#bytes.subarray(at, at + text.length * 3));
    this.#commit(id, kind, at, written);
    return { at, written };
  }

  /** A view of stored data, valid until the next write. */
  read(at: number, length: number): Uint8Array {
    return this.#bytes.subarray(at, at + length);
  }

  /** Room for `length` bytes of data; returns where the data will start, -1 if there is none. */
  #reserve(length: number): number {
    const size = sizeOf(length);
    let at = this.#roomFor(size);
    if (at >= 0) return at + HEADER;
    // Full: what nobody holds any more is given back first, then the ring grows.
    this.#reclaim();
    for (;;) {
      at = this.#roomFor(size);
      if (at >= 0) return at + HEADER;
      if (this.#bytes.length * 2 > this.#maxCapacity) return -1;
      this.#grow(size);
    }
  }

  #commit(id: number, kind: number, at: number, length: number): void {
    const start = at - HEADER;
    const size = sizeOf(length);
    this.#words[start >> 2] = size;
    this.#words[(start >> 2) + 1] = kind;
    this.#ids[(start >> 3) + 1] = id;
    this.#head = this.#after(start, size);
    this.#used += size;
  }

  /** Where a record of `size` bytes can start, padding the end of the buffer if it must; -1: nowhere. */
  #roomFor(size: number): number {
    const capacity = this.#bytes.length;
    if (this.#used === 0) return size <= capacity ? 0 : -1;
    if (this.#head > this.#tail) {
      if (capacity - this.#head >= size) return this.#head;
      if (size > this.#tail) return -1;
      const rest = capacity - this.#head;
      if (rest >= HEADER) {
        this.#words[this.#head >> 2] = rest;
        this.#words[(this.#head >> 2) + 1] = PAD;
      }
      this.#used += rest;
      this.#head = 0;
      return 0;
    }
    return this.#tail - this.#head >= size && this.#head !== this.#tail ? this.#head : -1;
  }

  /** Gives back the oldest records nobody holds. */
  #reclaim(): void {
    while (this.#used > 0 && !this.#held(this.#tail)) {
      const size = this.#sizeAt(this.#tail);
      this.#used -= size;
      this.#tail = this.#after(this.#tail, size);
    }
    if (this.#used === 0) {
      this.#head = this.#tail = 0;
      // Empty after a burst: the buffer goes back to its first size.
      if (this.#bytes.length > FIRST_CAPACITY) this.#replace(new Uint8Array(FIRST_CAPACITY));
    }
  }

  /** A buffer at least twice as large, with the held records moved to its start. */
  #grow(size: number): void {
    let capacity = this.#bytes.length * 2;
    while (capacity < this.#used + size) capacity *= 2;
    const old = this.#bytes;
    const grown = new Uint8Array(capacity);
    let written = 0;
    for (let left = this.#used, at = this.#tail; left > 0;) {
      const recordSize = this.#sizeAt(at);
      if (this.#held(at)) {
        grown.set(old.subarray(at, at + recordSize), written);
        this.#moved(this.#ids[(at >> 3) + 1], this.#words[(at >> 2) + 1], written + HEADER);
        written += recordSize;
      }
      left -= recordSize;
      at = this.#after(at, recordSize);
    }
    this.#replace(grown);
    this.#tail = 0;
    this.#used = written;
    this.#head = written === capacity ? 0 : written;
  }

  /** The size of the record at `at`; too near the end for a header, the rest is padding. */
  #sizeAt(at: number): number {
    const rest = this.#bytes.length - at;
    return rest < HEADER ? rest : this.#words[at >> 2];
  }

  /** Whether the record at `at` is one its owner still holds (padding is nobody's). */
  #held(at: number): boolean {
    if (this.#bytes.length - at < HEADER) return false;
    const kind = this.#words[(at >> 2) + 1];
    return kind !== PAD && this.#holds(this.#ids[(at >> 3) + 1], kind, at + HEADER);
  }

  /** Where the record after the one of `size` bytes at `at` starts. */
  #after(at: number, size: number): number {
    return at + size === this.#bytes.length ? 0 : at + size;
  }

  #replace(bytes: Uint8Array<ArrayBuffer>): void {
    this.#bytes = bytes;
    this.#words = new Uint32Array(bytes.buffer);
    this.#ids = new Float64Array(bytes.buffer);
  }
}

/** A record's size in the ring: its header and data, padded to 8 bytes. */
function sizeOf(length: number): number {
  return (HEADER + length + 7) & ~7;
}
