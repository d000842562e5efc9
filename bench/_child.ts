// A helper process of a bench tool: the same script started in "server"
// mode, spoken to by lines on stdin and stdout.

/** A child running `script server ...args`, talked to line by line. */
export class ChildServer {
  readonly #child: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #buffered = "";

  constructor(script: string, args: string[], flags: string[] = []) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        ...flags,
        script,
        "server",
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#writer = this.#child.stdin.getWriter();
  }

  /** The next line the child prints. */
  async line(): Promise<string> {
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("The helper process ended");
      this.#buffered += value;
    }
    const at = this.#buffered.indexOf("\n");
    const text = this.#buffered.slice(0, at);
    this.#buffered = this.#buffered.slice(at + 1);
    return text;
  }

  /** Sends one command line; with `reply`, resolves with the line printed back. */
  async ask(command: string, reply = true): Promise<string> {
    await this.#writer.write(new TextEncoder().encode(`${command}\n`));
    return reply ? await this.line() : "";
  }

  async stop(): Promise<void> {
    this.#child.kill();
    await this.#reader.cancel().catch(() => {});
    await this.#writer.close().catch(() => {});
    await this.#child.status;
  }
}

/** Reads stdin commands in a helper process, answering each with `handle`. */
export async function serveCommands(
  handle: (command: string) => Promise<void> | void,
) {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  for await (const chunk of lines) {
    for (const command of chunk.split("\n")) {
      if (command !== "") await handle(command);
    }
  }
}

/**
 * The mod.ts a tool measures: the path given on its command line (after
 * `server` in the helper process), else this checkout's.
 */
export function moduleUnderTest(): string {
  const path = Deno.args[0] === "server" ? Deno.args[1] : Deno.args[0];
  return path === undefined
    ? new URL("../mod.ts", import.meta.url).href
    : new URL(path, `file://${Deno.cwd()}/`).href;
}
