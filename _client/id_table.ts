// The client's requests waiting for answers, by id. Its own ids count up
// from 1, so a slot array indexed by the id's low bits finds them without
// hashing; a Map takes string ids and the rare request outliving a whole
// lap of the array. Why not a Map alone: with requests set and deleted at
// the rate of a pipelined connection, a long-lived Map's tables are
// rebuilt every few dozen requests, and each rebuilt table, holding
// short-lived entries, survived the young-generation GC: the client spent
// six times longer per scavenge than without it, for 15% of its
// throughput. Pure: no Deno APIs.

import type { RequestId } from "../protocol.ts";

const FIRST_SLOTS = 64;

/** Entries keyed by their own `id`. */
export class IdTable<Entry extends { readonly id?: RequestId }> {
  #slots: (Entry | undefined)[] = new Array(FIRST_SLOTS).fill(undefined);
  #mask = FIRST_SLOTS - 1;
  #inSlots = 0;
  readonly #overflow = new Map<RequestId, Entry>();

  /** Entries held. */
  get size(): number {
    return this.#inSlots + this.#overflow.size;
  }

  /** Adds an entry under its id (which must not be held already). */
  set(id: RequestId, entry: Entry): void {
    if (typeof id !== "number") {
      this.#overflow.set(id, entry);
      return;
    }
    if (this.#inSlots >= this.#slots.length >> 1) this.#grow();
    const at = id & this.#mask;
    const older = this.#slots[at];
    if (older !== undefined) {
      // A request still waiting a whole lap later: it moves to the Map.
      this.#overflow.set(older.id!, older);
      this.#inSlots--;
    }
    this.#slots[at] = entry;
    this.#inSlots++;
  }

  get(id: RequestId): Entry | undefined {
    if (typeof id === "number") {
      const entry = this.#slots[id & this.#mask];
      if (entry !== undefined && entry.id === id) return entry;
    }
    return this.#overflow.size === 0 ? undefined : this.#overflow.get(id);
  }

  /** Removes the entry with this id; false when there is none. */
  delete(id: RequestId): boolean {
    if (typeof id === "number") {
      const at = id & this.#mask;
      const entry = this.#slots[at];
      if (entry !== undefined && entry.id === id) {
        this.#slots[at] = undefined;
        this.#inSlots--;
        return true;
      }
    }
    return this.#overflow.size !== 0 && this.#overflow.delete(id);
  }

  /** Every entry held, in no particular order. */
  *values(): IterableIterator<Entry> {
    for (const entry of this.#slots) if (entry !== undefined) yield entry;
    yield* this.#overflow.values();
  }

  clear(): void {
    this.#slots = new Array(FIRST_SLOTS).fill(undefined);
    this.#mask = FIRST_SLOTS - 1;
    this.#inSlots = 0;
    this.#overflow.clear();
  }

  /** Doubles the slots: more requests wait at once than half of them. */
  #grow(): void {
    const old = this.#slots;
    this.#slots = new Array(old.length * 2).fill(undefined);
    this.#mask = this.#slots.length - 1;
    this.#inSlots = 0;
    for (const entry of old) {
      if (entry === undefined) continue;
      const at = (entry.id as number) & this.#mask;
      if (this.#slots[at] === undefined) {
        this.#slots[at] = entry;
        this.#inSlots++;
      } else this.#overflow.set(entry.id!, entry);
    }
  }
}
