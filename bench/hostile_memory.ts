/**
 * What a stranger can make a server hold, with every default: peak server
 * RSS while (A) 1,000 connections each announce a 1 MiB frame and send most
 * of it, then stall, and (B) 300 connections that never read each send eight
 * 1 MiB echo requests. The server runs in its own process.
 *
 *   deno task bench:hostile [path/to/mod.ts]
 *
 * Pass another checkout's mod.ts to measure it the same way (before/after).
 *
 * @module
 */

import { ChildServer, moduleUnderTest, serveCommands } from "./_child.ts";

const mod = moduleUnderTest();

if (Deno.args[0] === "server") {
  const { serve } = await import(mod);
  const server = serve({ port: 0 }, (payload: unknown) => payload);
  console.log(server.addr.port);
  let peak = 0;
  setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
  await serveCommands((command) => {
    if (command === "reset") peak = Deno.memoryUsage().rss;
    if (command === "peak") console.log(peak);
  });
  Deno.exit(0);
}

const server = new ChildServer(new URL(import.meta.url).pathname, [mod]);
async function ask(command: string): Promise<number> {
  return Number(await server.ask(command, command === "peak"));
}
const port = Number(await server.line());

async function open(count: number): Promise<Deno.Conn[]> {
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
const MiB = 2 ** 20;

// A: announced 1 MiB bodies, 900 KiB sent, then silence.
await ask("reset");
const stalled = await open(1_000);
const half = new Uint8Array(4 + 900 * 1024);
new DataView(half.buffer).setUint32(0, MiB - 16);
half.fill(0x20, 4);
await Promise.all(
  stalled.map((conn) => Promise.race([writeQuietly(conn, half), delay(4_000)])),
);
await delay(1_000);
const peakA = await ask("peak");
stalled.forEach((conn) => conn.close());
await delay(1_000);

// B: never-reading peers with eight 1 MiB echoes each.
await ask("reset");
const hogs = await open(300);
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
await delay(1_000);
const peakB = await ask("peak");
hogs.forEach((conn) => conn.close());

console.log(`| scenario | peak server RSS |
| --- | ---: |
| A: 1,000 connections × 900 KiB of an announced 1 MiB frame | ${(peakA / MiB).toFixed(0)} MiB |
| B: 300 never-reading connections × 8 × 1 MiB echoes | ${(peakB / MiB).toFixed(0)} MiB |`);
await server.stop();

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
