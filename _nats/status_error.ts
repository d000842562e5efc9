// The error a NATS bridge reports to onError for the NATS client's own
// status events, kept apart from the core's request errors.

import { SocketBridgeError } from "../errors.ts";

/**
 * The NATS client reported a change of its state: `disconnect`, `reconnect`,
 * `ldm` (the NATS server is going away), `error` (a permission violation, a
 * slow consumer), or a subscription's failure. Given to the server's
 * `onError`; the bridge goes on.
 *
 * @example Telling bridge events from request errors in onError
 * ```ts
 * import assert from "node:assert/strict";
 * import { NatsStatusError } from "@socketbridge/core/nats";
 * const error = new NatsStatusError("disconnect", "127.0.0.1:4222");
 * assert.ok(error.code === "bridge_status" && error.status === "disconnect");
 * ```
 */
export class NatsStatusError extends SocketBridgeError {
  /** What the NATS client reported: `disconnect`, `reconnect`, `ldm`, `error`, `subscription`... */
  readonly status: string;

  /**
   * Creates the error for one status report.
   *
   * @param status What the NATS client reported.
   * @param detail Its data: the server, or the error's text.
   * @param options The NATS client's error as `cause`, if any.
   */
  constructor(status: string, detail: string, options?: ErrorOptions) {
    super("bridge_status", `NATS ${status}: ${detail}`, options);
    this.name = "NatsStatusError";
    this.status = status;
  }
}
