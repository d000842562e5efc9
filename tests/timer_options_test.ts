// Every duration a caller gives goes through the one timer module: at
// Infinity and at 2^31 ms (past what setTimeout holds) nothing fires early,
// an endless grace period waits for the work under way, and the runtime
// never prints a TimeoutOverflowWarning.

import assert from "node:assert/strict";
import { runDeno } from "./_processes.ts";
import { NatsServer, NO_NATS } from "./_nats.ts";

for (const value of ["Infinity", String(2 ** 31)]) {
  Deno.test({
    name: `every duration option at ${value} ms: nothing fires early, no overflow warning`,
    ignore: NO_NATS,
    async fn() {
      await using nats = await NatsServer.start();
      const run = await runDeno([
        "run",
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-read",
        "--allow-sys",
        "tests/_timer_options.ts",
        value,
        nats.url,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /TimeoutOverflowWarning|does not fit/);
      assert.deepEqual(run.stdout.trim().split("\n"), [
        "idleTimeout done done",
        "frameTimeout done done",
        "authTimeout done done",
        "handlerTimeout done done",
        "writeTimeout done done",
        "gracePeriod done done",
        "nats done waited",
      ]);
    },
  });
}
