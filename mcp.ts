/**
 * An MCP adapter: offers every request type a SocketBridge server declares
 * as an MCP tool, over stdio, on the official `@modelcontextprotocol/sdk`.
 * `tools/list` comes from `$describe` (name, description, input schema);
 * `tools/call` becomes a request; streamed chunks become MCP progress
 * notifications; MCP cancellation becomes `$cancel`. With it, any
 * MCP-capable agent can use a SocketBridge server unchanged:
 *
 *   deno task cli mcp --name build-agent
 *
 * This module, not the core, depends on the SDK.
 *
 * @example Serving the adapter for a server published by name
 * ```ts ignore
 * import { serveMcp } from "@socketbridge/core/mcp";
 * // Reads MCP from stdin and writes it to stdout until stdin closes.
 * await serveMcp({ name: "build-agent" });
 * ```
 *
 * @module
 */

import type { ConnectOptions } from "./mod.ts";

/**
 * What {@linkcode serveMcp} connects to, and how long it serves.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { McpAdapterOptions } from "@socketbridge/core/mcp";
 * const options: McpAdapterOptions = { name: "build-agent", signal: AbortSignal.timeout(60_000) };
 * assert.ok(options.name === "build-agent");
 * ```
 */
export interface McpAdapterOptions extends ConnectOptions {
  /** Stops the adapter. */
  signal?: AbortSignal;
}

/**
 * Connects to a SocketBridge server and serves its declared types as MCP
 * tools over stdio (stdin and stdout), until stdin closes or `signal`
 * aborts.
 *
 * @param options Where the SocketBridge server is (`name`, `port` or `path`).
 * @returns Once the MCP session has ended.
 * @throws {ConnectError} When the SocketBridge server cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { serveMcp } from "@socketbridge/core/mcp";
 * await serveMcp({ port: 7002, token: Deno.env.get("SOCKETBRIDGE_TOKEN") });
 * ```
 */
export async function serveMcp(options: McpAdapterOptions): Promise<void> {
  const adapter = await import("./_mcp/adapter.ts");
  await adapter.serveMcp(options);
}
