// A real nats-server for the tests (the Debian package), on a free loopback
// port. When it is missing the NATS tests are ignored with a loud warning,
// and under CI (SOCKETBRIDGE_REQUIRE_NATS=1, set by .ci/run) they fail.

// deno-lint-ignore no-import-prefix
import { connect as natsConnect, headers, type NatsConnection } from "npm:nats@^2.29.3";
import { delay } from "./_helpers.ts";
import { exists, freePort } from "./_processes.ts";

const CANDIDATES = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

/** The nats-server binary, if installed. */
export const NATS_SERVER: string | undefined = CANDIDATES.find(exists) ?? onPath();

function onPath(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir !== "" && exists(`${dir}/nats-server`)) return `${dir}/nats-server`;
  }
  return undefined;
}

if (NATS_SERVER === undefined) {
  const message = "nats-server is not installed: the NATS tests are IGNORED. " +
    "Install it (apt-get install nats-server) or run .ci/run, which does.";
  if (Deno.env.get("SOCKETBRIDGE_REQUIRE_NATS") === "1") throw new Error(message);
  console.warn(`\n*** ${message} ***\n`);
}

/** Whether the NATS tests must be skipped (said loudly above). */
export const NO_NATS = NATS_SERVER === undefined;

/** A nats-server process on loopback; restartable on the same port. */
export class NatsServer implements AsyncDisposable {
  readonly port: number;
  readonly #config?: string;
  #child?: Deno.ChildProcess;

  private constructor(port: number, config?: string) {
    this.port = port;
    this.#config = config;
  }

  /** Starts one; `config` is nats-server configuration text (users, permissions). */
  static async start(port = freePort(), config?: string): Promise<NatsServer> {
    let file: string | undefined;
    if (config !== undefined) {
      file = await Deno.makeTempFile({ suffix: ".conf" });
      await Deno.writeTextFile(file, config);
    }
    const server = new NatsServer(port, file);
    await server.restart();
    return server;
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts it (again) and resolves once it accepts clients. */
  async restart(): Promise<void> {
    this.#child = new Deno.Command(NATS_SERVER!, {
      args: [
        ...(this.#config === undefined ? [] : ["-c", this.#config]),
        "-a",
        "127.0.0.1",
        "-p",
        String(this.port),
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: this.port })).close();
        return;
      } catch {
        await delay(50);
      }
    }
    throw new Error(`nats-server did not listen on ${this.url}`);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }

  /** A client of it that keeps trying to reconnect (the tests stop it). */
  connect(user?: { user: string; pass: string }): Promise<NatsConnection> {
    return natsConnect({
      servers: this.url,
      reconnectTimeWait: 100,
      maxReconnectAttempts: -1,
      ...user,
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    if (this.#config !== undefined) await Deno.remove(this.#config).catch(() => {});
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A test against a fresh nats-server, with a NATS connection to it; ignored
 * (loudly, above) when nats-server is missing.
 */
export function natsTest(
  name: string,
  fn: (nats: NatsServer, nc: NatsConnection) => Promise<void>,
) {
  Deno.test({
    name,
    ignore: NO_NATS,
    async fn() {
      await using nats = await NatsServer.start();
      const nc = await nats.connect();
      try {
        await fn(nats, nc);
      } finally {
        await nc.close();
      }
    },
  });
}

/** A request by hand over NATS (`chunks` asks for streamed answers); its parsed answer. */
export async function rawRequest(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  chunks = false,
) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const options: { timeout: number; headers?: ReturnType<typeof headers> } = { timeout: 2_000 };
  if (chunks) {
    options.headers = headers();
    options.headers.set("SocketBridge-Features", "chunks");
  }
  const msg = await nc.request(subject, encoder.encode(text), options);
  return JSON.parse(decoder.decode(msg.data));
}
