// Reading an answer frame. An `ok` answer in the exact shape our server
// writes is read from its bytes without decoding or parsing its fixed keys:
// on the client's hot path they are most of the frame, and JSON.parse of
// the whole text cost half again as much. Pure: no Deno APIs.

import type { BridgeResponse } from "../protocol.ts";
import { startsWith } from "./byte_prefix.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OK_WITH_ID = encoder.encode(
  '{"status":"ok","message":"received","protocol_version":"1","request_id":',
);
const RESULT_KEY = encoder.encode(',"result":');
const CLOSE_BRACE = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;
// Ids of up to 15 digits are safe integers.
const MAX_ID_DIGITS = 15;

/**
 * Parses an answer frame's body. Bytes in our server's own `ok` shape with
 * a numeric id take the fast path; anything else, or anything the fast
 * path doubts, is decoded and parsed whole, so the outcome is always what
 * `JSON.parse` of the text would give: a `result` that is not exactly one
 * JSON value up to the closing brace (another key after it, say) fails its
 * own parse and sends the frame down the slow path.
 *
 * @throws {SyntaxError} When the body is not JSON.
 */
export function parseAnswer(body: Uint8Array): unknown {
  const idStart = OK_WITH_ID.length;
  if (
    body.length > idStart + 1 && body[body.length - 1] === CLOSE_BRACE &&
    startsWith(body, OK_WITH_ID, 0)
  ) {
    let end = idStart;
    let id = 0;
    while (end < body.length && body[end] >= ZERO && body[end] <= NINE) {
      id = id * 10 + body[end] - ZERO;
      end++;
    }
    const digits = end - idStart;
    // JSON has no leading zeros: "07" is not a number.
    const valid = digits > 0 && digits <= MAX_ID_DIGITS && (body[idStart] !== ZERO || digits === 1);
    if (valid) {
      const answer: BridgeResponse = {
        status: "ok",
        message: "received",
        protocol_version: "1",
        request_id: id,
      };
      if (end === body.length - 1) return answer;
      if (startsWith(body, RESULT_KEY, end)) {
        try {
          answer.result = JSON.parse(
            decoder.decode(body.subarray(end + RESULT_KEY.length, body.length - 1)),
          );
          return answer;
        } catch {
          // More keys after result, say: not our shape after all.
        }
      }
    }
  }
  return JSON.parse(decoder.decode(body));
}
