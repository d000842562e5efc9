import assert from "node:assert/strict";
import { checkDuration, Deadline, MAX_TIMER_MS, startTimer } from "../_shared/timers.ts";

Deno.test("startTimer() arms nothing for a delay past 2^31 - 1 ms or Infinity, and fires otherwise", async () => {
  assert.equal(startTimer(() => assert.fail("fired"), Infinity), undefined);
  assert.equal(startTimer(() => assert.fail("fired"), MAX_TIMER_MS + 1), undefined);
  assert.equal(startTimer(() => assert.fail("fired"), 2 ** 31), undefined);
  let fired = 0;
  await new Promise<void>((resolve) => {
    startTimer(() => {
      fired++;
      resolve();
    }, -5);
  });
  assert.equal(fired, 1);
});

Deno.test("checkDuration() takes a non-negative number or Infinity and refuses the rest by name", () => {
  assert.equal(checkDuration("timeout", 0), 0);
  assert.equal(checkDuration("timeout", Infinity), Infinity);
  for (const bad of [-1, NaN, "5" as unknown as number, undefined as unknown as number]) {
    assert.throws(() => checkDuration("gracePeriod", bad), /Cannot use gracePeriod/);
  }
});

Deno.test("Deadline: start() re-arms from now, stop() disarms, zero or less never arms", async () => {
  let expired = 0;
  let onExpired = () => {};
  const deadline = new Deadline(() => {
    expired++;
    onExpired();
  });
  deadline.start(0);
  assert.equal(deadline.armed, false);
  deadline.start(Infinity);
  assert.equal(deadline.armed, true);
  deadline.stop();
  const started = performance.now();
  deadline.start(5);
  deadline.start(30);
  await new Promise<void>((resolve) => onExpired = resolve);
  // Re-armed at 30 ms: the first arming (5 ms) never fired.
  assert.ok(performance.now() - started >= 29, "fired on the first arming");
  assert.equal(expired, 1);
  assert.equal(deadline.armed, false);
  deadline.start(5);
  deadline.stop();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(expired, 1);
});
