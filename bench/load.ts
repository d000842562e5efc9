/**
 * The load tool: starts each server in turn on loopback, drives it from a
 * separate client process, and prints a table of medians over interleaved
 * rounds, every figure also as a ratio to the hand-written JSON floor of the
 * same round. Writes docs/benchmarks.md, .svg and .json.
 *
 *   deno task bench:load [--rounds 3] [--seconds 2] [--quick] [--no-write] [--only socketbridge,deno-serve]
 *
 * The same file is also each side of each row: `load.ts server KIND` and
 * `load.ts client KIND PORT SCENARIO SECONDS`. The rows are in `_rows.ts`,
 * the hand-written floor in `_floor.ts`, the report in `_report.ts`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Kind, type Result, ROWS, type Scenario } from "./_common.ts";
import {
  chart,
  codecTable,
  machine,
  type Row,
  summarise,
  table,
  targets,
  targetTable,
} from "./_report.ts";
import { runClient, runServer } from "./_rows.ts";
import { firstLine, natsServerPath, startBroker } from "./_processes.ts";
import { measureTwoWay, type TwoWayRound } from "./_two_way.ts";
import { twoWayTable } from "./_two_way_report.ts";
import { measureAgents } from "./_agents.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Tracks this process's peak RSS; the orchestrator writes `reset` and `peak`
 * lines to stdin and reads the peak (MiB) back from stdout.
 */
function watchMemory(): void {
  let peak = Deno.memoryUsage().rss;
  setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 10);
  (async () => {
    const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
    for await (const chunk of lines) {
      for (const command of chunk.split("\n")) {
        if (command === "reset") peak = Deno.memoryUsage().rss;
        if (command === "peak") console.log((peak / 2 ** 20).toFixed(1));
      }
    }
  })();
}

const SELF = new URL(import.meta.url).pathname;
const CONFIG = new URL("deno.json", import.meta.url).pathname;
const PERMISSIONS = [
  `--config=${CONFIG}`,
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
];

async function ask(
  server: {
    stdin: WritableStreamDefaultWriter<Uint8Array>;
    lines: ReadableStreamDefaultReader<string>;
  },
  command: string,
): Promise<string> {
  await server.stdin.write(encoder.encode(`${command}\n`));
  if (command !== "peak") return "";
  const { value } = await server.lines.read();
  return value!.trim();
}

