// Fair turns for one connection's reads. Reads that keep returning at once
// never let the event loop poll the other sockets (nor accept new ones): a
// peer pipelining small frames would starve them. After FRAMES_PER_TURN
// frames from reads that came back full, the reader yields a turn: alone, a
// cheap yield that lets a new connection in; with others, a timer, the yield
// that gives their reads a fair turn.

import { yieldToEventLoop } from "../_shared/timers.ts";

const FRAMES_PER_TURN = 512;

export class FairTurns {
  #frames = 0;

  /**
   * Counts one read's frames.
   *
   * @param full Whether the read filled the read buffer (more is waiting).
   * @param frames The frames it held.
   * @param crowded Whether other connections share the event loop.
   * @returns A turn to wait for before the next read, or `undefined`.
   */
  afterRead(full: boolean, frames: number, crowded: boolean): Promise<void> | undefined {
    if (!full) {
      this.#frames = 0;
      return undefined;
    }
    if ((this.#frames += frames) < FRAMES_PER_TURN) return undefined;
    this.#frames = 0;
    return crowded ? new Promise((resolve) => setTimeout(resolve, 0)) : yieldToEventLoop();
  }
}
