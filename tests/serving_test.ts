// serve() as a service: the allowlist and binds, answer order, deadlines and
// thrown handlers, many connections and stalled peers, maxInFlight, reading
// SOCKETBRIDGE_* only with permission, shutdown. tests/server_test.ts has
// the wire: answers, the error table, check order, oversized frames.

import assert from "node:assert/strict";
import { serve } from "../server.ts";
import { delay, echoServer, portOf, RawPeer, seeded } from "./_helpers.ts";

type Payload = Record<string, unknown>;

Deno.test("serve() refuses a peer outside the allowlist before reading its payload", async () => {
  const { server, port, seen } = echoServer({
    allowlist: ["10.1.2.3", "192.168.0.0/16"],
  });
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  await peer.send({ type: "ping" });
  const response = await peer.receive();
  assert.deepEqual(response, {
    status: "error",
    message: "unauthorized host",
    code: "unauthorized_host",
    protocol_version: "1",
  });
  assert.ok(await peer.closedByServer());
  assert.equal(seen.length, 0);
});

Deno.test("serve() matches the allowlist across IPv4, IPv4-mapped IPv6 and CIDR spellings", async (t) => {
  for (
    const entry of [
      "127.0.0.1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "127.0.0.0/8",
      "0:0:0:0:0:ffff:7f00:0001",
    ]
  ) {
    await t.step(entry, async () => {
      const { server, port } = echoServer({ allowlist: [entry] });
      await using _ = server;
      await using peer = await RawPeer.connect(port);
      assert.equal((await peer.call({ ok: 1 }))?.status, "ok");
    });
  }
  await t.step("::1 over IPv6", async () => {
    const { server, port } = echoServer({
      hostname: "::1",
      allowlist: ["0:0::1"],
    });
    await using _ = server;
    await using peer = await RawPeer.connect(port, "::1");
    assert.equal((await peer.call({ ok: 1 }))?.status, "ok");
  });
  await t.step("a bad entry is a TypeError", () => {
    assert.throws(
      () => serve({ port: 0, allowlist: ["localhost"] }, () => 1),
      TypeError,
    );
    assert.throws(
      () => serve({ port: 0, allowlist: ["10.0.0.0/33"] }, () => 1),
      TypeError,
    );
  });
});

Deno.test("serve() refuses a non-loopback bind without a token unless told to allow it", async () => {
  assert.throws(
    () => serve({ hostname: "0.0.0.0", port: 0, token: "" }, () => 1),
    (error: Error) => error instanceof TypeError && /without a token/.test(error.message),
  );
  await using open = serve(
    { hostname: "0.0.0.0", port: 0, allowRemoteWithoutToken: true },
    () => 1,
  );
  await using peer = await RawPeer.connect(portOf(open));
  assert.equal((await peer.call({}))?.result, 1);
  await using guarded = serve(
    { hostname: "0.0.0.0", port: 0, token: "t" },
    () => 2,
  );
  await using peer2 = await RawPeer.connect(portOf(guarded));
  assert.equal((await peer2.call({ auth_token: "t" }))?.result, 2);
});

Deno.test("serve() answers every request of a peer that half-closed its side", async () => {
  const { server, port } = echoServer();
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  for (let i = 0; i < 3; i++) await peer.send({ i, sleep: 20 });
  await peer.send({ i: 3, request_id: "last", sleep: 5 });
  await peer.conn.closeWrite();
  const answers = [];
  for (
    let r = await peer.receive();
    r !== undefined;
    r = await peer.receive()
  ) answers.push(r);
  assert.deepEqual(
    answers.map((a) => (a.result as Payload).i).sort(),
    [0, 1, 2, 3],
  );
});

Deno.test("serve() answers requests without request_id in arrival order, even with random handler delays", async () => {
  const random = seeded(3);
  const { server, port } = echoServer();
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  for (let i = 0; i < 20; i++) {
    await peer.send(
      i % 5 === 4 ? "not an object" : { i, sleep: Math.floor(random() * 10) },
    );
  }
  for (let i = 0; i < 20; i++) {
    const response = await peer.receive();
    if (i % 5 === 4) assert.equal(response?.code, "invalid_message");
    else assert.equal((response?.result as Payload).i, i);
  }
});

Deno.test("serve() answers requests with request_id as they finish, and a hung one holds no other", async () => {
  const { server, port } = echoServer();
  await using _ = server;
  await using peer = await RawPeer.connect(port);
  await peer.send({ request_id: "hung", hang: true, timeout_ms: 300 });
  await peer.send({ request_id: "slow", sleep: 50 });
  await peer.send({ request_id: "fast" });
  assert.equal((await peer.receive())?.request_id, "fast");
  assert.equal((await peer.receive())?.request_id, "slow");
});

Deno.test("serve() aborts a handler at timeout_ms and answers timeout; the connection stays usable", async () => {
  let aborted: unknown;
  await using server = serve(
    { port: 0 },
    (_payload, info) =>
      new Promise((resolve) => {
        info.signal.addEventListener("abort", () => {
          aborted = info.signal.reason;
          resolve("too late");
        });
      }),
  );
  await using peer = await RawPeer.connect(portOf(server));
  const response = await peer.call({ request_id: 9, timeout_ms: 30 });
  assert.deepEqual(response, {
    status: "error",
    message: "timeout",
    code: "timeout",
    protocol_version: "1",
    request_id: 9,
  });
  assert.equal((aborted as Error).name, "TimeoutError");
  // The late "too late" is never sent: the next answer is the next request's.
  assert.equal(
    (await peer.call({ request_id: 10, timeout_ms: 30 }))?.code,
    "timeout",
  );
});

