// A streamed request on the client: an async iterable of its chunks, with
// its final result beside it. Pure: no Deno APIs.

import { AsyncQueue } from "./queue.ts";
import { CancelledError } from "../errors.ts";
import type { Pending } from "./answer_book.ts";

/**
 * The answer to `client.stream()`: iterate it for the chunks as they come;
 * `result` resolves with the final result once the stream ends. Leaving
 * the loop early cancels the request (the server's handler is told).
 *
 * @typeParam Chunk Each streamed item.
 * @typeParam Result The final result.
 *
 * @example Reading a stream, then its result
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0 }, async function* () {
 *   yield 1;
 *   yield 2;
 *   return "done";
 * });
 * await using client = await connect({ port: server.addr.port });
 * const stream = client.stream({});
 * const seen: unknown[] = [];
 * for await (const chunk of stream) seen.push(chunk);
 * assert.deepEqual(seen, [1, 2]);
 * assert.ok(await stream.result === "done");
 * ```
 */
export class ResultStream<Chunk = unknown, Result = unknown> implements AsyncIterable<Chunk> {
  /**
   * The final result: the handler's return value when the server streamed
   * chunks; the array of the items from a server that collects them (one
   * without Part C). Rejects as the request fails; with a
   * `CancelledError` once the loop was left early.
   */
  readonly result: Promise<Result>;
  readonly #cancel: (reason?: unknown) => void;
  #settleResult!: { resolve: (value: Result) => void; reject: (error: unknown) => void };
  readonly #chunks = new AsyncQueue<Chunk>();
  #sawChunk = false;
  #iterated = false;

  /**
   * Made by the client's `stream()`.
   *
   * @param cancel Gives the request up.
   */
  constructor(cancel: (reason?: unknown) => void) {
    this.#cancel = cancel;
    this.result = new Promise<Result>((resolve, reject) => {
      this.#settleResult = { resolve, reject };
    });
    // Nobody has to read `result`: its rejection is never unhandled.
    this.result.catch(() => {});
  }

  /** Whether any chunk frame arrived. */
  get sawChunk(): boolean {
    return this.#sawChunk;
  }

  /** A chunk frame arrived. */
  chunk(value: Chunk): void {
    this.#sawChunk = true;
    this.#chunks.push(value);
  }

  /** The final answer arrived; `items`, when given, are yielded before the end. */
  finish(result: Result, items?: readonly Chunk[]): void {
    if (items !== undefined) { for (const item of items) this.chunk(item); }
    this.#settleResult.resolve(result);
    this.#chunks.end();
  }

  /** The request failed. */
  fail(error: unknown): void {
    this.#settleResult.reject(error);
    this.#chunks.end(error);
  }

  /** Cancels the request unless it already ended. */
  cancel(reason?: unknown): void {
    if (!this.#chunks.ended) this.#cancel(reason);
  }

  /** Yields each chunk; leaving the loop early cancels the request. */
  [Symbol.asyncIterator](): AsyncIterator<Chunk> {
    if (this.#iterated) throw new TypeError("A stream can be iterated only once");
    this.#iterated = true;
    return {
      next: () => this.#chunks.next(),
      return: () => {
        this.cancel();
        this.#chunks.items.clear();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/**
 * A stream fed by one pending request: `attach` gives it the request once
 * made (its chunks then go into the stream); leaving the loop early gives
 * the request up with `giveUp`.
 */
export function pendingStream<Chunk, Final>(
  giveUp: (entry: Pending, reason: unknown) => void,
): { stream: ResultStream<Chunk, Final>; attach: (entry: Pending) => void } {
  let attached: Pending | undefined;
  const stream = new ResultStream<Chunk, Final>((reason) => {
    if (attached !== undefined) giveUp(attached, reason ?? new CancelledError("Stream left early"));
  });
  const attach = (entry: Pending) => {
    attached = entry;
    entry.onChunk = (value) => stream.chunk(value as Chunk);
  };
  return { stream, attach };
}
