// Per request type figures for `$stats` (protocol D4): counts since the
// server started, requests in flight, the last error, and processing times
// over a bounded window of the latest requests (a ring: constant memory per
// type, exact percentiles over what it holds). Times are taken only once
// somebody has asked for `$stats`: until then a request costs a counter.
// The types are named by peers, so how many are kept apart is bounded.
// Pure: no Deno APIs.

import type { TypeStatsReport } from "../protocol.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

/** The latest processing times of one type, in a ring of fixed size. */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #count = 0;
  #next = 0;

  constructor(size = 1_024) {
    this.#samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
  }

  /** p50, p99 and max (nearest rank) of the samples held; zeros when none. */
  summary(): { p50: number; p99: number; max: number } {
    if (this.#count === 0) return { p50: 0, p99: 0, max: 0 };
    const sorted = this.#samples.slice(0, this.#count).sort();
    const rank = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
    return { p50: round(rank(0.5)), p99: round(rank(0.99)), max: round(sorted[sorted.length - 1]) };
  }
}

/** Types kept apart at most; requests of any type past these count under OTHER_TYPES. */
export const MAX_TYPES = 1_024;
/** Where requests of types past MAX_TYPES are counted: a control name, never a request type. */
export const OTHER_TYPES = "$other";

/** One type's figures. */
export class TypeStats {
  requests = 0;
  errors = 0;
  inFlight = 0;
  lastError: { code: string; message: string; at: string } | null = null;
  readonly latency = new LatencyWindow();
}

/** The figures of every type a server has seen. */
export class StatsBook {
  readonly started: Date;
  readonly #types = new Map<string, TypeStats>();
  /** Whether processing times are taken: from the first `$stats` on. */
  timing = false;

  constructor(started = new Date()) {
    this.started = started;
  }

  /**
   * The figures of `type` ("" for requests without one), made on first
   * sight; past MAX_TYPES types, new ones share the figures of OTHER_TYPES.
   */
  of(type: string): TypeStats {
    let stats = this.#types.get(type);
    if (stats === undefined) {
      const name = this.#types.size < MAX_TYPES ? type : OTHER_TYPES;
      stats = this.#types.get(name);
      if (stats === undefined) this.#types.set(name, stats = new TypeStats());
    }
    return stats;
  }

  /** An answer went out: an `ok` one, or an error whose JSON text is `body`. */
  answered(stats: TypeStats, body: FrameText, started: number | undefined, now: number): void {
    stats.requests++;
    if (started !== undefined) stats.latency.record(now - started);
    // Our answers begin {"status":"ok" or {"status":"error": the 12th character tells.
    // (Answers in pieces are ok ones, around a large result.)
    if (typeof body === "string" && body.charCodeAt(11) === 101) {
      stats.errors++;
      try {
        const { code, message } = JSON.parse(body) as { code: string; message: string };
        stats.lastError = { code, message, at: new Date().toISOString() };
      } catch {
        // Not our own text: counted, not described.
      }
    }
  }

  /** Every type's report, those `include` keeps, in the order first seen. */
  reports(include: (type: string) => boolean): TypeStatsReport[] {
    this.timing = true;
    const reports: TypeStatsReport[] = [];
    for (const [type, stats] of this.#types) {
      if (!include(type)) continue;
      reports.push({
        type,
        requests: stats.requests,
        errors: stats.errors,
        in_flight: stats.inFlight,
        processing_ms: stats.latency.summary(),
        last_error: stats.lastError,
      });
    }
    return reports;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
