import assert from "node:assert/strict";
import { AsyncQueue, Queue } from "../_client/queue.ts";

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

Deno.test("AsyncQueue hands items to a waiting read, drains what is queued after end, then throws its error", async () => {
  const queue = new AsyncQueue<number>();
  const waiting = queue.next();
  queue.push(1);
  assert.deepEqual(await waiting, { value: 1, done: false });
  queue.push(2);
  queue.push(3);
  queue.end(new Error("gone"));
  queue.push(4); // after the end: ignored
  assert.deepEqual(await queue.next(), { value: 2, done: false });
  assert.deepEqual(await queue.next(), { value: 3, done: false });
  await assert.rejects(queue.next(), /gone/);
});
