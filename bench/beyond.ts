/**
 * Beyond one host, measured: request/reply through the NATS bridge against
 * plain nats.js request/reply, the queue group with one and two server
 * processes, and the pipelined row with tracing off and on, each as a ratio
 * to its baseline from the same round. Writes docs/beyond.md.
 *
 *   deno task bench:beyond [--rounds 3] [--seconds 2] [--quick] [--no-write]
 *
 * Every row runs its server in its own process and its client in another,
 * 64 requests in flight, on loopback with the Debian nats-server.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connect as natsConnect } from "nats";
import { serve } from "../mod.ts";
import { connectNats, serveNats } from "../nats.ts";
import { PIPELINE, REPLY, REQUEST } from "./_common.ts";
import { firstLine, natsServerPath, startBroker } from "./_processes.ts";

const SELF = new URL(import.meta.url).pathname;
const LOAD = new URL("./load.ts", import.meta.url).pathname;
const CONFIG = new URL("./deno.json", import.meta.url).pathname;
const TOKEN = "bench-token";
const PREFIX = "bb";
// The queue-group rows' handler burns this much CPU per request, so that the
// servers' work, not the client's or the broker's, is what two processes share.
const WORK_MS = 1;

type RowName =
  | "floor pipelined"
  | "socketbridge pipelined, tracing off"
  | "socketbridge pipelined, tracing on"
  | "nats.js request/reply"
  | "bridge, connectNats client"
  | "bridge, nats.js client"
  | "queue group, 1 process"
  | "queue group, 2 processes";

interface Measured {
  row: RowName;
  round: number;
  perSecond: number;
}

const decoder = new TextDecoder();

/** A helper process that prints one line once it is ready. */
async function start(
  args: string[],
  env?: Record<string, string>,
): Promise<{ line: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const { line, rest: reader } = await firstLine(child.stdout);
  return {
    line,
    stop: async () => {
      try {
        child.kill();
      } catch {
        // gone
      }
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}

async function runChild(
  args: string[],
  env?: Record<string, string>,
): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`client ${args.join(" ")} failed`);
  const result = JSON.parse(decoder.decode(output.stdout));
  return result.requests / result.seconds;
}

const RUN = [
  "run",
  "--config",
  CONFIG,
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-env",
];

/** An OTLP/HTTP receiver that throws spans away: tracing on costs its export. */
function discardingReceiver(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      await request.arrayBuffer();
      return Response.json({});
    },
  );
}

async function socketRow(
  kind: string,
  seconds: number,
  env?: Record<string, string>,
) {
  const server = await start(
    [...RUN, "--allow-sys", LOAD, "server", kind],
    env,
  );
  try {
    return await runChild([
      ...RUN,
      "--allow-sys",
      LOAD,
      "client",
      kind,
      server.line,
      "pipelined",
      String(seconds),
    ]);
  } finally {
    await server.stop();
  }
}

