// One server-wide budget for the memory held on behalf of peers, charged to
// the connection that makes the server hold it (its read buffer, partial
// frame, frames waiting for a slot, requests its handlers are running,
// answers waiting to be written). As trusted servers treat slow consumers
// (NATS closes them; Redis's client-output-buffer-limit closes a client
// past its limit): when memory runs short only the connections holding more
// than their share are refused new work (strangers, that have not completed
// a request, also stop being read), and past the limit the heaviest holders
// are closed, so a stranger holding memory cannot deny service to a client
// that holds little. Pure: no Deno APIs.

/** A connection, as the budget sees it. */
export interface MemoryHolder {
  /** Bytes charged to it now. */
  readonly charged: number;
  /** Whether it has completed an authorised request: a stranger's share has no floor. */
  readonly proven: boolean;
  /** Closes it to give its memory back: it held the most when memory ran out. */
  evict(held: number): void;
}

// Above this fraction of the limit, connections over their share pause.
const SOFT_FRACTION = 0.75;
// Past the limit, the heaviest are closed until usage is back under this.
const SHED_TO_FRACTION = 0.75;
// Events may fill the budget up to this fraction: they are dropped (and the
// loss told) past it, so that slow subscribers never make memory tight for
// requests, let alone get closed for what the server chose to send them.
const DROPPABLE_FRACTION = 0.5;
// No proven connection is "over its share" while it holds less than this:
// a few frames of ordinary size are always allowed a client that has shown
// it holds the token, however many strangers are connected.
const MIN_SHARE_BYTES = 256 * 1_024;

export class MemoryBudget {
  readonly limit: number;
  #used = 0;
  readonly #holders = new Set<MemoryHolder>();
  #waiters: (() => void)[] = [];
  #shedding = false;
  #evicted = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  /** Connections closed because they held the most when memory ran out. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Whether usage is past the point where heavy holders pause. */
  get tight(): boolean {
    return this.#used > this.limit * SOFT_FRACTION;
  }

  /** Whether usage is past the limit. */
  get exhausted(): boolean {
    return this.#used > this.limit;
  }

  /** A connection's fair share of what may be held before memory is tight. */
  shareOf(holder: MemoryHolder): number {
    const fair = (this.limit * SOFT_FRACTION) / Math.max(1, this.#holders.size);
    return holder.proven ? Math.max(MIN_SHARE_BYTES, fair) : fair;
  }

  /**
   * Bytes of droppable data (events) `holder` may still be charged: what is
   * left below the mark for droppable data, or once that is reached, what is
   * left of its share of it.
   */
  droppableRoom(holder: MemoryHolder): number {
    const mark = this.limit * DROPPABLE_FRACTION;
    if (this.#used < mark) return mark - this.#used;
    const share = mark / Math.max(1, this.#holders.size);
    return Math.max(0, share - holder.charged);
  }

  /** Whether `holder` must pause and refuse new work: memory is tight and it holds more than its share. */
  overShare(holder: MemoryHolder): boolean {
    return this.tight && holder.charged > this.shareOf(holder);
  }

  join(holder: MemoryHolder): void {
    this.#holders.add(holder);
  }

  /** The holder left; what it was charged must already be released. */
  leave(holder: MemoryHolder): void {
    this.#holders.delete(holder);
  }

  /** Adds (or, negative, releases) bytes held; past the limit, sheds the heaviest holders. */
  adjust(delta: number): void {
    this.#used += delta;
    if (delta > 0 && this.#used > this.limit) this.#shed();
    else if (delta < 0 && this.#waiters.length > 0 && !this.tight) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once memory is no longer tight. */
  ready(): Promise<void> {
    if (!this.tight) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Closes the heaviest holders, one at a time, until usage is back under the mark. */
  #shed(): void {
    if (this.#shedding) return;
    this.#shedding = true;
    try {
      while (this.#used > this.limit * SHED_TO_FRACTION) {
        let heaviest: MemoryHolder | undefined;
        for (const holder of this.#holders) {
          if (heaviest === undefined || holder.charged > heaviest.charged) heaviest = holder;
        }
        if (heaviest === undefined || heaviest.charged <= this.shareOf(heaviest)) break;
        this.#holders.delete(heaviest);
        this.#evicted++;
        heaviest.evict(heaviest.charged);
      }
    } finally {
      this.#shedding = false;
    }
  }
}

/**
 * One holder's account with the budget: what it is charged now, kept in
 * step with the budget's total.
 */
export class MemoryCharge {
  readonly #budget: MemoryBudget;
  #bytes = 0;

  constructor(budget: MemoryBudget) {
    this.#budget = budget;
  }

  /** Bytes charged now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Charges `held` bytes in all (0 gives everything back). */
  set(held: number): void {
    if (held === this.#bytes) return;
    // Recorded first: the adjustment may evict this very holder, which then
    // gives back all it is charged.
    const delta = held - this.#bytes;
    this.#bytes = held;
    this.#budget.adjust(delta);
  }
}
