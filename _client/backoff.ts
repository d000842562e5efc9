// Reconnection's waiting: exponential backoff with jitter, and a wait that
// a close or an abort can cut short. Pure: no Deno APIs.

import type { ReconnectOptions } from "./options.ts";
import { checkDuration, startTimer } from "../_shared/timers.ts";

export class Backoff {
  readonly options: Required<ReconnectOptions>;
  #wake?: () => void;

  /** Checks and completes the caller's reconnect options. */
  constructor(given: true | ReconnectOptions) {
    const wanted = given === true ? {} : given;
    this.options = {
      initialDelay: checkDuration("initialDelay", wanted.initialDelay ?? 100),
      maxDelay: checkDuration("maxDelay", wanted.maxDelay ?? 5_000),
      maxAttempts: wanted.maxAttempts ?? Infinity,
      retryFirstConnect: wanted.retryFirstConnect ?? false,
    };
  }

  /**
   * The wait before attempt `attempt` (0 is the first wait): between half
   * and all of an exponentially growing ceiling, so clients that lost the
   * same server at the same moment do not come back at the same moment.
   */
  delay(attempt: number): number {
    const { initialDelay, maxDelay } = this.options;
    const ceiling = Math.min(maxDelay, initialDelay * 2 ** attempt);
    return ceiling * (0.5 + Math.random() / 2);
  }

  /** Waits `ms`, or less if {@linkcode Backoff.wake} is called. */
  async wait(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = startTimer(resolve, ms);
      this.#wake = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  /** Ends the current wait at once (the client closed, or the caller aborted). */
  wake(): void {
    this.#wake?.();
  }
}
