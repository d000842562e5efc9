/**
 * The `socketbridge` command line, for shells, scripts and agents: call a
 * server, stream, subscribe, describe, list the running servers, or turn
 * any command into a server.
 *
 *   deno run -A jsr:@socketbridge/core/cli --help
 *   deno task cli describe --name tour
 *
 * The token is never taken from a flag (every user sees flags in `ps`): it
 * comes from `SOCKETBRIDGE_TOKEN`, from `--token-file`, or from the
 * server's discovery file with `--name`.
 *
 * Exit status: 0 for an `ok` answer, 1 for an error answer, 2 for bad
 * usage, 3 when no answer came (connection refused, timeout, closed).
 *
 * @example Calling a server from code, as the shell would
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@socketbridge/core";
 * import { main } from "@socketbridge/core/cli";
 * await using server = serve({ port: 0 }, () => "pong");
 * const status = await main(["call", "ping", "--port", String(server.addr.port)], {
 *   write: () => {},
 * });
 * assert.ok(status === 0);
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  ApplicationError,
  connect,
  type ConnectionOptions,
  RemoteError,
  send,
  serve,
  SocketBridgeError,
} from "./mod.ts";
import { execHandler } from "./_cli/exec.ts";
import { listDiscovery } from "./_shared/discovery.ts";
import { USAGE } from "./_cli/usage.ts";

/** Where the CLI writes its lines (stdout and stderr by default). */
export interface CliOutput {
  /** Writes one line of output (a JSON answer, a chunk, an event). */
  write(line: string): void;
  /** Writes one line of diagnostics; stderr by default. */
  error?(line: string): void;
}

const EXIT = { ok: 0, errorAnswer: 1, usage: 2, noAnswer: 3 } as const;

