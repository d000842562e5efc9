import assert from "node:assert/strict";
import { patternProblem, PatternSet, topicMatches, topicProblem } from "../_wire/topics.ts";

// [pattern, topic, matches]
const MATCHES: [string, string, boolean][] = [
  ["jobs.build.done", "jobs.build.done", true],
  ["jobs.build.done", "jobs.build", false],
  ["jobs.build", "jobs.build.done", false],
  ["jobs.*.done", "jobs.build.done", true],
  ["jobs.*.done", "jobs.build.failed", false],
  ["jobs.*.done", "jobs.done", false],
  ["jobs.*", "jobs", false],
  ["jobs.*", "jobs.a.b", false],
  ["*", "jobs", true],
  ["*", "jobs.a", false],
  ["*.*", "a.b", true],
  ["jobs.>", "jobs.a", true],
  ["jobs.>", "jobs.a.b.c", true],
  ["jobs.>", "jobs", false],
  [">", "a", true],
  [">", "a.b.c", true],
  ["*.>", "a", false],
  ["*.>", "a.b", true],
  ["a.*.c.>", "a.b.c.d.e", true],
  ["a.*.c.>", "a.b.x.d", false],
  ["ab", "a", false],
  ["a", "ab", false],
];

Deno.test("topicMatches(): tokens, * for one token, > for the rest", () => {
  for (const [pattern, topic, expected] of MATCHES) {
    assert.equal(patternProblem(pattern), undefined, `${pattern} is a valid pattern`);
    assert.equal(topicMatches(pattern, topic), expected, `${pattern} vs ${topic}`);
  }
});

Deno.test("patternProblem() refuses empty and malformed patterns, naming the fault", () => {
  const cases: [unknown, RegExp][] = [
    ["", /empty/],
    ["a..b", /empty token/],
    [".a", /empty token/],
    ["a.", /empty token/],
    ["a.>.b", /">" before its last token/],
    ["a.b*", /wildcard inside/],
    ["a.>b", /wildcard inside/],
    ["a b", /whitespace/],
    ["$dropped", /reserved/],
    [42, /expected a string/],
    [null, /expected a string/],
    ["x".repeat(2_000), /longer than/],
  ];
  for (const [pattern, problem] of cases) {
    assert.match(patternProblem(pattern) ?? "(valid)", problem, String(pattern));
  }
});

Deno.test("topicProblem() refuses wildcards in a published topic", () => {
  assert.equal(topicProblem("jobs.build.done"), undefined);
  assert.match(topicProblem("jobs.*") ?? "", /wildcard/);
  assert.match(topicProblem("jobs.>") ?? "", /wildcard/);
  assert.match(topicProblem("") ?? "", /empty/);
});

Deno.test("PatternSet answers again after its patterns change", () => {
  const set = new PatternSet();
  assert.equal(set.matches("a.b"), false);
  set.add("a.*");
  assert.equal(set.matches("a.b"), true);
  set.delete("a.*");
  assert.equal(set.matches("a.b"), false);
  set.add("a.>");
  set.add("a.>");
  assert.deepEqual(set.list(), ["a.>"]);
});
