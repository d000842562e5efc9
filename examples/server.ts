/**
 * An echo server: answers every request with its payload as `result`.
 *
 *   deno run --allow-net examples/server.ts [--host 127.0.0.1] [--port 7002]
 *     [--token SECRET] [--max-bytes 1048576] [--allow 127.0.0.1,::1]
 *     [--path /tmp/bridge.sock] [--cert cert.pem --key key.pem]
 *
 * Flags fall back to SOCKETBRIDGE_TOKEN, SOCKETBRIDGE_ALLOWLIST and
 * SOCKETBRIDGE_MAX_BYTES when `--allow-env` grants them. Ctrl+C (SIGINT) or
 * SIGTERM shuts it down gracefully: requests in flight are answered first.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { serve } from "../mod.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "7002" },
    token: { type: "string" },
    "max-bytes": { type: "string" },
    allow: { type: "string" },
    path: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
  },
});

let server;
try {
  server = serve({
    hostname: values.host,
    port: Number(values.port),
    path: values.path,
    token: values.token,
    maxBytes: values["max-bytes"] === undefined ? undefined : Number(values["max-bytes"]),
    allowlist: values.allow?.split(","),
    cert: values.cert === undefined ? undefined : Deno.readTextFileSync(values.cert),
    key: values.key === undefined ? undefined : Deno.readTextFileSync(values.key),
    onListen(addr) {
      console.log(
        "path" in addr
          ? `listening on ${addr.path}`
          : `listening on ${(addr as Deno.NetAddr).hostname}:${(addr as Deno.NetAddr).port}`,
      );
    },
  }, (payload) => payload);
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}

const stop = (): void => {
  console.log("shutting down");
  server.shutdown();
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
await server.finished;
Deno.removeSignalListener("SIGINT", stop);
Deno.removeSignalListener("SIGTERM", stop);
console.log("stopped");
