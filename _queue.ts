// A first-in first-out queue with O(1) take: Array.prototype.shift() copies
// the whole array, which made a consumer that lags behind a fast stream
// quadratic. Pure: no Deno APIs.

export class Queue<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Takes the oldest item; undefined when empty. */
  take(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    if (this.#head === this.#items.length) this.clear();
    else if (this.#head >= 1_024 && this.#head * 2 >= this.#items.length) {
      // Drop the taken half, so memory follows what is still queued.
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
