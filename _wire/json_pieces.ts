// A value's JSON text with its large strings left as they are. JSON.stringify
// copies every string it writes: a 1 MiB echo's answer copied the payload's
// 1 MiB string into a new one, one more large object a request for a young
// collection to catch alive and promote into the old generation. Under
// `bench:hostile`'s crowd of 1 MiB echoes (26 runs of B alone each way) the
// server peaked 9-13 MiB lower on average without that copy, at most at 234
// MiB against 261. Here a top-level string of PIECES_FROM characters or more
// that JSON writes as it is (no character it escapes) becomes a piece of the
// text, the string itself; the rest is JSON.stringify's own text. The
// pieces, joined, are exactly JSON.stringify's text, and each top-level
// property is read once, as JSON.stringify reads it. Pure: no Deno APIs.

import { type FrameText, PIECES_FROM, TextPieces } from "./text_pieces.ts";

// What stands for a large string in the text JSON.stringify makes of the
// rest: a control character (escaped, so it cannot end a string early) and
// a random mark, which no value from outside the process can know.
const MARK = `\u0000${crypto.randomUUID()}:`;

/**
 * The JSON text of `value` (undefined where JSON.stringify gives none): a
 * string, or pieces when a string of the value itself is kept as one.
 */
export function jsonPieces(value: unknown): FrameText | undefined {
  if (typeof value === "string") {
    // Its JSON text, made once: the answer when the string is not kept as it is.
    const text = JSON.stringify(value);
    return isLarge(value, text) ? new TextPieces(['"', value, '"']) : text;
  }
  if (!isPlainObject(value) || "toJSON" in value) return JSON.stringify(value);
  // The properties are read once, into a copy in which each large string is
  // a mark, and the copy is what JSON.stringify reads.
  const copy: Record<string, unknown> = Object.create(null);
  const large: string[] = [];
  for (const key of Object.keys(value)) {
    const property = value[key];
    if (typeof property === "string" && isLarge(property)) {
      copy[key] = `${MARK}${large.length}\u0000`;
      large.push(property);
    } else {
      copy[key] = property;
    }
  }
  const text = JSON.stringify(copy);
  if (large.length === 0) return text;
  const pieces: string[] = [];
  let from = 0;
  for (let index = 0; index < large.length; index++) {
    const escaped = JSON.stringify(`${MARK}${index}\u0000`).slice(1, -1);
    const at = text.indexOf(escaped, from);
    pieces.push(text.slice(from, at), large[index]);
    from = at + escaped.length;
  }
  pieces.push(text.slice(from));
  return new TextPieces(pieces);
}

/**
 * Whether a string is long enough to be a piece, and JSON writes it as it
 * is: its JSON text is the string and two quotes. JSON.stringify's copy is
 * garbage at once, caught by no collection; it answers 7 times faster than
 * a regular expression for the characters JSON escapes (0.08 against 0.56
 * ms a MiB, which cost a server echoing 1 MiB strings a third of its
 * JavaScript time). `json`: that text, when the caller has it already.
 */
function isLarge(text: string, json?: string): boolean {
  return text.length >= PIECES_FROM && (json ?? JSON.stringify(text)).length === text.length + 2;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
