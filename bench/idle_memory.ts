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
import { ChildServer, serveCommands } from "./_child.ts";

const COUNTS = [10, 100, 1_000, 10_000];

if (Deno.args[0] === "server") {
  const server = serve(
    { port: 0, maxConnections: 20_000, authTimeout: 0 },
    () => "ok",
  );
  console.log(server.addr.port);
  await serveCommands(async (command) => {
    if (command !== "rss") return;
    for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
    console.log(Deno.memoryUsage().rss);
  });
  Deno.exit(0);
}

const server = new ChildServer(new URL(import.meta.url).pathname, [], [
  "--v8-flags=--expose-gc",
]);
async function rss(): Promise<number> {
  return Number(await server.ask("rss"));
}

const port = Number(await server.line());
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
await server.stop();
