// Where a server listens and who knocks: Unix sockets (owner-only, stale
// files replaced, live ones refused), TLS, and HTTP or TLS spoken to a
// plain port.

import assert from "node:assert/strict";
import { connect, send } from "../client.ts";
import { serve } from "../server.ts";
import { portOf, RawPeer } from "./_helpers.ts";
import { DENO, exists, ROOT, spawnDeno } from "./_processes.ts";

const cert = Deno.readTextFileSync(`${ROOT}tests/fixtures/localhost.crt`);
const key = Deno.readTextFileSync(`${ROOT}tests/fixtures/localhost.key`);

type Payload = Record<string, unknown>;

/**
 * A fresh Unix socket path. Fixed names, because a net permission names its
 * socket exactly: the test task grants `--allow-net=unix:` for a, b and c; d is
 * used by a child process with its own grants.
 */
function socketPath(name: "a" | "b" | "c" | "d"): string {
  const path = `/tmp/socketbridge-test-${name}.sock`;
  try {
    Deno.removeSync(path);
  } catch {
    // Nothing left from an earlier run.
  }
  return path;
}

Deno.test("serve({ path }) makes an owner-only socket, serves both clients, removes the file on shutdown", async () => {
  const path = socketPath("a");
  const server = serve({ path }, (payload: Payload) => payload);
  assert.equal(Deno.lstatSync(path).mode! & 0o777, 0o600);
  assert.equal(server.addr.transport, "unix");
  const response = await send({ path }, { via: "send" });
  assert.deepEqual(response.result, { via: "send" });
  {
    await using client = await connect({ path });
    assert.deepEqual(await client.request({ via: "connect" }), {
      via: "connect",
    });
  }
  await server.shutdown();
  assert.equal(exists(path), false);
});

Deno.test("serve({ path }) replaces a stale socket file left by a killed server", async () => {
  const path = socketPath("b");
  const { child } = await spawnDeno([
    "eval",
    `Deno.listen({ transport: "unix", path: ${
      JSON.stringify(path)
    } }); console.log("up"); setTimeout(() => {}, 60_000);`,
  ]);
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel().catch(() => {});
  assert.ok(
    Deno.lstatSync(path).isSocket,
    "the dead server left its socket file",
  );
  const { promise: listening, resolve } = Promise.withResolvers<Deno.Addr>();
  await using server = serve({ path, onListen: resolve }, () => "fresh");
  assert.equal((await listening).transport, "unix");
  assert.equal((await send({ path }, {})).result, "fresh");
  assert.equal(Deno.lstatSync(path).mode! & 0o777, 0o600);
  void server;
});

Deno.test("serve({ path }) refuses a path where a live server listens", async () => {
  const path = socketPath("c");
  await using live = serve({ path }, () => "first");
  // Synchronously, as TCP's address-in-use: serve() itself throws.
  assert.throws(
    () => serve({ path }, () => "second"),
    (error: Error) => error instanceof Deno.errors.AddrInUse && error.message.includes(path),
  );
  assert.equal((await send({ path }, {})).result, "first");
  void live;
});

Deno.test("TLS: a trusting client round-trips, an untrusting one is refused", async () => {
  await using server = serve(
    { port: 0, cert, key, token: "t" },
    (payload: Payload) => payload,
  );
  const port = portOf(server);
  const response = await send(
    { hostname: "localhost", port, token: "t", tls: { caCerts: [cert] } },
    { secure: true },
  );
  assert.deepEqual(response.result, { secure: true });
  await using client = await connect({
    hostname: "localhost",
    port,
    token: "t",
    tls: { caCerts: [cert] },
  });
  assert.deepEqual(await client.request({ n: 1 }), { n: 1 });
  // Large frames both ways: bodies and answers in the pool's large (resizable) buffers.
  const big = "tls".repeat(200_000);
  const echoed = await client.request({ big }) as { big: string };
  assert.equal(echoed.big, big);
  await assert.rejects(
    send(
      { hostname: "localhost", port, token: "t", tls: true, timeout: 2000 },
      {},
    ),
  );
});

