// What one connection opted into with `$hello` (chunks, events) and its
// subscriptions: the state behind the control requests. Pure: no Deno APIs.

import { type ControlPeer, FEATURES } from "./control.ts";
import { type EventHub, EventOutlet, type EventSink } from "./event_hub.ts";
import type { RequestId, StatsReport } from "../protocol.ts";
import type { Described } from "./request_types.ts";
import type { Reply } from "./calls.ts";

/** What the two-way state needs from its connection and server. */
export interface TwoWayHost {
  readonly maxBytes: number;
  readonly hub: EventHub;
  readonly sink: EventSink;
  cancel(target: RequestId): boolean;
  describe(): Described;
  reply(callId: number, reply: Reply): boolean;
  stats(include: (type: string) => boolean): StatsReport;
}

export class TwoWay implements ControlPeer {
  readonly #host: TwoWayHost;
  #features: ReadonlySet<string> = new Set();
  #greeted = false;
  #outlet?: EventOutlet;

  constructor(host: TwoWayHost) {
    this.#host = host;
  }

  get maxBytes(): number {
    return this.#host.maxBytes;
  }

  /** Whether chunk frames may be sent on this connection. */
  get chunks(): boolean {
    return this.#features.has("chunks");
  }

  /** Whether the connection waits for events (it is not idle). */
  get subscribed(): boolean {
    return (this.#outlet?.patterns.size ?? 0) > 0;
  }

  grant(asked: readonly string[]): string[] | undefined {
    // Features are the connection's, agreed once: a second $hello could
    // turn chunks off under a stream already streaming them.
    if (this.#greeted) return undefined;
    this.#greeted = true;
    const granted = FEATURES.filter((feature) => asked.includes(feature));
    this.#features = new Set(granted);
    return granted;
  }

  hasFeature(feature: string): boolean {
    return this.#features.has(feature);
  }

  cancel(target: RequestId): boolean {
    return this.#host.cancel(target);
  }

  subscribe(patterns: readonly string[]): string[] {
    this.#outlet ??= new EventOutlet(this.#host.sink, this.#host.hub.counters);
    for (const pattern of patterns) this.#outlet.patterns.add(pattern);
    this.#host.hub.update(this.#outlet);
    return this.#outlet.patterns.list();
  }

  patternCount(): number {
    return this.#outlet?.patterns.size ?? 0;
  }

  unsubscribe(patterns: readonly string[]): string[] {
    const outlet = this.#outlet;
    if (outlet === undefined) return [];
    for (const pattern of patterns) outlet.patterns.delete(pattern);
    this.#host.hub.update(outlet);
    return outlet.patterns.list();
  }

  describe(): Described {
    return this.#host.describe();
  }

  reply(callId: number, reply: Reply): boolean {
    return this.#host.reply(callId, reply);
  }

  stats(include: (type: string) => boolean): StatsReport {
    return this.#host.stats(include);
  }

  /** The outbound queue has room again: tell of events lost meanwhile. */
  roomAgain(): void {
    this.#outlet?.flushDropped();
  }

  /** The connection is ending: it receives no more events. */
  close(): void {
    if (this.#outlet === undefined) return;
    this.#outlet.patterns.clear();
    this.#host.hub.remove(this.#outlet);
  }
}
