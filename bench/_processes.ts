// The helper processes the bench tools start: where nats-server is, a free
// port, waiting for a listener, and a child's first line.

/** The Debian nats-server binary, if installed. */
export function natsServerPath(): string | undefined {
  for (
    const candidate of [
      "/usr/bin/nats-server",
      "/usr/local/bin/nats-server",
      "/usr/sbin/nats-server",
    ]
  ) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

/** A loopback port free at the time of asking. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** The first line a process prints, and a reader for the rest. */
export async function firstLine(
  stream: ReadableStream<Uint8Array>,
): Promise<{ line: string; rest: ReadableStreamDefaultReader<string> }> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Process ended before printing: ${text}`);
    text += value;
  }
  return { line: text.slice(0, text.indexOf("\n")), rest: reader };
}

/** Resolves once something accepts connections on the loopback `port`. */
export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`Nothing listens on ${port}`);
}

/** A nats-server on a free loopback port, ready once this resolves. */
export async function startBroker(
  path: string,
): Promise<{ port: number } & AsyncDisposable> {
  const port = freePort();
  const child = new Deno.Command(path, {
    args: ["-a", "127.0.0.1", "-p", String(port)],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    child.kill();
    await child.status;
  };
  try {
    await waitForPort(port);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, [Symbol.asyncDispose]: stop };
}
