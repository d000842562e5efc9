// A handler's streamed result: an async iterable pulled one item at a time,
// only while the connection's outbound queue has room. Each item becomes a
// chunk frame (on a connection that opted into chunks) or an element of the
// collected result. Pure: no Deno APIs.

import { PROTOCOL_VERSION, type RequestId } from "../protocol.ts";

/** Where a stream's items go. */
export interface StreamOutlet {
  /** Queues a chunk frame's JSON text. */
  send(frame: string): void;
  /** Whether the outbound queue is full: the producer waits. */
  congested(): boolean;
  /** Resolves once the queue has room again, or the connection closed. */
  room(): Promise<void>;
}

/** Whether a handler's value is a stream (and not a promise of one). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === "function";
}

/** One streamed result, from its first pull to its end or its stop. */
export class StreamRun {
  readonly #iterator: AsyncIterator<unknown>;
  #stopped = false;

  constructor(iterable: AsyncIterable<unknown>) {
    this.#iterator = iterable[Symbol.asyncIterator]();
  }

  /**
   * Pulls every item. With `chunkId`, each goes out as a chunk frame and the
   * result is the iterator's return value; without, the result is the array
   * of the items. Resolves undefined once stopped.
   *
   * @throws What the iterator throws, or a TypeError for an item that is
   * not JSON-serializable.
   */
  async run(outlet: StreamOutlet, chunkId: RequestId | undefined): Promise<unknown> {
    const collected: unknown[] = [];
    const idText = chunkId === undefined ? "" : JSON.stringify(chunkId);
    while (true) {
      if (outlet.congested()) await outlet.room();
      if (this.#stopped) return undefined;
      const step = await this.#iterator.next();
      if (this.#stopped) return undefined;
      if (step.done) return chunkId === undefined ? collected : step.value;
      if (chunkId === undefined) {
        collected.push(step.value);
        continue;
      }
      const text = JSON.stringify(step.value);
      if (text === undefined) throw new TypeError("a streamed item is not JSON-serializable");
      outlet.send(
        `{"request_id":${idText},"chunk":${text},"protocol_version":"${PROTOCOL_VERSION}"}`,
      );
    }
  }

  /** Stops pulling and tells the producer (its `return()`, so `finally` blocks run). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      // A generator busy at an await finishes its step first; its signal tells it to hurry.
      this.#iterator.return?.()?.then(undefined, () => {});
    } catch {
      // A throwing return() has nothing more to tell us.
    }
  }
}
