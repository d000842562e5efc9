// What every CLI command reads from its arguments: where the server is, the
// token (never from a flag: every user sees flags in `ps`), numbers and a
// JSON payload, each refused with a UsageError that names the flag.

import type { ConnectionOptions } from "../mod.ts";

/** The CLI's exit statuses. */
export const EXIT = { ok: 0, errorAnswer: 1, usage: 2, noAnswer: 3 } as const;

/** The flags every command that reaches a server takes. */
export const CONNECTION_FLAGS = {
  name: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  path: { type: "string" },
  "token-file": { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parsed flags, by name. */
export type Flags = Record<string, string | boolean | undefined>;

/** Bad usage: printed with a pointer to the command's --help, exit 2. */
export class UsageError extends Error {}

/** Where to connect, and the token: never from a flag. */
export function connection(flags: Flags): ConnectionOptions {
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

/** The token from --token-file, else SOCKETBRIDGE_TOKEN when readable. */
export function tokenOf(file: string | undefined): string | undefined {
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

/** A flag's whole number, or undefined when the flag is absent. */
export function wholeNumber(flag: string, text: string | boolean | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (typeof text !== "string" || text.trim() === "" || !Number.isInteger(value) || value < 0) {
    throw new UsageError(`--${flag}: expected a whole number, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A JSON object from the argument, or from stdin for `-`; `{}` when absent. */
export async function payloadOf(json: string | undefined): Promise<Record<string, unknown>> {
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

/** Refuses positionals past the first `max`. */
export function atMost(positionals: readonly string[], max: number): void {
  if (positionals.length > max) throw new UsageError(`unexpected "${positionals[max]}"`);
}
