// A request's JSON text: the payload's keys, then the envelope's, spliced as
// text. Pure: no Deno APIs.

import { ENVELOPE_KEYS, PROTOCOL_VERSION, type RequestId } from "../protocol.ts";
import { type FrameText, PIECES_FROM, TextPieces } from "./text_pieces.ts";

/** Refuses a payload that is not an object or uses an envelope key. */
export function checkPayload(payload: Record<string, unknown>): void {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new TypeError("Cannot send payload: expected an object");
  }
  for (const key of ENVELOPE_KEYS) {
    if (key in payload) {
      throw new TypeError(`Cannot send payload: key "${key}" is reserved for the envelope`);
    }
  }
}

/**
 * The JSON text of a request: the payload's keys, then the envelope's, as
 * the original client writes them. Spliced as text rather than spread into
 * a new object: it is the client's hot path. A large one stays in pieces
 * (the payload's text, then the envelope's), never copied whole.
 */
export function encodeRequest(
  payload: Record<string, unknown>,
  envelope: string,
  requestId: RequestId | undefined,
  timeout: number | undefined,
  traceparent?: string,
  idempotencyKey?: string,
): FrameText {
  const text = JSON.stringify(payload);
  // A payload whose toJSON() does not give an object has no keys to keep.
  if (text === undefined || text.charCodeAt(0) !== 123) {
    throw new TypeError("Cannot send payload: it does not serialise to a JSON object");
  }
  let tail = envelope;
  if (requestId !== undefined) {
    tail += typeof requestId === "number"
      ? `,"request_id":${requestId}`
      : `,"request_id":${JSON.stringify(requestId)}`;
  }
  if (timeout !== undefined && Number.isFinite(timeout)) tail += `,"timeout_ms":${timeout}`;
  if (traceparent !== undefined) tail += `,"traceparent":"${traceparent}"`;
  if (idempotencyKey !== undefined) tail += `,"idempotency_key":${JSON.stringify(idempotencyKey)}`;
  if (text.length === 2) return `{${tail}}`;
  // A large payload's text stays a piece of its own: joined, it would be copied whole.
  if (text.length >= PIECES_FROM) return new TextPieces([text.slice(0, -1), `,${tail}}`]);
  return `${text.slice(0, -1)},${tail}}`;
}

/** The envelope keys every request of a client carries, as JSON text. */
export function envelopeOf(token: string | undefined): string {
  const version = `"protocol_version":"${PROTOCOL_VERSION}"`;
  return token === undefined ? version : `"auth_token":${JSON.stringify(token)},${version}`;
}
