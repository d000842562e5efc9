// The request envelope and the answer bodies, as JSON text. Pure: no Deno
// APIs, so the rules can be read (and tested) apart from the sockets.

import {
  ENVELOPE_KEYS,
  ERROR_MESSAGES,
  PROTOCOL_VERSION,
  type RequestId,
  type WireErrorCode,
} from "../protocol.ts";
import { type Caller, OWNER } from "./scopes.ts";
import { type FrameText, PIECES_FROM, TextPieces } from "./text_pieces.ts";
import { jsonPieces } from "./json_pieces.ts";

const ENVELOPE = new Set(ENVELOPE_KEYS);

/** A request that passed the envelope checks. */
export interface Envelope {
  /** The request without its envelope keys: what the handler sees. */
  readonly payload: Record<string, unknown>;
  readonly requestId?: RequestId;
  readonly timeoutMs?: number;
  /** Who sent it: the token it carried (the server's own: every right). */
  readonly caller: Caller;
  /** Its `idempotency_key`, when it carried one (1 to 128 characters). */
  readonly idempotencyKey?: string;
}

/** A request refused by the checks: the error answer to send. */
export class Refusal {
  readonly code: WireErrorCode;
  readonly requestId?: RequestId;
  readonly message?: string;

  constructor(code: WireErrorCode, requestId?: RequestId, message?: string) {
    this.code = code;
    this.requestId = requestId;
    this.message = message;
  }
}

const OK_PREFIX = `{"status":"ok","message":"received","protocol_version":"${PROTOCOL_VERSION}"`;
const lenientDecoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a request body: the JSON value, or a refusal for bad UTF-8, bad
 * JSON, or JSON that is not an object. The lenient decoder is the fast path;
 * only text holding a replacement character (bad input, or a real U+FFFD) is
 * decoded again strictly to tell the two apart.
 */
export function parseRequest(body: Uint8Array): Record<string, unknown> | Refusal {
  let message: unknown;
  try {
    const text = lenientDecoder.decode(body);
    message = JSON.parse(text.includes("\uFFFD") ? strictDecoder.decode(body) : text);
  } catch {
    return new Refusal("invalid_json");
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return new Refusal("invalid_message");
  }
  return message as Record<string, unknown>;
}

/**
 * Runs the envelope checks in the original's order (token, then version),
 * after the id's own check: a `request_id` must be a string or a safe
 * integer (`null` means none, as the original reads it), `timeout_ms` a
 * non-negative number, `idempotency_key` a string of 1 to 128 characters.
 * `identify` names the caller a token belongs to (undefined: no token of
 * this server); without it every caller has every right.
 */
export function openEnvelope(
  message: Record<string, unknown>,
  identify: ((given: unknown) => Caller | undefined) | undefined,
): Envelope | Refusal {
  const token = message.auth_token;
  const version = message.protocol_version;
  const rawId = message.request_id;
  const timeoutMs = message.timeout_ms;
  // The payload is the message less its envelope, copied rather than
  // deleted from: `delete` on a parsed object cost a pipelined server
  // about 0.25 us a request, several times this copy of the top-level keys.
  const key = message.idempotency_key;
  const payload = token !== undefined || version !== undefined || rawId !== undefined ||
      timeoutMs !== undefined || message.traceparent !== undefined ||
      message.tracestate !== undefined || key !== undefined
    ? withoutEnvelope(message)
    : message;
  const requestId = rawId ?? undefined;
  if (
    requestId !== undefined && typeof requestId !== "string" &&
    !(typeof requestId === "number" && Number.isSafeInteger(requestId))
  ) {
    return new Refusal(
      "invalid_message",
      undefined,
      "invalid message: request_id must be a string or a safe integer",
    );
  }
  const id = requestId as RequestId | undefined;
  const caller = identify === undefined ? OWNER : identify(token);
  if (caller === undefined) return new Refusal("unauthorized", id);
  if (version !== undefined && version !== PROTOCOL_VERSION) {
    return new Refusal("protocol_mismatch", id);
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs >= 0))) {
    return new Refusal(
      "invalid_message",
      id,
      "invalid message: timeout_ms must be a non-negative number",
    );
  }
  if (key !== undefined && (typeof key !== "string" || key.length < 1 || key.length > 128)) {
    return new Refusal(
      "invalid_message",
      id,
      "invalid message: idempotency_key must be a string of 1 to 128 characters",
    );
  }
  return {
    payload,
    requestId: id,
    timeoutMs: timeoutMs as number | undefined,
    caller,
    idempotencyKey: key as string | undefined,
  };
}

/** A copy of the message without its envelope keys (JSON values are never undefined). */
export function withoutEnvelope(message: Record<string, unknown>): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const key in message) {
    if (ENVELOPE.has(key)) continue;
    if (key === "__proto__") {
      // An own "__proto__" key, as JSON.parse makes it: assigning it would set the prototype.
      Object.defineProperty(payload, key, {
        value: message[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      payload[key] = message[key];
    }
  }
  return payload;
}

/**
 * The message with the type its transport named (a NATS subject's), or a
 * refusal when the payload names another.
 */
export function withType(
  message: Record<string, unknown>,
  type: string,
): Record<string, unknown> | Refusal {
  if (message.type === undefined) message.type = type;
  else if (message.type !== type) {
    const id = message.request_id;
    return new Refusal(
      "invalid_message",
      typeof id === "string" || typeof id === "number" ? id : undefined,
      `invalid message: the payload's type ${JSON.stringify(message.type)} is not the subject's ${
        JSON.stringify(type)
      }`,
    );
  }
  return message;
}

/**
 * The JSON text of an `ok` answer, written out by hand: it is the hot path.
 * Around a large result, in pieces. With `largeStrings` (the answer to a
 * large request, whose result may hold its large strings), those strings
 * are pieces of their own rather than copied (`jsonPieces`).
 *
 * @throws {TypeError} When the result is not JSON-serializable.
 */
export function okBody(
  result: unknown,
  requestId: RequestId | undefined,
  { largeStrings = false }: { largeStrings?: boolean } = {},
): FrameText {
  let text = OK_PREFIX;
  if (requestId !== undefined) text += `,"request_id":${JSON.stringify(requestId)}`;
  const resultText = largeStrings ? jsonPieces(result) : JSON.stringify(result);
  if (resultText === undefined) return `${text}}`;
  if (resultText instanceof TextPieces) {
    return new TextPieces([`${text},"result":`, ...resultText.pieces, "}"]);
  }
  // A large result stays a piece of its own: joined, it would be copied whole.
  if (resultText.length >= PIECES_FROM) {
    return new TextPieces([`${text},"result":`, resultText, "}"]);
  }
  return `${text},"result":${resultText}}`;
}

/**
 * The JSON text of an error answer: a protocol code (its text by default),
 * or an application's own code with its `data` (protocol errors carry none).
 */
export function errorBody(
  code: WireErrorCode | (string & Record<never, never>),
  requestId: RequestId | undefined,
  message: string = ERROR_MESSAGES[code as WireErrorCode],
  data?: unknown,
): string {
  return JSON.stringify({
    status: "error",
    message,
    code,
    protocol_version: PROTOCOL_VERSION,
    request_id: requestId,
    data,
  });
}
