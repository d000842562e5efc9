// The chaos transport: re-chunks a byte stream under a seed, splitting,
// merging and delaying chunks, and can cut it short. Used as a
// TransformStream for the codec, and as a loopback TCP proxy in front of a
// real server for the server and client.

import { delay, seeded } from "./_helpers.ts";

/** How the chaos transport treats bytes. */
export interface ChaosOptions {
  /** The seed: the same seed makes the same cuts and delays. */
  seed: number;
  /** Largest piece forwarded at once. @default {64} */
  maxPiece?: number;
  /** Chance (0..1) of a 0-2 ms pause before a piece, letting later bytes merge. @default {0.05} */
  delayChance?: number;
  /** Forward this many bytes, then cut the stream. @default {Infinity} */
  truncateAfter?: number;
  /** Where the proxy listens and finds its target. @default {"127.0.0.1"} */
  hostname?: string;
}

/** Splits every incoming byte range into seeded pieces, pausing now and then. */
function planner(options: ChaosOptions) {
  const random = seeded(options.seed);
  const maxPiece = options.maxPiece ?? 64;
  const delayChance = options.delayChance ?? 0.05;
  let budget = options.truncateAfter ?? Infinity;
  return {
    /** The pieces to forward for `bytes`, each with a pause before it; `cut` once the budget ends. */
    plan(
      bytes: Uint8Array,
    ): { pieces: { piece: Uint8Array; pauseMs: number }[]; cut: boolean } {
      const pieces = [];
      let at = 0;
      while (at < bytes.length && budget > 0) {
        const size = Math.min(
          1 + Math.floor(random() * maxPiece),
          bytes.length - at,
          budget,
        );
        const pauseMs = random() < delayChance ? random() * 2 : 0;
        pieces.push({ piece: bytes.slice(at, at + size), pauseMs });
        at += size;
        budget -= size;
      }
      return { pieces, cut: budget <= 0 };
    },
  };
}

/** A TransformStream that re-chunks bytes under a seed (merging by holding bytes back). */
export function chaosStream(
  options: ChaosOptions,
): TransformStream<Uint8Array, Uint8Array> {
  const { plan } = planner(options);
  const random = seeded(options.seed ^ 0x5bd1e995);
  let held: Uint8Array[] = [];
  const flush = (
    controller: TransformStreamDefaultController<Uint8Array>,
  ): void => {
    const total = held.reduce((n, c) => n + c.length, 0);
    const merged = new Uint8Array(total);
    let at = 0;
    for (const chunk of held) {
      merged.set(chunk, at);
      at += chunk.length;
    }
    held = [];
    const { pieces, cut } = plan(merged);
    for (const { piece } of pieces) controller.enqueue(piece);
    if (cut) controller.terminate();
  };
  return new TransformStream({
    transform(chunk, controller) {
      held.push(chunk);
      // Sometimes hold bytes back so they merge with the next chunk.
      if (random() < 0.3) return;
      flush(controller);
    },
    flush(controller) {
      if (held.length > 0) flush(controller);
    },
  });
}

/**
 * A loopback TCP proxy to `targetPort` that passes each direction through
 * its own chaos plan. Half-closes are forwarded; a truncation closes both.
 */
export function chaosProxy(targetPort: number, options: ChaosOptions) {
  const hostname = options.hostname ?? "127.0.0.1";
  const listener = Deno.listen({ hostname, port: 0 });
  const open = new Set<Deno.Conn>();
  let connections = 0;
  const pumps: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname, port: targetPort });
      } catch {
        // The target is gone (shut down under us): refuse this client too.
        client.close();
        continue;
      }
      open.add(client);
      open.add(server);
      const n = connections++;
      const seedOf = (direction: number) => ({
        ...options,
        seed: options.seed * 7919 + n * 2 + direction,
      });
      const cut = () => {
        for (const conn of [client, server]) {
          open.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        }
      };
      const both = Promise.all([
        pump(client, server, seedOf(0), cut),
        pump(server, client, seedOf(1), cut),
      ]).then(cut);
      pumps.push(both);
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose](): Promise<void> {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await Promise.all(pumps);
    },
  };
}

async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  options: ChaosOptions,
  cut: () => void,
): Promise<void> {
  const { plan } = planner(options);
  const buffer = new Uint8Array(65_536);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) {
        await to.closeWrite();
        return;
      }
      const { pieces, cut: ended } = plan(buffer.subarray(0, n));
      for (const { piece, pauseMs } of pieces) {
        if (pauseMs > 0) await delay(pauseMs);
        for (let at = 0; at < piece.length;) {
          at += await to.write(piece.subarray(at));
        }
      }
      if (ended) {
        cut();
        return;
      }
    }
  } catch {
    cut();
  }
}
