/**
 * The soak: many connections, many requests of random sizes up to the cap,
 * random client aborts and disconnects, a handler with random delays and
 * throws. Counts every request on both sides.
 *
 *   deno task soak            50 connections × 2,000 requests, cap 256 KiB
 *   (tests/soak_test.ts runs a short version in CI)
 *
 * The server runs in a child process (`soak.ts server CAP`), so its RSS is
 * its own; it answers `report` on stdin with its counts and its RSS after a
 * full GC.
 *
 * @module
 */

import { connect, RemoteError, serve } from "../mod.ts";
import { ConnectionClosedError } from "../errors.ts";
import { delay, seeded } from "../tests/_helpers.ts";
import { rssGrowth, SoakChild } from "../tests/_processes.ts";

export interface SoakOptions {
  connections: number;
  requests: number;
  cap: number;
  seed: number;
  inFlight?: number;
}

interface ServerReport {
  handled: number;
  duplicates: number;
  framesIn: number;
  framesOut: number;
  unhandled: number;
  rssMiB: number;
  heapMiB: number;
  externalMiB: number;
}

export interface SoakResult {
  sent: number;
  outcomes: Record<
    "ok" | "handler_error" | "timeout" | "aborted" | "closed",
    number
  >;
  settledTwice: number;
  wrongResult: number;
  /** Requests the server may have lost with a connection we closed. */
  unansweredOnClosed: number;
  /** Requests on connections we never closed, not aborted, with no answer. */
  lostOnOpen: number;
  clientUnhandled: number;
  before: ServerReport;
  after: ServerReport;
  seconds: number;
}

type Payload = { n: number; pad: string; sleep: number; fail: boolean };

