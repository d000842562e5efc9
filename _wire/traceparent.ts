// W3C trace context (https://www.w3.org/TR/trace-context/) as it crosses the
// wire in the optional `traceparent` envelope key. Pure: no Deno APIs.

/** The parts of a trace context a span's parent is made from. */
export interface SpanContextLike {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote?: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * Reads a `traceparent` value; `undefined` for anything not valid by the
 * W3C rules (version ff, all-zero ids, version 00 with extra fields), so a
 * bad value only loses the link to the caller's trace.
 */
export function parseTraceparent(value: unknown): SpanContextLike | undefined {
  if (typeof value !== "string" || value.length > 512) return undefined;
  const match = TRACEPARENT.exec(value);
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & 0xff, isRemote: true };
}

/** The `traceparent` value that names `context` as the parent. */
export function formatTraceparent(context: SpanContextLike): string {
  return `00-${context.traceId}-${context.spanId}-${
    (context.traceFlags & 0xff).toString(16).padStart(2, "0")
  }`;
}
