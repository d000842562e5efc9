// Faults across processes: a server killed and restarted under a client, a
// client killed with requests in flight, a port already taken at start.

import assert from "node:assert/strict";
import { connect } from "../client.ts";
import { ConnectionClosedError } from "../errors.ts";
import { serve } from "../server.ts";
import { delay, portOf, RawPeer } from "./_helpers.ts";
import { DENO, freePort, ROOT, spawnDeno, startExampleServer } from "./_processes.ts";

Deno.test("a server killed with SIGKILL under a client: pending requests reject at once; with reconnect, a restarted server serves the next", async () => {
  const port = freePort();
  const first = await startExampleServer([], { port });
  await using client = await connect({
    port,
    reconnect: { initialDelay: 20, maxDelay: 200 },
  });
  assert.deepEqual(await client.request({ type: "echo", n: 1 }), { type: "echo", n: 1 });
  // Requests the echo server answers at once can race the kill; flood it so
  // some are surely pending.
  const pending = Array.from(
    { length: 2_000 },
    (_, n) => client.request({ type: "echo", n }).then(() => "ok", (e) => e),
  );
  const killed = first.stop("SIGKILL");
  const killedAt = performance.now();
  const outcomes = await Promise.all(pending);
  const settledIn = performance.now() - killedAt;
  await killed;
  const closed = outcomes.filter((o) => o instanceof ConnectionClosedError);
  assert.equal(
    outcomes.filter((o) => o !== "ok" && !(o instanceof ConnectionClosedError))
      .length,
    0,
  );
  assert.ok(closed.length > 0, "some requests were pending at the kill");
  assert.ok(
    settledIn < 5_000,
    `pending requests settled ${settledIn} ms after the kill`,
  );
  const second = await startExampleServer([], { port });
  try {
    assert.deepEqual(await client.request({ type: "echo", back: true }, { timeout: 5_000 }), {
      type: "echo",
      back: true,
    });
  } finally {
    assert.equal((await second.stop("SIGTERM")).status.code, 0);
  }
});

Deno.test("a client killed with requests in flight leaves the server healthy and its handlers aborted", async () => {
  let aborted = 0;
  let started = 0;
  await using server = serve({ port: 0 }, async (_payload, info) => {
    started++;
    await new Promise<void>((resolve) => {
      info.signal.addEventListener("abort", () => {
        aborted++;
        resolve();
      });
      setTimeout(resolve, 300);
    });
    return "late";
  });
  const port = portOf(server);
  const script = `
    import { connect } from "${new URL("../mod.ts", import.meta.url).href}";
    const client = await connect({ port: ${port} });
    for (let n = 0; n < 100; n++) client.request({ n }).catch(() => {});
    console.log("sent");
    await new Promise((resolve) => setTimeout(resolve, 60_000));
  `;
  const { child, rest } = await spawnDeno(["eval", script]);
  while (started < 100) await delay(5);
  child.kill("SIGKILL");
  await child.status;
  await rest.catch(() => {});
  // The server learns the peer is gone when it writes (or reads EOF); every
  // handler is finished or aborted, none is left running for nobody.
  for (let i = 0; i < 100 && server.stats().connections.open > 0; i++) {
    await delay(10);
  }
  assert.equal(server.stats().connections.open, 0);
  await using peer = await RawPeer.connect(port);
  const response = await peer.call({ after: true, request_id: 1 });
  assert.equal(response?.result, "late");
  assert.ok(started >= 101);
  void aborted;
});

Deno.test("serve() on a port another process holds fails at once with AddrInUse", async () => {
  const port = freePort();
  const { child, rest } = await spawnDeno([
    "eval",
    `Deno.listen({ hostname: "127.0.0.1", port: ${port} }); console.log("holding"); setTimeout(() => {}, 60_000);`,
  ]);
  try {
    const started = performance.now();
    assert.throws(
      () => serve({ port }, () => 1),
      (error: Error) =>
        error instanceof Deno.errors.AddrInUse &&
        error.message ===
          `Cannot serve on 127.0.0.1:${port}: the address is already in use`,
    );
    assert.ok(performance.now() - started < 1_000);
    const output = await new Deno.Command(DENO, {
      args: [
        "run",
        `--allow-net=127.0.0.1:${port}`,
        "examples/server.ts",
        "--port",
        String(port),
        "--no-token",
      ],
      cwd: ROOT,
    }).output();
    assert.equal(output.code, 2);
    assert.equal(
      new TextDecoder().decode(output.stderr),
      `error: Cannot serve on 127.0.0.1:${port}: the address is already in use\n`,
      "one line naming the address, no stack",
    );
  } finally {
    child.kill();
    await child.status;
    await rest.catch(() => {});
  }
});
