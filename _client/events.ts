// The client's side of events: each Subscription (an async iterable of what
// arrives for its patterns), and the router that shares one server-side
// subscription per pattern among them. Pure: no Deno APIs.

import { AsyncQueue } from "./queue.ts";
import { PatternSet } from "../_wire/topics.ts";

/**
 * What a subscription yields: an event, a count of events the server
 * dropped because this client read too slowly, or a gap (the connection was
 * lost and re-established; events published meanwhile are lost, how many is
 * unknown).
 *
 * @typeParam Data The events' `data`.
 *
 * @example Handling every kind
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BridgeEvent } from "@socketbridge/core";
 * function describe(event: BridgeEvent<{ id: number }>): string {
 *   switch (event.kind) {
 *     case "event":
 *       return `${event.topic}: ${event.data.id}`;
 *     case "dropped":
 *       return `lost ${event.count}`;
 *     case "gap":
 *       return "reconnected; events may be lost";
 *   }
 * }
 * assert.ok(describe({ kind: "dropped", count: 2 }) === "lost 2");
 * ```
 */
export type BridgeEvent<Data = unknown> =
  | { kind: "event"; topic: string; data: Data }
  | { kind: "dropped"; count: number }
  | { kind: "gap" };

/** What a subscription asks of its client when it ends. */
export interface SubscriptionOwner {
  leave(subscription: EventStream<unknown>): void;
}

// Events waiting for a slow `for await` are held up to this many; past it
// they are dropped here and told as a `dropped` entry, like the server does.
const MAX_QUEUED_EVENTS = 10_000;

// What to do once a subscription ends, however it ends (kept outside the
// public class: the client's own bookkeeping, such as its signal listener).
const endCallbacks = new WeakMap<EventStream<unknown>, (() => void)[]>();

/** Calls `callback` once `stream` ends (at once if it has). */
export function whenEnded(stream: EventStream<unknown>, callback: () => void): void {
  if (stream.closed) return callback();
  endCallbacks.set(stream, [...(endCallbacks.get(stream) ?? []), callback]);
}

/**
 * A live subscription: iterate it with `for await`; leaving the loop (or
 * `unsubscribe()`, or `await using`) ends it.
 *
 * @typeParam Data The events' `data`.
 *
 * @example Waiting for one event
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0 }, () => "ok");
 * await using client = await connect({ port: server.addr.port });
 * const subscription = await client.subscribe(["build.>"]);
 * server.publish("build.app.done", "green");
 * for await (const event of subscription) {
 *   assert.ok(event.kind === "event" && event.data === "green");
 *   break; // unsubscribes
 * }
 * assert.ok(subscription.closed);
 * ```
 */
