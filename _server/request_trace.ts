// What the `onRequest` hook and an OpenTelemetry span are told of one
// request: facts taken when it arrives, completed when it is answered. Made
// only while a hook is set or tracing is on.

import type { RequestId, WireErrorCode } from "../protocol.ts";
import type { RequestRecord } from "./options.ts";
import {
  endRequestSpan,
  SPAN_KIND,
  type SpanLike,
  startRequestSpan,
  type TracerLike,
} from "../_shared/tracing.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

export class Trace {
  readonly type?: string;
  readonly requestId?: RequestId;
  readonly started: number;
  readonly bytesIn: number;
  /** The server span, while tracing is on: the caller's `traceparent` is its parent. */
  readonly span?: SpanLike;
  /** The scoped token's name, once the envelope is opened. */
  #caller?: string;

  /** Taken before the envelope is opened: opening takes its keys off the message. */
  constructor(
    message: Record<string, unknown> | undefined,
    body: Uint8Array,
    arrived: number | undefined,
    live: TracerLike | undefined,
  ) {
    const type = message?.type;
    const id = message?.request_id;
    this.type = typeof type === "string" ? type : undefined;
    this.requestId = typeof id === "string" || typeof id === "number" ? id : undefined;
    this.started = arrived ?? performance.now();
    this.bytesIn = body.length;
    // A control request ($hello on every connection, $cancel...) makes a span
    // only as part of its caller's trace: alone it would be one more root.
    const control = this.type?.charCodeAt(0) === 36;
    if (live !== undefined && (!control || message?.traceparent !== undefined)) {
      const attributes: Record<string, string | number> = {
        "socketbridge.request.bytes": body.length,
      };
      if (this.requestId !== undefined) attributes["socketbridge.request_id"] = this.requestId;
      this.span = startRequestSpan(
        live,
        SPAN_KIND.server,
        this.type,
        attributes,
        message?.traceparent,
      );
    }
  }

  /** The request came with the scoped token of this name: the record and the span name it. */
  set caller(name: string | undefined) {
    this.#caller = name;
    if (name !== undefined) this.span?.setAttribute("socketbridge.caller", name);
  }

  /**
   * Hands the finished record to the hook (a throwing hook harms nothing)
   * and ends the span.
   */
  record(
    hook: ((record: RequestRecord) => void) | undefined,
    remoteAddr: Deno.Addr,
    code: "ok" | WireErrorCode | (string & Record<never, never>),
    body: FrameText,
  ): void {
    if (this.span !== undefined) endRequestSpan(this.span, code, body.length);
    if (hook === undefined) return;
    try {
      hook({
        type: this.type,
        requestId: this.requestId,
        remoteAddr,
        code,
        duration: performance.now() - this.started,
        bytesIn: this.bytesIn,
        bytesOut: body.length,
        ...(this.#caller === undefined ? {} : { caller: this.#caller }),
      });
    } catch {
      // A throwing hook must not take a request down with it.
    }
  }
}
