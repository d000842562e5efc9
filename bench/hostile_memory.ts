/**
 * What a stranger can make a server hold, with every default: peak server
 * RSS while (A) 1,000 connections each announce a 1 MiB frame and send most
 * of it, then stall, and (B) 300 connections that never read each send eight
 * 1 MiB echo requests; and what a well-behaved client meanwhile gets, on a
 * connection of its own (a request every 20 ms) and on fresh ones (one every
 * 250 ms): busy answers, timeouts, latency. Each attack meets a server of
 * its own, whose peak runs from its start until 3 s after the attackers left.
 * The server, the attackers and the well-behaved client each run in a
 * process of their own (in the attackers' process, the client's latency
 * would be the attackers' own event loop).
 *
 *   deno task bench:hostile [path/to/mod.ts]
 *
 * Pass another checkout's mod.ts to measure it the same way (before/after).
 *
 * @module
 */

import { ChildServer, moduleUnderTest, serveCommands } from "./_child.ts";
import { quantile } from "./_report.ts";

const mod = moduleUnderTest();
const MiB = 2 ** 20;

interface VictimReport {
  requests: number;
  busy: number;
  timeouts: number;
  failed: number;
  p50: number;
  p99: number;
}

/** A well-behaved client until `stop` aborts: its outcomes and latencies. */
async function victim(port: number, stop: AbortSignal): Promise<string> {
  const { connect, send } = await import(mod);
  const report = (latencies: number[], outcomes: string[]): VictimReport => {
    latencies.sort((a, b) => a - b);
    const at = (q: number) => quantile(latencies, q) ?? NaN;
    return {
      requests: outcomes.length,
      busy: outcomes.filter((o) => o === "busy").length,
      timeouts: outcomes.filter((o) => o === "timeout").length,
      failed: outcomes.filter((o) => o !== "ok" && o !== "busy" && o !== "timeout")
        .length,
      p50: at(0.5),
      p99: at(0.99),
    };
  };
  const outcomeOf = (error: { code?: string }) => error?.code ?? "failed";
  const persistent = (async () => {
    const latencies: number[] = [];
    const outcomes: string[] = [];
    const client = await connect({ port, timeout: 5_000 });
    while (!stop.aborted) {
      const started = performance.now();
      try {
        await client.request({ type: "victim", n: outcomes.length });
        outcomes.push("ok");
      } catch (error) {
        outcomes.push(outcomeOf(error as { code?: string }));
      }
      latencies.push(performance.now() - started);
      await delay(20);
    }
    await client.close();
    return report(latencies, outcomes);
  })();
  const fresh = (async () => {
    const latencies: number[] = [];
    const outcomes: string[] = [];
    while (!stop.aborted) {
      const started = performance.now();
      try {
        const answer = await send({ port, timeout: 5_000 }, { type: "victim" });
        outcomes.push(answer.status === "ok" ? "ok" : answer.code ?? "failed");
      } catch (error) {
        outcomes.push(outcomeOf(error as { code?: string }));
      }
      latencies.push(performance.now() - started);
      await delay(250);
    }
    return report(latencies, outcomes);
  })();
  const line = (name: string, r: VictimReport) =>
    `${name}: ${r.requests} requests, ${r.busy} busy, ${r.timeouts} timeouts, ${r.failed} failed, ` +
    `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`;
  return `${line("persistent", await persistent)}; ${line("fresh", await fresh)}`;
}

if (Deno.args[0] === "server" && Deno.args[2] === "victim") {
  // The well-behaved client: from start until "stop", then its report.
  const stop = new AbortController();
  const served = victim(Number(Deno.args[3]), stop.signal);
  console.log("ready");
  await serveCommands(async (command) => {
    if (command !== "stop") return;
    stop.abort();
    console.log(await served);
  });
  Deno.exit(0);
}

if (Deno.args[0] === "server" && Deno.args[2] === "attack") {
  // The attackers, in a process of their own: when it exits, the kernel
  // closes their sockets at once (in-process, a socket with a write still
  // pending stays open after close()).
  await attack(Deno.args[3], Number(Deno.args[4]));
  console.log("sent");
  await serveCommands((command) => {
    if (command === "stop") Deno.exit(0);
  });
}

