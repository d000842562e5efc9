// The CLI's `serve --exec CMD`: each request runs CMD with the payload as
// JSON on its stdin; its stdout, parsed as JSON, is the result. Bounded:
// at most `concurrency` at once (others wait in line), a time limit (the
// child is killed), and at most `maxOutput` bytes read from each stream.
// A request ends when its command exits or its time is up, whatever the
// command left behind: what is still in its process group is killed, and
// pipes held open by a process that escaped the group (`setsid`) are read
// no longer than EXIT_GRACE_MS after the exit.

import { ApplicationError } from "../errors.ts";
import type { RequestInfo } from "../server.ts";
import { startTimer } from "../_shared/timers.ts";

/** How long the pipes are read after the command exited, for output still in flight. */
const EXIT_GRACE_MS = 200;

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
  // Stops reading the pipes: at the deadline, on abort, or a grace period after the exit.
  const reading = new AbortController();
  const killGroup = () => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited already, and nothing of its group is left.
      }
    }
  };
  const kill = (why: string) => {
    killedFor ??= why;
    killGroup();
    reading.abort();
  };
  const timer = startTimer(
    () => kill(`took longer than ${options.timeout} ms`),
    options.timeout,
  );
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const exited = child.status.then((status) => {
    // What it left running in its group would hold the pipes open: it goes too.
    killGroup();
    graceTimer = setTimeout(() => reading.abort(), EXIT_GRACE_MS);
    return status;
  });
  const onAbort = () => kill("cancelled");
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(payload) + "\n")).catch(() => {});
    await writer.close().catch(() => {});
    const [stdout, stderr] = await Promise.all([
      readCapped(child.stdout, options.maxOutput, () => kill("wrote too much"), reading.signal),
      readCapped(child.stderr, options.maxOutput, () => {}, reading.signal),
    ]);
    signal.throwIfAborted();
    if (killedFor !== undefined) throw new Error(`${program} ${killedFor}`);
    const status = await exited;
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
    if (timer !== undefined) clearTimeout(timer);
    clearTimeout(graceTimer);
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Reads a stream as text until its end or `stop`, up to `limit` bytes; past
 * the limit it calls `over` and stops keeping.
 */
async function readCapped(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  over: () => void,
  stop: AbortSignal,
): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  const stopped = new Promise<{ done: true; value: undefined }>((resolve) => {
    if (stop.aborted) resolve({ done: true, value: undefined });
    stop.addEventListener("abort", () => resolve({ done: true, value: undefined }), {
      once: true,
    });
  });
  while (true) {
    const { done, value } = await Promise.race([reader.read(), stopped]);
    if (done) break;
    if (size + value.length > limit) {
      over();
      continue;
    }
    parts.push(value);
    size += value.length;
  }
  // Closes our end, whoever still holds the other.
  reader.cancel().catch(() => {});
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return new TextDecoder().decode(all);
}
