/**
 * `deno task fuzz`: fuzzes the frame decoder until stopped (Ctrl+C), a
 * million cases per seed, printing progress. A failure prints its seed and
 * case, and exits 1.
 *
 * @module
 */

import { fuzzDecoder } from "../tests/_fuzz.ts";

let total = 0;
const started = performance.now();
for (let seed = Number(Deno.args[0] ?? Date.now() % 1e9);; seed++) {
  const counts = fuzzDecoder(seed, 1_000_000);
  total += counts.cases;
  const rate = total / ((performance.now() - started) / 1000);
  console.log(
    `seed ${seed}: ${counts.cases} cases, ${counts.frames} frames, ${counts.tooLarge} oversized; ` +
      `${total.toLocaleString()} cases so far (${Math.round(rate).toLocaleString()}/s)`,
  );
}
