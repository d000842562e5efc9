/**
 * The two-way soak: while the server publishes at full speed, clients
 * stream (some leave mid-way, cancelling), sleep and cancel, subscribe and
 * unsubscribe, and get killed mid-stream. Checks every promise settles
 * once, every finished stream has each chunk once and in order with nothing
 * after its final answer (a stray chunk is a ProtocolError), every event a
 * subscriber missed is told in a `dropped` entry, no handler is left
 * running, and the server's RSS after GC stays within 10%.
 *
 *   deno task soak:two-way        8 clients × 400 operations
 *   (tests/soak_test.ts runs a short version in CI)
 *
 * @module
 */

import {
  CancelledError,
  connect,
  ConnectionClosedError,
  type EventStream,
  ProtocolError,
  requestTypes,
  serve,
} from "../mod.ts";
import { delay, seeded } from "../tests/_helpers.ts";
import { rssGrowth, SoakChild } from "../tests/_processes.ts";
import type { RequestId } from "../protocol.ts";

export interface TwoWaySoakOptions {
  clients: number;
  operations: number;
  seed: number;
}

interface ServerReport {
  running: number;
  /** Requests (connection and id) answered more than once. */
  answeredTwice: number;
  published: number;
  rssMiB: number;
  heapMiB: number;
}

export interface TwoWaySoakResult {
  operations: number;
  outcomes: Record<"streamed" | "left" | "killed" | "slept" | "cancelled" | "subscribed", number>;

  /** Streams whose chunks were missing, doubled, out of order, or whose result was wrong. */
  badStreams: number;
  /** Subscriptions whose events and dropped counts do not add up, or went backwards. */
  badSubscriptions: number;
  eventsReceived: number;
  eventsDroppedTold: number;
  protocolErrors: number;
  unexpected: string[];
  before: ServerReport;
  after: ServerReport;
}

/** Runs the two-way soak against a fresh server child. */
export async function runTwoWaySoak(options: TwoWaySoakOptions): Promise<TwoWaySoakResult> {
  await using server = new SoakChild(new URL(import.meta.url).pathname, []);
  const report = () => server.report<ServerReport>();
  const port = Number(await server.line());
  // Warm up with the same load until RSS reaches its busy plateau (it
  // climbs over the first runs: allocator pools, V8's grown spaces; the
  // heap after GC stays near 5 MiB), so the check below sees growth that
  // the load itself causes, not the process settling in.
  let previous = 0;
  for (let round = 1; round <= 8; round++) {
    await drive(port, { ...options, seed: options.seed + round });
    await delay(200);
    const { rssMiB } = await report();
    if (round >= 3 && rssMiB < previous * 1.02) break;
    previous = rssMiB;
  }
  const before = await report();
  const result = await drive(port, options);
  await delay(200);
  const after = await report();
  return { ...result, before, after };
}

async function drive(port: number, options: TwoWaySoakOptions) {
  const random = seeded(options.seed);
  const outcomes = { streamed: 0, left: 0, killed: 0, slept: 0, cancelled: 0, subscribed: 0 };
  let badStreams = 0;
  let badSubscriptions = 0;
  let eventsReceived = 0;
  let eventsDroppedTold = 0;
  let protocolErrors = 0;
  const unexpected: string[] = [];
  const note = (error: unknown) => {
    if (error instanceof ProtocolError) protocolErrors++;
    else unexpected.push(String(error));
  };

  const stream = async (client: Awaited<ReturnType<typeof connect>>, kill: () => Promise<void>) => {
    const n = 1 + Math.floor(random() * 300);
    const leaveAt = random() < 0.3 ? Math.floor(random() * n) : -1;
    const killAt = leaveAt < 0 && random() < 0.05 ? Math.floor(random() * n) : -1;
    const answer = client.stream<number, string>({ type: "count", n });
    let expected = 1;
    let left = false;
    try {
      for await (const chunk of answer) {
        if (chunk !== expected) badStreams++;
        if (expected - 1 === leaveAt) {
          left = true;
          break;
        }
        if (expected - 1 === killAt) await kill();
        expected++;
      }
      const result = await answer.result.catch((error) => {
        // Left early: cancelled, unless the final answer had already come.
        if (left && error instanceof CancelledError) return "left";
        throw error;
      });
      if (left) outcomes.left++;
      else {
        if (result !== "done" || expected !== n + 1) badStreams++;
        outcomes.streamed++;
      }
    } catch (error) {
      if (error instanceof ConnectionClosedError && killAt >= 0) outcomes.killed++;
      else note(error);
    }
  };

  const leave = async (client: Awaited<ReturnType<typeof connect>>) => {
    const answer = client.stream<number, string>({ type: "count", n: 1_000 });
    const leaveAt = Math.floor(random() * 50);
    let seen = 0;
    for await (const _ of answer) if (seen++ === leaveAt) break;
    const error = await answer.result.then(() => undefined, (e) => e);
    if (error instanceof CancelledError) outcomes.left++;
    else note(error ?? "a stream left early resolved");
  };

  const sleep = async (client: Awaited<ReturnType<typeof connect>>) => {
    const controller = new AbortController();
    const cancel = random() < 0.5;
    if (cancel) setTimeout(() => controller.abort(new CancelledError("soak")), random() * 5);
    try {
      await client.request({ type: "sleep", ms: random() * 10 }, { signal: controller.signal });
      outcomes.slept++;
    } catch (error) {
      if (error instanceof CancelledError && cancel) outcomes.cancelled++;
      else note(error);
    }
  };

  const subscribe = async (client: Awaited<ReturnType<typeof connect>>) => {
    // A stalled subscriber falls more than the client's 10,000 events behind
    // the publisher, so it loses events, then reads on past the loss.
    const stalls = random() < 0.1;
    const want = stalls ? 15_000 : 5 + Math.floor(random() * 200);
    let events: EventStream<number>;
    try {
      events = await client.subscribe<number>(["soak.>"]);
    } catch (error) {
      return note(error);
    }
    let first: number | undefined;
    let last = -1;
    let received = 0;
    let toldAfterFirst = 0;
    for await (const entry of events) {
      if (entry.kind === "dropped") {
        eventsDroppedTold += entry.count;
        if (first !== undefined) toldAfterFirst += entry.count;
      } else if (entry.kind === "event") {
        if (entry.data <= last) badSubscriptions++;
        first ??= entry.data;
        last = entry.data;
        received++;
        eventsReceived++;
        if (received >= want) break;
        if (stalls && received === 10) await delay(400);
      }
    }
    // Between the first and the last event, each tick either came or was told lost.
    if (first !== undefined && received + toldAfterFirst !== last - first + 1) badSubscriptions++;
    outcomes.subscribed++;
  };

  let operations = 0;
  await Promise.all(Array.from({ length: options.clients }, async () => {
    let client = await connect({ port });
    const kill = async () => {
      await client.close();
    };
    for (let i = 0; i < options.operations; i++) {
      operations++;
      const dice = random();
      if (dice < 0.4) await stream(client, kill);
      else if (dice < 0.55) await leave(client);
      else if (dice < 0.8) await sleep(client);
      else await subscribe(client);
      if (!client.connected) client = await connect({ port });
    }
    await client.close();
  }));
  return {
    operations,
    outcomes,
    badStreams,
    badSubscriptions,
    eventsReceived,
    eventsDroppedTold,
    protocolErrors,
    unexpected,
  };
}

