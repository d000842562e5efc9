// The clock as of this turn of the event loop: read once per turn, however
// many requests the turn handles. For times that need only to be about
// right, such as when an idempotency key was first seen (kept for minutes):
// a busy pipelined connection handles dozens of keyed requests in one turn,
// and reading the clock for each cost more than the rest of remembering a
// key. The value is late by at most the time the current turn has run.
// Pure: no Deno APIs.

let now = 0;
let fresh = false;
const stale = (): void => {
  fresh = false;
};

/** `performance.now()`, read at most once per turn of the event loop. */
export function turnNow(): number {
  if (!fresh) {
    now = performance.now();
    fresh = true;
    // Microtasks run once this turn's code is done: the next turn reads the clock again.
    queueMicrotask(stale);
  }
  return now;
}
