// OpenTelemetry spans through the runtime's own tracer (`Deno.telemetry`,
// live when Deno runs with OTEL_DENO=true): no dependency, and nothing at
// all happens per request while tracing is off, because `tracer()` is asked
// once and every caller tests its answer before doing any work.

import { formatTraceparent, parseTraceparent, type SpanContextLike } from "../_wire/traceparent.ts";
import { SERVER_NAME } from "../protocol.ts";

/** What the library uses of an OpenTelemetry span. */
export interface SpanLike {
  setAttribute(key: string, value: string | number): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
  spanContext(): SpanContextLike;
  isRecording(): boolean;
}

interface ContextLike {
  setValue(key: symbol, value: unknown): ContextLike;
}

/** What the library uses of an OpenTelemetry tracer. */
export interface TracerLike {
  startSpan(
    name: string,
    options: { kind: number; attributes: Record<string, string | number> },
    context: ContextLike,
  ): SpanLike;
}

interface ContextManagerLike {
  active(): ContextLike;
  with<T>(context: ContextLike, fn: () => T): T;
}

/** OpenTelemetry's span kinds, as numbers (the API's SpanKind enum). */
export const SPAN_KIND = { server: 1, client: 2 } as const;
// OpenTelemetry's context key for the active span: shared by every copy of
// the API (it is a Symbol.for), so the runtime and user code see our spans.
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");
const STATUS_ERROR = 2;

let resolved = false;
let liveTracer: TracerLike | undefined;
let contexts: ContextManagerLike | undefined;

/**
 * The runtime's tracer while tracing is on, else `undefined`. Asked once:
 * with telemetry off the runtime refuses to start a span, and a span
 * started to find out and never ended is never exported.
 */
export function tracer(): TracerLike | undefined {
  if (resolved) return liveTracer;
  resolved = true;
  try {
    const telemetry = (Deno as { telemetry?: typeof Deno.telemetry }).telemetry;
    const candidate = telemetry?.tracerProvider?.getTracer(
      "@socketbridge/core",
      SERVER_NAME.split("/")[1],
    ) as TracerLike | undefined;
    contexts = telemetry?.contextManager as ContextManagerLike | undefined;
    if (candidate === undefined || contexts === undefined) return undefined;
    const probe = candidate.startSpan(
      "socketbridge.probe",
      { kind: 0, attributes: {} },
      contexts.active(),
    );
    if (probe.isRecording()) liveTracer = candidate;
  } catch {
    // Telemetry is off: "otel not initialized".
  }
  return liveTracer;
}

/**
 * Starts a request's span: a child of the caller's span named by a valid
 * `traceparent` (on a server), else of the span active here.
 */
export function startRequestSpan(
  live: TracerLike,
  kind: number,
  type: string | undefined,
  attributes: Record<string, string | number>,
  traceparent?: unknown,
): SpanLike {
  const remote = parseTraceparent(traceparent);
  let parent = contexts!.active();
  if (remote !== undefined) parent = parent.setValue(SPAN_KEY, remoteSpan(remote));
  attributes["rpc.system"] = "socketbridge";
  if (type !== undefined) attributes["rpc.method"] = type;
  return live.startSpan(`socketbridge ${type ?? "request"}`, { kind, attributes }, parent);
}

/** Runs `fn` with `span` active: what it starts (a `fetch`, say) is its child. */
export function inSpan<T>(span: SpanLike, fn: () => T): T {
  return contexts!.with(contexts!.active().setValue(SPAN_KEY, span), fn);
}

/** Ends a request's span with its outcome: the answer's code and size. */
export function endRequestSpan(span: SpanLike, code: string, bytesOut?: number): void {
  span.setAttribute("socketbridge.code", code);
  if (bytesOut !== undefined) span.setAttribute("socketbridge.response.bytes", bytesOut);
  if (code !== "ok") span.setStatus({ code: STATUS_ERROR, message: code });
  span.end();
}

/** The `traceparent` that makes the receiver's span a child of `span`. */
export function traceparentOf(span: SpanLike): string {
  return formatTraceparent(span.spanContext());
}

/** A parent known only by its ids, from the other end of the wire. */
function remoteSpan(context: SpanContextLike): SpanLike {
  return {
    spanContext: () => context,
    isRecording: () => false,
    setAttribute: () => undefined,
    setStatus: () => undefined,
    end: () => {},
  };
}

/**
 * Starts a client's span for one request, ended as `answer` settles.
 *
 * @returns The `traceparent` to send with the request.
 */
export function traceCall(
  live: TracerLike,
  type: unknown,
  requestId: string | number | undefined,
  answer: Promise<unknown>,
  requestBytes: () => number,
): string {
  const attributes: Record<string, string | number> = {};
  if (requestId !== undefined) attributes["socketbridge.request_id"] = requestId;
  const span = startRequestSpan(
    live,
    SPAN_KIND.client,
    typeof type === "string" ? type : undefined,
    attributes,
  );
  const end = (code: string) => {
    span.setAttribute("socketbridge.request.bytes", requestBytes());
    endRequestSpan(span, code);
  };
  answer.then(() => end("ok"), (error) => end(String(error?.code ?? "error")));
  return traceparentOf(span);
}
