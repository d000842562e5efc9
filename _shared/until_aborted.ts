// Waiting for one thing or for the end of a connection, many times over its
// life. `Promise.race([event, ended])` with one long-lived `ended` promise
// leaves a reaction on it per wait, kept until the connection ends: a
// connection that pauses for backpressure a thousand times held a thousand
// closures and promises (300 such peers: 88 MiB of live heap nobody
// charged). An abort listener is removed once the wait is over instead.

/**
 * Settles as `event` does, or resolves once `signal` aborts, whichever
 * comes first, and leaves nothing attached to `signal` afterwards.
 */
export function untilAborted(event: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    event.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(error);
    });
  });
}
