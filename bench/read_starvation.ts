/**
 * The runtime alone, no SocketBridge code: how long a client waits for a
 * bare Deno server to read its request while 300 peers in another process
 * flood the server. The server spends 0.1 ms of work on each 64 KiB read of
 * a flooder (a stand-in for decoding and answering), and echoes the
 * client's 64-byte requests. Four ways, each with a server of its own:
 * every flooder reading at will, or at most 16 of them with a read pending;
 * and after each read, nothing, or a 16-byte write back to the flooder.
 * Reports the client's round trips (count, p50, p99, max) and the flood's
 * MB/s.
 *
 *   deno task bench:starvation
 *
 * @module
 */

import { ChildServer, serveCommands } from "./_child.ts";
import { quantile } from "./_report.ts";

const FLOODERS = 300;
const WORK_MS = 0.1;
const SECONDS = 5;

/** The flooders' reads: at most `free` pending at once, the others waiting in order. */
interface Gate {
  free: number;
  waiting: (() => void)[];
  bytes: number;
}

/** One connection of the bare server: the client's is echoed, a flooder's read and worked on. */
async function serveOne(conn: Deno.Conn, gate: Gate, writeBack: boolean): Promise<void> {
  const buffer = new Uint8Array(65_536);
  const first = await conn.read(buffer);
  if (first === null) return;
  if (buffer[0] === 0x76) {
    // The client ("v..."): each request is echoed.
    for (let n: number | null = first; n !== null; n = await conn.read(buffer)) {
      await conn.write(buffer.subarray(0, n));
    }
    return;
  }
  for (;;) {
    if (gate.free > 0) gate.free--;
    else await new Promise<void>((resolve) => gate.waiting.push(resolve));
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } finally {
      const next = gate.waiting.shift();
      if (next !== undefined) next();
      else gate.free++;
    }
    if (n === null) return;
    gate.bytes += n;
    const until = performance.now() + WORK_MS;
    while (performance.now() < until) {
      // The work of a read.
    }
    if (writeBack) await conn.write(new Uint8Array(16));
  }
}

if (Deno.args[0] === "server" && Deno.args[1] !== "flood") {
  // server READS_AT_ONCE WRITE_BACK: prints its port, then the flood's MB/s when told "stop".
  const readsAtOnce = Number(Deno.args[1]);
  const writeBack = Deno.args[2] === "write";
  const gate: Gate = { free: readsAtOnce, waiting: [], bytes: 0 };
  const started = performance.now();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(listener.addr.port);
  (async () => {
    for await (const conn of listener) serveOne(conn, gate, writeBack).catch(() => {});
  })();
  await serveCommands((command) => {
    if (command !== "stop") return;
    console.log(
      (gate.bytes / 1e6 / ((performance.now() - started) / 1_000)).toFixed(0),
    );
    Deno.exit(0);
  });
}

if (Deno.args[0] === "server" && Deno.args[1] === "flood") {
  // server flood PORT: writes 1 MiB chunks for SECONDS, reading (and dropping) what comes back.
  const port = Number(Deno.args[2]);
  const peers = await Promise.all(
    Array.from(
      { length: FLOODERS },
      () => Deno.connect({ hostname: "127.0.0.1", port }),
    ),
  );
  const chunk = new Uint8Array(1 << 20).fill(0x66);
  const end = performance.now() + SECONDS * 1_000;
  console.log("flooding");
  await Promise.all(peers.map(async (peer) => {
    const back = new Uint8Array(65_536);
    (async () => {
      while ((await peer.read(back).catch(() => null)) !== null) {
        // Dropped.
      }
    })();
    try {
      while (performance.now() < end) await peer.write(chunk);
    } catch {
      // The server went away.
    }
    peer.close();
  }));
  Deno.exit(0);
}

/** The client's round trips while the flood lasts, one every 20 ms. */
async function roundTrips(port: number): Promise<number[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = new Uint8Array(64).fill(0x76);
  const answer = new Uint8Array(64);
  const times: number[] = [];
  const end = performance.now() + (SECONDS - 1) * 1_000;
  while (performance.now() < end) {
    const sent = performance.now();
    await conn.write(request);
    for (let got = 0; got < answer.length;) {
      const n = await conn.read(answer.subarray(got));
      if (n === null) {
        throw new Error("The server closed the client's connection");
      }
      got += n;
    }
    times.push(performance.now() - sent);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  conn.close();
  return times.sort((a, b) => a - b);
}

const script = new URL(import.meta.url).pathname;
const rows: string[] = [];
for (
  const [readsAtOnce, writeBack] of [[Infinity, "none"], [16, "none"], [
    Infinity,
    "write",
  ], [16, "write"]] as const
) {
  const server = new ChildServer(script, [String(readsAtOnce), writeBack]);
  const port = await server.line();
  const flood = new ChildServer(script, ["flood", port]);
  await flood.line();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const times = await roundTrips(Number(port));
  const rate = await server.ask("stop");
  await flood.stop();
  await server.stop();
  const at = (q: number) => quantile(times, q) ?? NaN;
  rows.push(
    `| ${readsAtOnce === Infinity ? "any" : readsAtOnce} | ${
      writeBack === "write" ? "16 bytes" : "nothing"
    } | ${times.length} | ${at(0.5).toFixed(1)} | ${at(0.99).toFixed(1)} | ${
      times[times.length - 1].toFixed(1)
    } | ${rate} |`,
  );
}
console.log(
  `| flooders' reads pending at once | written back after each read | client's round trips | p50 ms | p99 ms | max ms | flood MB/s |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}`,
);
