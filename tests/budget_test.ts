// The server-wide memory budget, alone: charges kept in step with its total,
// the share past which a holder must pause, and the heaviest holders shed
// when it runs out.

import assert from "node:assert/strict";
import { MemoryBudget, MemoryCharge, type MemoryHolder } from "../_server/budget.ts";

class Holder implements MemoryHolder {
  readonly charge: MemoryCharge;
  evicted?: number;

  constructor(budget: MemoryBudget, readonly proven = true) {
    this.charge = new MemoryCharge(budget, this);
    if (proven) this.charge.prove();
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
  heavy.charge.set(1_800_000);
  // Under half the limit: nobody is asked to pause yet.
  assert.equal(budget.tight, false);
  stranger.charge.set(2_500_000);
  // The stranger held the most when the limit was passed: it alone goes.
  assert.deepEqual([stranger.evicted, heavy.evicted, light.evicted], [
    2_500_000,
    undefined,
    undefined,
  ]);
  assert.equal(budget.evicted, 1);
  assert.equal(budget.used, 1_900_000);
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
  // Four holders: the fair share of half the limit is 500,000 / 4 = 125,000 bytes.
  assert.equal(budget.shareOf(stranger), 125_000);
  assert.equal(budget.overShare(stranger), true);
  assert.equal(idle.some((holder) => budget.overShare(holder)), false);
  // Past the fair share, but a proven holder may always hold 256 KiB.
  assert.equal(budget.overShare(proven), false);
  assert.equal(budget.shareOf(proven), 256 * 1_024);
});

Deno.test("strangers may hold an eighth between them: past it those over their share pause, all but one, and one at a time is woken", () => {
  const budget = new MemoryBudget(4_000_000);
  const strangers = Array.from({ length: 5 }, () => new Holder(budget, false));
  const light = new Holder(budget, false);
  for (const stranger of strangers) stranger.charge.set(150_000);
  light.charge.set(1_000);
  // 751,000 held by six strangers, past their 500,000: each share is 83,333.
  assert.equal(budget.tight, false);
  const [exempt, ...paused] = strangers;
  assert.equal(budget.strangerPaused(exempt), false, "the first told to pause goes on instead");
  assert.deepEqual(paused.map((holder) => budget.strangerPaused(holder)), [true, true, true, true]);
  assert.equal(budget.strangerPaused(exempt), false);
  assert.equal(budget.strangerPaused(light), false, "one that holds little is always read");
  const resumed: Holder[] = [];
  for (const holder of paused) budget.onRoom(holder, () => resumed.push(holder));
  assert.equal(resumed.length, 0);
  // The exempt one completes a request (601,000 left to five strangers,
  // still past their eighth): one paused stranger goes on, as the exempt
  // one; the others are not woken only to pause again.
  exempt.charge.prove();
  assert.deepEqual(resumed, [paused[0]]);
  assert.equal(budget.strangerPaused(paused[0]), false);
  assert.deepEqual(paused.slice(1).map((holder) => budget.strangerPaused(holder)), [
    true,
    true,
    true,
  ]);
  // Once strangers are back under their eighth, the paused ones resume.
  resumed.length = 0;
  for (const holder of paused.slice(1)) budget.onRoom(holder, () => resumed.push(holder));
  paused[1].charge.set(0);
  paused[2].charge.set(0);
  assert.deepEqual(resumed, paused.slice(1));
});

Deno.test("while proven clients make memory tight no stranger is exempt; a proven one resumes once it is not", () => {
  const budget = new MemoryBudget(4_000_000);
  const proven = new Holder(budget);
  const strangers = Array.from({ length: 4 }, () => new Holder(budget, false));
  for (const stranger of strangers) stranger.charge.set(300_000);
  proven.charge.set(2_000_000);
  assert.equal(budget.tight, true);
  assert.deepEqual(strangers.map((holder) => budget.strangerPaused(holder)), [
    true,
    true,
    true,
    true,
  ]);
  const resumed: Holder[] = [];
  for (const holder of [proven, ...strangers]) budget.onRoom(holder, () => resumed.push(holder));
  assert.equal(resumed.length, 0);
  // The proven client's answers are read: memory is no longer tight, the
  // proven one resumes, and of the strangers (past their eighth) one goes
  // on, as the exempt one.
  proven.charge.set(100_000);
  assert.deepEqual(resumed, [proven, strangers[0]]);
  assert.deepEqual(strangers.map((holder) => budget.strangerPaused(holder)), [
    false,
    true,
    true,
    true,
  ]);
});
