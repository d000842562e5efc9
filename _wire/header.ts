// The 4-byte big-endian length prefix of a frame, and the sizes it allows.
// Pure; codec.ts re-exports the constants.

/**
 * The size of the length prefix, in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, HEADER_BYTES } from "@socketbridge/core/codec";
 * assert.ok(encodeFrame(new Uint8Array(10)).length === HEADER_BYTES + 10);
 * ```
 */
export const HEADER_BYTES = 4;

/**
 * The default cap on a frame body, as in the original: 1 MiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_BYTES } from "@socketbridge/core/codec";
 * assert.ok(DEFAULT_MAX_BYTES === 1024 * 1024);
 * ```
 */
export const DEFAULT_MAX_BYTES = 1_048_576;

/**
 * The largest body a 4-byte prefix can announce.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_FRAME_BYTES } from "@socketbridge/core/codec";
 * assert.ok(MAX_FRAME_BYTES === 2 ** 32 - 1);
 * ```
 */
export const MAX_FRAME_BYTES = 0xffff_ffff;

/** Writes `length` as the prefix at `offset` of `target`. */
export function writeHeader(target: Uint8Array, offset: number, length: number): void {
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
}

/** Reads the prefix at `offset` of `source`. */
export function readHeader(source: Uint8Array, offset: number): number {
  return ((source[offset] << 24) | (source[offset + 1] << 16) |
    (source[offset + 2] << 8) | source[offset + 3]) >>> 0;
}
