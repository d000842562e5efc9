// What the `onRequest` hook is told of one request: facts taken when it
// arrives, completed when it is answered. Made only while a hook is set.

import type { RequestId, WireErrorCode } from "./protocol.ts";
import type { RequestRecord } from "./_settings.ts";

export class Trace {
  readonly type?: string;
  readonly requestId?: RequestId;
  readonly started: number;
  readonly bytesIn: number;

  /** Taken before the envelope is opened: opening takes its keys off the message. */
  constructor(
    message: Record<string, unknown> | undefined,
    body: Uint8Array,
    arrived: number | undefined,
  ) {
    const type = message?.type;
    const id = message?.request_id;
    this.type = typeof type === "string" ? type : undefined;
    this.requestId = typeof id === "string" || typeof id === "number" ? id : undefined;
    this.started = arrived ?? performance.now();
    this.bytesIn = body.length;
  }

  /** Hands the finished record to the hook; a throwing hook harms nothing. */
  record(
    hook: (record: RequestRecord) => void,
    remoteAddr: Deno.Addr,
    code: "ok" | WireErrorCode | (string & Record<never, never>),
    body: string,
  ): void {
    try {
      hook({
        type: this.type,
        requestId: this.requestId,
        remoteAddr,
        code,
        duration: performance.now() - this.started,
        bytesIn: this.bytesIn,
        bytesOut: body.length,
      });
    } catch {
      // A throwing hook must not take a request down with it.
    }
  }
}