Deno.test("serve() keeps a handler's throw from breaking the connection", async () => {
  await using server = serve({ port: 0 }, (payload: Payload) => {
    if (payload.kind === "string") throw "plain string";
    if (payload.kind === "cycle") {
      const cycle: Payload = {};
      cycle.self = cycle;
      return cycle;
    }
    return "fine";
  });
  await using peer = await RawPeer.connect(portOf(server));
  assert.equal(
    (await peer.call({ kind: "string" }))?.message,
    "handler error: plain string",
  );
  assert.match(
    (await peer.call({ kind: "cycle" }))!.message,
    /^handler error: result is not JSON-serializable/,
  );
  assert.equal((await peer.call({}))?.result, "fine");
});

Deno.test("serve() serves 100 concurrent connections, each its own answers", async () => {
  const { server, port } = echoServer();
  await using _ = server;
  const peers = await Promise.all(
    Array.from({ length: 100 }, () => RawPeer.connect(port)),
  );
  try {
    const answers = await Promise.all(peers.map(async (peer, p) => {
      const results = [];
      for (let i = 0; i < 5; i++) {
        results.push((await peer.call({ p, i, request_id: i }))?.result);
      }
      return results;
    }));
    answers.forEach((results, p) => {
      assert.deepEqual(results, [0, 1, 2, 3, 4].map((i) => ({ p, i })));
    });
    assert.equal(server.stats().connections.open, 100);
  } finally {
    peers.forEach((peer) => peer.close());
  }
});

Deno.test("serve() keeps serving others while one peer stalls mid-frame and another vanishes mid-frame", async () => {
  const { server, port } = echoServer();
  await using _ = server;
  await using staller = await RawPeer.connect(port);
  await staller.write(new Uint8Array([0, 0, 0, 50, 0x7b]));
  const vanisher = await RawPeer.connect(port);
  await vanisher.write(new Uint8Array([0, 0, 1]));
  vanisher.close();
  await using garbage = await RawPeer.connect(port);
  await garbage.write(new Uint8Array([0, 0, 0, 3, 1, 2, 3]));
  assert.equal((await garbage.receive())?.code, "invalid_json");
  const others = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
    await using peer = await RawPeer.connect(port);
    return (await peer.call({ i }))?.result;
  }));
  assert.deepEqual(others, Array.from({ length: 10 }, (_, i) => ({ i })));
});

Deno.test("serve() stops reading a connection at maxInFlight and resumes as handlers finish", async () => {
  let running = 0;
  let peak = 0;
  await using server = serve({ port: 0, maxInFlight: 4 }, async () => {
    running++;
    peak = Math.max(peak, running);
    await delay(5);
    running--;
    return running;
  });
  await using peer = await RawPeer.connect(portOf(server));
  for (let i = 0; i < 40; i++) await peer.send({ request_id: i });
  const ids = new Set();
  for (let i = 0; i < 40; i++) ids.add((await peer.receive())?.request_id);
  assert.equal(ids.size, 40);
  assert.ok(peak <= 4 + 1, `peak ${peak}`);
});

Deno.test("serve() reads SOCKETBRIDGE_* only with env permission, and never prompts without it", async (t) => {
  const script = `
    import { serve } from "${new URL("../mod.ts", import.meta.url).href}";
    const server = serve({ port: 0 }, (payload) => payload);
    console.log(server.addr.port);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  `;
  const env = { SOCKETBRIDGE_TOKEN: "from-env", SOCKETBRIDGE_MAX_BYTES: "100" };
  for (
    const [name, flags, expected] of [
      ["with --allow-env the token and cap apply", ["--allow-env"], [
        "unauthorized",
        "payload_too_large",
      ]],
      ["without it neither applies", [], ["ok", "ok"]],
    ] as const
  ) {
    await t.step(name, async () => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-net=127.0.0.1", "--no-prompt", ...flags, "-"],
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(script));
      await writer.close();
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      const port = Number((await reader.read()).value);
      try {
        await using peer = await RawPeer.connect(port);
        const small = await peer.call({ x: 1 });
        assert.equal(small?.code ?? small?.status, expected[0]);
        await using peer2 = await RawPeer.connect(port);
        const big = await peer2.call({
          auth_token: "from-env",
          x: "y".repeat(200),
        });
        assert.equal(big?.code ?? big?.status, expected[1]);
      } finally {
        child.kill();
        await reader.cancel();
        await child.stderr.cancel();
        await child.status;
      }
    });
  }
});

Deno.test("serve() shuts down on its signal and resolves finished", async () => {
  const controller = new AbortController();
  const server = serve({ port: 0, signal: controller.signal }, () => 1);
  const peer = await RawPeer.connect(portOf(server));
  assert.equal((await peer.call({}))?.result, 1);
  controller.abort();
  await server.finished;
  assert.ok(await peer.closedByServer());
  peer.close();
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: portOf(server) }),
  );
});

Deno.test("serve() fails fast with AddrInUse when the port is taken", () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  assert.throws(
    () => serve({ port: listener.addr.port }, () => 1),
    Deno.errors.AddrInUse,
  );
});
