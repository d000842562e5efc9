// Scoped tokens (protocol D1): what each token may call and subscribe to,
// seen from raw sockets and from the client; pattern inclusion alone.

import assert from "node:assert/strict";
import { patternCovers } from "../_wire/scopes.ts";
import { connect, type RequestRecord, requestTypes, serve } from "../mod.ts";
import { portOf, RawPeer } from "./_helpers.ts";

Deno.test("patternCovers(): an allowed pattern covers a requested one when it matches every topic the other can", () => {
  const cases: [string, string, boolean][] = [
    ["jobs.>", "jobs.*.done", true],
    ["jobs.>", "jobs.build", true],
    ["jobs.>", "jobs.>", true],
    ["jobs.>", "jobs", false],
    ["jobs.>", ">", false],
    [">", "anything.at.all", true],
    [">", ">", true],
    ["*", ">", false],
    ["*", "*", true],
    ["*", "jobs", true],
    ["*.done", "jobs.done", true],
    ["*.done", "*.done", true],
    ["jobs.*", "jobs.*", true],
    ["jobs.*", "jobs.>", false],
    ["jobs.*", "*.build", false],
    ["jobs.build", "jobs.build", true],
    ["jobs.build", "jobs.*", false],
    ["jobs.build", "jobs.deploy", false],
    ["jobs.*.done", "jobs.build.done", true],
    ["jobs.*.done", "jobs.build.>", false],
    ["a.b", "a.b.c", false],
    ["a.*.>", "a.>", false],
    ["a.*.>", "a.b.c", true],
  ];
  for (const [allowed, requested, expected] of cases) {
    assert.equal(patternCovers(allowed, requested), expected, `${allowed} covers ${requested}`);
  }
});

const handler = requestTypes({
  status: { description: "Build status", handler: (_p, info) => ({ caller: info.caller ?? null }) },
  deploy: { description: "Deploys", handler: () => "deployed" },
});

Deno.test("a scoped token calls only its types, sees only them in $describe, and the handler learns its name only", async () => {
  const records: RequestRecord[] = [];
  await using server = serve({
    port: 0,
    token: "own",
    tokens: { reader: { token: "r3ad", types: ["status"], topics: ["builds.>"] } },
    onRequest: (record) => records.push(record),
  }, handler);
  await using peer = await RawPeer.connect(portOf(server));
  assert.deepEqual(
    await peer.call({ type: "deploy", auth_token: "r3ad", request_id: 1 }),
    {
      status: "error",
      message: "forbidden: deploy",
      code: "forbidden",
      protocol_version: "1",
      request_id: 1,
    },
  );
  assert.deepEqual((await peer.call({ type: "status", auth_token: "r3ad" }))?.result, {
    caller: "reader",
  });
  assert.equal((await peer.call({ auth_token: "r3ad" }))?.code, "forbidden");
  const described = await peer.call({ type: "$describe", auth_token: "r3ad" });
  assert.deepEqual((described?.result as { types: { type: string }[] }).types.map((t) => t.type), [
    "status",
  ]);
  // The server's own token keeps every right.
  assert.equal((await peer.call({ type: "deploy", auth_token: "own" }))?.result, "deployed");
  assert.deepEqual((await peer.call({ type: "status", auth_token: "own" }))?.result, {
    caller: null,
  });
  assert.equal(
    (await peer.call({ type: "status", auth_token: "r3ad-guess" }))?.code,
    "unauthorized",
  );
  assert.deepEqual(records.map((r) => [r.type, r.code, r.caller]), [
    ["deploy", "forbidden", "reader"],
    ["status", "ok", "reader"],
    [undefined, "forbidden", "reader"],
    ["$describe", "ok", "reader"],
    ["deploy", "ok", undefined],
    ["status", "ok", undefined],
    ["status", "unauthorized", undefined],
  ]);
  assert.ok(!JSON.stringify(records).includes("r3ad"), "a record carries the token");
});

Deno.test("a scoped token subscribes only within its patterns; one pattern out adds none", async () => {
  await using server = serve({
    port: 0,
    token: "own",
    tokens: { reader: { token: "r3ad", types: ["status"], topics: ["builds.>", "*.alerts"] } },
  }, handler);
  await using client = await connect({ port: portOf(server), token: "r3ad" });
  const inside = await client.subscribe(["builds.*.done", "ops.alerts"]);
  const refused = await client.subscribe(["builds.app.done", "secrets.>"]).catch((e) => e);
  assert.equal(refused.code, "forbidden");
  assert.equal(refused.message, "forbidden: secrets.>");
  await assert.rejects(client.subscribe([">"]), /forbidden: >/);
  server.publish("builds.app.done", 1);
  server.publish("secrets.key", 2);
  for await (const event of inside) {
    assert.deepEqual(event, { kind: "event", topic: "builds.app.done", data: 1 });
    break;
  }
  await using peer = await RawPeer.connect(portOf(server));
  await peer.call({ type: "$hello", features: ["events"], auth_token: "r3ad" });
  const subscribed = await peer.call({
    type: "$subscribe",
    topics: ["builds.x", "nope.>"],
    auth_token: "r3ad",
  });
  assert.equal(subscribed?.code, "forbidden");
  const now = await peer.call({ type: "$subscribe", topics: ["builds.y"], auth_token: "r3ad" });
  assert.deepEqual((now?.result as { topics: string[] }).topics, ["builds.y"]);
});

Deno.test("scoped tokens are checked before anything is bound", () => {
  assert.throws(
    () => serve({ port: 0, tokens: { a: { token: "x", types: ["*"] } } }, handler),
    /tokens \(scoped\) need token/,
  );
  assert.throws(
    () => serve({ port: 0, token: "x", tokens: { a: { token: "x", types: ["*"] } } }, handler),
    /repeats another token/,
  );
  assert.throws(
    () =>
      serve(
        { port: 0, token: "x", tokens: { a: { token: "y", types: ["*"], topics: ["a..b"] } } },
        handler,
      ),
    TypeError,
  );
  assert.throws(
    () => serve({ port: 0, token: "x", tokens: { a: { token: "y" } as never } }, handler),
    /types must be an array/,
  );
});