/** Runs the soak against a fresh server child; resolves with both sides' counts. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  await using server = new SoakChild(new URL(import.meta.url).pathname, [String(options.cap)]);
  const report = () => server.report<ServerReport>();
  let clientUnhandled = 0;
  const onUnhandled = (event: PromiseRejectionEvent): void => {
    clientUnhandled++;
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    const port = Number(await server.line());
    // Warm up with the same load, so the baseline RSS includes what any
    // server this busy keeps committed (V8's grown heap spaces, JIT code,
    // allocator pools): measured here, the heap in use after a GC stays at a
    // few MiB while RSS climbs to a plateau over the first ~50k requests.
    await drive(port, {
      ...options,
      requests: options.requests,
      seed: options.seed + 1,
    }, 1e9);
    const before = await report();
    const started = performance.now();
    const result = await drive(port, options);
    const seconds = (performance.now() - started) / 1000;
    await delay(100);
    const after = await report();
    return { ...result, clientUnhandled, before, after, seconds };
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
}

async function drive(port: number, options: SoakOptions, firstN = 0) {
  const random = seeded(options.seed);
  const inFlight = options.inFlight ?? 8;
  const settled = new Map<number, number>();
  const outcomes = {
    ok: 0,
    handler_error: 0,
    timeout: 0,
    aborted: 0,
    closed: 0,
  };
  let sent = 0;
  let wrongResult = 0;
  let unansweredOnClosed = 0;
  let lostOnOpen = 0;
  let nextN = firstN;
  const pad = "x".repeat(options.cap);
  const size = (): number => {
    // Log-uniform from 50 bytes to just under the cap: mostly small, some large.
    const room = options.cap - 200;
    return Math.floor(
      Math.exp(Math.log(50) + random() * (Math.log(room) - Math.log(50))),
    );
  };

  await Promise.all(Array.from({ length: options.connections }, async () => {
    let remaining = options.requests;
    while (remaining > 0) {
      const client = await connect<Payload, number>({
        port,
        maxBytes: options.cap,
      });
      // Requests with no answer from the server yet, and those we gave up on.
      const awaiting = new Set<number>();
      const abandoned = new Set<number>();
      let closedByUs = false;
      const lane = async (): Promise<void> => {
        while (remaining > 0 && !closedByUs) {
          remaining--;
          const n = nextN++;
          const controller = new AbortController();
          const abort = random() < 0.05;
          if (abort) {
            setTimeout(
              () => controller.abort(new Error("soak abort")),
              random() * 3,
            );
          }
          const disconnect = random() < 0.003;
          const request = client.request(
            {
              n,
              pad: pad.slice(0, size()),
              sleep: random() < 0.5 ? random() * 4 : 0,
              fail: random() < 0.05,
            },
            {
              signal: controller.signal,
              timeout: random() < 0.02 ? 1 : undefined,
            },
          );
          sent++;
          awaiting.add(n);
          if (disconnect) {
            // Drop the connection with this request (and others) in flight.
            closedByUs = true;
            await client.close();
          }
          let outcome: keyof typeof outcomes;
          try {
            const result = await request;
            if (result !== n) wrongResult++;
            outcome = "ok";
          } catch (error) {
            if (error instanceof ConnectionClosedError) outcome = "closed";
            else if (!(error instanceof RemoteError)) outcome = "aborted"; // our signal or timeout
            else if (error.code === "handler_error") outcome = "handler_error";
            else if (error.code === "timeout") outcome = "timeout";
            else throw error;
          }
          outcomes[outcome]++;
          settled.set(n, (settled.get(n) ?? 0) + 1);
          if (outcome === "aborted") abandoned.add(n);
          else if (outcome !== "closed") awaiting.delete(n);
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
      if (closedByUs) unansweredOnClosed += awaiting.size;
      else for (const n of awaiting) if (!abandoned.has(n)) lostOnOpen++;
      await client.close();
    }
  }));
  let settledTwice = 0;
  for (const count of settled.values()) if (count !== 1) settledTwice++;
  if (settled.size !== sent) settledTwice += sent - settled.size;
  return {
    sent,
    outcomes,
    settledTwice,
    wrongResult,
    unansweredOnClosed,
    lostOnOpen,
  };
}

async function runServer(cap: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const seen = new Set<number>();
  let duplicates = 0;
  let unhandled = 0;
  globalThis.addEventListener("unhandledrejection", (event) => {
    unhandled++;
    event.preventDefault();
  });
  const server = serve(
    { port: 0, maxBytes: cap, maxInFlight: 64 },
    async (payload: Payload, info) => {
      if (seen.has(payload.n)) duplicates++;
      seen.add(payload.n);
      if (payload.sleep > 0) await delay(payload.sleep, info.signal);
      if (payload.fail) throw new Error(`soak failure ${payload.n}`);
      return payload.n;
    },
  );
  console.log((server.addr as Deno.NetAddr).port);
  for await (
    const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  ) {
    for (const command of chunk.split("\n")) {
      if (command !== "report") continue;
      gc();
      gc();
      const stats = server.stats();
      console.log(JSON.stringify({
        handled: seen.size,
        duplicates,
        framesIn: stats.frames.in,
        framesOut: stats.frames.out,
        unhandled,
        rssMiB: Deno.memoryUsage().rss / 2 ** 20,
        heapMiB: Deno.memoryUsage().heapUsed / 2 ** 20,
        open: stats.connections.open,
        externalMiB: Deno.memoryUsage().external / 2 ** 20,
      }));
    }
  }
  await server.shutdown();
}

if (import.meta.main) {
  if (Deno.args[0] === "server") {
    await runServer(Number(Deno.args[1]));
  } else {
    const options = {
      connections: Number(Deno.args[0] ?? 50),
      requests: Number(Deno.args[1] ?? 2_000),
      cap: Number(Deno.args[2] ?? 262_144),
      seed: 2026,
    };
    console.log(
      `soak: ${options.connections} connections × ${options.requests} requests, cap ${options.cap} bytes`,
    );
    const result = await runSoak(options);
    console.log(JSON.stringify(result, null, 2));
    const grownBy = result.after.rssMiB / result.before.rssMiB - 1;
    console.log(
      `server RSS ${result.before.rssMiB.toFixed(1)} → ${result.after.rssMiB.toFixed(1)} MiB (${
        (grownBy * 100).toFixed(1)
      }%)`,
    );
    const failures = checkSoak(result);
    if (failures.length > 0) {
      console.log(`FAILED:\n- ${failures.join("\n- ")}`);
      Deno.exit(1);
    }
    console.log(
      "soak passed: every request settled once, none lost, no unhandled rejection, RSS within 10%",
    );
  }
}

/** The soak's promises, as a list of what broke (empty when all held). */
export function checkSoak(result: SoakResult): string[] {
  const failures: string[] = [];
  const total = Object.values(result.outcomes).reduce((a, b) => a + b, 0);
  if (total !== result.sent) {
    failures.push(`${result.sent} sent but ${total} outcomes`);
  }
  if (result.settledTwice !== 0) {
    failures.push(`${result.settledTwice} requests settled other than once`);
  }
  if (result.wrongResult !== 0) {
    failures.push(
      `${result.wrongResult} answers carried another request's result`,
    );
  }
  if (result.lostOnOpen !== 0) {
    failures.push(
      `${result.lostOnOpen} requests lost on connections never closed`,
    );
  }
  if (result.after.duplicates !== 0) {
    failures.push(`${result.after.duplicates} requests handled twice`);
  }
  const lost = result.after.framesIn - result.after.framesOut;
  if (lost < 0 || lost > result.unansweredOnClosed) {
    failures.push(
      `server read ${result.after.framesIn} frames, answered ${result.after.framesOut}`,
    );
  }
  if (result.after.unhandled + result.clientUnhandled !== 0) {
    failures.push("unhandled rejections");
  }
  const grown = rssGrowth(result.before.rssMiB, result.after.rssMiB);
  if (grown !== undefined) failures.push(grown);
  return failures;
}
