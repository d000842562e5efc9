// Reading an answer's JSON text. An `ok` answer in the exact shape our
// server writes is read without parsing its fixed keys again: on the
// client's hot path they are most of the text. Pure: no Deno APIs.

import type { BridgeResponse } from "./protocol.ts";

const OK_WITH_ID = '{"status":"ok","message":"received","protocol_version":"1","request_id":';
const RESULT_KEY = ',"result":';

/**
 * Parses an answer. Text in our server's own `ok` shape with a numeric id
 * takes the fast path; anything else, or anything the fast path doubts, is
 * parsed whole, so the outcome is always what `JSON.parse` would give.
 *
 * @throws {SyntaxError} When the text is not JSON.
 */
export function parseAnswer(text: string): unknown {
  if (text.startsWith(OK_WITH_ID) && text.endsWith("}")) {
    let end = OK_WITH_ID.length;
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    const id = Number(text.slice(OK_WITH_ID.length, end));
    if (end > OK_WITH_ID.length && end - OK_WITH_ID.length < 16 && Number.isSafeInteger(id)) {
      const answer: BridgeResponse = {
        status: "ok",
        message: "received",
        protocol_version: "1",
        request_id: id,
      };
      if (end === text.length - 1) return answer;
      if (text.startsWith(RESULT_KEY, end)) {
        try {
          answer.result = JSON.parse(text.slice(end + RESULT_KEY.length, -1));
          return answer;
        } catch {
          // More keys after result, say: not our shape after all.
        }
      }
    }
  }
  return JSON.parse(text);
}
