/**
 * The load tool: starts each server in turn on loopback, drives it from a
 * separate client process, and prints a table of medians over interleaved
 * rounds, every figure also as a ratio to the hand-written JSON floor of the
 * same round. Writes docs/benchmarks.md and docs/benchmarks.svg.
 *
 *   deno task bench:load [--rounds 3] [--seconds 2] [--quick] [--no-write] [--only socketbridge,deno-serve]
 *
 * The same file is also each side of each row: `load.ts server KIND` and
 * `load.ts client KIND PORT SCENARIO SECONDS`, so the hand-written floors
 * (framing with JSON, and raw bytes without) live right here.
 *
 * @module
 */

import * as net from "node:net";
import { parseArgs } from "node:util";
import { connect, send, serve } from "../mod.ts";

type Kind =
  | "socketbridge"
  | "socketbridge-send"
  | "floor-json"
  | "floor-raw"
  | "deno-serve"
  | "vscode-jsonrpc"
  | "nats";
type Scenario = "sequential" | "pipelined" | "fanin" | "large";

interface Result {
  requests: number;
  seconds: number;
  bytes: number;
  p50?: number;
  p99?: number;
}

const PIPELINE = 64;
const FANIN_CONNECTIONS = 100;
const FANIN_DEPTH = 8;
const LARGE_BYTES = 1_048_576;
const REQUEST = {
  type: "bench",
  seq: 0,
  text: "the quick brown fox jumps over the lazy dog, twice over!",
};
const LARGE_REQUEST = { type: "bench", seq: 0, data: "x".repeat(LARGE_BYTES - 40) };
const REPLY = { ok: true };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Row × scenarios it runs; socketbridge-send is one connection per request.
const ROWS: Record<Kind, Scenario[]> = {
  "socketbridge": ["sequential", "pipelined", "fanin", "large"],
  "socketbridge-send": ["sequential"],
  "floor-json": ["sequential", "pipelined", "fanin", "large"],
  "floor-raw": ["sequential", "pipelined", "fanin", "large"],
  "deno-serve": ["sequential", "pipelined", "fanin", "large"],
  "vscode-jsonrpc": ["sequential", "pipelined", "fanin", "large"],
  "nats": ["sequential", "pipelined", "fanin", "large"],
};

// ---------------------------------------------------------------- servers

async function runServer(kind: Kind): Promise<void> {
  const ready = (port: number) => {
    console.log(port);
    watchMemory();
  };
  switch (kind) {
    case "socketbridge":
    case "socketbridge-send": {
      const server = serve(
        {
          port: 0,
          maxBytes: 2 * LARGE_BYTES,
          maxInFlight: 1024,
          onListen: () => {},
        },
        () => REPLY,
      );
      ready((server.addr as Deno.NetAddr).port);
      await server.finished;
      return;
    }
    case "floor-json":
    case "floor-raw":
      return floorServer(kind === "floor-json", ready);
    case "deno-serve": {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        async (req) => {
          await req.json();
          return Response.json(REPLY);
        },
      );
      ready(server.addr.port);
      await server.finished;
      return;
    }
    case "vscode-jsonrpc": {
      const rpc = await import("npm:vscode-jsonrpc@8.2.1/node.js");
      const server = net.createServer((socket) => {
        socket.setNoDelay(true);
        const connection = rpc.createMessageConnection(
          new rpc.StreamMessageReader(socket),
          new rpc.StreamMessageWriter(socket),
        );
        connection.onRequest("bench", () => REPLY);
        connection.listen();
      });
      server.listen(0, "127.0.0.1", () => ready((server.address() as net.AddressInfo).port));
      await new Promise(() => {});
      return;
    }
    case "nats": {
      const { connect: natsConnect } = await import("npm:nats@2.29.3");
      const port = Number(Deno.args[2]);
      const nc = await natsConnect({ servers: `127.0.0.1:${port}` });
      nc.subscribe("bench", {
        callback: (_err, msg) => {
          JSON.parse(decoder.decode(msg.data));
          msg.respond(encoder.encode(JSON.stringify(REPLY)));
        },
      });
      await nc.flush();
      ready(port);
      await nc.closed();
      return;
    }
  }
}

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

