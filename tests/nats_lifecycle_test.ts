// The NATS bridge over time, against a real nats-server: members sharing a
// queue group, killed or drained, the bridge closing with what it took, and
// the NATS client's disconnects and permission errors in onError.

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import type { NatsConnection } from "npm:nats@^2.29.3";
import { ConnectError, type ErrorContext, RemoteError, serve, TimeoutError } from "../mod.ts";
import { connectNats, NatsStatusError, serveNats } from "../nats.ts";
import { delay } from "./_helpers.ts";
import { spawnDeno } from "./_processes.ts";
import { NatsServer, natsTest, NO_NATS } from "./_nats.ts";

const TOKEN = "nats-test-token";

interface Member {
  child: Deno.ChildProcess;
  pid: number;
}

async function startMember(nats: NatsServer, delayMs: number): Promise<Member> {
  const { child, firstLine } = await spawnDeno([
    "run",
    "--allow-net=127.0.0.1",
    "tests/_nats_member.ts",
    nats.url,
    "group",
    TOKEN,
    String(delayMs),
  ]);
  assert.equal(firstLine, "ready");
  return { child, pid: child.pid };
}

async function stopMember(member: Member, signal: Deno.Signal): Promise<void> {
  try {
    member.child.kill(signal);
  } catch {
    // already gone
  }
  await member.child.status;
}

type Outcome = { started: number; ended: number; pid?: number; error?: unknown };

