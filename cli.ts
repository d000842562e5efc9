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
import { ApplicationError, PROTOCOL_VERSION, RemoteError, SocketBridgeError } from "./mod.ts";
import { CONNECTION_FLAGS, EXIT, UsageError } from "./_cli/args.ts";
import { type CliOutput, COMMANDS, UNAUTHORIZED_HINT } from "./_cli/commands.ts";
import { USAGE } from "./_cli/usage.ts";

export type { CliOutput } from "./_cli/commands.ts";

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
  const name = args[0] ?? "";
  if (name === "" || name === "--help" || name === "-h" || name === "help") {
    output.write(USAGE[""]);
    return name === "" ? EXIT.usage : EXIT.ok;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    error(`error: unknown command "${name}" (see --help)`);
    return EXIT.usage;
  }
  try {
    let rest = args.slice(1);
    // Everything after the trailing flag (--exec) is the command's own, flags included.
    const at = command.trailingAfter === undefined ? -1 : rest.indexOf(command.trailingAfter);
    const trailing = at === -1 ? [] : rest.slice(at + 1);
    if (at !== -1) rest = rest.slice(0, at + 1);
    if (rest.some((arg) => arg === "--token" || arg.startsWith("--token="))) {
      throw new UsageError(
        "--token is not accepted: a command line is visible to other users; " +
          "use SOCKETBRIDGE_TOKEN, --token-file FILE or --name",
      );
    }
    const { values, positionals } = parseFlags(rest, command.flags);
    if (values.help) {
      output.write(USAGE[name]);
      return EXIT.ok;
    }
    return await command.run({
      flags: values,
      positionals,
      trailing,
      output: { write: (line) => output.write(line), error },
      signal,
    });
  } catch (failure) {
    if (failure instanceof UsageError || failure instanceof TypeError) {
      error(`error: ${failure.message} (see socketbridge ${name} --help)`);
      return EXIT.usage;
    }
    if (failure instanceof RemoteError || failure instanceof ApplicationError) {
      output.write(JSON.stringify({
        status: "error",
        message: failure.message,
        code: failure.code,
        protocol_version: PROTOCOL_VERSION,
        ...(failure.data !== undefined ? { data: failure.data } : {}),
      }));
      if (failure.code === "unauthorized") error(UNAUTHORIZED_HINT);
      return EXIT.errorAnswer;
    }
    if (failure instanceof SocketBridgeError) {
      error(`error: ${failure.message}`);
      return EXIT.noAnswer;
    }
    // What the system refused (an address in use, a permission): one line, no stack.
    if (
      failure instanceof Deno.errors.AddrInUse || failure instanceof Deno.errors.AddrNotAvailable ||
      failure instanceof Deno.errors.NotCapable || failure instanceof Deno.errors.PermissionDenied
    ) {
      error(`error: ${failure.message}`);
      return EXIT.usage;
    }
    throw failure;
  }
}

function parseFlags(
  args: string[],
  extra: Record<string, { type: "string" | "boolean" }> = {},
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    return parseArgs({
      args,
      options: { ...CONNECTION_FLAGS, ...extra },
      allowPositionals: true,
      strict: true,
    });
  } catch (failure) {
    throw new UsageError(failure instanceof Error ? failure.message : String(failure));
  }
}

if (import.meta.main) {
  const stop = new AbortController();
  Deno.addSignalListener("SIGINT", () => stop.abort());
  Deno.exit(await main(Deno.args, undefined, stop.signal));
}
