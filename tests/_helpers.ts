// Shared test plumbing: raw sockets that speak frames by hand, so the tests
// check the server and client against the wire, not against each other.

import { decodeMessage, encodeFrame, encodeMessage, FrameDecoder } from "../codec.ts";
import type { BridgeResponse } from "../protocol.ts";
import { chaosProxy } from "./_chaos.ts";

/** A raw TCP connection with a frame reader, for black-box tests. */
export class RawPeer implements AsyncDisposable {
  readonly conn: Deno.Conn;
  readonly #decoder = new FrameDecoder({ maxBytes: 64 * 1024 * 1024 });
  readonly #frames: Uint8Array[] = [];
  #ended = false;
  #buffer = new Uint8Array(65_536);

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawPeer> {
    return new RawPeer(await Deno.connect({ hostname, port }));
  }

  /** Writes a value as a frame (an object is sent as JSON). */
  async send(value: unknown): Promise<void> {
    await this.write(
      value instanceof Uint8Array ? encodeFrame(value) : encodeMessage(value),
    );
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let written = 0; written < bytes.length;) {
      written += await this.conn.write(bytes.subarray(written));
    }
  }

  /** Reads the next frame as JSON, or undefined once the server closed. */
  async receive(): Promise<BridgeResponse | undefined> {
    while (this.#frames.length === 0 && !this.#ended) {
      let count: number | null;
      try {
        count = await this.conn.read(this.#buffer);
      } catch {
        count = null;
      }
      if (count === null) {
        this.#ended = true;
        break;
      }
      this.#decoder.push(
        this.#buffer.slice(0, count),
        (frame) => this.#frames.push(frame),
      );
    }
    const frame = this.#frames.shift();
    return frame === undefined ? undefined : decodeMessage(frame) as BridgeResponse;
  }

  /** Sends one request and reads one response. */
  async call(value: unknown): Promise<BridgeResponse | undefined> {
    await this.send(value);
    return await this.receive();
  }

  /** Resolves true once the server has closed the connection. */
  async closedByServer(): Promise<boolean> {
    while (await this.receive() !== undefined) {
      // Drain whatever came before the close.
    }
    return this.#ended;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

// With SOCKETBRIDGE_TEST_CHAOS=<seed> set, the tests reach every server they
// start through a chaos proxy (see _chaos.ts): same assertions, but bytes
// arrive split, merged and delayed (`deno task test:chaos`).
let chaosSeed = Number(
  Deno.permissions.querySync({
      name: "env",
      variable: "SOCKETBRIDGE_TEST_CHAOS",
    }).state ===
      "granted"
    ? Deno.env.get("SOCKETBRIDGE_TEST_CHAOS") ?? NaN
    : NaN,
);
const proxied = new WeakMap<object, number>();

/**
 * The port to reach a TCP server on: its own, or, in chaos mode, the port of
 * a chaos proxy in front of it that closes when the server has finished.
 */
export function portOf(
  server: { addr: Deno.Addr; finished?: Promise<void> },
): number {
  const { hostname, port } = server.addr as Deno.NetAddr;
  if (Number.isNaN(chaosSeed) || server.finished === undefined) return port;
  const known = proxied.get(server);
  if (known !== undefined) return known;
  const proxy = chaosProxy(port, {
    seed: chaosSeed++,
    hostname: hostname === "0.0.0.0" ? "127.0.0.1" : hostname,
    maxPiece: 1 + (chaosSeed % 97),
    delayChance: 0.01,
  });
  // `finished` (awaited by shutdown() and disposal) now covers the proxy too.
  (server as { finished: Promise<void> }).finished = server.finished.then(() =>
    proxy[Symbol.asyncDispose]()
  );
  proxied.set(server, proxy.port);
  return proxy.port;
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** The bytes of `parts`, one after another. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A small seeded PRNG (mulberry32), so random tests repeat exactly. */
export function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

type Payload = Record<string, unknown>;

/**
 * A hand-written peer on a raw listener: for each request frame it runs
 * `answer`, which writes whatever bytes it likes. It knows Part A only.
 */
export function rawServer(
  answer: (
    request: Payload,
    conn: Deno.Conn,
    index: number,
  ) => Promise<void> | void,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: Payload[] = [];
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const decoder = new FrameDecoder();
        const buffer = new Uint8Array(65_536);
        try {
          for (
            let n = await conn.read(buffer);
            n !== null;
            n = await conn.read(buffer)
          ) {
            const frames: Payload[] = [];
            decoder.push(
              buffer.slice(0, n),
              (f) => frames.push(decodeMessage(f) as Payload),
            );
            for (const frame of frames) {
              requests.push(frame);
              await answer(frame, conn, requests.length - 1);
            }
          }
        } catch {
          // The client went away.
        } finally {
          conns.delete(conn);
          try {
            conn.close();
          } catch {
            // Closed by the test.
          }
        }
      })();
    }
  })();
  return {
    port: listener.addr.port,
    requests,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await loop;
      await delay(5);
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
