import assert from "node:assert/strict";
import { Backoff } from "../_client/backoff.ts";

Deno.test("Backoff fills in its defaults and checks the caller's durations", () => {
  assert.deepEqual(new Backoff(true).options, {
    initialDelay: 100,
    maxDelay: 5_000,
    maxAttempts: Infinity,
    retryFirstConnect: false,
  });
  assert.throws(() => new Backoff({ initialDelay: -1 }), /initialDelay/);
  assert.throws(() => new Backoff({ maxDelay: NaN }), /maxDelay/);
});

Deno.test("Backoff.delay() stays between half and all of a doubling ceiling capped at maxDelay", () => {
  const backoff = new Backoff({ initialDelay: 10, maxDelay: 300 });
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(300, 10 * 2 ** attempt);
    for (let i = 0; i < 50; i++) {
      const delay = backoff.delay(attempt);
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt}: ${delay}`);
    }
  }
});

Deno.test("Backoff.wake() ends a wait at once, even an endless one", async () => {
  const backoff = new Backoff(true);
  const waiting = backoff.wait(Infinity).then(() => "woken");
  setTimeout(() => backoff.wake(), 5);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    waiting,
    new Promise((resolve) => timer = setTimeout(() => resolve("still waiting"), 10_000)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "woken");
  // A wake with no wait under way is harmless, and the next wait still runs its course.
  backoff.wake();
  assert.equal(await backoff.wait(1).then(() => "waited"), "waited");
});
