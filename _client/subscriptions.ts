// The client's subscriptions over its changing links: subscribing (live
// from the server's answer on), leaving (the server is told when no one
// uses a pattern any more), and renewing every pattern on a new link.

import { ProtocolError } from "../errors.ts";
import type { RequestOptions, SubscribeOptions } from "./options.ts";
import { EventRouter, EventStream, type SubscriptionOwner, whenEnded } from "./events.ts";
import { patternProblem } from "../_wire/topics.ts";

/** What subscriptions need from their client. */
export interface SubscriptionHost {
  /** The server's address, for messages. */
  readonly address: string;
  /** Whether a link is up now. */
  connected(): boolean;
  /** The features the server granted; throws when it speaks no Part C. */
  features(what: string): Promise<ReadonlySet<string>>;
  /** Sends a control request; `onAnswer` runs as its ok answer arrives, in the same turn. */
  control(
    payload: Record<string, unknown>,
    options?: RequestOptions,
    onAnswer?: () => void,
  ): Promise<unknown>;
}

export class ClientSubscriptions implements SubscriptionOwner {
  readonly router: EventRouter = new EventRouter();
  readonly #host: SubscriptionHost;

  constructor(host: SubscriptionHost) {
    this.#host = host;
  }

  async subscribe<Data>(
    patterns: readonly string[],
    options?: SubscribeOptions<Data>,
  ): Promise<EventStream<Data>> {
    if (!Array.isArray(patterns) || patterns.length === 0) {
      throw new TypeError("Cannot subscribe: expected a non-empty array of topic patterns");
    }
    for (const pattern of patterns) {
      const problem = patternProblem(pattern);
      if (problem !== undefined) throw new TypeError(`Cannot subscribe: ${problem}`);
    }
    const features = await this.#host.features("subscribe");
    if (!features.has("events")) {
      throw new ProtocolError(
        `Cannot subscribe: the server at ${this.#host.address} does not offer events`,
      );
    }
    const onEvent = options?.onEvent;
    if (onEvent !== undefined && typeof onEvent !== "function") {
      throw new TypeError("Cannot subscribe: onEvent must be a function");
    }
    const subscription = new EventStream<Data>(patterns, this, onEvent);
    const added = this.router.add(subscription as EventStream<unknown>);
    try {
      // Live from the answer on, in the same turn: an event right behind the
      // answer is the first of this subscription; events before it may sit
      // on either side of an earlier subscription's unsubscribe.
      if (added.length === 0) subscription.goLive();
      else {
        await this.#host.control(
          { type: "$subscribe", topics: added },
          options,
          () => subscription.goLive(),
        );
      }
    } catch (error) {
      subscription.unsubscribe();
      throw error;
    }
    const signal = options?.signal;
    if (signal !== undefined) {
      const onAbort = () => subscription.unsubscribe();
      signal.addEventListener("abort", onAbort, { once: true });
      whenEnded(subscription as EventStream<unknown>, () => {
        signal.removeEventListener("abort", onAbort);
      });
      if (signal.aborted) onAbort();
    }
    return subscription;
  }

  leave(subscription: EventStream): void {
    const removed = this.router.remove(subscription);
    if (removed.length > 0 && this.#host.connected()) {
      this.#host.control({ type: "$unsubscribe", topics: removed }).catch(() => {});
    }
  }

  /**
   * Subscribes a new link to every pattern in use; the subscriptions hear
   * of the gap. `current` says whether the link is still the client's.
   */
  async renew(features: ReadonlySet<string> | undefined, current: () => boolean): Promise<void> {
    if (!current()) return;
    try {
      if (!features?.has("events")) {
        throw new ProtocolError("Cannot renew subscriptions: the server no longer offers events");
      }
      await this.#host.control({ type: "$subscribe", topics: this.router.patterns() });
      this.router.gap();
    } catch (error) {
      if (current()) this.router.endAll(error);
    }
  }
}
