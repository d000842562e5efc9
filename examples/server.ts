/**
 * The tour server: request types `echo`, `count` (a stream), `sleep`
 * (cancellable) and `publish` (events to subscribers); see examples/tour.ts.
 *
 *   deno run --allow-net examples/server.ts --help
 *
 * Ctrl+C (SIGINT) or SIGTERM shuts it down gracefully: requests in flight
 * are answered first.
 *
 * @module
 */

import { serve, type Server, type ServeTcpOptions, type ServeUnixOptions } from "../mod.ts";
import { tourTypes } from "./tour.ts";
import {
  fail,
  numberFlag,
  parseFlags,
  readFlagFile,
  readTokensFile,
  tokenEnvReadable,
} from "./_cli.ts";

const USAGE = `Usage: deno run --allow-net examples/server.ts [options]

A tour of SocketBridge: its request types are
  {"type": "echo", ...}              answers with the payload as "result"
  {"type": "count", "n": N}          streams 1..N (N <= 10000), then "done"
  {"type": "sleep", "ms": M}         answers "slept" after M ms (cancellable)
  {"type": "tick"}                   adds one to the server's counter, returns it
  {"type": "ask", "question": Q}     asks the caller back; returns its answer
  {"type": "publish", "topic": T, "data": X}
                                     publishes X on T to every subscriber
Any other payload (any type, or none) is answered as the original server
answers: "ok", "received", with the payload echoed as "result".
"$describe" lists the types and says that others are accepted.

Options:
  --host HOST        address to bind (default 127.0.0.1)
  --port PORT        TCP port; 0 picks a free one (default 7002, or a free
                     one with --name)
  --path PATH        serve on this Unix socket instead of TCP
  --name NAME        publish a discovery file, so clients connect with --name
                     (needs --allow-env=XDG_RUNTIME_DIR,TMPDIR --allow-sys=uid
                     and read/write access to the discovery directory)
  --token TOKEN      the auth token (default: SOCKETBRIDGE_TOKEN)
  --tokens-file FILE scoped tokens: a JSON object, name -> {"token", "types",
                     "topics"}; refused unless only its owner can read it
  --no-token         serve without a token even if SOCKETBRIDGE_TOKEN cannot be read
  --max-bytes N      largest request body (default: SOCKETBRIDGE_MAX_BYTES, else 1048576)
  --allow LIST       comma-separated peer addresses or CIDR networks
                     (default: SOCKETBRIDGE_ALLOWLIST, else everyone)
  --cert FILE        PEM certificate: serve TLS (with --key)
  --key FILE         PEM private key of --cert
  -h, --help         print this help

Without --token, the token comes from SOCKETBRIDGE_TOKEN, which Deno lets it
read only with --allow-env=SOCKETBRIDGE_TOKEN. A server never runs open by
accident: if the variable cannot be read, it asks (in a terminal) or refuses
to start, unless --no-token says to serve without one.`;

const flags = parseFlags({
  host: { type: "string" },
  port: { type: "string" },
  path: { type: "string" },
  name: { type: "string" },
  token: { type: "string" },
  "tokens-file": { type: "string" },
  "no-token": { type: "boolean" },
  "max-bytes": { type: "string" },
  allow: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
}, USAGE);

if (flags.path !== undefined && (flags.host !== undefined || flags.port !== undefined)) {
  fail("--path (a Unix socket) goes without --host and --port; choose one");
}
const maxBytes = numberFlag("max-bytes", flags["max-bytes"], 0, 0xffff_ffff);
// Found by its name, the server needs no fixed port: a free one is taken.
const port = numberFlag("port", flags.port, 0, 65_535) ?? (flags.name !== undefined ? 0 : 7002);
if (flags.token !== undefined && flags["no-token"]) fail("--token and --no-token contradict");
if (flags.token === undefined && !flags["no-token"] && !tokenEnvReadable()) {
  fail(
    "cannot tell whether SOCKETBRIDGE_TOKEN is set: grant --allow-env=SOCKETBRIDGE_TOKEN, " +
      "pass --token, or pass --no-token to serve without a token",
  );
}

const common = {
  token: flags["no-token"] ? "" : flags.token,
  tokens: readTokensFile(flags["tokens-file"]),
  maxBytes,
  allowlist: flags.allow?.split(","),
  name: flags.name,
};
const onListen = (addr: Deno.NetAddr | Deno.UnixAddr): void => {
  console.log(
    "path" in addr ? `listening on ${addr.path}` : `listening on ${addr.hostname}:${addr.port}`,
  );
  // Serving open is allowed on loopback, but never without saying so.
  if (!(common.token ?? Deno.env.get("SOCKETBRIDGE_TOKEN"))) {
    console.log(
      "no token: any process of this machine that reaches the address may call it " +
        "(set SOCKETBRIDGE_TOKEN or --token to require one)",
    );
  }
};

// Signals are heard from before the server listens: a SIGINT right after
// "listening on" (a harness done with it) still shuts it down gracefully.
const stopping = new AbortController();
const stop = (): void => {
  if (stopping.signal.aborted) return;
  console.log("shutting down");
  stopping.abort();
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

let server: Server | undefined;
const handler = tourTypes((topic, data) => server!.publish(topic, data));
try {
  if (flags.path !== undefined) {
    const options: ServeUnixOptions = {
      ...common,
      path: flags.path,
      onListen,
      signal: stopping.signal,
    };
    server = serve(options, handler);
  } else {
    const options: ServeTcpOptions = {
      ...common,
      hostname: flags.host ?? "127.0.0.1",
      port,
      cert: readFlagFile("cert", flags.cert),
      key: readFlagFile("key", flags.key),
      onListen,
      signal: stopping.signal,
    };
    server = serve(options, handler);
  }
} catch (error) {
  // A bad option, an address in use, a permission missing: one line, exit 2.
  fail(error instanceof Error ? error.message : String(error), 2);
}

await server.finished;
Deno.removeSignalListener("SIGINT", stop);
Deno.removeSignalListener("SIGTERM", stop);
console.log("stopped");
