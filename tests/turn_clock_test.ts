// The turn clock: one reading per turn of the event loop.

import assert from "node:assert/strict";
import { turnNow } from "../_server/turn_clock.ts";

Deno.test("turnNow gives one reading for the whole turn, and a new one in the next turn", async () => {
  // Let an earlier turn's reading go, then start a turn of our own.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const first = turnNow();
  const spinUntil = performance.now() + 3;
  while (performance.now() < spinUntil) {
    // Time passes within the turn.
  }
  assert.equal(turnNow(), first, "a second reading in the same turn");
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = turnNow();
  assert.ok(later - first >= 3, `the next turn reads the clock again (${later - first} ms later)`);
  assert.ok(Math.abs(later - performance.now()) < 1, "the new reading is the clock's");
});
