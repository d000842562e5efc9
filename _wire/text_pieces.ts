// A frame's JSON text kept in pieces, encoded one after the other. Joining
// a large text (an answer around a 1 MiB result, a request's payload and
// its envelope) makes V8 copy it whole the first time it is read or
// encoded: for a 1 MiB echo that copy was a quarter of the server's work
// and a megabyte of garbage. Small texts stay plain strings: joining them
// is cheaper than keeping pieces. Pure: no Deno APIs.

/** From this length on (in UTF-16 code units) a text is kept in pieces. */
export const PIECES_FROM = 65_536;

export class TextPieces {
  readonly pieces: readonly string[];
  /** The whole text's length in UTF-16 code units, as its string's would be. */
  readonly length: number;

  constructor(pieces: readonly string[]) {
    this.pieces = pieces;
    let length = 0;
    for (const piece of pieces) length += piece.length;
    this.length = length;
  }

  /** The whole text, joined (a copy: only where a string is needed). */
  toString(): string {
    return this.pieces.join("");
  }
}

/** A frame's JSON text: whole, or in pieces. */
export type FrameText = string | TextPieces;
