/**
 * Sends one message and prints the response as JSON.
 *
 *   deno run --allow-net examples/client.ts [--host 127.0.0.1] [--port 7002]
 *     [--text hello] [--token SECRET] [--path /tmp/bridge.sock] [--ca cert.pem]
 *
 * The token falls back to SOCKETBRIDGE_TOKEN when `--allow-env` grants it.
 * Exits 1 when the answer is an error or no answer came.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { send } from "../mod.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "7002" },
    text: { type: "string", default: "hello" },
    token: { type: "string" },
    path: { type: "string" },
    ca: { type: "string" },
  },
});

const envGranted =
  Deno.permissions.querySync({ name: "env", variable: "SOCKETBRIDGE_TOKEN" }).state === "granted";
try {
  const response = await send({
    hostname: values.host,
    port: Number(values.port),
    path: values.path,
    token: values.token ?? (envGranted ? Deno.env.get("SOCKETBRIDGE_TOKEN") : undefined),
    tls: values.ca === undefined ? undefined : { caCerts: [Deno.readTextFileSync(values.ca)] },
  }, { type: "message", text: values.text });
  console.log(JSON.stringify(response));
  if (response.status !== "ok") Deno.exit(1);
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}
