// Run as a child by timer_options_test.ts: every duration a caller can give
// (server, client, reconnect, NATS bridge), set to VALUE ms (Infinity or
// 2^31), through one real exchange each. The runtime warns on stderr when a
// timer overflows (TimeoutOverflowWarning); the parent reads it, and what
// this prints: one line per option, the outcome.
//
//   deno run -A tests/_timer_options.ts VALUE [NATS_URL]

import { connect, serve } from "../mod.ts";
import { connectNats, serveNats } from "../nats.ts";
// deno-lint-ignore no-import-prefix
import { connect as natsConnect } from "npm:nats@^2.29.3";

const value = Number(Deno.args[0]);
const natsUrl = Deno.args[1];
const slow = (ms: number) => (_: unknown, { signal }: { signal: AbortSignal }) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve("done"), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

for (
  const option of [
    "idleTimeout",
    "frameTimeout",
    "authTimeout",
    "handlerTimeout",
    "writeTimeout",
    "gracePeriod",
  ]
) {
  const server = serve({ port: 0, token: "t", [option]: value }, slow(30));
  const client = await connect({
    port: server.addr.port,
    token: "t",
    timeout: value,
    reconnect: { initialDelay: value, maxDelay: value, maxAttempts: 1 },
  });
  const result = await client.request({}, { timeout: value });
  // Shut down while a request runs: an endless grace period must wait for it.
  const late = client.request({});
  await new Promise((resolve) => setTimeout(resolve, 5));
  await server.shutdown();
  console.log(`${option} ${result} ${await late.catch((error) => error.code)}`);
  await client.close();
}

if (natsUrl !== undefined) {
  const server = serve({ port: 0, token: "t", gracePeriod: value }, slow(400));
  const nc = await natsConnect({ servers: natsUrl });
  const bridge = serveNats(server, nc, { prefix: "timers" });
  const callerNc = await natsConnect({ servers: natsUrl });
  const caller = connectNats(callerNc, { prefix: "timers", token: "t", timeout: value });
  const answer = caller.request({ type: "slow" });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = performance.now();
  await bridge.close();
  const closedAfter = performance.now() - started;
  console.log(
    `nats ${await answer.catch((error) => error.code)} ${closedAfter > 300 ? "waited" : "early"}`,
  );
  await server.shutdown();
  await callerNc.close();
  await nc.close();
}
