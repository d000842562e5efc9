// One server-wide budget for the memory held on behalf of peers, charged to
// the connection that makes the server hold it (its read buffer, partial
// frame, frames waiting for a slot, requests its handlers are running,
// answers waiting to be written). As trusted servers treat slow consumers
// (NATS closes them; Redis's client-output-buffer-limit closes a client
// past its limit): when memory runs short only the connections holding more
// than their share are refused new work (strangers, that have not completed
// a request, also stop being read), and past the limit the heaviest holders
// are closed, so a stranger holding memory cannot deny service to a client
// that holds little. Strangers between them may hold only an eighth of the
// limit: a crowd of them announcing large frames is read that far and no
// further (which spares the server reading, and holding, what nobody has
// shown the right to send), while one that holds little is always read.
// Pure: no Deno APIs.

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
// Half, not three quarters: the process holds more than the budget counts
// (the strings of requests being parsed, garbage not yet collected), and
// under 300 peers that never read their 1 MiB echoes, its peak RSS was
// 220-233 MiB at three quarters, 183-196 MiB at half (eight runs each, a
// 128 MiB budget), the well-behaved client served as well.
const SOFT_FRACTION = 0.5;
// Past the limit, the heaviest are closed until usage is back under this.
const SHED_TO_FRACTION = 0.75;
// Events may fill the budget up to this fraction: they are dropped (and the
// loss told) past it, so that slow subscribers never make memory tight for
// requests, let alone get closed for what the server chose to send them.
// Below SOFT_FRACTION, so that events alone never reach it.
const DROPPABLE_FRACTION = 0.375;
// No proven connection is "over its share" while it holds less than this:
// a few frames of ordinary size are always allowed a client that has shown
// it holds the token, however many strangers are connected.
const MIN_SHARE_BYTES = 256 * 1_024;
// Strangers (connections that have not completed a request) may hold this
// fraction of the limit between them; past it, those over their share of it
// pause, all but one at a time (so that strangers sending large first
// frames at once cannot all wait for each other: the exempt one finishes
// its frame, or its frame deadline closes it, and the next goes on). An
// eighth, not a quarter: while a thousand strangers were read to a quarter,
// a client's request waited 80-105 ms to be read (its p99), against 57-88
// ms to an eighth; the runtime polls sockets less often the more work each
// read brings.
const STRANGER_FRACTION = 0.125;

export class MemoryBudget {
  readonly limit: number;
  #used = 0;
  #strangerUsed = 0;
  #strangers = 0;
  #exempt?: MemoryHolder;
  readonly #holders = new Set<MemoryHolder>();
  // Holders paused for memory, each with what resumes it.
  readonly #paused = new Map<MemoryHolder, () => void>();
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

