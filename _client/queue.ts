// A first-in first-out queue with O(1) take (Array.prototype.shift() copies
// the whole array, which made a consumer that lags behind a fast stream
// quadratic), and the pull side of a stream built on it: what a `for await`
// loop reads while frames push items in. Pure: no Deno APIs.

export class Queue<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The newest item; undefined when empty. */
  get last(): T | undefined {
    return this.length > 0 ? this.#items[this.#items.length - 1] : undefined;
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

/**
 * Items pushed by one side, read by a `for await` loop on the other: an
 * item goes straight to a waiting read, or waits in the queue; once ended,
 * reads drain the queue, then finish (or throw the error it ended with).
 */
export class AsyncQueue<T> {
  readonly items: Queue<T> = new Queue<T>();
  #waiting?: {
    resolve: (step: IteratorResult<T>) => void;
    reject: (error: unknown) => void;
  };
  #ended = false;
  #failure: unknown = undefined;

  get ended(): boolean {
    return this.#ended;
  }

  /** Hands an item to a waiting read, or queues it. Ignored once ended. */
  push(item: T): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting.resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** No more items: reads finish after the queued ones, or throw `error`. */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting === undefined) return;
    if (error === undefined) waiting.resolve({ value: undefined, done: true });
    else waiting.reject(error);
  }

  /** The next item, once there is one. */
  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.take()!, done: false });
    if (this.#ended) {
      return this.#failure === undefined
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.#failure);
    }
    return new Promise((resolve, reject) => this.#waiting = { resolve, reject });
  }
}
