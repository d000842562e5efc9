// The CLI's `serve --exec CMD`: each request runs CMD with the payload as
// JSON on its stdin; its stdout, parsed as JSON, is the result. Bounded:
// at most `concurrency` at once (others wait in line), a time limit (the
// child is killed), and at most `maxOutput` bytes read from each stream.

import { ApplicationError } from "../errors.ts";
import type { RequestInfo } from "../server.ts";

/** How `serve --exec` runs its command. */
export interface ExecOptions {
  /** The program and its arguments. */
  command: string[];
  /** Commands running at once; more requests wait. */
  concurrency: number;
  /** Milliseconds a run may take before it is killed. */
  timeout: number;
  /** Bytes read from stdout (and from stderr) at most; past it, the run fails. */
  maxOutput: number;
}

/** A handler that runs `options.command` for every request. */
export function execHandler(
  options: ExecOptions,
): (payload: Record<string, unknown>, info: RequestInfo) => Promise<unknown> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (payload, { signal }) => {
    if (running >= options.concurrency) {
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    running++;
    try {
      return await runOnce(options, payload, signal);
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

async function runOnce(
  options: ExecOptions,
  payload: Record<string, unknown>,
  signal: AbortSignal,
): Promise<unknown> {
  signal.throwIfAborted();
  const [program, ...args] = options.command;
  const child = new Deno.Command(program, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // Its own process group, so a kill reaches what it started too (a
    // `sleep` under `sh` would otherwise hold the pipes open).
    detached: true,
  }).spawn();
  let killedFor: string | undefined;
  const kill = (why: string) => {
    killedFor ??= why;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
    }
  };
  const timer = setTimeout(
    () => kill(`took longer than ${options.timeout} ms`),
    options.timeout,
  );
  const onAbort = () => kill("cancelled");
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(payload) + "\n")).catch(() => {});
    await writer.close().catch(() => {});
    const [stdout, stderr, status] = await Promise.all([
      readCapped(child.stdout, options.maxOutput, () => kill("wrote too much")),
      readCapped(child.stderr, options.maxOutput, () => {}),
      child.status,
    ]);
    signal.throwIfAborted();
    if (killedFor !== undefined) throw new Error(`${program} ${killedFor}`);
    if (!status.success) {
      const lastLine = stderr.trim().split("\n").at(-1) ?? "";
      throw new Error(
        `${program} exited with code ${status.code}${lastLine === "" ? "" : `: ${lastLine}`}`,
      );
    }
    if (stdout.trim() === "") {
      throw new ApplicationError("no_output", `${program} printed nothing`);
    }
    try {
      return JSON.parse(stdout);
    } catch {
      throw new ApplicationError("bad_output", `${program} printed something that is not JSON`, {
        start: stdout.slice(0, 200),
      });
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/** Reads a stream as text, up to `limit` bytes; past it calls `over` and stops keeping. */
async function readCapped(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  over: () => void,
): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size + chunk.length > limit) {
      over();
      continue;
    }
    parts.push(chunk);
    size += chunk.length;
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return new TextDecoder().decode(all);
}