/**
 * The floor: what a user would hand-roll. Reads chunks, cuts frames, parses
 * (or, raw, echoes) each, and writes the answers to one chunk in one write.
 * No checks at all.
 */
async function floorServer(json: boolean, ready: (port: number) => void): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  ready(listener.addr.port);
  const reply = frame(encoder.encode(JSON.stringify(REPLY)));
  for await (const conn of listener) {
    conn.setNoDelay(true);
    (async () => {
      const frames = new FrameCutter();
      const buffer = new Uint8Array(65_536);
      try {
        for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
          const out: Uint8Array[] = [];
          frames.push(buffer.subarray(0, n), (body) => {
            if (json) {
              JSON.parse(decoder.decode(body));
              out.push(frame(encoder.encode(JSON.stringify(REPLY))));
            } else {
              out.push(reply);
            }
          });
          if (out.length > 0) await writeAll(conn, concat(out));
        }
      } catch {
        // Client gone.
      } finally {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    })();
  }
}

/** A hand-rolled frame cutter, as a user would write it: one growing buffer. */
class FrameCutter {
  #pending = new Uint8Array(0);
  push(chunk: Uint8Array, onFrame: (body: Uint8Array) => void): void {
    let data = this.#pending.length === 0 ? chunk : concat([this.#pending, chunk]);
    while (data.length >= 4) {
      const length = new DataView(data.buffer, data.byteOffset).getUint32(0);
      if (data.length < 4 + length) break;
      onFrame(data.subarray(4, 4 + length));
      data = data.subarray(4 + length);
    }
    this.#pending = data.slice();
  }
}

function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

// ---------------------------------------------------------------- clients

/** A caller: sends one request, resolves when its answer is in. */
type Call = (large: boolean) => Promise<unknown>;

interface Channel {
  call: Call;
  close(): Promise<void> | void;
}

async function openChannel(kind: Kind, port: number): Promise<Channel> {
  switch (kind) {
    case "socketbridge": {
      const client = await connect({ port, maxBytes: 2 * LARGE_BYTES });
      return {
        call: (large) => client.request(large ? LARGE_REQUEST : REQUEST),
        close: () => client.close(),
      };
    }
    case "socketbridge-send":
      return {
        call: (large) => send({ port, maxBytes: 2 * LARGE_BYTES }, large ? LARGE_REQUEST : REQUEST),
        close: () => {},
      };
    case "floor-json":
    case "floor-raw":
      return await floorChannel(port, kind === "floor-json");
    case "deno-serve": {
      const url = `http://127.0.0.1:${port}/`;
      const client = Deno.createHttpClient({});
      return {
        call: async (large) => {
          const response = await fetch(url, {
            method: "POST",
            body: JSON.stringify(large ? LARGE_REQUEST : REQUEST),
            headers: { "content-type": "application/json" },
            client,
          });
          return await response.json();
        },
        close: () => client.close(),
      };
    }
    case "vscode-jsonrpc": {
      const rpc = await import("npm:vscode-jsonrpc@8.2.1/node.js");
      const socket = net.connect(port, "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.setNoDelay(true);
      const connection = rpc.createMessageConnection(
        new rpc.StreamMessageReader(socket),
        new rpc.StreamMessageWriter(socket),
      );
      connection.listen();
      return {
        call: (large) => connection.sendRequest("bench", large ? LARGE_REQUEST : REQUEST),
        close: () => {
          connection.dispose();
          socket.destroy();
        },
      };
    }
    case "nats": {
      const { connect: natsConnect } = await import("npm:nats@2.29.3");
      const nc = await natsConnect({ servers: `127.0.0.1:${port}`, maxPingOut: 100 });
      return {
        call: async (large) => {
          const msg = await nc.request(
            "bench",
            encoder.encode(JSON.stringify(large ? LARGE_REQUEST : REQUEST)),
            { timeout: 10_000 },
          );
          return JSON.parse(decoder.decode(msg.data));
        },
        close: () => nc.close(),
      };
    }
  }
}

/** The floor client: pipelines on one connection, answers come in order. */
async function floorChannel(port: number, json: boolean): Promise<Channel> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const waiting: ((value: unknown) => void)[] = [];
  let head = 0;
  const small = frame(encoder.encode(JSON.stringify(REQUEST)));
  const large = frame(encoder.encode(JSON.stringify(LARGE_REQUEST)));
  (async () => {
    const frames = new FrameCutter();
    const buffer = new Uint8Array(65_536);
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        frames.push(buffer.subarray(0, n), (body) => {
          waiting[head++](json ? JSON.parse(decoder.decode(body)) : body);
          if (head > 4096) {
            waiting.splice(0, head);
            head = 0;
          }
        });
      }
    } catch { /* closed */ }
  })();
  return {
    call: (isLarge) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        const bytes = json
          ? frame(encoder.encode(JSON.stringify(isLarge ? LARGE_REQUEST : REQUEST)))
          : (isLarge ? large : small);
        writeAll(conn, bytes);
      }),
    close: () => conn.close(),
  };
}

