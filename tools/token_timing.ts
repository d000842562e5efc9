/**
 * `deno run tools/token_timing.ts`: whether the time a server takes to
 * check a token tells anything about it. Times the check of the right
 * scoped token, of a guess that shares all but its last character, and of
 * a guess that shares nothing, interleaved in many small batches, and
 * compares the medians with the spread between batches. Not a unit test:
 * timings belong here, not in tests/.
 *
 * @module
 */

import { Callers } from "../_server/policy.ts";
import { Scope } from "../_wire/scopes.ts";

const right = "s3cret-scoped-token-0123456789abcdef";
const callers = new Callers("the-servers-own-token-0123456789ab", [
  { name: "reader", token: right, scope: new Scope(["status"], []) },
  { name: "writer", token: "another-scoped-token-fedcba98765432", scope: new Scope(["*"], []) },
]);
const candidates: Record<string, string> = {
  "the right token": right,
  "all but its last character": right.slice(0, -1) + "X",
  "nothing in common": "Z".repeat(right.length),
  "a different length": "short",
};
const BATCHES = 400;
const PER_BATCH = 5_000;
const samples: Record<string, number[]> = {};
for (const name of Object.keys(candidates)) samples[name] = [];
let sink = 0;
for (let batch = 0; batch < BATCHES; batch++) {
  for (const [name, token] of Object.entries(candidates)) {
    const started = performance.now();
    for (let i = 0; i < PER_BATCH; i++) if (callers.identify(token) !== undefined) sink++;
    samples[name].push(((performance.now() - started) * 1e6) / PER_BATCH);
  }
}
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const quantile = (values: number[], q: number) =>
  sorted(values)[Math.floor(q * (values.length - 1))];
const base = quantile(samples["the right token"], 0.5);
console.log(`| token checked | median ns per check | interquartile range ns | median - right's |
| --- | ---: | ---: | ---: |`);
for (const [name, values] of Object.entries(samples)) {
  const median = quantile(values, 0.5);
  const iqr = quantile(values, 0.75) - quantile(values, 0.25);
  console.log(
    `| ${name} | ${median.toFixed(1)} | ${iqr.toFixed(1)} | ${(median - base).toFixed(1)} |`,
  );
}
console.log(`(${BATCHES} interleaved batches of ${PER_BATCH} checks each; ${sink} matched)`);
