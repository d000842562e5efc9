// Declared types validated by a real Standard Schema library (zod), and by
// validators that misbehave.

import assert from "node:assert/strict";
// A real Standard Schema library, for these tests only (the library itself depends on none).
// deno-lint-ignore no-import-prefix
import { z } from "npm:zod@4.6.7";
import {
  connect,
  PayloadError,
  RemoteError,
  requestType,
  requestTypes,
  serve,
  type StandardSchemaLike,
  typedClient,
} from "../mod.ts";
import { portOf, RawPeer } from "./_helpers.ts";

const Add = z.object({ type: z.literal("add"), a: z.number(), b: z.number().int() });
const Trim = z.object({ text: z.string().transform((text) => text.trim()) });

Deno.test("a zod schema checks every payload, hands the handler its output, and describes itself", async () => {
  const seen: unknown[] = [];
  await using server = serve(
    { port: 0 },
    requestTypes({
      add: { description: "Adds a and b", schema: Add, handler: ({ a, b }) => a + b },
      trim: {
        description: "Trims text",
        schema: Trim,
        handler: (payload) => {
          seen.push(payload);
          return payload.text;
        },
      },
    }),
  );
  await using client = await connect({ port: portOf(server) });
  assert.equal(await client.request({ type: "add", a: 2, b: 3 }), 5);
  assert.equal(await client.request({ type: "trim", text: "  hi  " }), "hi");
  // The handler got zod's output (transformed, unknown keys stripped).
  assert.deepEqual(seen, [{ text: "hi" }]);
  await using peer = await RawPeer.connect(portOf(server));
  const refused = await peer.call({ type: "add", a: "2", b: 1.5 });
  assert.equal(refused?.code, "invalid_payload");
  assert.match(String(refused?.message), /^invalid payload: a: .*number.*; b: .*int/);
  // The same findings as data, for a caller (human or agent) that fixes its request.
  const issues = (refused?.data as { issues: { path: unknown[]; message: string }[] }).issues;
  assert.deepEqual(issues.map((issue) => issue.path), [["a"], ["b"]]);
  assert.match(issues[0].message, /number/);
  const error = await client.request({ type: "add", a: "2", b: 1 }).catch((e) => e);
  assert.ok(error instanceof RemoteError && error.code === "invalid_payload");
  assert.deepEqual((error.data as { issues: { path: unknown[] }[] }).issues[0].path, ["a"]);
  const described = await client.describe();
  assert.equal(described[0].schema?.type, "object");
  assert.deepEqual(described[0].schema?.required, ["type", "a", "b"]);
});

Deno.test("a validator that throws or answers asynchronously is handled; a jsonSchema given alongside wins", async () => {
  const throwing: StandardSchemaLike = {
    "~standard": {
      version: 1,
      vendor: "test",
      validate: () => {
        throw new Error("validator bug");
      },
    },
  };
  const slow: StandardSchemaLike<{ n: number }> = {
    "~standard": {
      version: 1,
      vendor: "test",
      validate: (value) =>
        Promise.resolve(
          typeof (value as { n?: unknown }).n === "number"
            ? { value: value as { n: number } }
            : { issues: [{ message: "n is required", path: [{ key: "n" }] }] },
        ),
    },
  };
  const errors: unknown[] = [];
  await using server = serve(
    { port: 0, onError: (error) => errors.push(error) },
    requestTypes({
      broken: { description: "", schema: throwing, handler: () => "never" },
      slow: {
        description: "",
        schema: slow,
        jsonSchema: { type: "object", required: ["n"] },
        handler: ({ n }) => n + 1,
      },
    }),
  );
  await using peer = await RawPeer.connect(portOf(server));
  const broken = await peer.call({ type: "broken" });
  assert.equal(broken?.code, "handler_error");
  assert.match(String(broken?.message), /the schema of "broken" threw: validator bug/);
  assert.equal((await peer.call({ type: "slow", n: 1 }))?.result, 2);
  assert.equal((await peer.call({ type: "slow" }))?.message, "invalid payload: n: n is required");
  assert.deepEqual((await peer.call({ type: "$describe" }))?.result, {
    types: [
      { type: "broken", description: "", schema: null },
      { type: "slow", description: "", schema: { type: "object", required: ["n"] } },
    ],
  });
  assert.ok(errors.some((error) => String(error).includes("validator bug")));
  assert.ok(new PayloadError("x") instanceof Error);
});

Deno.test("end-to-end types: a client typed by the server's declarations (checked by deno check)", async () => {
  const handler = requestTypes({
    add: requestType({ description: "Adds", schema: Add, handler: ({ a, b }) => a + b }),
    count: requestType({
      description: "Streams 1..n",
      schema: z.object({ n: z.number().int() }),
      handler: async function* ({ n }) {
        for (let i = 1; i <= n; i++) yield i;
        return "done" as const;
      },
    }),
  });
  await using server = serve({ port: 0 }, handler);
  await using client = await connect({ port: portOf(server) });
  const typed = typedClient<typeof handler>(client);
  const sum: number = await typed.call("add", { a: 2, b: 3 });
  assert.equal(sum, 5);
  const stream = typed.stream("count", { n: 2 });
  const seen: number[] = [];
  for await (const n of stream) seen.push(n);
  const final: "done" = await stream.result;
  assert.deepEqual([seen, final], [[1, 2], "done"]);
  // The compiler refuses what the server would refuse.
  // @ts-expect-error: b must be a number
  await assert.rejects(typed.call("add", { a: 2, b: "3" }), RemoteError);
  // @ts-expect-error: no such type
  await assert.rejects(typed.call("subtract", {}), RemoteError);
});

Deno.test("requestTypes(types, { otherwise }) answers any other payload with it, and $describe says so", async () => {
  const declared = {
    add: { description: "Adds", handler: ({ a, b }: { a: number; b: number }) => a + b },
  };
  await using open = serve(
    { port: 0 },
    requestTypes(declared, {
      otherwise: { description: "Echoes anything else", handler: (payload) => ({ echo: payload }) },
    }),
  );
  await using strict = serve({ port: 0 }, requestTypes(declared));
  await using peer = await RawPeer.connect(portOf(open));
  assert.deepEqual((await peer.call({ type: "add", a: 1, b: 2 }))?.result, 3);
  assert.deepEqual((await peer.call({ type: "ping" }))?.result, { echo: { type: "ping" } });
  assert.deepEqual((await peer.call({ hello: "x" }))?.result, { echo: { hello: "x" } });
  assert.equal((await peer.call({ type: "$nope" }))?.code, "unknown_type");
  assert.deepEqual((await peer.call({ type: "$describe" }))?.result, {
    types: [{ type: "add", description: "Adds", schema: null }],
    otherwise: { description: "Echoes anything else" },
  });
  await using strictPeer = await RawPeer.connect(portOf(strict));
  assert.equal((await strictPeer.call({ type: "ping" }))?.code, "unknown_type");
  assert.deepEqual((await strictPeer.call({ type: "$describe" }))?.result, {
    types: [{ type: "add", description: "Adds", schema: null }],
  });
  assert.throws(
    () => requestTypes(declared, { otherwise: { description: "", handler: 1 as never } }),
    TypeError,
  );
});
