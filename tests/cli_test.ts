// The CLI as a shell uses it: real processes, a tour server found by name,
// exit statuses, and `serve --exec` with commands that misbehave.

import assert from "node:assert/strict";
import { DENO, ROOT, runDeno, spawnDeno } from "./_processes.ts";

const runtime = Deno.makeTempDirSync({ prefix: "socketbridge-cli-" });
const ENV = { XDG_RUNTIME_DIR: runtime, NO_COLOR: "1" };
// What the CLI and a named tour server need: loopback, the discovery
// directory (env, uid, read, write), and, for the CLI's serve --exec, run.
const NAMED = [
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-sys=uid",
  "--allow-read",
  "--allow-write",
];
const CLI_FLAGS = ["run", ...NAMED, "--allow-run", "cli.ts"];

function cli(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runDeno([...CLI_FLAGS, ...args], { stdin, env: ENV });
}

async function startTour(name: string) {
  const { child, firstLine, rest } = await spawnDeno([
    "run",
    ...NAMED,
    "examples/server.ts",
    "--port",
    "0",
    "--no-token",
    "--name",
    name,
  ], ENV);
  assert.match(firstLine, /listening on 127\.0\.0\.1:\d+/);
  return {
    async [Symbol.asyncDispose]() {
      child.kill("SIGINT");
      await rest;
      await child.status;
    },
  };
}