async function measureRow(
  kind: Kind,
  round: number,
  seconds: number,
): Promise<Row[]> {
  const extra: string[] = [];
  await using broker = kind === "nats" ? await startBroker(natsServerPath()!) : undefined;
  if (broker !== undefined) extra.push(String(broker.port));
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, SELF, "server", kind, ...extra],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const { line, rest } = await firstLine(server.stdout);
  const port = Number(line);
  const control = { stdin: server.stdin.getWriter(), lines: rest };
  const rows: Row[] = [];
  try {
    for (const scenario of ROWS[kind]) {
      await ask(control, "reset");
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...PERMISSIONS,
          SELF,
          "client",
          kind,
          String(port),
          scenario,
          String(seconds),
        ],
        stderr: "inherit",
      }).output();
      const peak = Number(await ask(control, "peak"));
      if (!output.success) throw new Error(`${kind} ${scenario} client failed`);
      const result: Result = JSON.parse(decoder.decode(output.stdout));
      rows.push({
        kind,
        scenario,
        round,
        value: scenario === "large"
          ? result.bytes / 1e6 / result.seconds
          : result.requests / result.seconds,
        p50: result.p50,
        p99: result.p99,
        rssMiB: scenario === "pipelined" ? peak : undefined,
      });
    }
  } finally {
    server.kill();
    await control.stdin.close().catch(() => {});
    await rest.cancel();
    await server.status;
  }
  return rows;
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "2" },
      quick: { type: "boolean", default: false },
      "no-write": { type: "boolean", default: false },
      only: { type: "string" },
    },
  });
  const rounds = values.quick ? 1 : Number(values.rounds);
  const seconds = values.quick ? 0.2 : Number(values.seconds);
  const notes: string[] = [];
  const kinds: Kind[] = values.only !== undefined
    // The JSON floor always runs: every ratio is taken against it.
    ? [
      "floor-json",
      ...values.only.split(",").filter((k) =>
        k !== "floor-json" && k !== "two-way" && k !== "agents"
      ) as Kind[],
    ]
    : [
      "floor-json",
      "floor-raw",
      "socketbridge",
      "socketbridge-send",
      "deno-serve",
      "vscode-jsonrpc",
    ];
  if (values.only === undefined) {
    if (natsServerPath()) {
      kinds.push("nats");
    } else {
      notes.push(
        "nats row skipped: the nats-server Debian package is not installed (`apt-get install nats-server`).",
      );
    }
  }
  notes.forEach((n) => console.log(n));
  const rows: Row[] = [];
  const twoWay: TwoWayRound[] = [];
  const natsServer = natsServerPath();
  if (natsServer === undefined) {
    notes.push(
      "nats fan-out row skipped: the nats-server Debian package is not installed (`apt-get install nats-server`).",
    );
  }
  for (let round = 1; round <= rounds; round++) {
    // Interleave: each round runs every row once, in a rotated order.
    const order = kinds.map((_, i) => kinds[(i + round - 1) % kinds.length]);
    for (const kind of order) {
      console.error(`round ${round}: ${kind}`);
      rows.push(...await measureRow(kind, round, seconds));
    }
    if (values.only === undefined || values.only.includes("two-way")) {
      console.error(`round ${round}: two-way`);
      twoWay.push(
        await measureTwoWay(round, seconds, natsServer),
      );
    }
  }
  const summaries = summarise(rows, kinds);
  const report = table(summaries);
  const goals = targetTable(targets(rows));
  const codec = values.quick ? "" : await codecTable();
  const twoWayReport = twoWay.length === 0 ? "" : twoWayTable(twoWay);
  let agentsReport = "";
  if (values.only === undefined || values.only.includes("agents")) {
    console.error("agents' toolkit rows");
    const agents = await measureAgents(seconds, values.quick);
    agentsReport = agents.table;
    notes.push(...agents.notes);
  }
  console.log(report);
  console.log();
  console.log(goals);
  console.log();
  console.log(twoWayReport);
  console.log();
  console.log(agentsReport);
  console.log();
  console.log(codec);
  if (values["no-write"] || values.quick) return;
  const docs = new URL("../docs/", import.meta.url);
  Deno.mkdirSync(docs, { recursive: true });
  Deno.writeTextFileSync(new URL("benchmarks.svg", docs), chart(summaries));
  Deno.writeTextFileSync(
    new URL("benchmarks.json", docs),
    JSON.stringify(rows, null, 1) + "\n",
  );
  let analysis = "";
  try {
    analysis = Deno.readTextFileSync(new URL("analysis.md", import.meta.url));
  } catch {
    // No hand-written analysis to append.
  }
  Deno.writeTextFileSync(
    new URL("benchmarks.md", docs),
    `# Benchmarks

Produced by \`deno task bench:load\` (${rounds} interleaved rounds of ${seconds} s per scenario,
medians reported; every ratio is taken against the hand-written JSON floor of the same round).
Each server runs in its own process; the client runs in another. Request: a ~100-byte JSON
object, or for the 1 MiB rows a structured 1 MiB object (about 8,000 small records); reply: a
small JSON object. Loopback TCP, \`TCP_NODELAY\` on every row that allows it.

The floor is a framing server and client written by hand as a careful engineer would write them
(see Rows, below): batched writes, one growing read buffer, frames as views, and none of the checks,
ids or ordering rules SocketBridge keeps. A ratio of 1.00 means as fast as that floor.

Machine: ${await machine()}. Run on ${new Date().toISOString().slice(0, 10)}.

![Throughput as a ratio to the JSON floor](benchmarks.svg)

${report}

## Targets

Each ratio is the median over rounds of the two rows' figures from the same round. The last
column is the same ratio for the raw-bytes floor (no JSON, no checks): what the socket itself
allows against that baseline in this run.

${goals}

## Two-way rows: events, streams, cancellation

Same run, ${rounds} rounds. Fan-out: the SocketBridge server process publishes (no broker); a
second process holds ${100} \`connect()\` subscribers, each taking its events in an \`onEvent\`
callback. For NATS, a publisher process and a subscriber process of ${100} connections (each with a
\`callback\`), both on the \`nats\` npm package, around the Debian
\`nats-server\` (a third process). Each system first publishes flat out (events delivered per
second, counted until the last one lands), then at a paced rate, where latency is the path itself
rather than a queue. Timestamps cross processes on one host's clock.

${twoWayReport}

## The agents' toolkit

The CLI's \`call\` as a shell script runs it, one Deno process per call (start-up included), next
to \`curl\` against a \`Deno.serve\` endpoint; \`serve --exec cat\` (a process per request)
next to the same request answered by a handler in the server; and what declaring types and
validating payloads with a small zod schema cost on the pipelined row.

${agentsReport}
${analysis === "" ? "" : `\n${analysis.trim()}\n`}
## Codec alone

Framing only versus framing with \`JSON.parse\`/\`JSON.stringify\`, from \`deno task bench\`
(\`bench/codec_bench.ts\`), turned into bytes/s. Decoding a frame that lies inside one chunk is a
view, not a copy, so the rows below use 64 KiB chunks, as a socket delivers them.

${codec}

${notes.map((n) => `- ${n}`).join("\n")}

## Rows

- **hand-written framing + JSON (floor)**: \`bench/_floor.ts\`, what a careful engineer would
  hand-roll: reads go straight into one growing buffer per connection, frames are views of it,
  every frame queued in one turn goes out in one write through one reused buffer,
  \`JSON.parse\`/\`JSON.stringify\` on both sides, and no checks, ids or ordering rules at all.
- **hand-written framing, raw bytes**: the same without JSON: the socket's limit.
- **SocketBridge**: \`serve()\` with every check on (\`maxInFlight\` 1024 for the fan-in), driven by
  \`connect()\`; \`send()\` (a connection per request, as the original client) for the sequential row.
- **\`Deno.serve\` + \`fetch\`**: JSON POST over HTTP/1.1 keep-alive, one \`Deno.HttpClient\`.
- **vscode-jsonrpc**: \`createMessageConnection\` over a \`node:net\` socket, \`setNoDelay(true)\`.
- **nats**: the Debian \`nats-server\` on loopback, a responder process and the client both on
  the \`nats\` npm package (\`request()\`); the RSS column is the responder's.

The raw figures of every round are in [benchmarks.json](benchmarks.json).
`,
  );
  console.log(
    "wrote docs/benchmarks.md, docs/benchmarks.svg and docs/benchmarks.json",
  );
}

if (import.meta.main) {
  const [mode, kind, port, scenario, seconds] = Deno.args;
  if (mode === "server") {
    // Exit cleanly on SIGTERM so `--cpu-prof` can write its profile.
    Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
    await runServer(kind as Kind, (port) => {
      console.log(port);
      watchMemory();
    });
  } else if (mode === "client") {
    const result = await runClient(
      kind as Kind,
      Number(port),
      scenario as Scenario,
      Number(seconds),
    );
    console.log(JSON.stringify(result));
    Deno.exit(0);
  } else {
    await orchestrate();
  }
}
