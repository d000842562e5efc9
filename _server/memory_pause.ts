// When a connection stops being read for the server's memory budget, and
// what reads it again. A stranger (no request completed yet) pauses as the
// budget says (`MemoryBudget.strangerPaused`). A proven client pauses only
// when it holds more than its share of tight memory while answers wait for
// it to read them: read on, it would only earn `busy` answers it does not
// read either. It is read again once it has read them all (or memory frees):
// what it waits for is its own reading, never another client's, so paused
// clients cannot wait on each other. Over its share with nothing unread
// (half a frame, running handlers) it is read on, refused new work, and
// closed if it holds the most past the limit.

import type { MemoryBudget, MemoryHolder } from "./budget.ts";
import type { FrameWriter } from "../_shared/writer.ts";
import { Deadline } from "../_shared/timers.ts";

/** What a pause needs from its connection. */
export interface MemoryPauseHost {
  readonly budget: MemoryBudget;
  /** The connection, as the budget sees it. */
  readonly holder: MemoryHolder;
  readonly writer: FrameWriter;
  readonly writeTimeout: number;
  /** Gives back the read buffer, and charges the budget with what is held now. */
  release(): void;
  /** Waits for `event`, or for the connection to close. */
  until(event: Promise<void>): Promise<void>;
  /** Closes a peer that has taken none of its answers for writeTimeout. */
  stalled(): void;
}

export class MemoryPause {
  readonly #host: MemoryPauseHost;
  // Set while paused: reads again.
  #resume?: () => void;

  constructor(host: MemoryPauseHost) {
    this.#host = host;
  }

  /** Whether the connection must stop reading now (a stranger told so may be made exempt instead). */
  needed(): boolean {
    const { budget, holder } = this.#host;
    return holder.proven ? this.#overShareWithUnread() : budget.strangerPaused(holder);
  }

  /**
   * Stops reading until the budget has room for the connection again, or a
   * proven one has read all its answers. Meanwhile it keeps no
   * read buffer; a stranger's authTimeout still runs, and a proven client
   * that takes none of its answers for writeTimeout is closed, as with a
   * full queue.
   */
  wait(): Promise<void> {
    const host = this.#host;
    host.release();
    const stalled = new Deadline(() => this.#closeIfStalled(stalled));
    if (host.holder.proven) this.#closeIfStalled(stalled);
    return host.until(
      new Promise<void>((resolve) => {
        this.#resume = resolve;
        host.budget.onRoom(host.holder, resolve);
      }),
    ).finally(() => {
      this.#resume = undefined;
      stalled.stop();
    });
  }

  /** The peer took some of its answers: a proven client paused for them may be read again. */
  written(): void {
    if (this.#resume !== undefined && this.#host.holder.proven && !this.#overShareWithUnread()) {
      this.#resume();
    }
  }

  #overShareWithUnread(): boolean {
    const { budget, holder, writer } = this.#host;
    return writer.bufferedBytes > 0 && budget.overShare(holder);
  }

  #closeIfStalled(deadline: Deadline): void {
    const { writer, writeTimeout } = this.#host;
    const left = writeTimeout - writer.stalledFor;
    if (left > 0 || writer.bufferedBytes === 0) {
      deadline.start(left > 0 ? left : writeTimeout);
    } else {
      this.#host.stalled();
    }
  }
}
