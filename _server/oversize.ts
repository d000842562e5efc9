// What a connection does with a length prefix past maxBytes: a first prefix
// that is really another protocol's opening ends the connection (with an
// HTTP refusal for HTTP); any other is answered payload_too_large. Pure: no
// Deno APIs.

import { foreignProtocol, HTTP_REFUSAL } from "../_wire/sniff.ts";

// Small excess is skipped in place and the connection goes on, as the
// original does; a prefix far past the cap is not worth reading: close.
const MAX_DISCARD_FACTOR = 4;

/** A foreign protocol's opening, and what to send it before closing. */
export interface ForeignPeer {
  readonly foreign: "HTTP" | "TLS";
  readonly last?: Uint8Array;
}

/** An oversized SocketBridge frame, and whether to close after answering it. */
export interface OversizedFrame {
  readonly foreign?: undefined;
  readonly close: boolean;
}

/** Judges a length prefix of `size` bytes, past `maxBytes`. */
export function judgeOversized(
  size: number,
  maxBytes: number,
  firstFrame: boolean,
): ForeignPeer | OversizedFrame {
  const foreign = firstFrame ? foreignProtocol(size) : undefined;
  if (foreign !== undefined) {
    return { foreign, last: foreign === "HTTP" ? HTTP_REFUSAL : undefined };
  }
  return { close: size > maxBytes * MAX_DISCARD_FACTOR };
}
