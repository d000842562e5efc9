// One server-wide budget for the bytes held on behalf of peers (partial
// frames, frames waiting for a slot, answers waiting to be written), so that
// per-connection bounds cannot multiply past what the host can spare.

export class MemoryBudget {
  readonly limit: number;
  #used = 0;
  #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  /** Whether the server must stop reading and refuse new work. */
  get exhausted(): boolean {
    return this.#used > this.limit;
  }

  /** Adds (or, negative, releases) bytes held. */
  adjust(delta: number): void {
    this.#used += delta;
    if (delta < 0 && this.#waiters.length > 0 && !this.exhausted) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once the budget has room again. */
  ready(): Promise<void> {
    if (!this.exhausted) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
