/**
 * Memory per idle connection: a SocketBridge server in its own process,
 * and N connections that each make one request and then sit idle. Reports
 * the server's RSS (after a full GC) at 10, 100, 1,000 and 10,000
 * connections, and the growth per connection over the empty server.
 *
 *   deno task bench:idle
 *
 * Needs an open-files limit above 10,000 (`ulimit -n`), for both processes.
 *
 * @module
 */

import { connect, serve } from "../mod.ts";

const COUNTS = [10, 100, 1_000, 10_000];

if (Deno.args[0] === "server") {
  const server = serve(
    { port: 0, maxConnections: 20_000, authTimeout: 0 },
    () => "ok",
  );
  console.log(server.addr.port);
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  for await (const chunk of lines) {
    for (const command of chunk.split("\n")) {
      if (command !== "rss") continue;
      for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
      await new Promise((resolve) => setTimeout(resolve, 200));
      console.log(Deno.memoryUsage().rss);
    }
  }
  Deno.exit(0);
}

const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net=127.0.0.1",
    "--v8-flags=--expose-gc",
    new URL(import.meta.url).pathname,
    "server",
  ],
  stdin: "piped",
  stdout: "piped",
}).spawn();
const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
const writer = server.stdin.getWriter();
let buffered = "";
async function line(): Promise<string> {
  while (!buffered.includes("\n")) buffered += (await lines.read()).value;
  const at = buffered.indexOf("\n");
  const text = buffered.slice(0, at);
  buffered = buffered.slice(at + 1);
  return text;
}
async function rss(): Promise<number> {
  await writer.write(new TextEncoder().encode("rss\n"));
  return Number(await line());
}

const port = Number(await line());
const base = await rss();
const clients: { close(): Promise<void> }[] = [];
const rows: string[] = [
  "| idle connections | server RSS MiB | growth over the empty server | per connection |",
  "| ---: | ---: | ---: | ---: |",
  `| 0 | ${(base / 2 ** 20).toFixed(1)} | | |`,
];
for (const count of COUNTS) {
  while (clients.length < count) {
    const batch = Math.min(200, count - clients.length);
    clients.push(
      ...await Promise.all(Array.from({ length: batch }, async () => {
        const client = await connect({ port });
        await client.request({ type: "hello" });
        return client;
      })),
    );
  }
  const now = await rss();
  const growth = now - base;
  rows.push(
    `| ${count.toLocaleString("en-US")} | ${(now / 2 ** 20).toFixed(1)} | ${
      (growth / 2 ** 20).toFixed(1)
    } MiB | ${(growth / count / 1024).toFixed(1)} KiB |`,
  );
  console.error(rows.at(-1));
}
console.log(rows.join("\n"));
await Promise.all(clients.map((client) => client.close()));
server.kill();
await server.status;
