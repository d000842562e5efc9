// The report: medians over rounds, ratios taken within a round, the goals,
// the chart, the machine and the codec benches.

import {
  CONNS_DEPTH,
  FANIN_CONNECTIONS,
  FANIN_DEPTH,
  type Kind,
  PIPELINE,
  ROWS,
  type Scenario,
} from "./_common.ts";

const decoder = new TextDecoder();

/** One row × scenario × round. */
export interface Row {
  kind: Kind;
  scenario: Scenario;
  round: number;
  value: number; // req/s, or MB/s for large
  p50?: number;
  p99?: number;
  rssMiB?: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The value at quantile `q` (0.5, 0.99) of ascending `sorted`; undefined when it is empty. */
export function quantile(sorted: number[], q: number): number | undefined {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
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
  large: "1 MiB structured requests MB/s",
  conns10: `10 connections × ${CONNS_DEPTH} req/s`,
  conns100: `100 connections × ${CONNS_DEPTH} req/s`,
  conns1000: `1,000 connections × ${CONNS_DEPTH} req/s`,
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

export function summarise(rows: Row[], kinds: Kind[]): Summary[] {
  const out: Summary[] = [];
  for (const kind of kinds) {
    for (const scenario of ROWS[kind]) {
      const mine = rows.filter((r) => r.kind === kind && r.scenario === scenario);
      if (mine.length === 0) continue;
      const floorOf = (round: number) =>
        rows.find((r) =>
          r.kind === "floor-json" && r.round === round &&
          r.scenario === scenario
        );
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
  return n === undefined ? "" : n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

export function table(summaries: Summary[]): string {
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
      r.kind === otherKind && r.scenario === otherScenario &&
      r.round === row.round
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

/** The goals: [what, our scenario, baseline row, its scenario, goal]. */
const TARGETS: [string, Scenario, Kind, Scenario, number][] = [
  ["sequential vs JSON floor", "sequential", "floor-json", "sequential", 0.95],
  ["pipelined vs JSON floor", "pipelined", "floor-json", "pipelined", 1.0],
  ["1 MiB requests vs JSON floor", "large", "floor-json", "large", 0.95],
  ["fan-in vs JSON floor", "fanin", "floor-json", "fanin", 0.9],
  [
    "1,000 connections vs JSON floor",
    "conns1000",
    "floor-json",
    "conns1000",
    0.9,
  ],
  [
    "1,000 connections vs 100 connections (throughput)",
    "conns1000",
    "socketbridge",
    "conns100",
    0.9,
  ],
  [
    "sequential vs Deno.serve + fetch",
    "sequential",
    "deno-serve",
    "sequential",
    2.5,
  ],
  [
    "pipelined vs Deno.serve + fetch",
    "pipelined",
    "deno-serve",
    "pipelined",
    10,
  ],
  [
    "sequential vs vscode-jsonrpc",
    "sequential",
    "vscode-jsonrpc",
    "sequential",
    2,
  ],
  [
    "pipelined vs vscode-jsonrpc",
    "pipelined",
    "vscode-jsonrpc",
    "pipelined",
    6,
  ],
  [
    "pipelined `connect()` vs sequential `send()`",
    "pipelined",
    "socketbridge-send",
    "sequential",
    5,
  ],
];

export function targets(rows: Row[]): Target[] {
  const list: Target[] = TARGETS.map((
    [what, scenario, baseline, baselineScenario, goal],
  ) => ({
    what,
    value: roundRatio(rows, ["socketbridge", scenario], [
      baseline,
      baselineScenario,
    ]),
    // The raw-bytes floor against the same outside baseline: no JSON, no checks.
    ceiling: baseline === "deno-serve" || baseline === "vscode-jsonrpc"
      ? roundRatio(rows, ["floor-raw", scenario], [baseline, baselineScenario])
      : undefined,
    goal,
  }));
  list.push({
    what: "peak RSS (pipelined) vs JSON floor",
    value: roundRatio(rows, ["socketbridge", "pipelined"], [
      "floor-json",
      "pipelined",
    ], "rssMiB"),
    goal: 1.1,
    atMost: true,
  });
  const tail = rows.filter((r) => r.kind === "socketbridge" && r.scenario === "conns1000");
  if (tail.length > 0) {
    list.push({
      what: "1,000 connections: p99 ÷ p50",
      value: median(tail.map((r) => r.p99! / r.p50!)),
      goal: 10,
      atMost: true,
    });
  }
  return list;
}

export function targetTable(list: Target[]): string {
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
export function chart(summaries: Summary[]): string {
  const scenarios: Scenario[] = [
    "sequential",
    "pipelined",
    "fanin",
    "large",
    "conns1000",
  ];
  const kinds = [...new Set(summaries.map((s) => s.kind))];
  const colours = [
    "#2b6cb0",
    "#63b3ed",
    "#2f855a",
    "#a0aec0",
    "#dd6b20",
    "#805ad5",
    "#d53f8c",
  ];
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
    parts.push(
      `<text x="10" y="${y + 10}" font-weight="bold">${SCENARIO_LABELS[scenario]}</text>`,
    );
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

export async function machine(): Promise<string> {
  // Deno asks for --allow-all to read /proc; lscpu needs only --allow-run.
  let cpu = "unknown CPU";
  try {
    const output = await new Deno.Command("lscpu", {
      stdout: "piped",
      stderr: "null",
    }).output();
    cpu = new TextDecoder().decode(output.stdout).match(/Model name:\s*(.+)/)
      ?.[1] ?? cpu;
  } catch {
    // No lscpu here.
  }
  return `${navigator.hardwareConcurrency} cores (${cpu}), ${
    (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0)
  } GiB, ${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`;
}

/** Runs the codec benches and turns their times into bytes/s. */
export async function codecTable(): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bench",
      "--json",
      new URL("codec_bench.ts", import.meta.url).pathname,
    ],
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
    lines.push(
      `| ${bench.name.replace(/ \[\d+ B\]/, "")} | ${time} | ${rate} |`,
    );
  }
  return lines.join("\n");
}
