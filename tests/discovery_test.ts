// Discovery files: serve({ name }) publishes, connect({ name }) and
// send({ name }) find it; stale, taken, symlinked and open files are handled.

import assert from "node:assert/strict";
import { connect, ConnectError, send, serve } from "../mod.ts";

const runtime = Deno.makeTempDirSync({ prefix: "socketbridge-xdg-" });
Deno.env.set("XDG_RUNTIME_DIR", runtime);
const dir = `${runtime}/socketbridge`;

Deno.test("a named server is found by name, token included, and its file goes with it", async () => {
  const server = serve({ port: 0, token: "s3cret", name: "build-agent" }, () => "found");
  const file = `${dir}/build-agent.json`;
  const record = JSON.parse(Deno.readTextFileSync(file));
  assert.equal(record.port, server.addr.port);
  assert.equal(record.hostname, "127.0.0.1");
  assert.equal(record.transport, "tcp");
  assert.equal(record.token, "s3cret");
  assert.equal(record.pid, Deno.pid);
  assert.equal(record.protocol, "1");
  assert.match(record.library, /^socketbridge-deno\//);
  assert.equal(Deno.statSync(file).mode! & 0o777, 0o600);
  assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
  await using client = await connect({ name: "build-agent" });
  assert.equal(await client.request({}), "found");
  assert.equal((await send({ name: "build-agent" }, {})).result, "found");
  await client.close();
  await server.shutdown();
  assert.throws(() => Deno.statSync(file), Deno.errors.NotFound);
  await assert.rejects(connect({ name: "build-agent" }), ConnectError);
});

Deno.test("two live servers cannot take one name; a file left by a dead process is replaced", async () => {
  await using first = serve({ port: 0, name: "taken" }, () => 1);
  assert.throws(() => serve({ port: 0, name: "taken" }, () => 2), Deno.errors.AddrInUse);
  // A dead process's file: its pid is gone.
  const dead = new Deno.Command(Deno.execPath(), { args: ["eval", ""] }).spawn();
  await dead.status;
  const stale = { ...JSON.parse(Deno.readTextFileSync(`${dir}/taken.json`)), name: "stale" };
  stale.pid = dead.pid;
  Deno.writeTextFileSync(`${dir}/stale.json`, JSON.stringify(stale), { mode: 0o600 });
  await assert.rejects(connect({ name: "stale" }), /stale \(process \d+ no longer serves it\)/);
  await using second = serve({ port: 0, name: "stale" }, () => "new");
  assert.equal((await send({ name: "stale" }, {})).result, "new");
  assert.equal(first.addr.port > 0 && second.addr.port > 0, true);
});

Deno.test("a symlinked file, an open file or directory, and a bad name are refused", async () => {
  await using server = serve({ port: 0, name: "real" }, () => 1);
  Deno.symlinkSync(`${dir}/real.json`, `${dir}/link.json`);
  await assert.rejects(connect({ name: "link" }), /symlink/);
  Deno.copyFileSync(`${dir}/real.json`, `${dir}/open.json`);
  Deno.chmodSync(`${dir}/open.json`, 0o644);
  await assert.rejects(connect({ name: "open" }), /mode 644 lets others in/);
  assert.throws(() => serve({ port: 0, name: "../escape" }, () => 1), TypeError);
  await assert.rejects(connect({ name: "real", port: 1 }), TypeError);
  Deno.chmodSync(dir, 0o755);
  try {
    assert.throws(() => serve({ port: 0, name: "other" }, () => 1), /mode 755/);
  } finally {
    Deno.chmodSync(dir, 0o700);
  }
  assert.ok(server.addr.port > 0);
});

Deno.test("a named Unix socket server is found by name", async () => {
  const path = "/tmp/socketbridge-test-c.sock";
  await using server = serve({ path, name: "unix-agent" }, () => "over unix");
  assert.equal((await send({ name: "unix-agent" }, {})).result, "over unix");
  assert.equal(server.addr.path, path);
});

Deno.test("serve() settles every option before it binds: a bad name beside a taken port is the name's TypeError", () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  assert.throws(
    () => serve({ port, name: "../escape" }, () => {}),
    (error) => error instanceof TypeError && /name/.test(error.message),
  );
  assert.throws(() => serve({ port, gracePeriod: -1 }, () => {}), TypeError);
  assert.throws(() => serve({ port }, () => {}), Deno.errors.AddrInUse);
});

Deno.test("connect() settles its options and its name before it dials: a contradiction or an unknown name opens nothing", async () => {
  await assert.rejects(
    connect({ name: "build-agent", port: 1 }),
    (error) => error instanceof TypeError && /name/.test(error.message),
  );
  await assert.rejects(connect({ name: "nobody-serves-this" }), /no server of that name/);
});

Deno.test("a planted NAME.lock symlink is refused before its target is created", () => {
  const target = `${runtime}/planted-target`;
  Deno.symlinkSync(target, `${dir}/planted.lock`);
  try {
    assert.throws(() => serve({ port: 0, name: "planted" }, () => 1), /symlink/);
    assert.throws(() => Deno.lstatSync(target), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(`${dir}/planted.lock`);
  }
});

Deno.test("shutdown removes only its own files: a server that took the name after a cleaner keeps its own", async () => {
  const first = serve({ port: 0, name: "cleaned" }, () => "first");
  // A cleaner removes the lock; a second server can then take the name.
  Deno.removeSync(`${dir}/cleaned.lock`);
  await using second = serve({ port: 0, name: "cleaned" }, () => "second");
  await first.shutdown();
  assert.ok(Deno.lstatSync(`${dir}/cleaned.json`).isFile);
  assert.ok(Deno.lstatSync(`${dir}/cleaned.lock`).isFile);
  assert.equal((await send({ name: "cleaned" }, {})).result, "second");
  await second.shutdown();
  assert.throws(() => Deno.lstatSync(`${dir}/cleaned.json`), Deno.errors.NotFound);
});
