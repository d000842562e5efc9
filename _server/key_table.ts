// Entries found by a (caller, key) pair, for the idempotency store: an
// open-addressing table (linear probing, deletion by shifting back) over one
// array that is replaced only when it grows. A Map did this job at a third
// of a keyed request's cost on a busy server: each fresh key string is
// hashed through a runtime call, and under steady churn the Map rebuilds its
// backing store again and again; every dead store left in the old
// generation still points at young entries, which are thereby kept through
// young collections and promoted, only to be collected by full ones. Here a
// removed entry's slot is cleared at once, and the hash is a small integer
// computed in JavaScript, seeded per process so that a peer cannot aim many
// keys at one run of slots. Pure: no Deno APIs.

/** What the table holds: an entry knows its pair and the pair's hash. */
export interface Keyed {
  readonly caller: string | undefined;
  readonly key: string;
  readonly hash: number;
}

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
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  // Murmur3's finaliser: every input bit moves the kept bits.
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) & 0x3fff_ffff;
}

const FIRST_CAPACITY = 16;

export class KeyTable<E extends Keyed> {
  // At most half full, so that a run of taken slots stays short.
  #slots: (E | undefined)[] = new Array(FIRST_CAPACITY).fill(undefined);
  #mask = FIRST_CAPACITY - 1;
  #size = 0;

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** The entry for this pair, whose hash is `hash`, if held. */
  find(caller: string | undefined, key: string, hash: number): E | undefined {
    const slots = this.#slots;
    for (let i = hash & this.#mask;; i = (i + 1) & this.#mask) {
      const entry = slots[i];
      if (entry === undefined) return undefined;
      if (entry.hash === hash && entry.key === key && entry.caller === caller) return entry;
    }
  }

  /** Holds an entry; its pair must not be held yet. */
  add(entry: E): void {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    this.#place(entry);
    this.#size++;
  }

  /** Lets an entry go; false if it was not held. */
  remove(entry: E): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    let hole = entry.hash & mask;
    while (slots[hole] !== entry) {
      if (slots[hole] === undefined) return false;
      hole = (hole + 1) & mask;
    }
    // Shift back each later entry of the run that may move into the hole
    // (one whose home slot is not between the hole and where it sits).
    for (let at = (hole + 1) & mask; slots[at] !== undefined; at = (at + 1) & mask) {
      const home = slots[at]!.hash & mask;
      if (((at - home) & mask) >= ((at - hole) & mask)) {
        slots[hole] = slots[at];
        hole = at;
      }
    }
    slots[hole] = undefined;
    this.#size--;
    return true;
  }

  #place(entry: E): void {
    let i = entry.hash & this.#mask;
    while (this.#slots[i] !== undefined) i = (i + 1) & this.#mask;
    this.#slots[i] = entry;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Array(old.length * 2).fill(undefined);
    this.#mask = this.#slots.length - 1;
    for (const entry of old) if (entry !== undefined) this.#place(entry);
  }
}
