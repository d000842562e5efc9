// What every part of the load tool shares: the rows, the scenarios, and the
// payloads every row sends (the same bytes for every row).

export type Kind =
  | "socketbridge"
  | "socketbridge-send"
  | "floor-json"
  | "floor-raw"
  | "deno-serve"
  | "vscode-jsonrpc"
  | "nats";

export type Scenario =
  | "sequential"
  | "pipelined"
  | "fanin"
  | "large"
  | "conns10"
  | "conns100"
  | "conns1000";

/** What one client run measured. */
export interface Result {
  requests: number;
  seconds: number;
  bytes: number;
  p50?: number;
  p99?: number;
}

export const PIPELINE = 64;
export const FANIN_CONNECTIONS = 100;
export const FANIN_DEPTH = 8;
export const CONNS_DEPTH = 4;
export const LARGE_BYTES = 1_048_576;

/** Connections and requests in flight on each, per scenario. */
export function shapeOf(
  scenario: Scenario,
): { connections: number; depth: number } {
  switch (scenario) {
    case "sequential":
    case "large":
      return { connections: 1, depth: 1 };
    case "pipelined":
      return { connections: 1, depth: PIPELINE };
    case "fanin":
      return { connections: FANIN_CONNECTIONS, depth: FANIN_DEPTH };
    case "conns10":
      return { connections: 10, depth: CONNS_DEPTH };
    case "conns100":
      return { connections: 100, depth: CONNS_DEPTH };
    case "conns1000":
      return { connections: 1000, depth: CONNS_DEPTH };
  }
}

/** A ~100-byte request. */
export const REQUEST = {
  type: "bench",
  seq: 0,
  text: "the quick brown fox jumps over the lazy dog, twice over!",
};

/**
 * A structured 1 MiB request: thousands of small records, as a build tool
 * or an agent would send, not one repeated string (which is unusually cheap
 * to parse). Deterministic, so every row sends the same bytes.
 */
export const LARGE_REQUEST = (() => {
  const records = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const words = [
    "alpha",
    "build",
    "cache",
    "delta",
    "event",
    "file",
    "graph",
    "hash",
    "index",
  ];
  let size = 0;
  for (let id = 0; size < LARGE_BYTES - 200; id++) {
    const record = {
      id,
      name: `${words[next() % words.length]}-${next() % 10_000}`,
      path: `src/${words[next() % words.length]}/${words[next() % words.length]}_${id}.ts`,
      size: next() % 1_000_000,
      score: (next() % 10_000) / 100,
      tags: [words[next() % words.length], words[next() % words.length]],
      ok: next() % 2 === 0,
    };
    size += JSON.stringify(record).length + 1;
    records.push(record);
  }
  return { type: "bench", seq: 0, records };
})();

export const REPLY = { ok: true };

const EVERY_SCENARIO: Scenario[] = [
  "sequential",
  "pipelined",
  "fanin",
  "large",
  "conns10",
  "conns100",
  "conns1000",
];
const BASIC_SCENARIOS: Scenario[] = [
  "sequential",
  "pipelined",
  "fanin",
  "large",
];

/** The scenarios each row runs; the connection-count rows only for us and the floor. */
export const ROWS: Record<Kind, Scenario[]> = {
  "socketbridge": EVERY_SCENARIO,
  "socketbridge-send": ["sequential"],
  "floor-json": EVERY_SCENARIO,
  "floor-raw": BASIC_SCENARIOS,
  "deno-serve": BASIC_SCENARIOS,
  "vscode-jsonrpc": BASIC_SCENARIOS,
  "nats": BASIC_SCENARIOS,
};
