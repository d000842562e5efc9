// End to end: the examples as a user runs them, a black-box client written
// from PROTOCOL.md alone, and the original Python framing in both directions.

import assert from "node:assert/strict";
import { connect, send } from "../client.ts";
import { RawPeer } from "./_helpers.ts";
import { DENO, hasPython, ROOT, startExampleServer, startOriginalServer } from "./_processes.ts";

Deno.test("deno task demo runs end to end with an empty cache and no registry", async () => {
  // A user's first command must never fetch a benchmark's npm packages.
  const output = await new Deno.Command(DENO, {
    args: ["task", "demo"],
    cwd: ROOT,
    env: {
      DENO_DIR: await Deno.makeTempDir(),
      NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
      NO_COLOR: "1",
    },
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.ok(output.success, text + new TextDecoder().decode(output.stderr));
  assert.match(text, /server: listening on 127\.0\.0\.1:\d+/);
  assert.match(
    text,
    /client: \{"status":"ok","message":"received".*"hello from the demo"/,
  );
  assert.match(text, /stream: \{"chunk":1\}\nstream: \{"chunk":2\}\nstream: \{"chunk":3\}\n/);
  assert.match(text, /stream: \{"status":"ok".*"result":"done"\}/);
  assert.match(text, /subscriber: \{"event":"demo.greeting","data":"hi, subscribers"\}/);
  assert.match(text, /server: stopped/);
  assert.match(text, /server exited with code 0/);
});

Deno.test("examples/server.ts honours its flags, answers a black-box client by every rule, stops on SIGINT", async (t) => {
  const server = await startExampleServer([
    "--token",
    "tok",
    "--max-bytes",
    "256",
    "--allow",
    "127.0.0.1,::1",
  ]);
  assert.equal(server.firstLine, `listening on 127.0.0.1:${server.port}`);
  await using peer = await RawPeer.connect(server.port);
  const rules: [string, unknown, Record<string, unknown>][] = [
    ["ok echoes the payload", {
      type: "echo",
      text: "hi",
      auth_token: "tok",
      protocol_version: "1",
    }, {
      status: "ok",
      message: "received",
      result: { type: "echo", text: "hi" },
    }],
    ["version is optional", { type: "echo", auth_token: "tok", request_id: 7 }, {
      status: "ok",
      request_id: 7,
    }],
    ["too large", new Uint8Array(300), {
      message: "payload too large",
      code: "payload_too_large",
    }],
    ["invalid json", new TextEncoder().encode("{"), {
      message: "invalid json",
      code: "invalid_json",
    }],
    ["not an object", [1], {
      message: "invalid message",
      code: "invalid_message",
    }],
    ["unauthorized", { auth_token: "no", request_id: "r" }, {
      message: "unauthorized",
      code: "unauthorized",
      request_id: "r",
    }],
    ["protocol mismatch", { auth_token: "tok", protocol_version: "0" }, {
      message: "protocol mismatch",
      code: "protocol_mismatch",
    }],
    ["any other type is answered as the original does", { type: "teleport", auth_token: "tok" }, {
      status: "ok",
      message: "received",
      result: { type: "teleport" },
    }],
    ["so is a payload without a type", { hello: "x", auth_token: "tok", request_id: 8 }, {
      status: "ok",
      request_id: 8,
      result: { hello: "x" },
    }],
    ["a $ type it does not know is still unknown_type", { type: "$teleport", auth_token: "tok" }, {
      code: "unknown_type",
    }],
    ["tick counts", { type: "tick", idempotency_key: "k1", auth_token: "tok" }, {
      status: "ok",
      result: 1,
    }],
    ["a tick sent again with its key is counted once", {
      type: "tick",
      idempotency_key: "k1",
      auth_token: "tok",
    }, { status: "ok", result: 1, replayed: true }],
    ["ask without calls says why", { type: "ask", question: "ok?", auth_token: "tok" }, {
      code: "not_answered",
    }],
    ["count streams", { type: "count", n: 3, auth_token: "tok" }, {
      status: "ok",
      result: [1, 2, 3],
    }],
    ["count refuses too many", { type: "count", n: 10_001, auth_token: "tok" }, {
      code: "invalid_payload",
    }],
    ["sleep refuses a non-number", { type: "sleep", ms: "soon", auth_token: "tok" }, {
      code: "invalid_payload",
    }],
  ];
  for (const [name, request, expected] of rules) {
    await t.step(name, async () => {
      const response = await peer.call(request);
      assert.equal(response?.protocol_version, "1");
      for (const [k, v] of Object.entries(expected)) {
        assert.deepEqual(response?.[k as "status"], v, k);
      }
    });
  }
  await t.step(
    "half-closed peer still gets its answers, in order",
    async () => {
      await using second = await RawPeer.connect(server.port);
      for (let i = 0; i < 5; i++) await second.send({ type: "echo", auth_token: "tok", i });
      await second.conn.closeWrite();
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(
          (await second.receive())?.result,
          { type: "echo", i },
        );
      }
      assert.ok(await second.closedByServer());
    },
  );
  const { status, tail } = await server.stop();
  assert.equal(status.code, 0);
  assert.match(tail, /shutting down\nstopped/);
});

Deno.test("examples/server.ts --allow refuses a peer outside the list before reading it, and ids order answers", async () => {
  await using server = await startExampleServer([
    "--allow",
    "10.9.9.9,fd00::/8",
  ]);
  await using refused = await RawPeer.connect(server.port);
  await refused.send({ type: "ping", request_id: 1 });
  assert.deepEqual(await refused.receive(), {
    status: "error",
    message: "unauthorized host",
    code: "unauthorized_host",
    protocol_version: "1",
  });
  assert.ok(await refused.closedByServer());
  await using open = await startExampleServer(["--max-bytes", "64"]);
  await using peer = await RawPeer.connect(open.port);
  // Mixed ids and none: every answer comes back once, with its id echoed.
  await peer.send({ type: "echo", n: 1 });
  await peer.send({ type: "echo", n: 2, request_id: "b" });
  await peer.send(new Uint8Array(65));
  await peer.send({ type: "echo", n: 3 });
  const answers = [
    await peer.receive(),
    await peer.receive(),
    await peer.receive(),
    await peer.receive(),
  ];
  const idless = answers.filter((a) => a?.request_id === undefined);
  assert.deepEqual(
    idless.map((a) => a?.code ?? (a?.result as { n: number }).n),
    [
      1,
      "payload_too_large",
      3,
    ],
  );
  assert.deepEqual(answers.find((a) => a?.request_id === "b")?.result, {
    type: "echo",
    n: 2,
  });
});

Deno.test("examples/server.ts refuses a non-loopback host without a token, clearly", async () => {
  const output = await new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-net",
      "--no-prompt",
      "examples/server.ts",
      "--host",
      "0.0.0.0",
      "--port",
      "0",
      "--no-token",
    ],
    cwd: ROOT,
  }).output();
  assert.equal(output.code, 2);
  assert.match(
    new TextDecoder().decode(output.stderr),
    /Cannot serve on 0\.0\.0\.0 without a token/,
  );
});