const CONNECTION_FLAGS = {
  name: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  path: { type: "string" },
  "token-file": { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit
 * status. `sub` and `serve` run until `signal` aborts (Ctrl+C when run as
 * a program).
 *
 * @param args The command and its arguments.
 * @param output Where lines go; stdout and stderr by default.
 * @param signal Stops `sub` and `serve`.
 * @returns 0 ok, 1 an error answer, 2 bad usage, 3 no answer.
 *
 * @example Describing a server in JSON
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestTypes, serve } from "@socketbridge/core";
 * import { main } from "@socketbridge/core/cli";
 * await using server = serve({ port: 0 }, requestTypes({
 *   ping: { description: "Answers pong", handler: () => "pong" },
 * }));
 * const lines: string[] = [];
 * const status = await main(
 *   ["describe", "--json", "--port", String(server.addr.port)],
 *   { write: (line) => lines.push(line) },
 * );
 * assert.ok(status === 0 && JSON.parse(lines[0])[0].type === "ping");
 * ```
 */
export async function main(
  args: string[],
  output: CliOutput = { write: (line) => console.log(line) },
  signal?: AbortSignal,
): Promise<number> {
  const error = output.error ?? ((line: string) => console.error(line));
  const command = args[0] ?? "";
  if (command === "" || command === "--help" || command === "-h" || command === "help") {
    output.write(USAGE[""]);
    return command === "" ? EXIT.usage : EXIT.ok;
  }
  if (!(command in USAGE)) {
    error(`error: unknown command "${command}" (see --help)`);
    return EXIT.usage;
  }
  try {
    return await run(command, args.slice(1), output, signal);
  } catch (failure) {
    if (failure instanceof UsageError || failure instanceof TypeError) {
      error(`error: ${failure.message} (see socketbridge ${command} --help)`);
      return EXIT.usage;
    }
    if (failure instanceof RemoteError || failure instanceof ApplicationError) {
      output.write(JSON.stringify({
        status: "error",
        message: failure.message,
        code: failure.code,
        protocol_version: "1",
        ...(failure instanceof ApplicationError && failure.data !== undefined
          ? { data: failure.data }
          : {}),
      }));
      return EXIT.errorAnswer;
    }
    if (failure instanceof SocketBridgeError) {
      error(`error: ${failure.message}`);
      return EXIT.noAnswer;
    }
    throw failure;
  }
}

async function run(
  command: string,
  rest: string[],
  output: CliOutput,
  signal: AbortSignal | undefined,
): Promise<number> {
  const extra: Record<string, { type: "string" | "boolean" }> = command === "describe" ||
      command === "ls"
    ? { json: { type: "boolean" } }
    : command === "serve"
    ? { exec: { type: "boolean" }, concurrency: { type: "string" } }
    : {};
  // Everything after --exec is the command and its own arguments, flags included.
  const execAt = command === "serve" ? rest.indexOf("--exec") : -1;
  const execCommand = execAt === -1 ? [] : rest.slice(execAt + 1);
  if (execAt !== -1) rest = [...rest.slice(0, execAt), "--exec"];
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...CONNECTION_FLAGS, ...extra },
      allowPositionals: true,
      strict: true,
    });
  } catch (failure) {
    throw new UsageError(failure instanceof Error ? failure.message : String(failure));
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;
  if (flags.help) {
    output.write(USAGE[command]);
    return EXIT.ok;
  }
  if (command === "ls") return list(flags.json === true, output);
  if (command === "mcp") {
    if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}"`);
    // Loaded only here: the rest of the CLI never needs the MCP SDK.
    const { serveMcp } = await import("./mcp.ts");
    await serveMcp({ ...connection(flags), signal });
    return EXIT.ok;
  }
  if (command === "serve") {
    if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}"`);
    return await serveExec(flags, execCommand, output, signal);
  }
  const where = connection(flags);
  const timeout = wholeNumber("timeout", flags.timeout);
  switch (command) {
    case "call":
    case "stream": {
      const [type, json] = positionals;
      if (type === undefined) throw new UsageError(`${command} needs a TYPE`);
      if (positionals.length > 2) throw new UsageError(`unexpected "${positionals[2]}"`);
      const payload = { type, ...await payloadOf(json) };
      if (command === "call") return answer(await send({ ...where, timeout }, payload), output);
      await using client = await connect({ ...where, timeout });
      const stream = client.stream(payload);
      for await (const chunk of stream) output.write(JSON.stringify({ chunk }));
      const result = await stream.result;
      output.write(JSON.stringify({
        status: "ok",
        message: "received",
        protocol_version: "1",
        ...(result === undefined ? {} : { result }),
      }));
      return EXIT.ok;
    }
    case "send": {
      if (positionals.length > 1) throw new UsageError(`unexpected "${positionals[1]}"`);
      return answer(await send({ ...where, timeout }, await payloadOf(positionals[0])), output);
    }
    case "sub": {
      if (positionals.length === 0) throw new UsageError("sub needs at least one PATTERN");
      await using client = await connect({ ...where, reconnect: true });
      const events = await client.subscribe(positionals);
      const stop = () => events.unsubscribe();
      signal?.addEventListener("abort", stop, { once: true });
      for await (const entry of events) {
        output.write(JSON.stringify(
          entry.kind === "event"
            ? { event: entry.topic, data: entry.data }
            : entry.kind === "dropped"
            ? { event: "$dropped", data: { count: entry.count } }
            : { event: "$gap" },
        ));
      }
      return EXIT.ok;
    }
    case "describe": {
      await using client = await connect({ ...where, timeout });
      const types = await client.describe();
      if (flags.json) output.write(JSON.stringify(types));
      else if (types.length === 0) output.write("(the server declares no request types)");
      else {
        const width = Math.max(...types.map((entry) => entry.type.length));
        for (const entry of types) {
          output.write(`${entry.type.padEnd(width)}  ${entry.description}`);
          if (entry.schema !== null) {
            output.write(`${" ".repeat(width)}  schema: ${JSON.stringify(entry.schema)}`);
          }
        }
      }
      return EXIT.ok;
    }
    case "ping": {
      const started = performance.now();
      const response = await send({ ...where, timeout }, { type: "$hello", features: [] });
      const ms = Math.round((performance.now() - started) * 100) / 100;
      const server = (response.result as { server?: unknown } | undefined)?.server;
      output.write(JSON.stringify({ server: server ?? "(no two-way protocol)", ms }));
      return response.status === "ok" ? EXIT.ok : EXIT.errorAnswer;
    }
  }
  throw new UsageError(`unknown command "${command}"`);
}

