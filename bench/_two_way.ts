// The two-way rows of the load tool: event fan-out (SocketBridge's server
// publishing straight to its subscribers, against nats-server with nats.js
// publishing and subscribing), streaming (chunks/s on one connection
// against pipelined requests/s on the same server, same round), and
// cancellation (abort() in the client to the handler's signal in the
// server). Every side runs in its own process; timestamps cross processes
// as `performance.timeOrigin + performance.now()` (one host, one clock).

import { connect, requestTypes, serve } from "../mod.ts";
import { startBroker } from "./_processes.ts";
import { ChildServer } from "./_child.ts";
import { REPLY } from "./_common.ts";
import { runClient } from "./_rows.ts";
import { quantile } from "./_report.ts";

export const SUBSCRIBERS = 100;
// The paced phase: slow enough that no system queues, so latency is the path itself.
export const PACED_EVENTS_PER_SECOND = 500;
const CANCELS = 300;
const SELF = new URL(import.meta.url).pathname;
const CONFIG = new URL("deno.json", import.meta.url).pathname;
const FLAGS = [`--config=${CONFIG}`, "--allow-env", "--allow-sys"];
const TEXT = "an event of about a hundred bytes, as a build tool sends";

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** One round of the two-way rows. */
export interface TwoWayRound {
  round: number;
  /** Events delivered per second to all subscribers, publishing flat out. */
  fanout: { socketbridge: number; nats?: number };
  /** Publish-to-delivery latency at a paced rate, in µs. */
  fanoutLatency: {
    socketbridge: { p50: number; p99: number };
    nats?: { p50: number; p99: number };
  };
  /** Chunks/s of one stream, and requests/s pipelined 64 deep, same server. */
  streaming: { chunks: number; pipelined: number };
  /** abort() to the handler's signal, in µs. */
  cancel: { p50: number; p99: number };
}

function event(seq: number): Record<string, unknown> {
  return { t: now(), seq, text: TEXT };
}

function percentiles(values: number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5) ?? NaN, p99: quantile(sorted, 0.99) ?? NaN };
}

/** Publishes `count` events per `batch`, yielding between batches, for `seconds`. */
async function publishFor(
  publish: (seq: number) => void,
  seconds: number,
  perSecond: number | undefined,
): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let seq = 0;
  while (performance.now() < end) {
    if (perSecond === undefined) {
      for (let i = 0; i < 200; i++) publish(seq++);
      await new Promise((resolve) => setTimeout(resolve, 0));
    } else {
      publish(seq++);
      await new Promise((resolve) => setTimeout(resolve, 1000 / perSecond));
    }
  }
  return seq;
}

/** The helper processes: `_two_way.ts server|subscribers|publisher ...`. */
async function helper(role: string, args: string[]): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  const commands = async (
    handle: (words: string[]) => Promise<void> | void,
  ) => {
    for await (const chunk of lines) {
      for (const line of chunk.split("\n")) {
        if (line !== "") await handle(line.split(" "));
      }
    }
  };
  if (role === "server") {
    const server = serve(
      { port: 0, maxInFlight: 1024, authTimeout: 0 },
      requestTypes({
        bench: { description: "", handler: () => REPLY },
        stream: {
          description: "",
          handler: async function* ({ n }: { n: number }) {
            for (let i = 0; i < n; i++) yield { seq: i, text: TEXT };
          },
        },
        wait: {
          description: "",
          handler: (_payload, { signal }) =>
            new Promise((_, reject) =>
              signal.addEventListener("abort", () => {
                // The moment the handler learns of the cancel, sent back as an event.
                server.publish("cancelled", now());
                reject(signal.reason);
              })
            ),
        },
      }),
    );
    console.log(server.addr.port);
    await commands(async ([command, seconds, rate]) => {
      if (command !== "publish") return;
      const sent = await publishFor(
        (seq) => server.publish("bench.events", event(seq)),
        Number(seconds),
        rate === "max" ? undefined : Number(rate),
      );
      console.log(sent);
    });
  } else if (role === "publisher") {
    const { connect: natsConnect } = await import("nats");
    const nc = await natsConnect({ servers: `127.0.0.1:${args[0]}` });
    const encoder = new TextEncoder();
    console.log("ready");
    await commands(async ([command, seconds, rate]) => {
      if (command !== "publish") return;
      const sent = await publishFor(
        (seq) =>
          nc.publish(
            "bench.events",
            encoder.encode(JSON.stringify(event(seq))),
          ),
        Number(seconds),
        rate === "max" ? undefined : Number(rate),
      );
      await nc.flush();
      console.log(sent);
    });
  } else if (role === "subscribers") {
    const [kind, port] = args;
    let received = 0;
    let lost = 0;
    let latencies: number[] = [];
    // Latencies are kept only in the paced phase: flat out they would be millions.
    let timing = false;
    const onEvent = (data: { t: number }) => {
      received++;
      if (timing) latencies.push((now() - data.t) * 1000);
    };
    const closers: (() => Promise<void>)[] = [];
    if (kind === "socketbridge") {
      for (let i = 0; i < SUBSCRIBERS; i++) {
        const client = await connect({ port: Number(port) });
        // A callback, as nats.js's subscribers below take their messages.
        await client.subscribe<{ t: number }>(["bench.>"], {
          onEvent: (entry) => {
            if (entry.kind === "event") onEvent(entry.data);
            else if (entry.kind === "dropped") lost += entry.count;
          },
        });
        closers.push(() => client.close());
      }
    } else {
      const { connect: natsConnect } = await import("nats");
      const decoder = new TextDecoder();
      for (let i = 0; i < SUBSCRIBERS; i++) {
        const nc = await natsConnect({ servers: `127.0.0.1:${port}` });
        nc.subscribe("bench.>", {
          callback: (error, msg) => {
            if (error !== null) lost++;
            else onEvent(JSON.parse(decoder.decode(msg.data)));
          },
        });
        await nc.flush();
        closers.push(() => nc.close());
      }
    }
    console.log("ready");
    await commands(async ([command]) => {
      if (command === "reset" || command === "time") {
        received = 0;
        lost = 0;
        latencies = [];
        timing = command === "time";
        console.log("ok");
      } else if (command === "count") {
        console.log(received);
      } else if (command === "report") {
        console.log(
          JSON.stringify({ received, lost, ...percentiles(latencies) }),
        );
      } else if (command === "quit") {
        await Promise.all(closers.map((close) => close()));
        Deno.exit(0);
      }
    });
  }
}

