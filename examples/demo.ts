/**
 * The README's demo: starts `examples/server.ts` on a free port, runs
 * `examples/client.ts` against it, prints what both say, then stops the
 * server with SIGINT as Ctrl+C would.
 *
 *   deno run --allow-net=127.0.0.1 --allow-run --allow-read examples/demo.ts
 *
 * @module
 */

const deno = Deno.execPath();
const here = new URL(".", import.meta.url).pathname;

const server = new Deno.Command(deno, {
  args: ["run", "--allow-net=127.0.0.1", `${here}server.ts`, "--port", "0", "--token", "demo"],
  stdout: "piped",
}).spawn();
const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
let banner = "";
while (!banner.includes("\n")) {
  const { value, done } = await lines.read();
  if (done) throw new Error("The server exited before it listened");
  banner += value;
}
console.log(`server: ${banner.trim()}`);
const port = banner.match(/:(\d+)/)![1];

for (const text of ["hello from the demo", "second message"]) {
  const client = await new Deno.Command(deno, {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `${here}client.ts`,
      "--port",
      port,
      "--token",
      "demo",
      "--text",
      text,
    ],
  }).output();
  const output = new TextDecoder().decode(client.success ? client.stdout : client.stderr);
  console.log(`client: ${output.trim()}`);
  if (!client.success) Deno.exitCode = 1;
}

server.kill("SIGINT");
let rest = "";
for (let chunk = await lines.read(); !chunk.done; chunk = await lines.read()) rest += chunk.value;
for (const line of rest.split("\n").filter((line) => line !== "")) console.log(`server: ${line}`);
const status = await server.status;
console.log(`server exited with code ${status.code}`);
if (!status.success) Deno.exitCode = 1;
