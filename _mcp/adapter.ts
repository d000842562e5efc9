// The MCP adapter's implementation, on the official SDK: loaded by mcp.ts
// only when an adapter runs, so nothing else in the package imports the SDK.

// deno-lint-ignore no-import-prefix
import { Server } from "npm:@modelcontextprotocol/sdk@1.32.2/server/index.js";
// deno-lint-ignore no-import-prefix
import { StdioServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/stdio.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  // deno-lint-ignore no-import-prefix
} from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
import { ApplicationError, connect, type ConnectOptions, SocketBridgeError } from "../mod.ts";
import { SERVER_NAME } from "../protocol.ts";

/** Serves the adapter over stdio; see mcp.ts (whose McpAdapterOptions has this shape). */
export async function serveMcp(
  options: ConnectOptions & { signal?: AbortSignal },
): Promise<void> {
  await using client = await connect({ ...options, reconnect: true });
  const mcp = new Server(
    { name: "socketbridge", version: SERVER_NAME.split("/")[1] },
    { capabilities: { tools: {} } },
  );
  mcp.setRequestHandler(ListToolsRequestSchema, async () => {
    const types = await client.describe();
    return {
      tools: types.map((entry) => ({
        name: entry.type,
        description: entry.description,
        inputSchema: objectSchema(entry.schema),
      })),
    };
  });
  mcp.setRequestHandler(CallToolRequestSchema, async (request: ToolCall, extra: CallContext) => {
    const { name, arguments: args = {} } = request.params;
    const progressToken = request.params._meta?.progressToken;
    const stream = client.stream({ ...args, type: name }, { signal: extra.signal });
    const chunks: unknown[] = [];
    try {
      for await (const chunk of stream) {
        if (progressToken === undefined) {
          chunks.push(chunk);
          continue;
        }
        await extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken, progress: chunks.push(chunk), message: JSON.stringify(chunk) },
        });
      }
      const result = await stream.result;
      if (progressToken !== undefined && chunks.length > 0) await progressRead(chunks.length);
      const text = JSON.stringify(
        chunks.length > 0 && progressToken === undefined ? { chunks, result } : result ?? null,
      );
      return { content: [{ type: "text" as const, text }] };
    } catch (error) {
      // A failed call is a tool error the agent can read, not a protocol failure.
      if (error instanceof SocketBridgeError || error instanceof ApplicationError) {
        const details = (error as { data?: unknown }).data;
        const data = details === undefined ? "" : ` ${JSON.stringify(details)}`;
        return {
          isError: true,
          content: [{ type: "text" as const, text: `${error.code}: ${error.message}${data}` }],
        };
      }
      throw error;
    }
  });
  const closed = new Promise<void>((resolve) => mcp.onclose = resolve);
  const stop = () => mcp.close();
  options.signal?.addEventListener("abort", stop, { once: true });
  await mcp.connect(new StdioServerTransport());
  await closed;
  options.signal?.removeEventListener("abort", stop);
}

/**
 * Waits before the final answer of a call that sent `sent` progress
 * notifications. An MCP client (the official SDK's among them) handles a
 * notification a microtask after reading it, and the answer retires its
 * progress token: notifications read together with the answer are lost.
 * The wait lets the client read and handle them first; it grows with how
 * many there are to handle (20 ms, plus 0.1 ms each, at most 1 s).
 */
function progressRead(sent: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 20 + sent / 10)));
}

/** The parts of a tools/call request the adapter reads. */
interface ToolCall {
  params: {
    name: string;
    arguments?: Record<string, unknown>;
    _meta?: { progressToken?: string | number };
  };
}

/** The parts of the SDK's per-request context the adapter uses. */
interface CallContext {
  signal: AbortSignal;
  sendNotification(notification: {
    method: "notifications/progress";
    params: { progressToken: string | number; progress: number; message?: string };
  }): Promise<void>;
}

/** MCP wants an object schema for every tool; a type without one takes any object. */
function objectSchema(
  schema: Record<string, unknown> | null,
): { type: "object"; [key: string]: unknown } {
  if (schema !== null && schema.type === "object") {
    return schema as { type: "object"; [key: string]: unknown };
  }
  return { type: "object", additionalProperties: true };
}
