// What a stranger trips over in a second hour with the library: signals
// that keep a process alive, the CLI's errors and hints, a client pointed at
// something else, and permissions asked for one at a time.

import assert from "node:assert/strict";
import { connect, ProtocolError } from "../mod.ts";
import { ROOT, runDeno, spawnDeno } from "./_processes.ts";

Deno.test("a program whose server, client, request and subscription take long signals exits once done", async () => {
  const program = `
    import { connect, serve } from "${ROOT}mod.ts";
    const long = () => AbortSignal.timeout(60_000);
    const server = serve({ port: 0, signal: long() }, () => "ok");
    const client = await connect({ port: server.addr.port, signal: long() });
    await client.request({}, { signal: long() });
    const events = await client.subscribe(["jobs.>"], { signal: long() });
    events.unsubscribe();
    const stream = client.stream({}, { signal: long() });
    await stream.result;
    await client.close();
    await server.shutdown();
    console.log("done");
  `;
  const started = performance.now();
  const run = await runDeno(["eval", program]);
  const took = performance.now() - started;
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), "done");
  // A listener left on any of those signals would hold the process for 60 s.
  assert.ok(took < 30_000, `the process lived ${Math.round(took)} ms`);
});

const CLI = ["run", "--allow-net=127.0.0.1", "--allow-env", "--allow-sys=uid", "--allow-read"];

Deno.test("serve --exec and the example server take a free port with --name; a taken --port is one line, exit 2", async () => {
  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String((held.addr as Deno.NetAddr).port);
  const runtime = await Deno.makeTempDir({ prefix: "socketbridge-hour-" });
  const env = { XDG_RUNTIME_DIR: runtime, NO_COLOR: "1" };
  const taken = await runDeno(
    [...CLI, "--allow-write", "--allow-run", "cli.ts", "serve", "--port", port, "--exec", "cat"],
    { env },
  );
  assert.equal(taken.code, 2, taken.stderr);
  assert.equal(
    taken.stderr.trim(),
    `error: Cannot serve on 127.0.0.1:${port}: the address is already in use`,
  );
  const example = await runDeno([
    "run",
    "--allow-net",
    "examples/server.ts",
    "--port",
    port,
    "--no-token",
  ]);
  assert.equal(example.code, 2, example.stderr);
  assert.equal(
    example.stderr.trim(),
    `error: Cannot serve on 127.0.0.1:${port}: the address is already in use`,
  );
  // Found by name, a server needs no fixed port: the CLI and the example take a free one.
  for (
    const args of [
      [
        ...CLI,
        "--allow-write",
        "--allow-run",
        "cli.ts",
        "serve",
        "--name",
        "upper",
        "--exec",
        "cat",
      ],
      [...CLI, "--allow-write", "examples/server.ts", "--name", "tour", "--no-token"],
    ]
  ) {
    const { child, firstLine, rest } = await spawnDeno(args, env);
    const listening = firstLine.match(/^listening on 127\.0\.0\.1:(\d+)$/);
    assert.ok(listening !== null, firstLine);
    assert.notEqual(listening[1], "7002");
    child.kill("SIGINT");
    await rest;
    await child.status;
  }
  await Deno.remove(runtime, { recursive: true });
});

Deno.test("connecting by name without permissions is one error naming every flag it needs", async () => {
  const program = `
    import { connect } from "${ROOT}mod.ts";
    try {
      await connect({ name: "build-agent" });
    } catch (error) {
      console.log(error.name + ": " + error.message);
    }
  `;
  const run = await runDeno(["run", "--no-prompt", "--allow-read=" + ROOT, "-"], {
    stdin: program,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout.trim(),
    'ConnectError: Cannot connect to "build-agent": Finding servers by name needs the discovery ' +
      "directory ($XDG_RUNTIME_DIR/socketbridge): run with --allow-env=XDG_RUNTIME_DIR,TMPDIR " +
      "--allow-read=$XDG_RUNTIME_DIR/socketbridge",
  );
  const withEnv = await runDeno(
    ["run", "--no-prompt", "--allow-read=" + ROOT, "--allow-env", "-"],
    { stdin: program, env: { XDG_RUNTIME_DIR: "" } },
  );
  assert.match(withEnv.stdout, /run with --allow-sys=uid --allow-read=\/tmp\/socketbridge-UID$/m);
});

Deno.test("a client pointed at a server of another protocol is told what it sent, escaped", async () => {
  await using nats = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (nats.addr as Deno.NetAddr).port;
  (async () => {
    for await (const conn of nats) {
      await conn.write(
        new TextEncoder().encode('INFO {"server_id":"NDX7","version":"2.10.0"}\r\n'),
      );
      conn.close();
    }
  })();
  const error = await connect({ port, twoWay: false }).then((client) =>
    client.request({}).finally(() => client.close())
  ).catch((e) => e);
  assert.ok(error instanceof ProtocolError, String(error));
  assert.equal(
    error.message,
    `Peer at 127.0.0.1:${port} is not a SocketBridge server: it sent ` +
      '`INFO {\\"server_id\\":\\"NDX7\\",\\"version\\":\\"2.10...`',
  );
});

Deno.test("the example server serving without a token says so, once, next to its address", async () => {
  const { child, firstLine, rest } = await spawnDeno([
    "run",
    "--allow-net",
    "--allow-env=SOCKETBRIDGE_TOKEN",
    "examples/server.ts",
    "--port",
    "0",
  ], { NO_COLOR: "1", SOCKETBRIDGE_TOKEN: "" });
  assert.match(firstLine, /^listening on 127\.0\.0\.1:\d+$/);
  child.kill("SIGINT");
  const tail = await rest;
  await child.status;
  assert.equal(
    tail.split("\n")[0],
    "no token: any process of this machine that reaches the address may call it " +
      "(set SOCKETBRIDGE_TOKEN or --token to require one)",
  );
});

Deno.test("the README's flag lists of the examples are exactly their --help's", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  for (const script of ["examples/server.ts", "examples/client.ts"]) {
    const line = readme.match(new RegExp(`^- \`${script}\` flags: ([^]*?)\\.\\n`, "m"));
    assert.ok(line !== null, `no flag list for ${script} in the README`);
    const listed = [...line[1].matchAll(/`(--[a-z-]+)`/g)].map((match) => match[1]);
    const help = await runDeno(["run", script, "--help"]);
    const offered = [...help.stdout.matchAll(/^ {2}(?:-h, )?(--[a-z-]+)/gm)].map((match) =>
      match[1]
    );
    assert.ok(offered.length > 5, help.stdout);
    assert.deepEqual(listed, offered, script);
  }
});

Deno.test("the README is a README: short, every docs page it links to exists, no history", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  assert.ok(readme.split("\n").length <= 350, "the README is over 350 lines");
  for (const [, page] of readme.matchAll(/\]\((docs\/[^)#]+)/g)) {
    assert.ok((await Deno.stat(`${ROOT}${page}`)).isFile, page);
  }
  for (
    const page of [
      "README.md",
      ...[...readme.matchAll(/\]\((docs\/[^)#]+\.md)/g)].map((m) => m[1]),
    ]
  ) {
    const text = await Deno.readTextFile(`${ROOT}${page}`);
    assert.doesNotMatch(
      text,
      /this round|an earlier (stop|run)|fair floor|figures published before/i,
      page,
    );
  }
});
