// The 4-byte big-endian length prefix of a frame. Pure.

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