/** `total` requests, `concurrency` at a time; `during(done)` runs after each settles. */
async function load(
  nc: NatsConnection,
  total: number,
  concurrency: number,
  during: (done: number) => void,
): Promise<Outcome[]> {
  await using client = connectNats<{ n: number }, { pid: number }>(nc, {
    prefix: "group",
    token: TOKEN,
    timeout: 1_500,
  });
  const outcomes: Outcome[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < total) {
      const n = next++;
      const started = performance.now();
      try {
        const { pid } = await client.request({ n });
        outcomes[n] = { started, ended: performance.now(), pid };
      } catch (error) {
        outcomes[n] = { started, ended: performance.now(), error };
      }
      during(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  assert.equal(client.pending, 0);
  return outcomes;
}

natsTest("the NATS client's disconnects and reconnects reach onError", async (nats, nc) => {
  const statuses: string[] = [];
  const onError = (error: unknown, _context: ErrorContext) => {
    if (error instanceof NatsStatusError) statuses.push(error.status);
  };
  await using server = serve({ port: 0, token: TOKEN, onError }, () => "ok");
  await using _bridge = serveNats(server, nc, { prefix: "tools" });
  await nats.stop();
  for (let i = 0; i < 100 && !statuses.includes("disconnect"); i++) await delay(20);
  await nats.restart();
  for (let i = 0; i < 200 && !statuses.includes("reconnect"); i++) await delay(20);
  assert.ok(statuses.includes("disconnect"), statuses.join());
  assert.ok(statuses.includes("reconnect"), statuses.join());
  // And it serves again after the reconnect.
  await using client = connectNats(nc, { prefix: "tools", token: TOKEN, timeout: 2_000 });
  assert.equal(await client.request({ type: "x" }), "ok");
});

natsTest(
  "closing the bridge answers what it took, then NATS sends it no more",
  async (_nats, nc) => {
    await using server = serve({ port: 0, token: TOKEN }, async () => {
      await delay(100);
      return "finished";
    });
    const bridge = serveNats(server, nc, { prefix: "tools" });
    await using client = connectNats(nc, { prefix: "tools", token: TOKEN, timeout: 2_000 });
    const taken = Promise.all([1, 2, 3].map(() => client.request({})));
    await delay(30);
    await bridge.close();
    await bridge.closed;
    assert.deepEqual(await taken, ["finished", "finished", "finished"]);
    assert.deepEqual(bridge.stats().requests, {
      received: 3,
      answered: 3,
      cancelled: 0,
      running: 0,
    });
    const after = await client.request({}).catch((e) => e);
    assert.ok(after instanceof ConnectError, String(after));
  },
);

natsTest("two server processes in one queue group share the requests", async (nats, nc) => {
  const members = [await startMember(nats, 2), await startMember(nats, 2)];
  try {
    const outcomes = await load(nc, 200, 16, () => {});
    const byPid = new Map<number, number>();
    for (const outcome of outcomes) {
      assert.equal(outcome.error, undefined);
      byPid.set(outcome.pid!, (byPid.get(outcome.pid!) ?? 0) + 1);
    }
    assert.deepEqual([...byPid.keys()].sort(), members.map((m) => m.pid).sort());
    for (const count of byPid.values()) assert.ok(count >= 20, `uneven share: ${[...byPid]}`);
  } finally {
    for (const member of members) await stopMember(member, "SIGKILL");
  }
});

natsTest(
  "killing one member mid-load loses only what it held; the other takes the rest",
  async (nats, nc) => {
    const [victim, survivor] = [await startMember(nats, 5), await startMember(nats, 5)];
    let killedAt = Infinity;
    let killing: Promise<void> | undefined;
    try {
      const outcomes = await load(nc, 900, 16, (done) => {
        if (done === 150) {
          killing = stopMember(victim, "SIGKILL").then(() => {
            killedAt = performance.now();
          });
        }
      });
      await killing;
      assert.equal(outcomes.length, 900);
      const failed = outcomes.filter((o) => o.error !== undefined);
      // Only requests the victim held when it died can be lost, each with a clear
      // timeout: none sent once it was dead (the NATS server routes to live members).
      for (const outcome of failed) {
        assert.ok(outcome.error instanceof TimeoutError, String(outcome.error));
        assert.ok(outcome.started < killedAt, "a request sent after the kill was lost");
      }
      assert.ok(failed.length <= 16, `${failed.length} lost: more than were in flight`);
      const after = outcomes.filter((o) => o.started > killedAt + 100);
      // The load went on well past the death (how far depends on timing, so the bound is low).
      assert.ok(after.length >= 100, `${after.length} requests after the kill`);
      assert.ok(
        after.every((o) => o.pid === survivor.pid),
        "the survivor answered everything after",
      );
      assert.ok(outcomes.some((o) => o.pid === victim.pid), "the victim had a share before");
    } finally {
      await stopMember(victim, "SIGKILL");
      await stopMember(survivor, "SIGKILL");
    }
  },
);

natsTest("a member stopped with SIGTERM drains: no request fails", async (nats, nc) => {
  const [leaving, staying] = [await startMember(nats, 5), await startMember(nats, 5)];
  let stopping: Promise<void> | undefined;
  let goneAt = Infinity;
  try {
    const outcomes = await load(nc, 900, 16, (done) => {
      if (done === 100) {
        stopping = stopMember(leaving, "SIGTERM").then(() => {
          goneAt = performance.now();
        });
      }
    });
    await stopping;
    assert.deepEqual(outcomes.filter((o) => o.error !== undefined).map((o) => String(o.error)), []);
    assert.ok(outcomes.some((o) => o.pid === leaving.pid));
    // Once it is gone, every request goes to the member that stayed.
    const after = outcomes.filter((o) => o.started > goneAt);
    assert.ok(after.length >= 100, `${after.length} requests after it left`);
    assert.ok(after.every((o) => o.pid === staying.pid));
    assert.equal((await leaving.child.status).code, 0);
  } finally {
    await stopMember(leaving, "SIGKILL");
    await stopMember(staying, "SIGKILL");
  }
});

natsTest(
  "the bridge closes with its server, and NATS then has nobody to ask",
  async (_nats, nc) => {
    const server = serve({ port: 0, token: TOKEN }, () => "up");
    const bridge = serveNats(server, nc, { prefix: "tools" });
    await using client = connectNats(nc, { prefix: "tools", token: TOKEN, timeout: 2_000 });
    assert.equal(await client.request({}), "up");
    await server.shutdown();
    await bridge.closed;
    const after = await client.request({}).catch((e) => e);
    assert.ok(after instanceof ConnectError, String(after));
  },
);

Deno.test({
  name: "NATS permission errors reach onError, naming what was refused; the bridge goes on",
  ignore: NO_NATS,
  async fn() {
    const config = `authorization {
  users = [
    { user: "bridge", password: "pw", permissions: {
        publish: { allow: ["tools", "tools.>", "_INBOX.>"] },
        subscribe: { allow: ["tools", "tools.>", "_INBOX.>"] } } }
  ]
}
`;
    await using nats = await NatsServer.start(undefined, config);
    const nc = await nats.connect({ user: "bridge", pass: "pw" });
    try {
      const seen: string[] = [];
      const onError = (error: unknown) => {
        if (error instanceof NatsStatusError) seen.push(error.message);
      };
      await using server = serve({ port: 0, token: TOKEN, onError }, () => "still serving");
      await using _bridge = serveNats(server, nc, {
        prefix: "tools",
        eventsOut: ["jobs.>"],
        eventsIn: ["secret.>"],
      });
      server.publish("jobs.done", 1);
      await nc.flush().catch(() => {});
      for (let i = 0; i < 100 && seen.length < 2; i++) await delay(20);
      assert.ok(seen.some((m) => /publish.*jobs\.done/i.test(m)), seen.join(" | "));
      assert.ok(seen.some((m) => /subscri.*secret\.>/i.test(m)), seen.join(" | "));
      await using client = connectNats(nc, { prefix: "tools", token: TOKEN, timeout: 2_000 });
      assert.equal(await client.request({}), "still serving");
    } finally {
      await nc.close();
    }
  },
});

natsTest(
  "past maxInFlight a bridge answers busy at once, and serves again when free",
  async (_nats, nc) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => release = resolve);
    await using server = serve({ port: 0, token: TOKEN }, async () => {
      await gate;
      return "done";
    });
    await using bridge = serveNats(server, nc, { prefix: "tools", maxInFlight: 2 });
    await using client = connectNats(nc, { prefix: "tools", token: TOKEN, timeout: 2_000 });
    const calls = Array.from({ length: 5 }, () => client.request({}).catch((e) => e));
    await delay(100);
    release();
    const outcomes = await Promise.all(calls);
    const busy = outcomes.filter((o) => o instanceof RemoteError && o.code === "busy");
    assert.equal(busy.length, 3, outcomes.map(String).join());
    assert.equal(outcomes.filter((o) => o === "done").length, 2);
    assert.equal(await client.request({}), "done");
    assert.equal(bridge.stats().requests.running, 0);
  },
);
