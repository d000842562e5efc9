// One member of a queue group, for the NATS tests and benchmarks: a server
// whose handler answers with its pid after `DELAY_MS`, served over NATS on
// PREFIX. Prints "ready" once subscribed; SIGTERM drains it and exits.
// Usage: deno run --allow-net=127.0.0.1 tests/_nats_member.ts NATS_URL PREFIX TOKEN [DELAY_MS]

// deno-lint-ignore no-import-prefix
import { connect as natsConnect } from "npm:nats@^2.29.3";
import { serve } from "../mod.ts";
import { serveNats } from "../nats.ts";

const [url, prefix, token, delayText = "0"] = Deno.args;
const delayMs = Number(delayText);
const nc = await natsConnect({ servers: url });
const server = serve({ port: 0, token }, async (payload) => {
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  return { pid: Deno.pid, n: payload.n };
});
const bridge = serveNats(server, nc, { prefix });
await nc.flush();
Deno.addSignalListener("SIGTERM", async () => {
  await bridge.close();
  await server.shutdown();
  await nc.drain();
  Deno.exit(0);
});
console.log("ready");