export class EventStream<Data = unknown>
  implements AsyncIterable<BridgeEvent<Data>>, AsyncDisposable {
  /** The patterns this subscription receives events for. */
  readonly patterns: readonly string[];
  /**
   * Settles once the subscription ends: resolves when it was unsubscribed
   * (or its client closed), rejects with the error it ended with (its
   * connection lost for good, or its renewal refused after a reconnect):
   * what a `for await` loop would throw, for a subscription with `onEvent`.
   * Nobody has to read it: its rejection is never unhandled.
   */
  readonly ended: Promise<void>;
  #settleEnded!: { resolve: () => void; reject: (error: unknown) => void };
  readonly #owner: SubscriptionOwner;
  readonly #matcher = new PatternSet();
  readonly #entries = new AsyncQueue<BridgeEvent<Data>>();
  readonly #onEvent?: (event: BridgeEvent<Data>) => void;
  // Set once the server has confirmed the subscription: what came before
  // may sit on either side of an unsubscribe by an earlier subscription.
  #live = false;

  /**
   * Made by the client's `subscribe()`.
   *
   * @param patterns Topic patterns.
   * @param owner The client.
   * @param onEvent Takes each entry as it arrives, instead of the queue.
   */
  constructor(
    patterns: readonly string[],
    owner: SubscriptionOwner,
    onEvent?: (event: BridgeEvent<Data>) => void,
  ) {
    this.patterns = Object.freeze([...patterns]);
    this.#owner = owner;
    this.#onEvent = onEvent;
    this.ended = new Promise<void>((resolve, reject) => this.#settleEnded = { resolve, reject });
    this.ended.catch(() => {});
    for (const pattern of patterns) this.#matcher.add(pattern);
  }

  /** Whether the server has confirmed it. */
  get live(): boolean {
    return this.#live;
  }

  /** Whether it has ended (unsubscribed, or its client closed). */
  get closed(): boolean {
    return this.#entries.ended;
  }

  /** Whether any of its patterns matches `topic` (and it is live). */
  wants(topic: string): boolean {
    return this.#live && this.#matcher.matches(topic);
  }

  /** The server has the subscription: events from now on are its. */
  goLive(): void {
    this.#live = true;
  }

  /** Hands over what arrived; held for the loop when it is not waiting. */
  push(entry: BridgeEvent<Data>): void {
    if (this.#entries.ended) return;
    if (this.#onEvent !== undefined) {
      try {
        this.#onEvent(entry);
      } catch (error) {
        // As a throwing event listener's error is: the subscription goes on.
        reportError(error);
      }
      return;
    }
    const queued = this.#entries.items;
    const lost = entry.kind === "dropped"
      ? entry.count
      : entry.kind === "event" && queued.length >= MAX_QUEUED_EVENTS
      ? 1
      : 0;
    // A loss right behind another loss adds to it: each is told once, in
    // order, before the events that came after it.
    const tail = queued.last;
    if (lost > 0 && tail?.kind === "dropped") tail.count += lost;
    else if (lost > 0 && entry.kind !== "dropped") {
      this.#entries.push({ kind: "dropped", count: lost });
    } else this.#entries.push(entry);
  }

  /** Ends it: the loop finishes, or throws `error` when given. */
  end(error?: unknown): void {
    if (this.#entries.ended) return;
    this.#entries.end(error);
    if (error === undefined) this.#settleEnded.resolve();
    else this.#settleEnded.reject(error);
    const callbacks = endCallbacks.get(this as EventStream<unknown>);
    endCallbacks.delete(this as EventStream<unknown>);
    callbacks?.forEach((callback) => callback());
  }

  /** Stops receiving; the server is told when no other subscription needs the patterns. */
  unsubscribe(): void {
    if (this.#entries.ended) return;
    this.end();
    this.#entries.items.clear();
    this.#owner.leave(this as EventStream<unknown>);
  }

  /** Unsubscribes. */
  [Symbol.asyncDispose](): Promise<void> {
    this.unsubscribe();
    return Promise.resolve();
  }

  /** Yields what arrives until unsubscribed; leaving the loop unsubscribes. */
  [Symbol.asyncIterator](): AsyncIterator<BridgeEvent<Data>> {
    if (this.#onEvent !== undefined) {
      throw new TypeError("Cannot iterate a subscription made with onEvent: its entries go there");
    }
    return {
      next: () => this.#entries.next(),
      return: () => {
        this.unsubscribe();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** The client's subscriptions, and how many of them use each pattern. */
export class EventRouter {
  readonly #subscriptions = new Set<EventStream<unknown>>();
  readonly #uses = new Map<string, number>();

  get size(): number {
    return this.#subscriptions.size;
  }

  /** Every pattern in use, for renewing them after a reconnect. */
  patterns(): string[] {
    return [...this.#uses.keys()];
  }

  /** Registers a subscription; returns the patterns the server must add. */
  add(subscription: EventStream<unknown>): string[] {
    this.#subscriptions.add(subscription);
    const added: string[] = [];
    for (const pattern of new Set(subscription.patterns)) {
      const uses = this.#uses.get(pattern) ?? 0;
      if (uses === 0) added.push(pattern);
      this.#uses.set(pattern, uses + 1);
    }
    return added;
  }

  /** Forgets a subscription; returns the patterns no one uses any more. */
  remove(subscription: EventStream<unknown>): string[] {
    if (!this.#subscriptions.delete(subscription)) return [];
    const removed: string[] = [];
    for (const pattern of new Set(subscription.patterns)) {
      const uses = (this.#uses.get(pattern) ?? 1) - 1;
      if (uses > 0) this.#uses.set(pattern, uses);
      else {
        this.#uses.delete(pattern);
        removed.push(pattern);
      }
    }
    return removed;
  }

  /** An event frame arrived. */
  event(topic: string, data: unknown): void {
    for (const subscription of this.#subscriptions) {
      if (subscription.wants(topic)) subscription.push({ kind: "event", topic, data });
    }
  }

  /** The server dropped events: any subscription may have lost them. */
  dropped(count: number): void {
    for (const subscription of this.#subscriptions) {
      if (subscription.live) {
        subscription.push({ kind: "dropped", count });
      }
    }
  }

  /** The connection was re-established: events published meanwhile are lost. */
  gap(): void {
    for (const subscription of this.#subscriptions) subscription.push({ kind: "gap" });
  }

  /** Ends every subscription (with `error`, or cleanly). */
  endAll(error?: unknown): void {
    const all = [...this.#subscriptions];
    this.#subscriptions.clear();
    this.#uses.clear();
    for (const subscription of all) subscription.end(error);
  }
}