Deno.test("the CLI reaches the tour server by name: describe, call, stream, ping, ls", async () => {
  await using _tour = await startTour("tour");
  const described = await cli(["describe", "--name", "tour"]);
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /^echo\s+Answers with the request's payload/m);
  assert.match(described.stdout, /^count\s+Streams the numbers/m);
  const json = JSON.parse((await cli(["describe", "--json", "--name", "tour"])).stdout);
  assert.deepEqual(json.map((entry: { type: string }) => entry.type), [
    "echo",
    "count",
    "sleep",
    "tick",
    "ask",
    "publish",
  ]);
  const called = await cli(["call", "echo", '{"a":1}', "--name", "tour"]);
  assert.equal(called.code, 0, called.stderr);
  assert.deepEqual(JSON.parse(called.stdout).result, { type: "echo", a: 1 });
  const fromStdin = await cli(["call", "echo", "-", "--name", "tour"], '{"b":2}');
  assert.deepEqual(JSON.parse(fromStdin.stdout).result, { type: "echo", b: 2 });
  const streamed = await cli(["stream", "count", '{"n":3}', "--name", "tour"]);
  assert.equal(streamed.code, 0, streamed.stderr);
  assert.deepEqual(streamed.stdout.trim().split("\n").map((line) => JSON.parse(line)), [
    { chunk: 1 },
    { chunk: 2 },
    { chunk: 3 },
    { status: "ok", message: "received", protocol_version: "1", result: "done" },
  ]);
  const pinged = JSON.parse((await cli(["ping", "--name", "tour"])).stdout);
  assert.match(pinged.server, /^socketbridge-deno\//);
  assert.ok(pinged.ms >= 0);
  const listed = JSON.parse((await cli(["ls", "--json"])).stdout);
  assert.deepEqual(
    listed.map((entry: { name: string; live: boolean }) => [entry.name, entry.live]),
    [["tour", true]],
  );
});

Deno.test("cli sub prints events until interrupted", async () => {
  await using _tour = await startTour("events");
  const sub = new Deno.Command(DENO, {
    args: [...CLI_FLAGS, "sub", "news.>", "--name", "events"],
    cwd: ROOT,
    env: ENV,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = sub.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // Publish until the subscriber has subscribed and printed the event.
  let text = "";
  const reading = (async () => {
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
  })();
  for (let i = 0; i < 100 && !text.includes("\n"); i++) {
    await cli(["call", "publish", '{"topic":"news.today","data":{"hi":1}}', "--name", "events"]);
  }
  await reading;
  assert.deepEqual(JSON.parse(text.split("\n")[0]), { event: "news.today", data: { hi: 1 } });
  sub.kill("SIGINT");
  await lines.cancel();
  await sub.stderr.cancel();
  assert.equal((await sub.status).code, 0);
});

Deno.test("cli exit statuses: error answer 1, bad usage 2 naming the flag, no answer 3", async () => {
  await using _tour = await startTour("statuses");
  const refused = await cli(["call", "count", '{"n":-1}', "--name", "statuses"]);
  assert.equal(refused.code, 1);
  assert.equal(JSON.parse(refused.stdout).code, "invalid_payload");
  for (const flag of [["--token", "secret"], ["--token=secret"]]) {
    const badFlag = await cli(["call", "echo", ...flag, "--name", "statuses"]);
    assert.equal(badFlag.code, 2);
    assert.equal(
      badFlag.stderr.trim(),
      "error: --token is not accepted: a command line is visible to other users; " +
        "use SOCKETBRIDGE_TOKEN, --token-file FILE or --name (see socketbridge call --help)",
    );
  }
  // TYPE and the JSON's own type must agree: the JSON never silently wins.
  const disagree = await cli(["call", "echo", '{"type":"count","n":2}', "--name", "statuses"]);
  assert.equal(disagree.code, 2);
  assert.match(disagree.stderr, /the payload's type "count" disagrees with TYPE "echo"/);
  const agree = await cli(["call", "echo", '{"type":"echo","n":2}', "--name", "statuses"]);
  assert.deepEqual(JSON.parse(agree.stdout).result, { type: "echo", n: 2 });
  const badJson = await cli(["call", "echo", "{nope", "--name", "statuses"]);
  assert.equal(badJson.code, 2);
  assert.match(badJson.stderr, /not JSON/);
  const nobody = await cli(["call", "echo", "--name", "nobody-here"]);
  assert.equal(nobody.code, 3);
  assert.match(nobody.stderr, /no server of that name/);
  const help = await cli(["call", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: socketbridge call TYPE/);
  assert.equal((await cli(["frobnicate"])).code, 2);
});

Deno.test("cli serve --exec turns a command into a server, and survives commands that misbehave", async () => {
  const script = `
    read line
    case "$line" in
      *fail*) echo "first line" >&2; echo "it broke" >&2; exit 3 ;;
      *hang*) sleep 30 ;;
      *silent*) exit 0 ;;
      *garbage*) echo "not json" ;;
      *flood*) head -c 2000000 /dev/zero | tr '\\0' 'x' ;;
      *background*) sleep 30 & echo '{"background": true}' ;;
      *escaped*) setsid sleep 3 & echo '{"escaped": true}' ;;
      *stuck*) setsid sleep 3 & sleep 30 ;;
      *) echo "{\\"got\\": $line}" ;;
    esac`;
  const { child, firstLine, rest } = await spawnDeno([
    ...CLI_FLAGS,
    "serve",
    "--port",
    "0",
    "--name",
    "exec",
    "--timeout",
    "500",
    "--exec",
    "sh",
    "-c",
    script,
  ], ENV);
  try {
    assert.match(firstLine, /listening on/);
    const call = async (payload: string) =>
      JSON.parse((await cli(["send", payload, "--name", "exec"])).stdout);
    assert.deepEqual((await call('{"n":1}')).result, { got: { n: 1 } });
    const failed = await call('{"fail":1}');
    assert.equal(failed.code, "handler_error");
    assert.match(failed.message, /exited with code 3: it broke$/);
    const hung = await call('{"hang":1}');
    assert.match(hung.message, /took longer than 500 ms/);
    assert.equal((await call('{"silent":1}')).code, "no_output");
    assert.equal((await call('{"garbage":1}')).code, "bad_output");
    assert.match((await call('{"flood":1}')).message, /wrote too much/);
    // A command that exits at once is answered from its output, even while a
    // child it left behind (in its group, or escaped with setsid) holds stdout.
    assert.deepEqual((await call('{"background":1}')).result, { background: true });
    assert.deepEqual((await call('{"escaped":1}')).result, { escaped: true });
    // The time limit ends a request whatever its command left behind: the
    // answer comes well before the escaped child lets go of the pipe.
    const stuck = await cli(["send", '{"stuck":1}', "--name", "exec", "--timeout", "2000"]);
    assert.equal(stuck.code, 1, stuck.stderr);
    assert.match(JSON.parse(stuck.stdout).message, /took longer than 500 ms/);
    // Still serving after all that.
    assert.deepEqual((await call('{"n":2}')).result, { got: { n: 2 } });
  } finally {
    child.kill("SIGINT");
    await rest;
    await child.status;
  }
});

Deno.test("cli call --answer answers the server's calls from stdin; without it they are refused", async () => {
  await using _tour = await startTour("asking");
  const answered = await cli(
    ["call", "ask", '{"question":"deploy?"}', "--answer", "--name", "asking"],
    '{"approved":true}\n',
  );
  assert.equal(answered.code, 0, answered.stderr);
  const [call, final] = answered.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(call, { call: { question: "deploy?" } });
  assert.deepEqual(final.result, { approved: true });
  const refused = await cli(["call", "ask", '{"question":"deploy?"}', "--name", "asking"]);
  assert.equal(refused.code, 1);
  assert.equal(JSON.parse(refused.stdout).code, "not_answered");
  assert.match(JSON.parse(refused.stdout).message, /did not ask for calls/);
});

Deno.test("cli stats prints a table or JSON of $stats; cli wait returns once a server answers, 3 if none does", async () => {
  const waiting = cli(["wait", "--name", "later", "--timeout", "20s"]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await using _tour = await startTour("later");
  const waited = await waiting;
  assert.equal(waited.code, 0, waited.stderr);
  assert.match(waited.stdout, /^ready after \d+ ms$/m);
  const nobody = await cli(["wait", "--name", "nobody-at-all", "--timeout", "300ms"]);
  assert.equal(nobody.code, 3);
  assert.match(nobody.stderr, /no answer within 300 ms/);
  await cli(["call", "echo", "--name", "later"]);
  await cli(["call", "count", '{"n":-1}', "--name", "later"]);
  const json = JSON.parse((await cli(["stats", "--json", "--name", "later"])).stdout);
  const echo = json.types.find((entry: { type: string }) => entry.type === "echo");
  assert.equal(echo.requests, 1);
  assert.equal(json.types.find((entry: { type: string }) => entry.type === "count").errors, 1);
  const table = await cli(["stats", "--name", "later"]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^TYPE\s+REQUESTS\s+ERRORS\s+IN FLIGHT/m);
  assert.match(table.stdout, /^count\s+1\s+1\s+0 .*invalid_payload/m);
  assert.equal((await cli(["wait", "--timeout", "soon"])).code, 2);
});