if (Deno.args[0] === "server") {
  const { serve } = await import(mod);
  const server = serve({ port: 0 }, (payload: unknown) => payload);
  console.log(server.addr.port);
  let peak = 0;
  let at = "";
  setInterval(() => {
    const usage = Deno.memoryUsage();
    if (usage.rss > peak) {
      peak = usage.rss;
      at =
        `heap ${(usage.heapUsed / 2 ** 20).toFixed(0)}/${
          (usage.heapTotal / 2 ** 20).toFixed(0)
        } MiB, ` +
        `external ${(usage.external / 2 ** 20).toFixed(0)} MiB, budget ${
          (server.stats().memory.buffered / 2 ** 20).toFixed(0)
        } MiB, ` +
        `evicted ${server.stats().memory.evicted}`;
    }
  }, 20);
  await serveCommands((command) => {
    if (command === "peak") {
      console.log(peak);
      console.error(`at the peak: ${at}`);
    }
    if (command === "rss") console.log(Deno.memoryUsage().rss);
  });
  Deno.exit(0);
}

/** Opens `count` connections to `port`, a hundred at a time. */
async function open(port: number, count: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  while (conns.length < count) {
    const batch = Math.min(100, count - conns.length);
    conns.push(
      ...await Promise.all(
        Array.from(
          { length: batch },
          () => Deno.connect({ hostname: "127.0.0.1", port }),
        ),
      ),
    );
  }
  return conns;
}

function writeQuietly(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  return (async () => {
    for (let at = 0; at < bytes.length;) {
      at += await conn.write(bytes.subarray(at));
    }
  })().catch(() => {});
}

/** Runs attack A or B against `port`; resolves once it is sent (or its time is up). */
async function attack(scenario: string, port: number): Promise<void> {
  if (scenario === "A") {
    // Announced 1 MiB bodies, 900 KiB sent, then silence.
    const stalled = await open(port, 1_000);
    const half = new Uint8Array(4 + 900 * 1024);
    new DataView(half.buffer).setUint32(0, MiB - 16);
    half.fill(0x20, 4);
    await Promise.all(
      stalled.map((conn) => Promise.race([writeQuietly(conn, half), delay(4_000)])),
    );
    return;
  }
  // B: never-reading peers with eight 1 MiB echoes each.
  const hogs = await open(port, 300);
  const body = new TextEncoder().encode(
    JSON.stringify({ pad: "y".repeat(MiB - 64), request_id: 1 }),
  );
  const echo = new Uint8Array(4 + body.length);
  new DataView(echo.buffer).setUint32(0, body.length);
  echo.set(body, 4);
  await Promise.all(
    hogs.map((conn) =>
      Promise.race([
        (async () => {
          for (let i = 0; i < 8; i++) await writeQuietly(conn, echo);
        })(),
        delay(6_000),
      ])
    ),
  );
}

interface Outcome {
  peak: number;
  after: number;
  served: string;
}

/**
 * One attack against a server of its own: the well-behaved client's report
 * while the attackers are connected, and the server's peak RSS from the
 * start until 3 s after the attackers left (and its RSS then).
 */
async function measure(scenario: string): Promise<Outcome> {
  const script = new URL(import.meta.url).pathname;
  const server = new ChildServer(script, [mod]);
  const port = Number(await server.line());
  const victim = new ChildServer(script, [mod, "victim", String(port)]);
  await victim.line();
  const attackers = new ChildServer(script, [
    mod,
    "attack",
    scenario,
    String(port),
  ]);
  await attackers.line();
  await delay(1_000);
  const served = await victim.ask("stop");
  await victim.stop();
  await attackers.ask("stop", false);
  await attackers.stop();
  await delay(3_000);
  const after = Number(await server.ask("rss"));
  const peak = Number(await server.ask("peak"));
  await server.stop();
  return { peak, after, served };
}

const a = await measure("A");
const b = await measure("B");
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
console.log(`| scenario | peak server RSS | a well-behaved client meanwhile |
| --- | ---: | --- |
| A: 1,000 connections × 900 KiB of an announced 1 MiB frame | ${mib(a.peak)} (${
  mib(a.after)
} 3 s after they left) | ${a.served} |
| B: 300 never-reading connections × 8 × 1 MiB echoes | ${mib(b.peak)} (${
  mib(b.after)
} 3 s after they left) | ${b.served} |`);

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