function answer(response: { status: string }, output: CliOutput): number {
  output.write(JSON.stringify(response));
  return response.status === "ok" ? EXIT.ok : EXIT.errorAnswer;
}

/** Where to connect, and the token: never from a flag. */
function connection(flags: Record<string, string | boolean | undefined>): ConnectionOptions {
  const name = flags.name as string | undefined;
  const path = flags.path as string | undefined;
  const host = flags.host as string | undefined;
  const port = wholeNumber("port", flags.port);
  if ([name, path, host ?? port].filter((v) => v !== undefined).length > 1) {
    throw new UsageError("choose one of --name, --path and --host/--port");
  }
  const token = tokenOf(flags["token-file"] as string | undefined);
  if (name !== undefined) return { name, token };
  if (path !== undefined) return { path, token };
  return { hostname: host ?? "127.0.0.1", port: port ?? 7002, token };
}

function tokenOf(file: string | undefined): string | undefined {
  if (file !== undefined) {
    try {
      return Deno.readTextFileSync(file).trim();
    } catch (failure) {
      throw new UsageError(
        `--token-file: cannot read ${file}: ${
          failure instanceof Error ? failure.message : failure
        }`,
      );
    }
  }
  const readable = Deno.permissions.querySync({ name: "env", variable: "SOCKETBRIDGE_TOKEN" });
  return readable.state === "granted" ? Deno.env.get("SOCKETBRIDGE_TOKEN") || undefined : undefined;
}

function wholeNumber(flag: string, text: string | boolean | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (typeof text !== "string" || text.trim() === "" || !Number.isInteger(value) || value < 0) {
    throw new UsageError(`--${flag}: expected a whole number, got ${JSON.stringify(text)}`);
  }
  return value;
}

async function payloadOf(json: string | undefined): Promise<Record<string, unknown>> {
  if (json === undefined) return {};
  const text = json === "-" ? await new Response(Deno.stdin.readable).text() : json;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (failure) {
    throw new UsageError(
      `the payload is not JSON (${failure instanceof Error ? failure.message : failure})`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError("the payload must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function list(json: boolean, output: CliOutput): number {
  const servers = listDiscovery();
  if (json) {
    output.write(JSON.stringify(servers.map(({ record, live }) => ({
      name: record.name,
      transport: record.transport,
      hostname: record.hostname,
      port: record.port,
      path: record.path,
      pid: record.pid,
      started: record.started,
      live,
    }))));
    return EXIT.ok;
  }
  if (servers.length === 0) output.write("(no servers published by name)");
  for (const { record, live } of servers) {
    const address = record.path ?? `${record.hostname}:${record.port}`;
    output.write(
      `${record.name}  ${record.transport} ${address}  pid ${record.pid}  ${
        live ? "running" : "stale"
      }`,
    );
  }
  return EXIT.ok;
}

async function serveExec(
  flags: Record<string, string | boolean | undefined>,
  command: string[],
  output: CliOutput,
  signal: AbortSignal | undefined,
): Promise<number> {
  if (!flags.exec || command.length === 0) {
    throw new UsageError("serve needs --exec CMD [ARG...]");
  }
  const port = wholeNumber("port", flags.port);
  const token = tokenOf(flags["token-file"] as string | undefined);
  const handler = execHandler({
    command,
    concurrency: wholeNumber("concurrency", flags.concurrency) ?? 4,
    timeout: wholeNumber("timeout", flags.timeout) ?? 30_000,
    maxOutput: 1_048_576,
  });
  const common = {
    token: token ?? "",
    name: flags.name as string | undefined,
    signal,
    onListen: (addr: Deno.NetAddr | Deno.UnixAddr) =>
      output.write(
        "path" in addr ? `listening on ${addr.path}` : `listening on ${addr.hostname}:${addr.port}`,
      ),
  };
  const server = flags.path !== undefined
    ? serve({ ...common, path: flags.path as string }, handler)
    : serve(
      { ...common, hostname: (flags.host as string) ?? "127.0.0.1", port: port ?? 7002 },
      handler,
    );
  await server.finished;
  return EXIT.ok;
}

if (import.meta.main) {
  const stop = new AbortController();
  Deno.addSignalListener("SIGINT", () => stop.abort());
  Deno.exit(await main(Deno.args, undefined, stop.signal));
}
