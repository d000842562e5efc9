/**
 * The README's demo: starts `examples/server.ts` on a free port, then runs
 * `examples/client.ts` against it three ways (a request, a streamed result,
 * an event to a subscriber), prints what each says, and stops the server
 * with SIGINT as Ctrl+C would.
 *
 *   deno run --allow-net=127.0.0.1 --allow-run --allow-read examples/demo.ts
 *
 * @module
 */

const deno = Deno.execPath();
const here = new URL(".", import.meta.url).pathname;

/** Reads a child's output up to the end of its next line. */
async function nextLine(
  reader: ReadableStreamDefaultReader<string>,
  buffered: { text: string },
): Promise<string> {
  while (!buffered.text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The process ended before it printed a line");
    buffered.text += value;
  }
  const end = buffered.text.indexOf("\n");
  const line = buffered.text.slice(0, end);
  buffered.text = buffered.text.slice(end + 1);
  return line;
}

function clientArgs(port: string, ...rest: string[]): string[] {
  return [
    "run",
    "--allow-net=127.0.0.1",
    `${here}client.ts`,
    "--port",
    port,
    "--token",
    "demo",
    ...rest,
  ];
}

async function runClient(label: string, port: string, ...rest: string[]): Promise<void> {
  const client = await new Deno.Command(deno, { args: clientArgs(port, ...rest) }).output();
  const output = new TextDecoder().decode(client.success ? client.stdout : client.stderr);
  for (const line of output.trim().split("\n")) console.log(`${label}: ${line}`);
  if (!client.success) Deno.exitCode = 1;
}

const server = new Deno.Command(deno, {
  args: ["run", "--allow-net=127.0.0.1", `${here}server.ts`, "--port", "0", "--token", "demo"],
  stdout: "piped",
}).spawn();
const serverOut = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
const serverBuffer = { text: "" };
const banner = await nextLine(serverOut, serverBuffer);
console.log(`server: ${banner}`);
const port = banner.match(/:(\d+)/)![1];

// 1. A request and its answer.
await runClient("client", port, "--text", "hello from the demo");
// 2. A streamed result: one line per chunk, then the final answer.
await runClient("stream", port, "--stream", "--json", '{"type": "count", "n": 3}');
// 3. An event: a subscriber waits on "demo.>", another client publishes.
const subscriber = new Deno.Command(deno, {
  args: clientArgs(port, "--subscribe", "demo.>"),
  stdout: "piped",
  stderr: "piped",
}).spawn();
const subscriberErr = subscriber.stderr.pipeThrough(new TextDecoderStream()).getReader();
console.log(`subscriber: ${await nextLine(subscriberErr, { text: "" })}`);
await runClient(
  "publisher",
  port,
  "--json",
  '{"type": "publish", "topic": "demo.greeting", "data": "hi, subscribers"}',
);
const subscriberOut = subscriber.stdout.pipeThrough(new TextDecoderStream()).getReader();
console.log(`subscriber: ${await nextLine(subscriberOut, { text: "" })}`);
subscriber.kill("SIGINT");
await subscriberOut.cancel();
await subscriberErr.cancel();
if (!(await subscriber.status).success) Deno.exitCode = 1;

server.kill("SIGINT");
let rest = serverBuffer.text;
for (let chunk = await serverOut.read(); !chunk.done; chunk = await serverOut.read()) {
  rest += chunk.value;
}
for (const line of rest.split("\n").filter((line) => line !== "")) console.log(`server: ${line}`);
const status = await server.status;
console.log(`server exited with code ${status.code}`);
if (!status.success) Deno.exitCode = 1;
