// The server's events beyond its host: what it publishes goes out to the
// NATS subject of the same name (topics already use NATS subject syntax),
// and chosen NATS subjects come in to the local subscribers. A header names
// the bridge that sent each message, so a bridge that does both never hears
// its own events back, and events that came in never go out again.

// deno-lint-ignore no-import-prefix
import { headers } from "npm:nats@^2.29.3";
import type { EventHub } from "../_server/event_hub.ts";
import type { NatsConnectionLike, NatsMessageLike, NatsSubscriptionLike } from "./types.ts";
import { patternProblem, PatternSet, topicProblem } from "../_wire/topics.ts";

/** The header naming the bridge an event came from. */
export const ORIGIN_HEADER = "SocketBridge-Origin";

/** Which events cross, from the bridge's options. */
export interface EventRoutes {
  eventsOut?: boolean | readonly string[];
  eventsIn?: readonly string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsEvents {
  readonly #nc: NatsConnectionLike;
  readonly #hub: EventHub;
  readonly #report: (error: unknown) => void;
  readonly #origin = crypto.randomUUID();
  // The same headers go on every event sent: made once.
  readonly #marks = headers();
  readonly #subscriptions: NatsSubscriptionLike[] = [];
  readonly #counters = { out: 0, in: 0 };
  #untap?: () => void;

  constructor(
    nc: NatsConnectionLike,
    hub: EventHub,
    routes: EventRoutes,
    report: (error: unknown) => void,
  ) {
    this.#nc = nc;
    this.#hub = hub;
    this.#report = report;
    this.#marks.set(ORIGIN_HEADER, this.#origin);
    const out = routes.eventsOut;
    const inbound = routes.eventsIn ?? [];
    const outPatterns = Array.isArray(out) ? out as readonly string[] : [];
    for (const pattern of [...outPatterns, ...inbound]) {
      const problem = patternProblem(pattern);
      if (problem !== undefined) throw new TypeError(`Cannot bridge events: ${problem}`);
    }
    const all = out === true;
    if (all || outPatterns.length > 0) {
      const set = new PatternSet();
      for (const pattern of outPatterns) set.add(pattern);
      this.#untap = hub.tap((topic, text) => {
        if (all || set.matches(topic)) this.#send(topic, text);
      });
    }
    for (const subject of inbound) {
      this.#subscriptions.push(nc.subscribe(subject, {
        callback: (error, msg) => error === null ? this.#receive(msg) : report(error),
      }));
    }
  }

  counters(): { out: number; in: number } {
    return { ...this.#counters };
  }

  close(): void {
    this.#untap?.();
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
  }

  #send(topic: string, text: string): void {
    try {
      this.#nc.publish(topic, encoder.encode(text), { headers: this.#marks });
      this.#counters.out++;
    } catch (error) {
      // Closed or draining: publish() must still never throw for it.
      this.#report(error);
    }
  }

  #receive(msg: NatsMessageLike): void {
    if (msg.headers?.get(ORIGIN_HEADER) === this.#origin) return;
    const problem = topicProblem(msg.subject);
    if (problem !== undefined) return this.#report(new TypeError(`Event not bridged: ${problem}`));
    this.#counters.in++;
    this.#hub.publishLocal(msg.subject, jsonText(msg.data));
  }
}

/** A message's body as JSON text: JSON as it is, other text as a string, nothing as null. */
function jsonText(data: Uint8Array): string {
  if (data.length === 0) return "null";
  const text = decoder.decode(data);
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}