Deno.test("TLS: plain TCP to the TLS port fails cleanly on both sides", async () => {
  const errors: unknown[] = [];
  await using server = serve({
    port: 0,
    cert,
    key,
    onError: (e) => errors.push(e),
  }, () => "ok");
  using plain = await Deno.connect({
    hostname: "127.0.0.1",
    port: portOf(server),
  });
  await plain.write(new TextEncoder().encode("\0\0\0\x02{}"));
  const received: number[] = [];
  const buffer = new Uint8Array(1024);
  for (
    let n = await plain.read(buffer);
    n !== null;
    n = await plain.read(buffer).catch(() => null)
  ) {
    received.push(...buffer.subarray(0, n));
  }
  // The server ends the handshake with at most a TLS alert record (0x15), never a frame.
  assert.ok(
    received.length === 0 || received[0] === 0x15,
    `got ${received.slice(0, 8)}`,
  );
  const tls = await send(
    { hostname: "localhost", port: portOf(server), tls: { caCerts: [cert] } },
    {},
  );
  assert.equal(tls.result, "ok", "the server goes on serving TLS peers");
});

Deno.test("a TLS ClientHello sent to a plain port is recognised and closed, not read as a frame", async () => {
  const errors: string[] = [];
  await using server = serve(
    { port: 0, onError: (e) => errors.push((e as Error).message) },
    () => "ok",
  );
  await using peer = await RawPeer.connect(portOf(server));
  // The first bytes of a TLS 1.2+ ClientHello record.
  await peer.write(
    new Uint8Array([
      0x16,
      0x03,
      0x01,
      0x02,
      0x00,
      0x01,
      0x00,
      0x01,
      0xfc,
      0x03,
      0x03,
    ]),
  );
  assert.equal(await peer.receive(), undefined);
  assert.ok(
    errors.some((m) => /Peer speaks TLS, not SocketBridge/.test(m)),
    errors.join(),
  );
  assert.equal((await send({ port: portOf(server) }, {})).result, "ok");
});

Deno.test("an HTTP request (fetch) to the port gets a 400 answer and a close", async () => {
  await using server = serve({ port: 0 }, () => "ok");
  const response = await fetch(`http://127.0.0.1:${portOf(server)}/`, {
    method: "POST",
    body: "{}",
  });
  assert.equal(response.status, 400);
  assert.match(await response.text(), /SocketBridge/);
  assert.equal((await send({ port: portOf(server) }, {})).result, "ok");
  assert.equal(
    server.stats().frames.in,
    1,
    "the HTTP bytes never counted as a frame",
  );
});

Deno.test("the example server works on a Unix socket with only that path granted", async () => {
  const path = socketPath("d");
  // The lock file beside the socket marks a live server.
  const files = `${path},${path}.lock`;
  const grants = [
    `--allow-read=${files}`,
    `--allow-write=${files}`,
    `--allow-net=unix:${path}`,
  ];
  const { child, firstLine } = await spawnDeno(
    [
      "run",
      ...grants,
      "--no-prompt",
      "examples/server.ts",
      "--path",
      path,
      "--no-token",
    ],
  );
  try {
    assert.equal(firstLine, `listening on ${path}`);
    const client = await new Deno.Command(DENO, {
      args: [
        "run",
        ...grants,
        "--no-prompt",
        "examples/client.ts",
        "--path",
        path,
        "--text",
        "unix",
      ],
      cwd: ROOT,
    }).output();
    assert.ok(client.success, new TextDecoder().decode(client.stderr));
    assert.equal(
      JSON.parse(new TextDecoder().decode(client.stdout)).result.text,
      "unix",
    );
  } finally {
    child.kill("SIGINT");
    assert.equal((await child.status).code, 0);
  }
  assert.equal(exists(path), false, "the socket file is removed on shutdown");
  assert.equal(exists(`${path}.lock`), false, "and so is its lock");
});
