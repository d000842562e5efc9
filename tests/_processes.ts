// Child processes the tests start and talk to: Deno scripts (soaks, the
// examples, the CLI), the example server, and the original's Python fixture.

export const DENO = Deno.execPath();
export const ROOT = new URL("../", import.meta.url).pathname;

/**
 * A soak's server process (`deno run --expose-gc SCRIPT server ...args`),
 * spoken to by lines: it prints its port first, then one JSON line per
 * `report` command.
 */
export class SoakChild implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #input: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: ReadableStreamDefaultReader<string>;
  #buffered = "";

  constructor(script: string, args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.0.0.1", "--v8-flags=--expose-gc", script, "server", ...args],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    this.#input = this.#child.stdin.getWriter();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next line it prints. */
  async line(): Promise<string> {
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#lines.read();
      if (done) throw new Error("The soak server exited");
      this.#buffered += value;
    }
    const at = this.#buffered.indexOf("\n");
    const first = this.#buffered.slice(0, at);
    this.#buffered = this.#buffered.slice(at + 1);
    return first;
  }

  /** Its counts, after a full GC. */
  async report<Report>(): Promise<Report> {
    await this.#input.write(new TextEncoder().encode("report\n"));
    return JSON.parse(await this.line());
  }

  /** Closes its stdin (it shuts down) and waits for it to exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#input.close().catch(() => {});
    await this.#lines.cancel();
    await this.#child.status;
  }
}

/** A soak's failure when the server's RSS after GC grew past 10%, else undefined. */
export function rssGrowth(beforeMiB: number, afterMiB: number): string | undefined {
  if (afterMiB <= beforeMiB * 1.1) return undefined;
  return `server RSS grew from ${beforeMiB.toFixed(1)} to ${afterMiB.toFixed(1)} MiB`;
}

/** Runs `deno ARGS` from the repository's root to its end, with `stdin` fed in if given. */
export async function runDeno(
  args: string[],
  { stdin, env }: { stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(DENO, {
    args,
    cwd: ROOT,
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/** Starts `deno run` on a script and resolves once it printed its first line. */
export async function spawnDeno(
  args: string[],
  env?: Record<string, string>,
): Promise<
  { child: Deno.ChildProcess; firstLine: string; rest: Promise<string> }
> {
  const child = new Deno.Command(DENO, {
    args,
    env,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      const stderr = await new Response(child.stderr).text();
      await child.status;
      throw new Error(
        `${args.join(" ")} exited before printing: ${text}${stderr}`,
      );
    }
    text += value;
  }
  const newline = text.indexOf("\n");
  const rest = (async () => {
    let tail = text.slice(newline + 1);
    for (
      let chunk = await reader.read();
      !chunk.done;
      chunk = await reader.read()
    ) {
      tail += chunk.value;
    }
    await child.stderr.cancel();
    return tail;
  })();
  return { child, firstLine: text.slice(0, newline), rest };
}

/** A loopback port free at the time of asking. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** `examples/server.ts` running in its own process. */
export interface ExampleServer extends AsyncDisposable {
  readonly port: number;
  readonly firstLine: string;
  readonly child: Deno.ChildProcess;
  /** Sends `signal`, and resolves with the exit status and what it printed after its first line. */
  stop(
    signal?: Deno.Signal,
  ): Promise<{ status: Deno.CommandStatus; tail: string }>;
}

/**
 * Starts `examples/server.ts` with `--allow-net=127.0.0.1:<port>` and no
 * other permission, so every test that uses it also proves the narrow grant.
 * Without `--token` in `flags` it passes `--no-token`: the example refuses
 * to guess when it cannot read SOCKETBRIDGE_TOKEN.
 */
export async function startExampleServer(
  flags: string[] = [],
  { port = freePort(), env }: { port?: number; env?: Record<string, string> } = {},
): Promise<ExampleServer> {
  const { child, firstLine, rest } = await spawnDeno(
    [
      "run",
      `--allow-net=127.0.0.1:${port}`,
      "--no-prompt",
      "examples/server.ts",
      "--port",
      String(port),
      ...flags,
      ...(flags.includes("--token") ? [] : ["--no-token"]),
    ],
    env,
  );
  let stopped:
    | Promise<{ status: Deno.CommandStatus; tail: string }>
    | undefined;
  const stop = (signal: Deno.Signal = "SIGINT") => {
    stopped ??= (async () => {
      child.kill(signal);
      const tail = await rest;
      return { status: await child.status, tail };
    })();
    return stopped;
  };
  return {
    port,
    firstLine,
    child,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** Whether anything (a file, a socket, a link) is at `path`. */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

let python: boolean | undefined;

/** Whether python3 runs here (the original-protocol fixtures need it); asked once. */
export function hasPython(): boolean {
  if (python === undefined) {
    try {
      python = new Deno.Command("python3", { args: ["--version"] }).outputSync().success;
    } catch {
      python = false;
    }
    // Under CI (.ci/run sets it) a missing python3 fails the run instead of skipping tests.
    if (!python && Deno.env.get("SOCKETBRIDGE_REQUIRE_PYTHON") === "1") {
      throw new Error("python3 is required (SOCKETBRIDGE_REQUIRE_PYTHON=1) but cannot be run");
    }
  }
  return python;
}

/** The Part A fixture server (tests/fixtures/original_server.py) on a free port. */
export async function startOriginalServer(
  token: string,
): Promise<{ port: number } & AsyncDisposable> {
  const child = new Deno.Command("python3", {
    args: [`${ROOT}tests/fixtures/original_server.py`, token],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const banner = (await reader.read()).value ?? "";
  const port = Number(banner.match(/:(\d+)/)?.[1]);
  return {
    port,
    async [Symbol.asyncDispose]() {
      child.kill();
      await reader.cancel();
      await child.status;
    },
  };
}