async function natsRow(
  natsPort: number,
  responder: string[],
  members: number,
  client: string,
  seconds: number,
): Promise<number> {
  const started = [];
  for (let i = 0; i < members; i++) {
    started.push(await start([...RUN, ...responder]));
  }
  try {
    return await runChild([
      ...RUN,
      SELF,
      "client",
      client,
      String(natsPort),
      String(seconds),
    ]);
  } finally {
    for (const member of started) await member.stop();
  }
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "2" },
      quick: { type: "boolean", default: false },
      "no-write": { type: "boolean", default: false },
    },
  });
  const rounds = values.quick ? 1 : Number(values.rounds);
  const seconds = values.quick ? 0.3 : Number(values.seconds);
  const natsServer = natsServerPath();
  if (natsServer === undefined) {
    console.error(
      "nats-server is not installed (apt-get install nats-server): cannot measure",
    );
    Deno.exit(1);
  }
  await using broker = await startBroker(natsServer);
  const natsPort = broker.port;
  await using receiver = discardingReceiver();
  const tracing = {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
  };
  const measured: Measured[] = [];
  // A NATS row: `members` responder processes of `server` kind, one client of `client` kind.
  const nats = (
    server: string,
    workMs: number,
    members: number,
    client: string,
  ) =>
    natsRow(
      natsPort,
      [SELF, "server", server, String(natsPort), String(workMs)],
      members,
      client,
      seconds,
    );
  {
    for (let round = 1; round <= rounds; round++) {
      const rows: [RowName, () => Promise<number>][] = [
        ["floor pipelined", () => socketRow("floor-json", seconds)],
        [
          "socketbridge pipelined, tracing off",
          () => socketRow("socketbridge", seconds),
        ],
        [
          "socketbridge pipelined, tracing on",
          () => socketRow("socketbridge", seconds, tracing),
        ],
        ["nats.js request/reply", () => nats("plain", 0, 1, "plain")],
        ["bridge, connectNats client", () => nats("bridge", 0, 1, "bridge")],
        ["bridge, nats.js client", () => nats("bridge", 0, 1, "raw")],
        ["queue group, 1 process", () => nats("bridge", WORK_MS, 1, "bridge")],
        [
          "queue group, 2 processes",
          () => nats("bridge", WORK_MS, 2, "bridge"),
        ],
      ];
      for (const [row, run] of rows) {
        const perSecond = await run();
        measured.push({ row, round, perSecond });
        console.log(
          `round ${round}: ${row}: ${Math.round(perSecond).toLocaleString("en-US")} /s`,
        );
      }
    }
  }
  const report = reportOf(measured, rounds, seconds);
  console.log(report);
  if (!values["no-write"]) {
    await Deno.writeTextFile(
      new URL("../docs/beyond.md", import.meta.url),
      report,
    );
    console.log("wrote docs/beyond.md");
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The median over rounds of `row ÷ baseline`, each pair from the same round. */
function ratio(measured: Measured[], row: RowName, baseline: RowName): number {
  const byRound = (name: RowName) =>
    new Map(
      measured.filter((m) => m.row === name).map((m) => [m.round, m.perSecond]),
    );
  const rows = byRound(row);
  const bases = byRound(baseline);
  return median([...rows].map(([round, value]) => value / bases.get(round)!));
}

function reportOf(
  measured: Measured[],
  rounds: number,
  seconds: number,
): string {
  const figure = (row: RowName) =>
    Math.round(
      median(measured.filter((m) => m.row === row).map((m) => m.perSecond)),
    )
      .toLocaleString("en-US");
  const line = (row: RowName, baseline: RowName) =>
    `| ${row} | ${figure(row)} | ${ratio(measured, row, baseline).toFixed(2)}× ${baseline} |`;
  return `# Beyond one host: NATS bridge and tracing, measured

Produced by \`deno task bench:beyond\` (${rounds} interleaved rounds of ${seconds} s per row, on
this machine: ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}). Requests per
second are medians over rounds; each ratio is the median of the two rows' figures from the same
round. Every row has ${PIPELINE} requests in flight from one client process, to a server in
another process; NATS rows go through the Debian \`nats-server\` on loopback.

| row | requests/s | ratio |
| --- | ---: | ---: |
${line("socketbridge pipelined, tracing off", "floor pipelined")}
${line("socketbridge pipelined, tracing on", "floor pipelined")}
${
    line(
      "socketbridge pipelined, tracing on",
      "socketbridge pipelined, tracing off",
    )
  }
${line("bridge, connectNats client", "nats.js request/reply")}
${line("bridge, nats.js client", "nats.js request/reply")}
${line("queue group, 2 processes", "queue group, 1 process")}

- **floor pipelined**: the load tool's hand-written JSON framing server and client (see
  benchmarks.md), the yardstick of the pipelined row.
- **tracing on**: the same SocketBridge server and client processes run with \`OTEL_DENO=true\`,
  each request making a client and a server span, exported over OTLP/HTTP JSON to a receiver on
  loopback that discards them. Tracing off is the library as shipped: nothing per request.
- **nats.js request/reply**: a responder on the \`nats\` package that parses the request's JSON and
  answers \`${JSON.stringify(REPLY)}\`, called with \`nc.request()\`: what a NATS user writes.
- **bridge**: a SocketBridge server (token on) served with \`serveNats()\`, the same handler,
  called with \`connectNats()\` or with plain \`nc.request()\` on \`${PREFIX}.bench\`: the bridge's
  cost over plain NATS is the envelope, the checks and the answer format.
- **queue group**: the bridge with a handler that burns ${WORK_MS} ms of CPU per request, one or
  two server processes in one queue group. This machine has ${navigator.hardwareConcurrency}
  cores, shared with the client and the broker, so two processes cannot double it.
`;
}

/** Burns `ms` of CPU: the queue-group rows' handler work. */
function work(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

async function server(
  kind: string,
  natsPort: string,
  workMs: number,
): Promise<void> {
  const nc = await natsConnect({ servers: `127.0.0.1:${natsPort}` });
  const encoder = new TextEncoder();
  if (kind === "plain") {
    nc.subscribe(`${PREFIX}.bench`, {
      queue: PREFIX,
      callback: (_error, msg) => {
        JSON.parse(decoder.decode(msg.data));
        msg.respond(encoder.encode(JSON.stringify(REPLY)));
      },
    });
  } else {
    const bridged = serve({ port: 0, token: TOKEN }, () => {
      if (workMs > 0) work(workMs);
      return REPLY;
    });
    serveNats(bridged, nc, { prefix: PREFIX });
  }
  await nc.flush();
  console.log("ready");
  await nc.closed();
}

async function client(
  kind: string,
  natsPort: string,
  seconds: number,
): Promise<void> {
  const nc = await natsConnect({ servers: `127.0.0.1:${natsPort}` });
  const encoder = new TextEncoder();
  const bridge = connectNats(nc, {
    prefix: PREFIX,
    token: TOKEN,
    timeout: 10_000,
  });
  const body = encoder.encode(
    JSON.stringify(
      kind === "raw" ? { ...REQUEST, auth_token: TOKEN } : REQUEST,
    ),
  );
  const call = kind === "bridge" ? () => bridge.request(REQUEST) : async () =>
    JSON.parse(
      decoder.decode(
        (await nc.request(`${PREFIX}.bench`, body, { timeout: 10_000 })).data,
      ),
    );
  const warmEnd = performance.now() + Math.min(500, seconds * 250);
  await Promise.all(Array.from({ length: PIPELINE }, async () => {
    while (performance.now() < warmEnd) await call();
  }));
  let running = true;
  let requests = 0;
  const stop = setTimeout(() => running = false, seconds * 1000);
  const started = performance.now();
  await Promise.all(Array.from({ length: PIPELINE }, async () => {
    while (running) {
      await call();
      requests++;
    }
  }));
  clearTimeout(stop);
  const elapsed = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ requests, seconds: elapsed }));
  await bridge.close();
  await nc.close();
}

if (import.meta.main) {
  const [mode, kind, natsPort, extra] = Deno.args;
  if (mode === "server") await server(kind, natsPort, Number(extra));
  else if (mode === "client") {
    await client(kind, natsPort, Number(extra));
    Deno.exit(0);
  } else await orchestrate();
}
