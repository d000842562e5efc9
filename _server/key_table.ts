// Entries found by the hash of a (caller, key) pair, for the idempotency
// store: an open-addressing table (linear probing, deletion by shifting
// back) over two typed arrays, holding entry numbers and their hashes. A
// Map keyed by strings did this job at a third of a keyed request's cost on
// a busy server (each fresh key string is hashed through a runtime call,
// and the Map rebuilds its backing store again and again under churn); a
// table of objects kept every entry visible to the garbage collector, which
// copied and promoted them all. Here the table holds numbers only, and the
// hash is a small integer computed in JavaScript, seeded per process so that
// a peer cannot aim many keys at one run of slots. Pure: no Deno APIs.

// A per-process seed, so that which keys share a run of slots cannot be known from outside.
const SEED = crypto.getRandomValues(new Uint32Array(1))[0];

/** The pair's hash: 30 bits, so that it stays a small integer in every V8 build. */
export function hashOf(caller: string | undefined, key: string): number {
  let hash = SEED ^ 0x811c9dc5;
  if (caller !== undefined) {
    for (let i = 0; i < caller.length; i++) {
      hash = Math.imul(hash ^ caller.charCodeAt(i), 0x01000193);
    }
    // A separator, so that ("ab", "c") and ("a", "bc") differ.
    hash = Math.imul(hash ^ 0xffff_ffff, 0x01000193);
  }
  // Two characters a step: each step waits on the last multiplication.
  const even = key.length & ~1;
  for (let i = 0; i < even; i += 2) {
    hash = Math.imul(hash ^ (key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)), 0x01000193);
  }
  if (even < key.length) hash = Math.imul(hash ^ key.charCodeAt(even), 0x01000193);
  hash = Math.imul(hash ^ key.length, 0x01000193);
  // Murmur3's finaliser: every input bit moves the kept bits.
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) & 0x3fff_ffff;
}

const FIRST_CAPACITY = 16;

/** Entry numbers (non-negative integers) by hash; which of equal hashes is meant, the caller says. */
export class KeyTable {
  // At most half full, so that a run of taken slots stays short. A slot
  // holds its entry's number plus one: zero is a free slot.
  #entries = new Int32Array(FIRST_CAPACITY);
  #hashes = new Int32Array(FIRST_CAPACITY);
  #mask = FIRST_CAPACITY - 1;
  #size = 0;

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** The first entry of this hash for which `matches` is true; -1 if none. */
  find(hash: number, matches: (entry: number) => boolean): number {
    const entries = this.#entries;
    const hashes = this.#hashes;
    for (let i = hash & this.#mask;; i = (i + 1) & this.#mask) {
      const held = entries[i];
      if (held === 0) return -1;
      if (hashes[i] === hash && matches(held - 1)) return held - 1;
    }
  }

  /** Holds an entry under its hash; it must not be held yet. */
  add(entry: number, hash: number): void {
    if ((this.#size + 1) * 2 > this.#entries.length) this.#grow();
    this.#place(entry + 1, hash);
    this.#size++;
  }

  /** Lets an entry go; false if it was not held under that hash. */
  remove(entry: number, hash: number): boolean {
    const entries = this.#entries;
    const hashes = this.#hashes;
    const mask = this.#mask;
    let hole = hash & mask;
    while (entries[hole] !== entry + 1) {
      if (entries[hole] === 0) return false;
      hole = (hole + 1) & mask;
    }
    // Shift back each later entry of the run that may move into the hole
    // (one whose home slot is not between the hole and where it sits).
    for (let at = (hole + 1) & mask; entries[at] !== 0; at = (at + 1) & mask) {
      const home = hashes[at] & mask;
      if (((at - home) & mask) >= ((at - hole) & mask)) {
        entries[hole] = entries[at];
        hashes[hole] = hashes[at];
        hole = at;
      }
    }
    entries[hole] = 0;
    this.#size--;
    return true;
  }

  /** Forgets every entry and renumbers: `renumber` gives an entry's new number (-1: dropped). */
  renumber(renumber: (entry: number) => number): void {
    this.#rebuild(this.#entries.length, renumber);
  }

  #place(held: number, hash: number): void {
    let i = hash & this.#mask;
    while (this.#entries[i] !== 0) i = (i + 1) & this.#mask;
    this.#entries[i] = held;
    this.#hashes[i] = hash;
  }

  #grow(): void {
    this.#rebuild(this.#entries.length * 2, (entry) => entry);
  }

  /** Slots for `capacity` entries, each held entry placed again under its new number. */
  #rebuild(capacity: number, renumber: (entry: number) => number): void {
    const entries = this.#entries;
    const hashes = this.#hashes;
    this.#entries = new Int32Array(capacity);
    this.#hashes = new Int32Array(capacity);
    this.#mask = capacity - 1;
    this.#size = 0;
    for (let i = 0; i < entries.length; i++) {
      if (entries[i] === 0) continue;
      const entry = renumber(entries[i] - 1);
      if (entry < 0) continue;
      this.#place(entry + 1, hashes[i]);
      this.#size++;
    }
  }
}
