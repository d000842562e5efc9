/**
 * Flag parsing shared by the examples: `--help` prints usage and exits 0; a
 * bad flag or value prints one line naming it and exits 2, with no stack.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses `Deno.args` against `options` (plus `--help`), or exits. */
export function parseFlags<T extends Options>(
  options: T,
  usage: string,
): ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>["values"] {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    fail(`${error instanceof Error ? error.message : error} (see --help)`);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    Deno.exit(0);
  }
  return parsed.values as never;
}

/** Prints `error: <message>` and exits with status 2 (bad usage) or `code`. */
export function fail(message: string, code = 2): never {
  console.error(`error: ${message}`);
  Deno.exit(code);
}

/** A whole number flag from `min` to `max`, or exits naming the flag. */
export function numberFlag(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
    fail(`--${name} ${JSON.stringify(text)}: expected a whole number from ${min} to ${max}`);
  }
  return value;
}

/**
 * Whether SOCKETBRIDGE_TOKEN can be read. Deno cannot tell an unset variable
 * from one it may not read, so in a terminal it asks (Deno's own prompt).
 */
export function tokenEnvReadable(): boolean {
  const descriptor = { name: "env", variable: "SOCKETBRIDGE_TOKEN" } as const;
  if (Deno.permissions.querySync(descriptor).state === "granted") return true;
  if (!Deno.stdin.isTerminal()) return false;
  return Deno.permissions.requestSync(descriptor).state === "granted";
}

/** Reads a file a flag names, or exits naming the flag and the path. */
export function readFlagFile(name: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    fail(`--${name} ${path}: ${error instanceof Error ? error.message : error}`, 1);
  }
}

/**
 * Reads scoped tokens from a JSON file (name -> {"token", "types", "topics"}),
 * refused unless it is a regular file only its owner (this user) can read:
 * tokens are secrets, and never taken from a command line.
 */
export function readTokensFile(
  path: string | undefined,
): Record<string, { token: string; types: string[]; topics?: string[] }> | undefined {
  if (path === undefined) return undefined;
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    fail(`--tokens-file ${path}: ${error instanceof Error ? error.message : error}`);
  }
  if (!info.isFile) fail(`--tokens-file ${path}: not a regular file`);
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    fail(
      `--tokens-file ${path}: mode ${(info.mode & 0o777).toString(8)} lets others read it; ` +
        `chmod 600 ${path}`,
    );
  }
  if (info.uid !== null && info.uid !== Deno.uid()) {
    fail(`--tokens-file ${path}: owned by uid ${info.uid}, not by this user`);
  }
  try {
    const tokens = JSON.parse(Deno.readTextFileSync(path));
    if (typeof tokens !== "object" || tokens === null || Array.isArray(tokens)) throw new Error();
    return tokens;
  } catch {
    fail(`--tokens-file ${path}: expected a JSON object, name -> {"token", "types", "topics"}`);
  }
}
