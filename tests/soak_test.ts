import assert from "node:assert/strict";
import { checkSoak, runSoak } from "../tools/soak.ts";
import { checkTwoWaySoak, runTwoWaySoak } from "../tools/soak_two_way.ts";

Deno.test("soak (short): every request settles once, none is lost or doubled, server memory stays flat", async () => {
  const result = await runSoak({
    connections: 10,
    requests: 3_000,
    cap: 65_536,
    seed: 7,
  });
  assert.equal(result.sent, 30_000);
  assert.deepEqual(checkSoak(result), []);
  assert.ok(result.outcomes.ok > 20_000, JSON.stringify(result.outcomes));
  assert.ok(
    result.outcomes.handler_error > 0 && result.outcomes.aborted > 0,
    JSON.stringify(result.outcomes),
  );
});

Deno.test("two-way soak (short): streams, cancels, kills and subscriptions under a full-speed publisher", async () => {
  const result = await runTwoWaySoak({ clients: 6, operations: 120, seed: 11 });
  assert.deepEqual(checkTwoWaySoak(result), []);
  const { streamed, left, cancelled, subscribed } = result.outcomes;
  assert.ok(
    streamed > 0 && left > 0 && cancelled > 0 && subscribed > 0,
    JSON.stringify(result.outcomes),
  );
  assert.ok(result.eventsReceived > 0, "subscribers received events");
});