interface FanoutFigures {
  perSecond: number;
  latency: { p50: number; p99: number };
}

/** Waits until the subscribers stop receiving; returns their last report. */
async function settled(
  subscribers: ChildServer,
): Promise<{ received: number; at: number }> {
  let last = -1;
  let report = { received: 0, at: performance.now() };
  for (let quiet = 0; quiet < 3;) {
    const received = Number(await subscribers.ask("count"));
    if (received === last) quiet++;
    else {
      quiet = 0;
      report = { received, at: performance.now() };
    }
    last = received;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return report;
}

/**
 * One system's fan-out: flat out for `seconds` (delivered events/s, counted
 * until the last one lands), then, once everything has landed, paced for
 * `seconds` (latency).
 */
async function fanout(
  publisher: ChildServer,
  subscriberArgs: string[],
  seconds: number,
): Promise<FanoutFigures> {
  const subscribers = new ChildServer(
    SELF,
    ["subscribers", ...subscriberArgs],
    FLAGS,
  );
  try {
    await subscribers.line();
    await subscribers.ask("reset");
    const started = performance.now();
    await publisher.ask(`publish ${seconds} max`);
    const flat = await settled(subscribers);
    await subscribers.ask("time");
    await publisher.ask(`publish ${seconds} ${PACED_EVENTS_PER_SECOND}`);
    await settled(subscribers);
    const paced = JSON.parse(await subscribers.ask("report"));
    await subscribers.ask("quit", false);
    return {
      perSecond: flat.received / ((flat.at - started) / 1000),
      latency: { p50: paced.p50, p99: paced.p99 },
    };
  } finally {
    await subscribers.stop();
  }
}

/** Chunks/s of one long stream, and cancel latencies, from this process. */
async function streamAndCancel(
  port: number,
  seconds: number,
): Promise<{ chunks: number; cancel: { p50: number; p99: number } }> {
  await using client = await connect({ port });
  // Warm up, then one stream long enough to last about `seconds`.
  for await (
    const _ of client.stream({ type: "stream", n: 20_000 })
  ) { /* warm-up */ }
  let n = 200_000;
  let chunks = 0;
  let elapsed = 0;
  while (elapsed < seconds * 0.5) {
    chunks = 0;
    const started = performance.now();
    for await (const _ of client.stream({ type: "stream", n })) chunks++;
    elapsed = (performance.now() - started) / 1000;
    n *= 2;
  }
  const perSecond = chunks / elapsed;
  const heard = await client.subscribe<number>(["cancelled"]);
  const iterator = heard[Symbol.asyncIterator]();
  const latencies: number[] = [];
  for (let i = 0; i < CANCELS; i++) {
    const controller = new AbortController();
    const waiting = client.request({ type: "wait" }, {
      signal: controller.signal,
    }).catch(() => {});
    // Give the request time to reach its handler before it is cancelled.
    await new Promise((resolve) => setTimeout(resolve, 1));
    const aborted = now();
    controller.abort();
    const { value } = await iterator.next();
    await waiting;
    if (value?.kind === "event") latencies.push((value.data - aborted) * 1000);
  }
  await iterator.return!();
  return { chunks: perSecond, cancel: percentiles(latencies) };
}

/** Runs every two-way row once; `natsServer` is the broker's path, if installed. */
export async function measureTwoWay(
  round: number,
  seconds: number,
  natsServer: string | undefined,
): Promise<TwoWayRound> {
  const server = new ChildServer(SELF, ["server"], FLAGS);
  const port = Number(await server.line());
  let result: TwoWayRound;
  try {
    const ours = await fanout(server, ["socketbridge", String(port)], seconds);
    const pipelined = await runClient(
      "socketbridge",
      port,
      "pipelined",
      seconds,
    );
    const { chunks, cancel } = await streamAndCancel(port, seconds);
    result = {
      round,
      fanout: { socketbridge: ours.perSecond },
      fanoutLatency: { socketbridge: ours.latency },
      streaming: { chunks, pipelined: pipelined.requests / pipelined.seconds },
      cancel,
    };
  } finally {
    await server.stop();
  }
  if (natsServer !== undefined) {
    await using broker = await startBroker(natsServer);
    const natsPort = broker.port;
    {
      const publisher = new ChildServer(
        SELF,
        ["publisher", String(natsPort)],
        FLAGS,
      );
      try {
        await publisher.line();
        const theirs = await fanout(
          publisher,
          ["nats", String(natsPort)],
          seconds,
        );
        result.fanout.nats = theirs.perSecond;
        result.fanoutLatency.nats = theirs.latency;
      } finally {
        await publisher.stop();
      }
    }
  }
  return result;
}

if (import.meta.main && Deno.args[0] === "server") {
  await helper(Deno.args[1], Deno.args.slice(2));
}
