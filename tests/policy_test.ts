// The token check alone: constant-time string comparison, no encoding,
// right on near-misses.

import assert from "node:assert/strict";
import { TokenCheck } from "../_shared/token_check.ts";

Deno.test("TokenCheck accepts the token and refuses every near-miss", () => {
  const token = "s3cret-token-é✓";
  const check = new TokenCheck(token);
  assert.equal(check.matches(token), true);
  const nearMisses = [
    "",
    token.slice(0, -1),
    `${token}x`,
    `${token}\0`,
    `x${token.slice(1)}`,
    token.slice(0, -1) + "✔",
    token.toUpperCase(),
    token.replace("é", "e\u0301"), // the same text, another spelling
    ` ${token}`,
  ];
  // Each single character changed, at every position.
  for (let i = 0; i < token.length; i++) {
    nearMisses.push(
      token.slice(0, i) + String.fromCharCode(token.charCodeAt(i) ^ 1) + token.slice(i + 1),
    );
  }
  for (const guess of nearMisses) assert.equal(check.matches(guess), false, JSON.stringify(guess));
  for (const notText of [undefined, null, 1, {}, [token], { toString: () => token }]) {
    assert.equal(check.matches(notText), false, String(notText));
  }
});

Deno.test("TokenCheck on a one-character token and a long one", () => {
  assert.equal(new TokenCheck("a").matches("a"), true);
  assert.equal(new TokenCheck("a").matches("b"), false);
  const long = "k".repeat(4096);
  assert.equal(new TokenCheck(long).matches(long), true);
  assert.equal(new TokenCheck(long).matches(long.slice(1)), false);
});

Deno.test("TokenCheck matches only the token itself, whatever the guess's length or kind", () => {
  const check = new TokenCheck("s3cret");
  assert.ok(check.matches("s3cret"));
  for (
    const guess of [
      "",
      "s3cre",
      "s3cret!",
      "s3creT",
      "S3cret",
      "s3cret".repeat(2),
      undefined,
      7,
      null,
    ]
  ) {
    assert.ok(!check.matches(guess), String(guess));
  }
});
