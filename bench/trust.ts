/**
 * `deno task bench:trust`: what trust and delivery cost (protocol D1-D3),
 * against the plain row of the same round. A server in its own process;
 * the client in this one. Rows, pipelined (64 in flight): the server's own
 * token (plain), a scoped token, and an idempotency key on every request,
 * sent to a server that keeps the keys and to one that keeps none
 * (`maxIdempotencyKeys: 0`): the cost of reading the keys alone, the floor
 * for any store that remembers them. Then sequential round trips: a plain
 * request, and a request whose handler calls its caller back once
 * (server -> client -> server), p50 and p99.
 *
 *   deno task bench:trust [--rounds 3] [--seconds 2]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ChildServer, serveCommands } from "./_child.ts";
import { median, quantile } from "./_report.ts";
import { connect, requestTypes, serve } from "../mod.ts";

if (Deno.args[0] === "server") {
  const types = requestTypes({
    echo: {
      description: "Echoes",
      handler: (payload: Record<string, unknown>) => payload,
    },
    ask: {
      description: "Calls back",
      handler: (_payload, info) => info.call({ q: 1 }),
    },
  });
  const server = serve(
    {
      port: 0,
      token: "own",
      tokens: {
        scoped: { token: "sc0ped", types: ["echo", "ask"], topics: [] },
      },
    },
    types,
  );
  // The floor for any store: the keys are sent and read, and none is kept.
  const unkept = serve({ port: 0, token: "own", maxIdempotencyKeys: 0 }, types);
  console.log(`${server.addr.port} ${unkept.addr.port}`);
  await serveCommands(() => {});
  Deno.exit(0);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "2" },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const child = new ChildServer(new URL(import.meta.url).pathname, []);
const [port, unkeptPort] = (await child.line()).split(" ").map(Number);
const REQUEST = {
  type: "echo",
  user: "ada",
  items: [1, 2, 3],
  note: "a small request",
};

async function pipelined(
  token: string,
  keyed: boolean,
  to = port,
): Promise<number> {
  await using client = await connect({ port: to, token });
  let count = 0;
  // Unique keys, as a client keying every request makes them (a run's own prefix, then a counter).
  const prefix = crypto.randomUUID();
  let key = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      await client.request(
        REQUEST,
        keyed ? { idempotencyKey: `${prefix}-${key++}` } : {},
      );
      count++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return count / seconds;
}

async function roundTrips(type: "echo" | "ask"): Promise<number[]> {
  await using client = await connect({
    port,
    token: "own",
    onCall: () => "yes",
  });
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const started = performance.now();
    await client.request({ ...REQUEST, type });
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const at = (sorted: number[], q: number) => quantile(sorted, q) ?? NaN;
const rates: Record<string, number[]> = {
  plain: [],
  scoped: [],
  keyed: [],
  unkept: [],
};
const ratios: Record<string, number[]> = { scoped: [], keyed: [], unkept: [] };
const trips: Record<string, number[][]> = { echo: [], ask: [] };
for (let round = 0; round < rounds; round++) {
  const order: [string, () => Promise<number>][] = [
    ["plain", () => pipelined("own", false)],
    ["scoped", () => pipelined("sc0ped", false)],
    ["keyed", () => pipelined("own", true)],
    ["unkept", () => pipelined("own", true, unkeptPort)],
  ];
  const rotated = [...order.slice(round % 4), ...order.slice(0, round % 4)];
  const figures: Record<string, number> = {};
  for (const [name, run] of rotated) figures[name] = await run();
  for (const name of Object.keys(rates)) rates[name].push(figures[name]);
  ratios.scoped.push(figures.scoped / figures.plain);
  ratios.keyed.push(figures.keyed / figures.plain);
  ratios.unkept.push(figures.unkept / figures.plain);
  for (const type of ["echo", "ask"] as const) {
    trips[type].push(await roundTrips(type));
  }
}
await child.stop();

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(
  `| row (pipelined, 64 in flight) | req/s (median) | × plain (median of same-round ratios) |
| --- | ---: | ---: |
| the server's own token (plain) | ${fmt(median(rates.plain))} | 1.00× |
| a scoped token | ${fmt(median(rates.scoped))} | ${median(ratios.scoped).toFixed(2)}× |
| an idempotency key on every request | ${fmt(median(rates.keyed))} | ${
    median(ratios.keyed).toFixed(2)
  }× |
| the same keys, none kept (\`maxIdempotencyKeys: 0\`): the floor for any store | ${
    fmt(median(rates.unkept))
  } | ${median(ratios.unkept).toFixed(2)}× |

| round trip (sequential) | p50 µs (median of rounds) | p99 µs (median of rounds) |
| --- | ---: | ---: |
| a plain request | ${fmt(median(trips.echo.map((t) => at(t, 0.5) * 1000)))} | ${
    fmt(median(trips.echo.map((t) => at(t, 0.99) * 1000)))
  } |
| a request whose handler calls its caller back once | ${
    fmt(median(trips.ask.map((t) => at(t, 0.5) * 1000)))
  } | ${fmt(median(trips.ask.map((t) => at(t, 0.99) * 1000)))} |`,
);
