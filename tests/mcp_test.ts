// The MCP adapter, driven by the SDK's own client over a real stdio child
// process, in front of a SocketBridge server found by name.

import assert from "node:assert/strict";
// The official SDK's client, for this test (the adapter's own dependency).
// deno-lint-ignore no-import-prefix
import { Client } from "npm:@modelcontextprotocol/sdk@1.32.2/client/index.js";
// deno-lint-ignore no-import-prefix
import { StdioClientTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/client/stdio.js";
import { CancelledError, PayloadError, type RequestInfo, requestTypes, serve } from "../mod.ts";
import { DENO, ROOT } from "./_processes.ts";

const runtime = Deno.makeTempDirSync({ prefix: "socketbridge-mcp-" });

Deno.test("MCP tools from $describe; calls, progress from chunks, cancellation to $cancel", async () => {
  Deno.env.set("XDG_RUNTIME_DIR", runtime);
  const reasons: unknown[] = [];
  await using _server = serve(
    { port: 0, name: "mcp-target", token: "t0k" },
    requestTypes({
      add: {
        description: "Adds a and b",
        schema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } },
        handler: ({ a, b }: { a: unknown; b: unknown }) => {
          if (typeof a !== "number" || typeof b !== "number") throw new PayloadError("a and b");
          return a + b;
        },
      },
      count: {
        description: "Streams 1..n",
        // Back to back, with no spacing: the adapter must see that every
        // notification reaches the SDK's client before the final answer.
        handler: async function* ({ n }: { n: number }) {
          for (let i = 1; i <= n; i++) yield i;
          return "done";
        },
      },
      wait: {
        description: "Waits until cancelled",
        handler: (_payload: unknown, { signal }: RequestInfo) =>
          new Promise((_, reject) =>
            signal.addEventListener("abort", () => {
              reasons.push(signal.reason);
              reject(signal.reason);
            })
          ),
      },
    }),
  );
  const transport = new StdioClientTransport({
    command: DENO,
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-sys",
      "--allow-read",
      "cli.ts",
      "mcp",
      "--name",
      "mcp-target",
    ],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: runtime, NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "" },
    stderr: "inherit",
  });
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((tool: { name: string }) => tool.name), ["add", "count", "wait"]);
    assert.equal(tools[0].description, "Adds a and b");
    assert.deepEqual(tools[0].inputSchema.properties, {
      a: { type: "number" },
      b: { type: "number" },
    });
    const sum = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
    assert.deepEqual(sum.content, [{ type: "text", text: "5" }]);
    const refused = await client.callTool({ name: "add", arguments: { a: "x" } });
    assert.equal(refused.isError, true);
    // The issues reach the agent as data it can read, not only as prose.
    assert.match(
      (refused.content as { text: string }[])[0].text,
      /^invalid_payload: invalid payload: a and b \{"issues":\[\{"path":\[\],"message":"a and b"\}\]\}$/,
    );
    const progress: unknown[] = [];
    const counted = await client.callTool(
      { name: "count", arguments: { n: 3 } },
      undefined,
      { onprogress: (update: { message?: string }) => progress.push(update.message) },
    );
    assert.deepEqual({ progress, content: counted.content }, {
      progress: ["1", "2", "3"],
      content: [{ type: "text", text: '"done"' }],
    });
    const many: unknown[] = [];
    await client.callTool(
      { name: "count", arguments: { n: 2_000 } },
      undefined,
      { onprogress: (update: { message?: string }) => many.push(update.message) },
    );
    assert.equal(many.length, 2_000);
    assert.deepEqual([many[0], many[1_999]], ["1", "2000"]);
    const controller = new AbortController();
    const waiting = client.callTool({ name: "wait", arguments: {} }, undefined, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(waiting);
    for (let i = 0; i < 100 && reasons.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(reasons[0] instanceof CancelledError, `the handler saw ${reasons[0]}`);
  } finally {
    await client.close();
  }
});
