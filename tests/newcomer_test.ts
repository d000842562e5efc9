// What a new user meets first: the examples' command lines, the API's shape
// (serve(handler), typed addresses, ref/unref), hooks and events.

import assert from "node:assert/strict";
import { connect, send } from "../client.ts";
import { ConnectError } from "../errors.ts";
import { type RequestRecord, serve } from "../server.ts";
import { delay } from "./_helpers.ts";
import { DENO, freePort, ROOT, runDeno, startExampleServer } from "./_processes.ts";

function run(
  script: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runDeno(["run", "--allow-net=127.0.0.1", "--no-prompt", script, ...args], { stdin });
}

Deno.test("the examples print usage for --help and one line for bad usage, never a stack", async (t) => {
  for (const script of ["examples/server.ts", "examples/client.ts"]) {
    await t.step(`${script} --help`, async () => {
      const help = await run(script, ["--help"]);
      assert.equal(help.code, 0);
      assert.match(
        help.stdout,
        /^Usage: deno run --allow-net examples\/\w+\.ts/,
      );
      assert.match(help.stdout, /--port PORT/);
    });
    for (
      const [args, pattern] of [
        [["--prot", "1"], /^error: Unknown option '--prot'/],
        [["--port"], /^error: Option '--port <value>' argument missing/],
        [["--port", "abc"], /^error: --port "abc": expected a whole number/],
        [["stray"], /^error: Unexpected argument 'stray'/],
        [
          ["--path", "/tmp/x.sock", "--port", "1"],
          /^error: --path \(a Unix socket\) goes without/,
        ],
      ] as const
    ) {
      await t.step(`${script} ${args.join(" ")}`, async () => {
        const bad = await run(script, [...args]);
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, pattern);
        assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
        assert.doesNotMatch(bad.stderr, /Uncaught|\n\s+at /);
      });
    }
  }
});

Deno.test("examples/client.ts sends a JSON payload from --json or stdin, with --timeout", async () => {
  await using server = await startExampleServer();
  const port = String(server.port);
  const fromFlag = await run("examples/client.ts", [
    "--port",
    port,
    "--json",
    '{"type":"echo","a":[1,2]}',
  ]);
  assert.equal(fromFlag.code, 0, fromFlag.stderr);
  assert.deepEqual(JSON.parse(fromFlag.stdout).result, { type: "echo", a: [1, 2] });
  const fromStdin = await run(
    "examples/client.ts",
    ["--port", port, "--json", "-", "--timeout", "5000"],
    '{"type":"echo","from":"stdin"}',
  );
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.deepEqual(JSON.parse(fromStdin.stdout).result, { type: "echo", from: "stdin" });
  const notJson = await run("examples/client.ts", [
    "--port",
    port,
    "--json",
    "{nope",
  ]);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /^error: --json: not JSON/);
  const refused = await run("examples/client.ts", [
    "--port",
    String(freePort()),
  ]);
  assert.equal(refused.code, 3);
  assert.match(
    refused.stderr,
    /^error: Cannot connect to 127\.0\.0\.1:\d+: nothing listens there/,
  );
});

Deno.test("serve(handler) listens on 127.0.0.1:7002 with defaults, as Deno.serve(handler) does", async () => {
  let server;
  try {
    server = serve(() => "default");
  } catch (error) {
    // Port 7002 is taken on this machine: the message must say so, with the address.
    assert.match(
      String(error),
      /127\.0\.0\.1:7002: the address is already in use/,
    );
    return;
  }
  try {
    assert.equal(server.addr.hostname, "127.0.0.1");
    assert.equal(server.addr.port, 7002);
    assert.equal((await send({}, {})).result, "default");
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() refuses a handler in the wrong place at once, with a TypeError", () => {
  assert.throws(
    // @ts-expect-error: a handler where the options go, and no handler
    () => serve({ port: 0 }),
    /Cannot serve: the handler must be a function, got undefined/,
  );
  assert.throws(
    // @ts-expect-error: two handlers
    () => serve(() => 1, () => 2),
    /Cannot serve: pass serve\(handler\) or serve\(options, handler\)/,
  );
  assert.throws(
    // @ts-expect-error: path with port
    () => serve({ path: "/tmp/socketbridge-test-a.sock", port: 1 }, () => 1),
    /path \(a Unix socket\) goes without port/,
  );
});

Deno.test("unref() lets a process exit while its server listens; ref() undoes it", async () => {
  const script = `
    import { serve } from "${ROOT}mod.ts";
    const server = serve({ port: 0 }, () => 1);
    server.unref();
    console.log("unref'd");
  `;
  const exited = await new Deno.Command(DENO, {
    args: ["eval", script],
    stdout: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  assert.equal(new TextDecoder().decode(exited.stdout), "unref'd\n");
  assert.ok(exited.success);
  await using server = serve({ port: 0 }, () => 1);
  server.unref();
  server.ref();
  assert.equal((await send({ port: server.addr.port }, {})).result, 1);
});

Deno.test("onRequest sees one record per request: type, id, code, duration, sizes; never the token", async () => {
  const records: RequestRecord[] = [];
  await using server = serve(
    {
      port: 0,
      token: "secret-token",
      onRequest: (record) => records.push(record),
    },
    (payload: { type: string }) => {
      if (payload.type === "fail") throw new Error("nope");
      return payload.type;
    },
  );
  await using client = await connect({
    port: server.addr.port,
    token: "secret-token",
  });
  assert.equal(await client.request({ type: "hello" }), "hello");
  await client.request({ type: "fail" }).catch(() => {});
  await send({ port: server.addr.port, token: "wrong" }, { type: "sneak" });
  assert.equal(records.length, 4);
  assert.deepEqual(records.map((r) => [r.type, r.code]), [
    ["$hello", "ok"],
    ["hello", "ok"],
    ["fail", "handler_error"],
    ["sneak", "unauthorized"],
  ]);
  assert.equal(records[1].requestId, 2);
  assert.ok(
    records.every((r) => r.duration >= 0 && r.bytesIn > 0 && r.bytesOut > 0),
  );
  assert.ok(!JSON.stringify(records).includes("secret-token"));
});

Deno.test("connect() reports connection events, and retryFirstConnect waits for a server that starts later", async () => {
  const port = freePort();
  const events: string[] = [];
  const connecting = connect({
    port,
    reconnect: { initialDelay: 20, maxDelay: 50, retryFirstConnect: true },
  });
  await delay(150);
  const server = serve({ port, gracePeriod: 0 }, () => "up");
  const client = await connecting;
  for (const type of ["open", "close", "reconnecting"]) {
    client.addEventListener(type, () => events.push(type));
  }
  assert.equal(await client.request({}), "up");
  await server.shutdown();
  const again = serve({ port }, () => "again");
  for (let i = 0; i < 100 && !client.connected; i++) await delay(20);
  assert.equal(await client.request({}), "again");
  assert.deepEqual(events.slice(0, 2), ["close", "reconnecting"]);
  assert.equal(events.at(-1), "open");
  await client.close();
  await again.shutdown();
  await assert.rejects(
    connect({
      port: freePort(),
      reconnect: { maxAttempts: 2, initialDelay: 5, retryFirstConnect: true },
    }),
    ConnectError,
  );
});
