// A secret compared in constant time: the server's tokens, and the
// inspector's one-time token. Pure: no Deno APIs.

/**
 * Compares a given token with the expected one in time that depends only on
 * the expected token's length, never on where the two first differ.
 */
export class TokenCheck {
  readonly #expected: string;

  constructor(token: string) {
    this.#expected = token;
  }

  matches(given: unknown): boolean {
    const actual = typeof given === "string" ? given : "";
    const expected = this.#expected;
    // Compares UTF-16 code units, with no encoding on the hot path. A guess
    // of another length walks the expected token against itself: reading
    // past the end of a shorter guess took V8 a slower path (about 70 ns in
    // tools/token_timing.ts), which told a guesser the token's length.
    const other = actual.length === expected.length ? actual : expected;
    let difference = expected.length ^ actual.length;
    for (let i = 0; i < expected.length; i++) {
      difference |= expected.charCodeAt(i) ^ other.charCodeAt(i);
    }
    return difference === 0;
  }
}
