// Shared test plumbing: raw sockets that speak frames by hand, so the tests
// check the server and client against the wire, not against each other.

import { decodeMessage, encodeFrame, encodeMessage, FrameDecoder } from "../codec.ts";
import type { BridgeResponse } from "../protocol.ts";
import { chaosProxy } from "./_chaos.ts";
import { serve, type ServeTcpOptions } from "../server.ts";

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

/** Waits (bounded) until `check` holds; returns whether it did. */
export async function eventually(
  check: () => boolean,
  withinMs = 10_000,
): Promise<boolean> {
  const end = performance.now() + withinMs;
  while (!check()) {
    if (performance.now() > end) return false;
    await delay(10);
  }
  return true;
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

/**
 * A server whose handler echoes the payload, recording each with its
 * request id; `sleep` (ms), `hang` (until aborted) and `fail` (throw) in a
 * payload make it slow, stuck or failing.
 */
export function echoServer(options: ServeTcpOptions = {}) {
  const seen: { payload: Payload; requestId?: string | number }[] = [];
  const server = serve(
    { port: 0, ...options },
    async (payload: Payload, info) => {
      seen.push({ payload, requestId: info.requestId });
      if (typeof payload.sleep === "number") {
        await delay(
          payload.sleep,
          info.signal,
        );
      }
      if (payload.hang) {
        await new Promise((resolve) => info.signal.addEventListener("abort", resolve));
      }
      if (payload.fail) throw new Error(String(payload.fail));
      return payload;
    },
  );
  return { server, seen, port: portOf(server) };
}
