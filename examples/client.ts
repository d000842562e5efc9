/**
 * Sends one request and prints the answer as JSON; or streams one request's
 * chunks, or prints the events of a subscription, one JSON line each.
 *
 *   deno run --allow-net examples/client.ts --help
 *
 * Exits 0 on an `ok` answer, 1 on an error answer, 3 when no answer came.
 *
 * @module
 */

import { connect, type ConnectionOptions, RemoteError, send, SocketBridgeError } from "../mod.ts";
import { fail, numberFlag, parseFlags, readFlagFile, tokenEnvReadable } from "./_cli.ts";

const USAGE = `Usage: deno run --allow-net examples/client.ts [options]

Sends one request and prints the answer as one line of JSON.
With --stream, prints each chunk of a streamed answer as {"chunk": VALUE},
then the final answer. With --subscribe, prints each event as
{"event": TOPIC, "data": VALUE} until interrupted (Ctrl+C).

Options:
  --host HOST        the server's host (default 127.0.0.1)
  --port PORT        the server's TCP port (default 7002)
  --path PATH        connect to this Unix socket instead of TCP
  --name NAME        connect to the server published under NAME (its address
                     and token come from its discovery file)
  --text TEXT        send {"type": "echo", "text": TEXT} (default "hello")
  --json JSON        send this JSON object instead; "-" reads it from stdin
  --stream           print the chunks of a streamed result as they come
                     (try --json '{"type": "count", "n": 5}')
  --subscribe LIST   comma-separated topic patterns ("jobs.*,logs.>"):
                     print their events until interrupted
  --answer JSON      answer the server's calls back with this JSON value
                     (try --json '{"type": "ask", "question": "ok?"}')
  --token TOKEN      the auth token (default: SOCKETBRIDGE_TOKEN, with
                     --allow-env=SOCKETBRIDGE_TOKEN)
  --timeout MS       give up after MS milliseconds (default 30000)
  --ca FILE          speak TLS, trusting this PEM certificate
  -h, --help         print this help

Exit status: 0 for an ok answer, 1 for an error answer, 2 for bad usage,
3 when no answer came (connection refused, timeout, closed).`;

const flags = parseFlags({
  host: { type: "string" },
  port: { type: "string" },
  path: { type: "string" },
  name: { type: "string" },
  text: { type: "string" },
  json: { type: "string" },
  token: { type: "string" },
  timeout: { type: "string" },
  ca: { type: "string" },
  stream: { type: "boolean" },
  subscribe: { type: "string" },
  answer: { type: "string" },
}, USAGE);

if (flags.path !== undefined && (flags.host !== undefined || flags.port !== undefined)) {
  fail("--path (a Unix socket) goes without --host and --port; choose one");
}
if (flags.text !== undefined && flags.json !== undefined) fail("--text and --json contradict");
if (flags.stream && flags.subscribe !== undefined) fail("--stream and --subscribe contradict");
let answer: unknown;
if (flags.answer !== undefined) {
  try {
    answer = JSON.parse(flags.answer);
  } catch (error) {
    fail(`--answer: not JSON (${error instanceof Error ? error.message : error})`);
  }
}

let payload: Record<string, unknown> = { type: "echo", text: flags.text ?? "hello" };
if (flags.json !== undefined) {
  const text = flags.json === "-" ? await new Response(Deno.stdin.readable).text() : flags.json;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(`--json: not JSON (${error instanceof Error ? error.message : error})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("--json: expected a JSON object");
  }
  payload = value as Record<string, unknown>;
}

const envReadable = flags.token === undefined && tokenEnvReadable();
const token = flags.token ?? (envReadable ? Deno.env.get("SOCKETBRIDGE_TOKEN") : undefined);
const ca = readFlagFile("ca", flags.ca);
const timeout = numberFlag("timeout", flags.timeout, 0, Number.MAX_SAFE_INTEGER);
const where: ConnectionOptions = {
  ...(flags.name !== undefined
    ? { name: flags.name }
    : flags.path !== undefined
    ? { path: flags.path }
    : {
      hostname: flags.host ?? "127.0.0.1",
      port: numberFlag("port", flags.port, 1, 65_535) ?? 7002,
    }),
  token,
  tls: ca === undefined ? undefined : { caCerts: [ca] },
};

/** Exits as the usage says for a failure of a stream or a subscription. */
function failWith(error: unknown): never {
  if (error instanceof RemoteError) {
    const { code, message } = error;
    console.log(JSON.stringify({ status: "error", message, code, protocol_version: "1" }));
    Deno.exit(1);
  }
  if (error instanceof TypeError) fail(error.message);
  fail(error instanceof Error ? error.message : String(error), 3);
}

if (flags.stream || flags.subscribe !== undefined || flags.answer !== undefined) {
  try {
    // With --answer, each call back is printed to stderr and answered.
    const onCall = flags.answer === undefined ? undefined : (payload: unknown) => {
      console.error(JSON.stringify({ call: payload }));
      return answer;
    };
    await using client = await connect({ ...where, timeout, onCall });
    if (flags.subscribe !== undefined) {
      const patterns = flags.subscribe.split(",").filter((pattern) => pattern !== "");
      const events = await client.subscribe(patterns);
      const stop = () => events.unsubscribe();
      Deno.addSignalListener("SIGINT", stop);
      console.error(`subscribed to ${patterns.join(", ")}; Ctrl+C stops`);
      for await (const entry of events) {
        const line = entry.kind === "event"
          ? { event: entry.topic, data: entry.data }
          : entry.kind === "dropped"
          ? { event: "$dropped", data: { count: entry.count } }
          : { event: "$gap" };
        console.log(JSON.stringify(line));
      }
      Deno.removeSignalListener("SIGINT", stop);
    } else if (!flags.stream) {
      const result = await client.request(payload);
      console.log(JSON.stringify({
        status: "ok",
        message: "received",
        protocol_version: "1",
        ...(result === undefined ? {} : { result }),
      }));
    } else {
      const stream = client.stream(payload);
      for await (const chunk of stream) console.log(JSON.stringify({ chunk }));
      const result = await stream.result;
      console.log(JSON.stringify({
        status: "ok",
        message: "received",
        protocol_version: "1",
        ...(result === undefined ? {} : { result }),
      }));
    }
  } catch (error) {
    if (error instanceof SocketBridgeError || error instanceof TypeError) failWith(error);
    throw error;
  }
  Deno.exit(0);
}

let response;
try {
  response = await send({ ...where, timeout }, payload);
} catch (error) {
  if (error instanceof TypeError) fail(error.message);
  fail(error instanceof Error ? error.message : String(error), 3);
}
console.log(JSON.stringify(response));
if (response.status !== "ok") {
  if (response.message === "unauthorized" && token === undefined && !envReadable) {
    console.error(
      "hint: no token was sent; SOCKETBRIDGE_TOKEN cannot be read without " +
        "--allow-env=SOCKETBRIDGE_TOKEN",
    );
  }
  Deno.exit(1);
}