Deno.test({
  name: "a client with the original's framing (Python) talks to our server unchanged",
  ignore: !hasPython(),
  async fn() {
    await using server = await startExampleServer(["--token", "py"]);
    const run = (token: string, payload = '{"type":"echo"}') =>
      new Deno.Command("python3", {
        args: [`${ROOT}tests/fixtures/original_client.py`, String(server.port), token, payload],
      }).output();
    // Meanwhile other connections stream, subscribe and publish.
    await using busy = await connect({ port: server.port, token: "py" });
    const events = await busy.subscribe(["load.>"]);
    let streaming = true;
    const load = (async () => {
      let rounds = 0;
      while (streaming) {
        let chunks = 0;
        for await (const _ of busy.stream({ type: "count", n: 2_000 })) chunks++;
        assert.equal(chunks, 2_000);
        await busy.request({ type: "publish", topic: "load.tick", data: rounds++ });
      }
      return rounds;
    })();
    // Whatever dict a tool written against the original sends, it gets ok.
    const payloads = ['{"type":"echo"}', '{"type":"ping"}', '{"hello":"x"}', "{}"];
    for (const payload of payloads) {
      const ok = await run("py", payload);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(ok.stdout)), {
        status: "ok",
        message: "received",
        protocol_version: "1",
        result: JSON.parse(payload),
      }, payload);
    }
    streaming = false;
    assert.ok(await load > 0);
    const first = await events[Symbol.asyncIterator]().next();
    assert.deepEqual(first.value, { kind: "event", topic: "load.tick", data: 0 });
    const refused = JSON.parse(
      new TextDecoder().decode((await run("bad")).stdout),
    );
    assert.equal(refused.message, "unauthorized");
  },
});

Deno.test({
  name:
    "examples/client.ts and connect() get status ok from an original server that knows only Part A",
  ignore: !hasPython(),
  async fn() {
    await using original = await startOriginalServer("orig");
    const port = String(original.port);
    const output = await new Deno.Command(DENO, {
      args: [
        "run",
        `--allow-net=127.0.0.1:${port}`,
        "examples/client.ts",
        "--port",
        port,
        "--token",
        "orig",
        "--text",
        "hi",
      ],
      cwd: ROOT,
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), {
      status: "ok",
      message: "received",
      protocol_version: "1",
    });
    // The original answers unauthorized with "request_id": null.
    const refused = await new Deno.Command(DENO, {
      args: [
        "run",
        `--allow-net=127.0.0.1:${port}`,
        "--no-prompt",
        "examples/client.ts",
        "--port",
        port,
        "--token",
        "wrong",
      ],
      cwd: ROOT,
    }).output();
    assert.equal(refused.code, 1, new TextDecoder().decode(refused.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(refused.stdout)), {
      status: "error",
      message: "unauthorized",
      protocol_version: "1",
      request_id: null,
    });
    const sent = await send({ port: Number(port), token: "wrong" }, {});
    assert.equal(sent.message, "unauthorized");
    await using client = await connect({ port: Number(port), token: "orig" });
    const results = await Promise.all(
      [1, 2, 3].map((n) => client.request({ n })),
    );
    assert.deepEqual(results, [undefined, undefined, undefined]);
    await using wrong = await connect({ port: Number(port), token: "nope" });
    await assert.rejects(
      wrong.request({}),
      (e: Error & { code: string }) => e.code === "unauthorized",
    );
  },
});
