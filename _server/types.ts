// The public types of a running server: Server and its ServerStats.

import type { WireErrorCode } from "../protocol.ts";

/**
 * Counters of a running server, from {@linkcode Server.stats}.
 *
 * @example Reading the counters
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0, token: "t" }, () => 1);
 * await send({ port: server.addr.port, token: "wrong" }, {});
 * const stats = server.stats();
 * assert.ok(stats.frames.in === 1 && stats.errors.unauthorized === 1);
 * ```
 */
export interface ServerStats {
  /** Connections open now and accepted in all. */
  connections: { open: number; total: number };
  /** Request frames read and response frames written. */
  frames: { in: number; out: number };
  /** Bytes read and written, prefixes included. */
  bytes: { in: number; out: number };
  /** Error responses sent, by code. */
  errors: Partial<Record<WireErrorCode, number>>;
  /**
   * Requests read but never started nor answered, because their connection
   * closed while they waited for a slot.
   */
  requests: { dropped: number };
  /**
   * Events published with {@linkcode Server.publish}, event frames queued
   * for subscribers, and event frames dropped because a subscriber read too
   * slowly (each loss is told to its subscriber with a `$dropped` event).
   */
  events: { published: number; delivered: number; dropped: number };
  /**
   * Bytes held for peers now (read buffers, partial frames, waiting and
   * running requests, unwritten answers) against the server's
   * `maxBufferedBytes`, and how many connections were closed because they
   * held the most when that ran out.
   */
  memory: { buffered: number; limit: number; evicted: number };
}

/**
 * A running server, returned by {@linkcode serve}.
 *
 * @typeParam Addr `Deno.NetAddr` on TCP and TLS, `Deno.UnixAddr` on a Unix socket.
 * @example Shutting down gracefully
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@socketbridge/core";
 * const server = serve({ port: 0 }, () => "ok");
 * assert.ok(server.addr.port > 0);
 * await server.shutdown();
 * await server.finished;
 * ```
 */
export interface Server<Addr extends Deno.Addr = Deno.Addr> extends AsyncDisposable {
  /** The bound address (read the port from it after `port: 0`). */
  readonly addr: Addr;
  /** Resolves once the server has shut down and every connection closed. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, answers requests that arrive meanwhile with
   * `shutting_down`, lets handlers in flight finish within the grace period,
   * flushes every answer and closes. Idempotent.
   *
   * @returns {@linkcode Server.finished}.
   */
  shutdown(): Promise<void>;
  /** A snapshot of the server's counters. */
  stats(): ServerStats;
  /**
   * Publishes an event on `topic` to every connection subscribed to a
   * matching pattern (connections that opted into `events` with `$hello`).
   * Never waits: an event that does not fit a slow subscriber's outbound
   * queue is dropped for that subscriber, counted, and told to it with a
   * `$dropped` event.
   *
   * @param topic Dot-separated tokens, no wildcards (`jobs.build.done`).
   * @param data Any JSON value.
   * @returns How many connections the event was queued for.
   * @throws {TypeError} For a malformed topic or data that is not JSON.
   *
   * @example Publishing to a subscriber
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect, serve } from "@socketbridge/core";
   * await using server = serve({ port: 0 }, () => "ok");
   * await using client = await connect({ port: server.addr.port });
   * await using events = await client.subscribe(["jobs.*"]);
   * assert.ok(server.publish("jobs.done", { id: 7 }) === 1);
   * for await (const event of events) {
   *   assert.ok(event.kind === "event" && event.topic === "jobs.done");
   *   break;
   * }
   * ```
   */
  publish(topic: string, data?: unknown): number;
  /**
   * Keeps the process alive while the server listens (the default), as
   * `Deno.serve`'s server does.
   */
  ref(): void;
  /** Lets the process exit even though the server still listens. */
  unref(): void;
}