async function runClient(
  kind: Kind,
  port: number,
  scenario: Scenario,
  seconds: number,
): Promise<Result> {
  const connections = scenario === "fanin" ? FANIN_CONNECTIONS : 1;
  const depth = scenario === "pipelined" ? PIPELINE : scenario === "fanin" ? FANIN_DEPTH : 1;
  const large = scenario === "large";
  const channels = await Promise.all(
    Array.from({ length: connections }, () => openChannel(kind, port)),
  );
  // Warm up: JIT, connection set-up.
  const warmEnd = performance.now() + Math.min(500, seconds * 250);
  await Promise.all(channels.map(async (channel) => {
    while (performance.now() < warmEnd) await channel.call(large);
  }));
  const latencies: number[] = [];
  const timed = depth === 1 && connections === 1;
  let requests = 0;
  // A timer ends the run, so the loop reads the clock only to time latencies.
  let running = true;
  const stop = setTimeout(() => running = false, seconds * 1000);
  const started = performance.now();
  await Promise.all(channels.flatMap((channel) =>
    Array.from({ length: depth }, async () => {
      while (running) {
        if (timed) {
          const t0 = performance.now();
          await channel.call(large);
          latencies.push((performance.now() - t0) * 1000);
        } else {
          await channel.call(large);
        }
        requests++;
      }
    })
  ));
  clearTimeout(stop);
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(channels.map((channel) => channel.close()));
  latencies.sort((a, b) => a - b);
  const pick = (q: number) =>
    latencies.length
      ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
      : undefined;
  return {
    requests,
    seconds: elapsed,
    bytes: requests * (large ? LARGE_BYTES : 0),
    p50: pick(0.5),
    p99: pick(0.99),
  };
}

// ----------------------------------------------------------- orchestrator

interface Row {
  kind: Kind;
  scenario: Scenario;
  round: number;
  value: number; // req/s, or MB/s for large
  p50?: number;
  p99?: number;
  rssMiB?: number;
}

const SELF = new URL(import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
];

