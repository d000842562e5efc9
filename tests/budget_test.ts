// The server-wide memory budget, alone: charges kept in step with its total,
// the share past which a holder must pause, and the heaviest holders shed
// when it runs out.

import assert from "node:assert/strict";
import { MemoryBudget, MemoryCharge, type MemoryHolder } from "../_server/budget.ts";

class Holder implements MemoryHolder {
  readonly charge: MemoryCharge;
  evicted?: number;

  constructor(budget: MemoryBudget, readonly proven = true) {
    this.charge = new MemoryCharge(budget);
    budget.join(this);
  }

  get charged(): number {
    return this.charge.bytes;
  }

  evict(held: number): void {
    this.evicted = held;
    this.charge.set(0);
  }
}

Deno.test("MemoryCharge keeps the budget's total in step, and gives everything back at 0", () => {
  const budget = new MemoryBudget(1_000_000);
  const a = new Holder(budget);
  const b = new Holder(budget);
  a.charge.set(300);
  b.charge.set(200);
  a.charge.set(100);
  assert.equal(budget.used, 300);
  b.charge.set(0);
  assert.deepEqual([budget.used, a.charged, b.charged], [100, 100, 0]);
});

Deno.test("past the limit the heaviest holders are evicted until usage is back under the mark", () => {
  const budget = new MemoryBudget(4_000_000);
  const light = new Holder(budget);
  const heavy = new Holder(budget);
  const stranger = new Holder(budget, false);
  light.charge.set(100_000);
  heavy.charge.set(2_000_000);
  assert.equal(budget.tight, false);
  stranger.charge.set(2_500_000);
  // The stranger held the most when the limit was passed: it alone goes.
  assert.deepEqual([stranger.evicted, heavy.evicted, light.evicted], [
    2_500_000,
    undefined,
    undefined,
  ]);
  assert.equal(budget.evicted, 1);
  assert.equal(budget.used, 2_100_000);
  assert.equal(budget.exhausted, false);
});

Deno.test("only a holder over its share is told to pause, and a proven one has a floor", () => {
  const budget = new MemoryBudget(1_000_000);
  const proven = new Holder(budget);
  const stranger = new Holder(budget, false);
  const idle = [new Holder(budget, false), new Holder(budget, false)];
  proven.charge.set(200_000);
  stranger.charge.set(600_000);
  assert.equal(budget.tight, true);
  // Four holders: the fair share is 750,000 / 4 = 187,500 bytes.
  assert.equal(budget.shareOf(stranger), 187_500);
  assert.equal(budget.overShare(stranger), true);
  assert.equal(idle.some((holder) => budget.overShare(holder)), false);
  // Past the fair share, but a proven holder may always hold 256 KiB.
  assert.equal(budget.overShare(proven), false);
  assert.equal(budget.shareOf(proven), 256 * 1_024);
});
