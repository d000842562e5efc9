// Waiting for one thing or for a connection's end, many times over: nothing
// stays attached to the end's signal once a wait is over.

import assert from "node:assert/strict";
import { untilAborted } from "../_shared/until_aborted.ts";

/** Enough of an AbortSignal for untilAborted, counting the listeners attached now. */
class CountingSignal {
  aborted = false;
  readonly #listeners = new Set<() => void>();

  get listeners(): number {
    return this.#listeners.size;
  }

  addEventListener(_type: "abort", listener: () => void): void {
    this.#listeners.add(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    this.#listeners.delete(listener);
  }

  /** Aborts: each listener is called once and goes (they are all `once`). */
  abort(): void {
    this.aborted = true;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const listener of listeners) listener();
  }
}

Deno.test("untilAborted: a thousand waits that end leave nothing attached to the signal", async () => {
  const signal = new CountingSignal();
  for (let i = 0; i < 1_000; i++) {
    await untilAborted(Promise.resolve(), signal as unknown as AbortSignal);
  }
  assert.equal(signal.listeners, 0);
});

Deno.test("untilAborted: settles as its event does, or resolves when the signal aborts", async () => {
  const signal = new CountingSignal();
  const failure = new Error("reset");
  await assert.rejects(
    untilAborted(Promise.reject(failure), signal as unknown as AbortSignal),
    (error) => error === failure,
  );
  let settled = false;
  const never = new Promise<void>(() => {});
  const waiting = untilAborted(never, signal as unknown as AbortSignal).then(() => settled = true);
  await Promise.resolve();
  assert.equal(settled, false);
  signal.abort();
  await waiting;
  assert.equal(settled, true);
  // Aborted already: resolves at once, attaching nothing.
  await untilAborted(never, signal as unknown as AbortSignal);
  assert.equal(signal.listeners, 0);
});
