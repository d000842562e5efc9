// Why a connection stops reading for a while, and what reads it again: its
// peer does not take its answers (the outbound queue is full: closed after
// writeTimeout), its requests wait for a slot, or the server's memory
// budget says so (MemoryPause). Each pause has a bound of its own.

import type { ChunkReader } from "../_shared/transport.ts";
import { MemoryPause, type MemoryPauseHost } from "./memory_pause.ts";

/** What the pauses need from their connection. */
export interface ReadPausesHost extends MemoryPauseHost {
  readonly reader: ChunkReader;
  /** Aborted once the connection is closed. */
  readonly closed: AbortSignal;
  /** Whether the requests waiting for a slot fill the backlog. */
  backlogFull(): boolean;
}

export class ReadPauses {
  readonly #host: ReadPausesHost;
  readonly #memory: MemoryPause;
  // Set while waiting for a slot: looks again.
  #slotFreed?: () => void;

  constructor(host: ReadPausesHost) {
    this.#host = host;
    this.#memory = new MemoryPause(host);
  }

  /** The pause to take before the next read, or `undefined` to read on. */
  next(): Promise<void> | undefined {
    const host = this.#host;
    if (host.writer.full) return this.#waitForWriter();
    if (host.backlogFull()) return this.#waitForSlot();
    if (this.#memory.needed()) return this.#memory.wait();
    return undefined;
  }

  /** A request settled: a wait for a slot looks again. */
  settled(): void {
    const slotFreed = this.#slotFreed;
    this.#slotFreed = undefined;
    slotFreed?.();
  }

  /** The peer took some of its answers. */
  written(): void {
    this.#memory.written();
  }

  /** Waits until the peer reads its answers; closes it after writeTimeout. */
  async #waitForWriter(): Promise<void> {
    const { writer, writeTimeout, closed } = this.#host;
    if (await writer.readyWithin(writeTimeout, closed)) return;
    this.#host.stalled();
  }

  /**
   * Waits for a free slot. Meanwhile one read is kept pending: a peer that
   * resets its connection is noticed at once and its queued requests are
   * dropped, instead of being run for nobody. What that read brings is kept
   * for later (one chunk at most), and the end of input (a half-close) is
   * not a reason to stop.
   */
  async #waitForSlot(): Promise<void> {
    const { reader, until } = this.#host;
    const slot = new Promise<void>((resolve) => this.#slotFreed = resolve);
    let readFinished = false;
    // A failed read (a reset) throws here and ends the connection.
    await until(
      Promise.race([
        slot,
        reader.readAhead().then(() => {
          readFinished = true;
        }),
      ]),
    );
    if (readFinished) await until(slot);
  }
}
