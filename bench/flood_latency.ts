/**
 * Fairness under a flood: one peer pipelines small frames as fast as it can
 * (reading its answers, so the server never pauses it) while another
 * connection makes sequential requests. Reports the victim's latency
 * (p50, p99, max) and the flood's throughput. The server runs in its own
 * process, with every default.
 *
 *   deno task bench:flood [path/to/mod.ts]
 *
 * @module
 */

import { ChildServer, moduleUnderTest } from "./_child.ts";

const mod = moduleUnderTest();

if (Deno.args[0] === "server") {
  const { serve } = await import(mod);
  const server = serve({ port: 0 }, () => 1);
  console.log(server.addr.port);
  await server.finished;
  Deno.exit(0);
}

const { connect } = await import(mod);
const server = new ChildServer(new URL(import.meta.url).pathname, [mod]);
const port = Number(await server.line());

const flooder = await Deno.connect({ hostname: "127.0.0.1", port });
const body = new TextEncoder().encode('{"type":"flood"}');
const chunk = new Uint8Array((4 + body.length) * 4_000);
for (let i = 0; i < 4_000; i++) {
  new DataView(chunk.buffer).setUint32(i * (4 + body.length), body.length);
  chunk.set(body, i * (4 + body.length) + 4);
}
let flooding = true;
let answeredBytes = 0;
const drain = (async () => {
  const buffer = new Uint8Array(256 * 1024);
  try {
    for (
      let n = await flooder.read(buffer);
      n !== null;
      n = await flooder.read(buffer)
    ) {
      answeredBytes += n;
    }
  } catch { /* closed */ }
})();
const flood = (async () => {
  while (flooding) {
    for (let at = 0; at < chunk.length;) {
      at += await flooder.write(chunk.subarray(at));
    }
  }
})();
await new Promise((resolve) => setTimeout(resolve, 300));

const victim = await connect({ port });
const latencies: number[] = [];
const started = performance.now();
const bytesAtStart = answeredBytes;
while (performance.now() - started < 3_000) {
  const t0 = performance.now();
  await victim.request({ type: "victim" });
  latencies.push(performance.now() - t0);
}
const floodAnswers = (answeredBytes - bytesAtStart) / 73 /
  ((performance.now() - started) / 1000);
flooding = false;
await flood.catch(() => {});
flooder.close();
await drain;
await victim.close();
await server.stop();
latencies.sort((a, b) => a - b);
const pick = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
console.log(
  `victim: ${latencies.length} requests, p50 ${pick(0.5).toFixed(2)} ms, p99 ${
    pick(0.99).toFixed(2)
  } ms, max ${latencies.at(-1)!.toFixed(2)} ms; flood about ${
    Math.round(floodAnswers).toLocaleString("en-US")
  } answers/s`,
);
