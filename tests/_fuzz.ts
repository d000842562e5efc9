// Decoder fuzzing: random byte strings and random corruptions of valid
// streams, each cut at a random point. Shared by the CI test (a fixed
// number of cases) and `deno task fuzz` (until stopped).

import { encodeMessage, FrameDecoder, FrameTooLargeError } from "../codec.ts";
import { concat, seeded } from "./_helpers.ts";

const VALID = concat(
  [{ a: 1 }, [1, 2], "x", { b: "y".repeat(50) }, {}].map(encodeMessage),
);

export interface FuzzCounts {
  cases: number;
  frames: number;
  tooLarge: number;
}

/**
 * Runs `cases` fuzz cases from `seed`. Throws on any failure: an error other
 * than FrameTooLargeError, or a body larger than maxBytes.
 */
export function fuzzDecoder(
  seed: number,
  cases: number,
  maxBytes = 256,
): FuzzCounts {
  const random = seeded(seed);
  const counts = { cases: 0, frames: 0, tooLarge: 0 };
  const onFrame = (body: Uint8Array): void => {
    if (body.length > maxBytes) {
      throw new Error(
        `Body of ${body.length} bytes exceeds maxBytes ${maxBytes}`,
      );
    }
    counts.frames++;
  };
  for (let i = 0; i < cases; i++) {
    let input: Uint8Array;
    if (i % 2 === 0) {
      input = new Uint8Array(1 + Math.floor(random() * 64)).map(() => random() * 256);
    } else {
      input = VALID.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) {
        input[Math.floor(random() * input.length)] = random() * 256;
      }
    }
    const decoder = new FrameDecoder({ maxBytes });
    const cut = Math.floor(random() * input.length);
    try {
      decoder.push(input.subarray(0, cut), onFrame);
      decoder.push(input.subarray(cut), onFrame);
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) {
        throw new Error(`Case ${i} of seed ${seed} threw ${error}`, {
          cause: error,
        });
      }
      counts.tooLarge++;
    }
    counts.cases++;
  }
  return counts;
}