async function runServer(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  let running = 0;
  // By connection: each session passes the same remoteAddr object to every
  // record, so a later connection from a reused port is another key (a key
  // of port and id counted such a client's restarted ids as answered twice).
  const answered = new WeakMap<Deno.Addr, Set<RequestId>>();
  let answeredTwice = 0;
  const server = serve(
    {
      port: 0,
      maxOutboundBytes: 65_536,
      onError() {},
      onRequest({ remoteAddr, requestId }) {
        if (requestId === undefined) return;
        let ids = answered.get(remoteAddr);
        if (ids === undefined) answered.set(remoteAddr, ids = new Set());
        if (ids.has(requestId)) answeredTwice++;
        ids.add(requestId);
      },
    },
    requestTypes({
      count: {
        description: "Streams 1..n",
        handler: async function* ({ n }: { n: number }) {
          running++;
          try {
            for (let i = 1; i <= n; i++) {
              if (i % 50 === 0) await delay(0);
              yield i;
            }
            return "done";
          } finally {
            running--;
          }
        },
      },
      sleep: {
        description: "Sleeps ms",
        handler: async ({ ms }: { ms: number }, { signal }) => {
          running++;
          try {
            await delay(ms, signal);
            return "slept";
          } finally {
            running--;
          }
        },
      },
    }),
  );
  console.log(server.addr.port);
  // The publisher: full speed, one topic, a sequence number per event.
  let published = 0;
  let publishing = true;
  (async () => {
    while (publishing) {
      for (let i = 0; i < 200; i++) server.publish("soak.tick", published++);
      await delay(0);
    }
  })();
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    for (const command of chunk.split("\n")) {
      if (command !== "report") continue;
      gc();
      gc();
      console.log(
        JSON.stringify({
          running,
          answeredTwice,
          published,
          rssMiB: Deno.memoryUsage().rss / 2 ** 20,
          heapMiB: Deno.memoryUsage().heapUsed / 2 ** 20,
        }),
      );
    }
  }
  publishing = false;
  await server.shutdown();
}

/** The soak's promises, as a list of what broke (empty when all held). */
export function checkTwoWaySoak(result: TwoWaySoakResult): string[] {
  const failures: string[] = [];
  const total = Object.values(result.outcomes).reduce((a, b) => a + b, 0);
  if (total !== result.operations) {
    failures.push(`${result.operations} operations, ${total} outcomes`);
  }
  if (result.after.answeredTwice !== 0) {
    failures.push(`${result.after.answeredTwice} requests answered more than once`);
  }
  if (result.badStreams !== 0) failures.push(`${result.badStreams} streams with wrong chunks`);
  if (result.badSubscriptions !== 0) {
    failures.push(`${result.badSubscriptions} subscriptions lost events silently`);
  }
  if (result.protocolErrors !== 0) failures.push(`${result.protocolErrors} protocol errors`);
  if (result.unexpected.length !== 0) failures.push(`unexpected: ${result.unexpected.slice(0, 3)}`);
  if (result.after.running !== 0) failures.push(`${result.after.running} handlers still running`);
  const grown = rssGrowth(result.before.rssMiB, result.after.rssMiB);
  if (grown !== undefined) failures.push(grown);
  return failures;
}

if (import.meta.main) {
  if (Deno.args[0] === "server") {
    await runServer();
  } else {
    const options = {
      clients: Number(Deno.args[0] ?? 8),
      operations: Number(Deno.args[1] ?? 400),
      seed: 2026,
    };
    const result = await runTwoWaySoak(options);
    console.log(JSON.stringify(result, null, 2));
    const failures = checkTwoWaySoak(result);
    if (failures.length > 0) {
      console.log(`FAILED:\n- ${failures.join("\n- ")}`);
      Deno.exit(1);
    }
    console.log("two-way soak passed");
  }
}
