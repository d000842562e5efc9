// Timers armed from a caller's number. `setTimeout` holds a signed 32-bit
// delay: anything from 2^31 ms up (or Infinity) is clamped to 1 ms and the
// runtime prints a warning. A delay that long means "practically never", so
// no timer is armed at all.

/** The longest delay `setTimeout` can hold, in milliseconds (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer handle, or `undefined` when the delay means never. */
export type TimerHandle = ReturnType<typeof setTimeout> | undefined;

/** Calls `callback` after `ms`; arms nothing when `ms` is past {@linkcode MAX_TIMER_MS}. */
export function startTimer(callback: () => void, ms: number): TimerHandle {
  if (!(ms <= MAX_TIMER_MS)) return undefined;
  return setTimeout(callback, ms > 0 ? ms : 0);
}

/** Checks a duration option: a non-negative number of ms; `Infinity` means never. */
export function checkDuration(name: string, value: number): number {
  if (typeof value !== "number" || !(value >= 0)) {
    throw new TypeError(
      `Cannot use ${name} ${String(value)}: expected a non-negative number of milliseconds`,
    );
  }
  return value;
}

/**
 * One restartable deadline. `start()` re-arms it from now; `stop()` disarms
 * it. A connection keeps one per rule, so no rule can disarm another's.
 */
export class Deadline {
  readonly #onExpire: () => void;
  #handle: TimerHandle;
  #armed = false;

  constructor(onExpire: () => void) {
    this.#onExpire = onExpire;
  }

  get armed(): boolean {
    return this.#armed;
  }

  start(ms: number): void {
    this.stop();
    if (ms <= 0) return;
    this.#armed = true;
    this.#handle = startTimer(() => {
      this.#armed = false;
      this.#handle = undefined;
      this.#onExpire();
    }, ms);
  }

  stop(): void {
    this.#armed = false;
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}

/**
 * Yields to the event loop so that it polls its sockets: a message through a
 * fresh MessageChannel is delivered by the runtime's op loop, after I/O, in
 * about 40 µs. (A promise never reaches the poll phase; `setTimeout(0)` does,
 * but costs a millisecond or more.)
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(undefined);
    port2.close();
  });
}