function natsServerPath(): string | undefined {
  for (
    const candidate of [
      "/usr/bin/nats-server",
      "/usr/local/bin/nats-server",
      "/usr/sbin/nats-server",
    ]
  ) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

async function firstLine(
  stream: ReadableStream<Uint8Array>,
): Promise<{ line: string; rest: ReadableStreamDefaultReader<string> }> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Process ended before printing: ${text}`);
    text += value;
  }
  return { line: text.slice(0, text.indexOf("\n")), rest: reader };
}

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

async function measureRow(kind: Kind, round: number, seconds: number): Promise<Row[]> {
  const extra: string[] = [];
  let broker: Deno.ChildProcess | undefined;
  if (kind === "nats") {
    const port = freePort();
    broker = new Deno.Command(natsServerPath()!, {
      args: ["-a", "127.0.0.1", "-p", String(port)],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(port);
    extra.push(String(port));
  }
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
    if (broker) {
      broker.kill();
      await broker.status;
    }
  }
  return rows;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`Nothing listens on ${port}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const LABELS: Record<Kind, string> = {
  "socketbridge": "SocketBridge `connect()`",
  "socketbridge-send": "SocketBridge `send()`",
  "floor-json": "hand-written framing + JSON (floor)",
  "floor-raw": "hand-written framing, raw bytes",
  "deno-serve": "`Deno.serve` + `fetch`",
  "vscode-jsonrpc": "vscode-jsonrpc 8.2.1",
  "nats": "nats-server + nats.js request/reply",
};

const SCENARIO_LABELS: Record<Scenario, string> = {
  sequential: "sequential req/s",
  pipelined: `pipelined (${PIPELINE} in flight) req/s`,
  fanin: `fan-in (${FANIN_CONNECTIONS}×${FANIN_DEPTH}) req/s`,
  large: "1 MiB requests MB/s",
};

interface Summary {
  kind: Kind;
  scenario: Scenario;
  value: number;
  ratio: number; // median over rounds of (value / floor-json value in that round)
  p50?: number;
  p99?: number;
  rssMiB?: number;
  rssRatio?: number;
}

function summarise(rows: Row[], kinds: Kind[]): Summary[] {
  const out: Summary[] = [];
  for (const kind of kinds) {
    for (const scenario of ROWS[kind]) {
      const mine = rows.filter((r) => r.kind === kind && r.scenario === scenario);
      if (mine.length === 0) continue;
      const floorOf = (round: number) =>
        rows.find((r) => r.kind === "floor-json" && r.round === round && r.scenario === scenario);
      const ratios = mine.map((r) => r.value / floorOf(r.round)!.value);
      const rss = mine.filter((r) => r.rssMiB !== undefined);
      out.push({
        kind,
        scenario,
        value: median(mine.map((r) => r.value)),
        ratio: median(ratios),
        p50: mine[0].p50 === undefined ? undefined : median(mine.map((r) => r.p50!)),
        p99: mine[0].p99 === undefined ? undefined : median(mine.map((r) => r.p99!)),
        rssMiB: rss.length ? median(rss.map((r) => r.rssMiB!)) : undefined,
        rssRatio: rss.length
          ? median(rss.map((r) => r.rssMiB! / floorOf(r.round)!.rssMiB!))
          : undefined,
      });
    }
  }
  return out;
}

function format(n: number | undefined, digits = 0): string {
  return n === undefined
    ? ""
    : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(summaries: Summary[]): string {
  const lines = [
    "| server + client | scenario | median | × JSON floor | p50 µs | p99 µs | peak RSS MiB (× floor) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const s of summaries) {
    lines.push(
      `| ${LABELS[s.kind]} | ${SCENARIO_LABELS[s.scenario]} | ${
        format(s.value, s.scenario === "large" ? 1 : 0)
      } | ${format(s.ratio, 2)} | ${format(s.p50)} | ${format(s.p99)} | ${
        s.rssMiB === undefined ? "" : `${format(s.rssMiB, 1)} (${format(s.rssRatio, 2)})`
      } |`,
    );
  }
  return lines.join("\n");
}

/**
 * The median over rounds of `a / b`, each round's two figures taken from the
 * same round: rounds run minutes apart, and the machine drifts between them.
 */
function roundRatio(
  rows: Row[],
  [kind, scenario]: [Kind, Scenario],
  [otherKind, otherScenario]: [Kind, Scenario],
  field: "value" | "rssMiB" = "value",
): number | undefined {
  const ratios: number[] = [];
  for (const row of rows) {
    if (row.kind !== kind || row.scenario !== scenario) continue;
    const other = rows.find((r) =>
      r.kind === otherKind && r.scenario === otherScenario && r.round === row.round
    );
    if (other?.[field] !== undefined && row[field] !== undefined) {
      ratios.push(row[field]! / other[field]!);
    }
  }
  return ratios.length === 0 ? undefined : median(ratios);
}

interface Target {
  what: string;
  value: number | undefined;
  /** The same ratio for the raw-bytes floor: what the socket alone allows. */
  ceiling?: number;
  goal: number;
  atMost?: boolean;
}

/** The issue's targets: [what, our scenario, baseline row, its scenario, goal]. */
const TARGETS: [string, Scenario, Kind, Scenario, number][] = [
  ["sequential vs JSON floor", "sequential", "floor-json", "sequential", 0.85],
  ["sequential vs Deno.serve + fetch", "sequential", "deno-serve", "sequential", 2.5],
  ["sequential vs vscode-jsonrpc", "sequential", "vscode-jsonrpc", "sequential", 2],
  ["pipelined vs JSON floor", "pipelined", "floor-json", "pipelined", 0.75],
  ["pipelined vs Deno.serve + fetch", "pipelined", "deno-serve", "pipelined", 10],
  ["pipelined vs vscode-jsonrpc", "pipelined", "vscode-jsonrpc", "pipelined", 6],
  [
    "pipelined `connect()` vs sequential `send()`",
    "pipelined",
    "socketbridge-send",
    "sequential",
    5,
  ],
  ["1 MiB MB/s vs JSON floor", "large", "floor-json", "large", 0.9],
];

function targets(rows: Row[]): Target[] {
  const list: Target[] = TARGETS.map(([what, scenario, baseline, baselineScenario, goal]) => ({
    what,
    value: roundRatio(rows, ["socketbridge", scenario], [baseline, baselineScenario]),
    // The raw-bytes floor against the same outside baseline: no JSON, no checks.
    ceiling: baseline === "deno-serve" || baseline === "vscode-jsonrpc"
      ? roundRatio(rows, ["floor-raw", scenario], [baseline, baselineScenario])
      : undefined,
    goal,
  }));
  list.push({
    what: "peak RSS (pipelined) vs JSON floor",
    value: roundRatio(rows, ["socketbridge", "pipelined"], ["floor-json", "pipelined"], "rssMiB"),
    goal: 1.25,
    atMost: true,
  });
  return list;
}

function targetTable(list: Target[]): string {
  const lines = [
    "| target | measured | goal | met | raw-bytes floor, same ratio |",
    "| --- | ---: | ---: | :---: | ---: |",
  ];
  for (const t of list) {
    const met = t.value === undefined
      ? "n/a"
      : (t.atMost ? t.value <= t.goal : t.value >= t.goal)
      ? "yes"
      : "**no**";
    lines.push(
      `| ${t.what} | ${t.value === undefined ? "n/a" : `${format(t.value, 2)}×`} | ${
        t.atMost ? "≤" : "≥"
      } ${t.goal}× | ${met} | ${t.ceiling === undefined ? "" : `${format(t.ceiling, 2)}×`} |`,
    );
  }
  return lines.join("\n");
}

/** Bars of each scenario's ratio to the JSON floor, drawn as plain SVG. */
function chart(summaries: Summary[]): string {
  const scenarios: Scenario[] = ["sequential", "pipelined", "fanin", "large"];
  const kinds = [...new Set(summaries.map((s) => s.kind))];
  const colours = ["#2b6cb0", "#63b3ed", "#2f855a", "#a0aec0", "#dd6b20", "#805ad5", "#d53f8c"];
  const barHeight = 14;
  const groupGap = 18;
  const left = 250;
  const width = 760;
  const maxRatio = Math.max(1.2, ...summaries.map((s) => s.ratio));
  const scale = (width - left - 80) / maxRatio;
  let y = 40;
  const parts: string[] = [];
  for (const scenario of scenarios) {
    const group = summaries.filter((s) => s.scenario === scenario);
    if (group.length === 0) continue;
    parts.push(`<text x="10" y="${y + 10}" font-weight="bold">${SCENARIO_LABELS[scenario]}</text>`);
    y += 18;
    for (const s of group) {
      const colour = colours[kinds.indexOf(s.kind) % colours.length];
      const w = Math.max(1, s.ratio * scale);
      parts.push(
        `<text x="${left - 6}" y="${y + 11}" text-anchor="end">${
          LABELS[s.kind].replaceAll("`", "")
        }</text>`,
        `<rect x="${left}" y="${y}" width="${
          w.toFixed(1)
        }" height="${barHeight}" fill="${colour}"/>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + 11}">${s.ratio.toFixed(2)}×</text>`,
      );
      y += barHeight + 4;
    }
    y += groupGap;
  }
  const floorX = left + scale;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">Throughput as a ratio to the hand-written JSON floor (higher is better)</text>
<line x1="${floorX.toFixed(1)}" y1="30" x2="${floorX.toFixed(1)}" y2="${
    y - 10
  }" stroke="#c53030" stroke-dasharray="4 3"/>
${parts.join("\n")}
</svg>
`;
}

async function machine(): Promise<string> {
  // Deno asks for --allow-all to read /proc; lscpu needs only --allow-run.
  let cpu = "unknown CPU";
  try {
    const output = await new Deno.Command("lscpu", { stdout: "piped", stderr: "null" }).output();
    cpu = new TextDecoder().decode(output.stdout).match(/Model name:\s*(.+)/)?.[1] ?? cpu;
  } catch {
    // No lscpu here.
  }
  return `${navigator.hardwareConcurrency} cores (${cpu}), ${
    (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0)
  } GiB, ${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`;
}

/** Runs the codec benches and turns their times into bytes/s. */
async function codecTable(): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "--json", new URL("codec_bench.ts", import.meta.url).pathname],
    stderr: "null",
  }).output();
  if (!output.success) return "(deno bench failed)";
  const report = JSON.parse(decoder.decode(output.stdout)) as {
    benches: { name: string; results: { ok?: { avg: number } }[] }[];
  };
  const lines = [
    "| codec bench (`deno bench`) | mean time | throughput |",
    "| --- | ---: | ---: |",
  ];
  for (const bench of report.benches) {
    const avg = bench.results[0].ok?.avg;
    const bytes = Number(bench.name.match(/\[(\d+) B\]/)?.[1]);
    if (avg === undefined || !bytes) continue;
    const perSecond = bytes / (avg / 1e9);
    const rate = perSecond >= 1e9
      ? `${(perSecond / 1e9).toFixed(2)} GB/s`
      : `${(perSecond / 1e6).toFixed(0)} MB/s`;
    const time = avg >= 1e6
      ? `${(avg / 1e6).toFixed(2)} ms`
      : avg >= 1e3
      ? `${(avg / 1e3).toFixed(1)} µs`
      : `${avg.toFixed(0)} ns`;
    lines.push(`| ${bench.name.replace(/ \[\d+ B\]/, "")} | ${time} | ${rate} |`);
  }
  return lines.join("\n");
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
    ? ["floor-json", ...values.only.split(",").filter((k) => k !== "floor-json") as Kind[]]
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
  for (let round = 1; round <= rounds; round++) {
    // Interleave: each round runs every row once, in a rotated order.
    const order = kinds.map((_, i) => kinds[(i + round - 1) % kinds.length]);
    for (const kind of order) {
      console.error(`round ${round}: ${kind}`);
      rows.push(...await measureRow(kind, round, seconds));
    }
  }
  const summaries = summarise(rows, kinds);
  const report = table(summaries);
  const goals = targetTable(targets(rows));
  const codec = values.quick ? "" : await codecTable();
  console.log(report);
  console.log();
  console.log(goals);
  console.log();
  console.log(codec);
  if (values["no-write"] || values.quick) return;
  const docs = new URL("../docs/", import.meta.url);
  Deno.mkdirSync(docs, { recursive: true });
  Deno.writeTextFileSync(new URL("benchmarks.svg", docs), chart(summaries));
  Deno.writeTextFileSync(new URL("benchmarks.json", docs), JSON.stringify(rows, null, 1) + "\n");
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
object; reply: a small JSON object. Loopback TCP, \`TCP_NODELAY\` on every row that allows it.

Machine: ${await machine()}. Run on ${new Date().toISOString().slice(0, 10)}.

![Throughput as a ratio to the JSON floor](benchmarks.svg)

${report}

## Targets

Each ratio is the median over rounds of the two rows' figures from the same round. The last
column is the same ratio for the raw-bytes floor (no JSON, no checks): what the socket itself
allows against that baseline in this run.

${goals}
${analysis === "" ? "" : `\n${analysis.trim()}\n`}
## Codec alone

Framing only versus framing with \`JSON.parse\`/\`JSON.stringify\`, from \`deno task bench\`
(\`bench/codec_bench.ts\`), turned into bytes/s. Decoding a frame that lies inside one chunk is a
view, not a copy, so the rows below use 64 KiB chunks, as a socket delivers them.

${codec}

${notes.map((n) => `- ${n}`).join("\n")}

## Rows

- **hand-written framing + JSON (floor)**: the server and client at the top of \`bench/load.ts\`:
  a growing-buffer frame cutter, \`JSON.parse\`/\`JSON.stringify\` on both sides, one write per
  read chunk, no checks at all. What a user would hand-roll.
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
  console.log("wrote docs/benchmarks.md, docs/benchmarks.svg and docs/benchmarks.json");
}

if (import.meta.main) {
  const [mode, kind, port, scenario, seconds] = Deno.args;
  if (mode === "server") {
    // Exit cleanly on SIGTERM so `--cpu-prof` can write its profile.
    Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
    await runServer(kind as Kind);
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