  /**
   * Whether a stranger must stop being read now: memory is tight and it
   * holds more than its share, or strangers between them hold their part of
   * the limit and it holds more than its share of that part. The first to be
   * told so while no stranger is exempt becomes the exempt one instead, and
   * is read on until it completes a request or leaves.
   */
  strangerPaused(holder: MemoryHolder): boolean {
    if (holder === this.#exempt) return false;
    const paused = this.overShare(holder) ||
      (this.#strangersFull &&
        holder.charged > this.#strangersLimit / Math.max(1, this.#strangers));
    // While memory is tight (proven clients hold it) no stranger is exempt:
    // they wait for it to drain, and cannot make it tight by themselves.
    if (!paused || this.#exempt !== undefined || this.tight) return paused;
    this.#exempt = holder;
    return false;
  }

  /** What one stranger may hold of the strangers' part of the limit, with as many strangers as now. */
  get strangerShare(): number {
    return this.#strangersLimit / Math.max(1, this.#strangers);
  }

  /** Whether `holder` must pause and refuse new work: memory is tight and it holds more than its share. */
  overShare(holder: MemoryHolder): boolean {
    return this.tight && holder.charged > this.shareOf(holder);
  }

  join(holder: MemoryHolder): void {
    this.#holders.add(holder);
    this.#strangers++;
  }

  /** The holder left; what it was charged must already be released. */
  leave(holder: MemoryHolder): void {
    if (this.#holders.delete(holder) && !holder.proven) this.#strangers--;
    this.#paused.delete(holder);
    this.#endExemption(holder);
  }

  /** A stranger, charged `held` bytes, has completed a request. */
  proved(holder: MemoryHolder, held: number): void {
    const tight = this.tight;
    const strangerRoom = this.#roomForStrangers;
    this.#strangers--;
    this.#strangerUsed -= held;
    if (!this.#endExemption(holder)) this.#resumeIfOpened(tight, strangerRoom);
  }

  /**
   * If `holder` was the exempt stranger, the paused strangers look again
   * (unless memory is tight): the first told to pause takes its place.
   * True if it was.
   */
  #endExemption(holder: MemoryHolder): boolean {
    if (holder !== this.#exempt) return false;
    this.#exempt = undefined;
    this.#resume();
    return true;
  }

  /** Adds (or, negative, releases) bytes held; past the limit, sheds the heaviest holders. */
  adjust(delta: number, stranger = false): void {
    const tight = this.tight;
    const strangerRoom = this.#roomForStrangers;
    this.#used += delta;
    if (stranger) this.#strangerUsed += delta;
    if (delta > 0 && this.#used > this.limit) this.#shed();
    else if (delta < 0) this.#resumeIfOpened(tight, strangerRoom);
  }

  /** Resumes paused holders if room opened: memory was tight and is not, or strangers had none and have. */
  #resumeIfOpened(wasTight: boolean, strangersHadRoom: boolean): void {
    if ((wasTight && !this.tight) || (!strangersHadRoom && this.#roomForStrangers)) this.#resume();
  }

  /**
   * Whether paused strangers may be read again: memory is not tight, and
   * they are under their part or none is exempt (one of them will be).
   */
  get #roomForStrangers(): boolean {
    return !this.tight && (this.#exempt === undefined || !this.#strangersFull);
  }

  /** What strangers may hold between them. */
  get #strangersLimit(): number {
    return this.limit * STRANGER_FRACTION;
  }

  /** Whether strangers between them hold more than their part of the limit. */
  get #strangersFull(): boolean {
    return this.#strangerUsed > this.#strangersLimit;
  }

  #mayResume(holder: MemoryHolder): boolean {
    return holder.proven ? !this.tight : this.#roomForStrangers;
  }

  /**
   * Resumes the paused holders that may be read again. While strangers hold
   * their part, only one of them goes on, made the exempt one here: woken
   * all, the others would only pause again, and a thousand strangers woken
   * each time one leaves cost the server more than their reads.
   */
  #resume(): void {
    for (const [holder, resume] of this.#paused) {
      if (!this.#mayResume(holder)) continue;
      if (!holder.proven && this.#strangersFull) this.#exempt = holder;
      this.#paused.delete(holder);
      resume();
    }
  }

  /**
   * Calls `resume` once `holder`, paused for memory, may be read again:
   * memory is no longer tight and, for a stranger, strangers are back under
   * their part (or the exempt one is gone, and it may take its place).
   * One call waits per holder: a later one replaces it.
   */
  onRoom(holder: MemoryHolder, resume: () => void): void {
    if (this.#mayResume(holder)) resume();
    else this.#paused.set(holder, resume);
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
        this.leave(heaviest);
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
  readonly #holder: MemoryHolder;
  #bytes = 0;
  #stranger = true;

  /** Joins `holder` to `budget`, as a stranger charged nothing. */
  constructor(budget: MemoryBudget, holder: MemoryHolder) {
    this.#budget = budget;
    this.#holder = holder;
    budget.join(holder);
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
    this.#budget.adjust(delta, this.#stranger);
  }

  /** The holder has completed a request: it is no longer charged as a stranger. */
  prove(): void {
    if (!this.#stranger) return;
    this.#stranger = false;
    this.#budget.proved(this.#holder, this.#bytes);
  }
}
