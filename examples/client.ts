/**
 * Sends one request and prints the answer as JSON.
 *
 *   deno run --allow-net examples/client.ts --help
 *
 * Exits 0 on an `ok` answer, 1 on an error answer, 3 when no answer came.
 *
 * @module
 */

import { send } from "../mod.ts";
import { fail, numberFlag, parseFlags, readFlagFile, tokenEnvReadable } from "./_cli.ts";

const USAGE = `Usage: deno run --allow-net examples/client.ts [options]

Sends one request and prints the answer as one line of JSON.

Options:
  --host HOST        the server's host (default 127.0.0.1)
  --port PORT        the server's TCP port (default 7002)
  --path PATH        connect to this Unix socket instead of TCP
  --text TEXT        send {"type": "message", "text": TEXT} (default "hello")
  --json JSON        send this JSON object instead; "-" reads it from stdin
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
  text: { type: "string" },
  json: { type: "string" },
  token: { type: "string" },
  timeout: { type: "string" },
  ca: { type: "string" },
}, USAGE);

if (flags.path !== undefined && (flags.host !== undefined || flags.port !== undefined)) {
  fail("--path (a Unix socket) goes without --host and --port; choose one");
}
if (flags.text !== undefined && flags.json !== undefined) fail("--text and --json contradict");

let payload: Record<string, unknown> = { type: "message", text: flags.text ?? "hello" };
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
let response;
try {
  response = await send({
    ...(flags.path !== undefined ? { path: flags.path } : {
      hostname: flags.host ?? "127.0.0.1",
      port: numberFlag("port", flags.port, 1, 65_535) ?? 7002,
    }),
    token,
    timeout,
    tls: ca === undefined ? undefined : { caCerts: [ca] },
  }, payload);
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
