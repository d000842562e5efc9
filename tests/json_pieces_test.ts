import assert from "node:assert/strict";
import { jsonPieces } from "../_wire/json_pieces.ts";
import { TextPieces } from "../_wire/text_pieces.ts";

const large = "y".repeat(70_000);
const text = (value: unknown) => {
  const pieces = jsonPieces(value);
  return pieces instanceof TextPieces ? pieces.toString() : pieces;
};
/** The pieces that are `expected` itself, by length and content. */
const keptAsPieces = (value: unknown, expected: string) => {
  const pieces = jsonPieces(value);
  return pieces instanceof TextPieces
    ? pieces.pieces.filter((piece) => piece.length === expected.length && piece === expected).length
    : 0;
};

Deno.test("jsonPieces() writes exactly what JSON.stringify writes, for every kind of value", () => {
  class Point {
    constructor(readonly x: number, readonly y: number) {}
  }
  const withProto = JSON.parse(`{"__proto__": "${large}", "n": 1}`);
  const nullProto = Object.assign(Object.create(null), { pad: large, n: [1, 2] });
  const values: unknown[] = [
    undefined,
    null,
    0,
    "short",
    large,
    large + '"',
    [large, large],
    { pad: large },
    { a: 1, pad: large, b: { nested: large }, c: large + "z", d: undefined, e: () => 1 },
    { 2: large, 1: "one", b: large, a: "a" },
    { pad: large, when: new Date(0), point: new Point(1, 2) },
    { quote: large + '"', backslash: "\\" + large, control: large + "\n" },
    { lone: large + "\ud800", pair: large + "\ud83d\ude00", latin: "é".repeat(70_000) },
    { toJSON: () => ({ replaced: large }), pad: large },
    new Point(3, 4),
    withProto,
    nullProto,
    // A string made to look like the mark of another process.
    { pad: large, fake: "\u00000123456789abcdef:0\u0000" },
  ];
  for (const value of values) {
    assert.equal(text(value), JSON.stringify(value), JSON.stringify(value)?.slice(0, 80));
  }
});

Deno.test("jsonPieces() keeps a top-level string JSON writes as it is, and copies the others", () => {
  assert.equal(keptAsPieces(large, large), 1);
  assert.equal(keptAsPieces({ a: 1, pad: large, b: large }, large), 2);
  assert.equal(keptAsPieces(JSON.parse(`{"__proto__": "${large}"}`), large), 1);
  const latin = "é".repeat(70_000);
  assert.equal(keptAsPieces({ latin }, latin), 1);
  // A surrogate pair is written as it is; a lone surrogate is escaped (below).
  const emoji = large + "\ud83d\ude00";
  assert.equal(keptAsPieces({ emoji }, emoji), 1);
  // Escaped characters, nested strings, short strings, and objects JSON
  // reads through toJSON or a class are written by JSON.stringify whole.
  for (
    const value of [
      { pad: large + '"' },
      { pad: large + "\u0001" },
      { pad: large + "\ud83d" },
      { pad: "\udc00" + large },
      { nested: { pad: large } },
      [large],
      { toJSON: () => large, pad: large },
      { short: "y".repeat(65_535) },
    ]
  ) {
    assert.equal(
      jsonPieces(value) instanceof TextPieces,
      false,
      JSON.stringify(value).slice(0, 40),
    );
  }
});

Deno.test("jsonPieces() reads each top-level property once, as JSON.stringify does", () => {
  let reads = 0;
  const value = {
    pad: large,
    get counted() {
      reads++;
      return "read";
    },
  };
  assert.equal(text(value), `{"pad":"${large}","counted":"read"}`);
  assert.equal(reads, 1);
  reads = 0;
  assert.equal(
    text({
      get only() {
        reads++;
        return 1;
      },
    }),
    '{"only":1}',
  );
  assert.equal(reads, 1);
});
