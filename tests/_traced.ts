// A traced round trip, run with OTEL_DENO=true by tests/tracing_test.ts: a
// client calls a server whose handler makes a fetch; with a NATS URL the
// same call also goes through the NATS bridge. Prints "done" and exits, and
// the runtime exports the spans on its way out.
// Usage: deno run --allow-net=127.0.0.1 tests/_traced.ts FETCH_URL [NATS_URL]

// deno-lint-ignore no-import-prefix
import { connect as natsConnect } from "npm:nats@^2.29.3";
import { connect, serve } from "../mod.ts";
import { connectNats, serveNats } from "../nats.ts";

const [fetchUrl, natsUrl] = Deno.args;
const token = "traced";
const server = serve({ port: 0, token }, async (payload: { via: string }) => {
  const response = await fetch(`${fetchUrl}?via=${payload.via}`);
  return await response.text();
});
const client = await connect({ port: server.addr.port, token });
const results = [await client.request({ type: "lookup", via: "socket" })];
await client.close();
if (natsUrl !== undefined) {
  const nc = await natsConnect({ servers: natsUrl });
  const bridge = serveNats(server, nc, { prefix: "traced" });
  const natsClient = connectNats(nc, { prefix: "traced", token });
  results.push(await natsClient.request({ type: "lookup", via: "nats" }));
  await natsClient.close();
  await bridge.close();
  await nc.close();
}
await server.shutdown();
console.log(JSON.stringify(results));
