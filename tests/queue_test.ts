import assert from "node:assert/strict";
import { Queue } from "../_queue.ts";

Deno.test("Queue takes in order across its compaction, and empties cleanly", () => {
  const queue = new Queue<number>();
  let next = 0;
  let expected = 0;
  // Interleaved pushes and takes walk the head well past the compaction point.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 300; i++) queue.push(next++);
    for (let i = 0; i < 200; i++) assert.equal(queue.take(), expected++);
  }
  assert.equal(queue.length, next - expected);
  while (queue.length > 0) assert.equal(queue.take(), expected++);
  assert.equal(expected, next);
  assert.equal(queue.take(), undefined);
  queue.push(7);
  queue.clear();
  assert.equal(queue.length, 0);
});
