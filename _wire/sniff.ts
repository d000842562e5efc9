// Recognises a peer that speaks another protocol from the four bytes where a
// SocketBridge length prefix should be. Pure: no Deno APIs.

const HTTP_REQUEST_STARTS = [
  "GET ",
  "POST",
  "PUT ",
  "HEAD",
  "DELE",
  "OPTI",
  "PATC",
  "CONN",
  "TRAC",
  "PRI ",
].map(asPrefix);
const HTTP_RESPONSE_START = asPrefix("HTTP");

function asPrefix(text: string): number {
  return ((text.charCodeAt(0) << 24) | (text.charCodeAt(1) << 16) |
    (text.charCodeAt(2) << 8) | text.charCodeAt(3)) >>> 0;
}

/**
 * The protocol a first length prefix really belongs to, or `undefined` when
 * it may be a SocketBridge prefix. `"HTTP"` for a request or a response line;
 * `"TLS"` for a TLS record (handshake, alert, change cipher spec or data,
 * version 3.x), which a TLS client or server sends first.
 */
export function foreignProtocol(prefix: number): "HTTP" | "TLS" | undefined {
  if (prefix === HTTP_RESPONSE_START || HTTP_REQUEST_STARTS.includes(prefix)) return "HTTP";
  const type = prefix >>> 24;
  if (type >= 0x14 && type <= 0x17 && ((prefix >>> 16) & 0xff) === 0x03) return "TLS";
  return undefined;
}

const EXCERPT_BYTES = 40;

/**
 * An escaped excerpt of what a peer sent first, when its first four bytes
 * (where a length prefix should be) are printable text: a line-based
 * protocol (NATS's `INFO {...}`, SMTP's greeting, Redis) rather than a
 * SocketBridge frame. Such a "length" would be over 538 MB, so no real
 * frame is mistaken for it. Undefined otherwise.
 */
export function textExcerpt(first: Uint8Array): string | undefined {
  if (first.length < 4 || !first.subarray(0, 4).every(isPrintable)) return undefined;
  const text = new TextDecoder().decode(first.subarray(0, EXCERPT_BYTES));
  const escaped = JSON.stringify(text).slice(1, -1);
  return first.length > EXCERPT_BYTES ? `${escaped}...` : escaped;
}

function isPrintable(byte: number): boolean {
  return (byte >= 0x20 && byte <= 0x7e) || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/** What an HTTP client gets from a SocketBridge port: a 400 that says what the port speaks. */
const HTTP_REFUSAL_TEXT =
  "This port speaks SocketBridge (length-prefixed JSON frames), not HTTP.\n";
export const HTTP_REFUSAL = new TextEncoder().encode(
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${HTTP_REFUSAL_TEXT.length}\r\nConnection: close\r\n\r\n${HTTP_REFUSAL_TEXT}`,
);
