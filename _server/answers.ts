// The answer to each outcome of a request, as JSON text: ok, refused,
// failed, or an application's own error; each reported (onError) and
// recorded (onRequest) as it is made.

import { ApplicationError, type ErrorCode, PayloadError, SocketBridgeError } from "../errors.ts";
import { ERROR_MESSAGES, type RequestId, type WireErrorCode } from "../protocol.ts";
import { errorBody, okBody, Refusal } from "../_wire/envelope.ts";
import { type ControlPeer, runControl } from "./control.ts";
import type { Trace } from "./request_trace.ts";
import type { Caller } from "../_wire/scopes.ts";
import type { Settings } from "./settings.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

/** What answers need from their connection. */
export interface AnswersHost {
  readonly settings: Settings;
  readonly remoteAddr: Deno.Addr;
  readonly control: ControlPeer;
  report(error: unknown, code?: ErrorCode): void;
}

export class Answers {
  readonly #host: AnswersHost;

  constructor(host: AnswersHost) {
    this.#host = host;
  }

  /** `largeStrings`: the result answers a large request, and may hold its large strings. */
  ok(
    result: unknown,
    requestId: RequestId | undefined,
    { trace, largeStrings }: { trace?: Trace; largeStrings?: boolean } = {},
  ): FrameText {
    let body: FrameText;
    try {
      body = okBody(result, requestId, { largeStrings });
    } catch (error) {
      this.#host.report(error, "handler_error");
      return this.error("handler_error", requestId, trace, {
        message: `handler error: result is not JSON-serializable: ${describe(error)}`,
      });
    }
    if (trace !== undefined) {
      trace.record(this.#host.settings.onRequest, this.#host.remoteAddr, "ok", body);
    }
    return body;
  }

  /** Answers a control request: they are synchronous and never reach the handler. */
  control(
    payload: Record<string, unknown>,
    requestId: RequestId | undefined,
    caller: Caller,
    trace?: Trace,
  ): FrameText {
    try {
      return this.ok(runControl(payload, requestId, this.#host.control, caller), requestId, {
        trace,
      });
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return this.error(error.code, requestId, trace, { message: error.message });
    }
  }

  failed(error: unknown, requestId: RequestId | undefined, trace?: Trace): string {
    if (error instanceof ApplicationError) {
      // An answer the application chose, not a failure of the server.
      let body: string;
      try {
        body = errorBody(error.code, requestId, error.message, error.data);
      } catch (cause) {
        return this.failed(cause, requestId, trace);
      }
      if (trace !== undefined) {
        trace.record(this.#host.settings.onRequest, this.#host.remoteAddr, error.code, body);
      }
      return body;
    }
    // A handler may refuse its payload, or name an unknown type, itself.
    if (error instanceof PayloadError) {
      const data = { issues: error.issues };
      return this.error("invalid_payload", requestId, trace, {
        message: error.message,
        cause: error,
        data,
      });
    }
    if (
      error instanceof SocketBridgeError &&
      (error.code === "invalid_payload" || error.code === "unknown_type")
    ) {
      return this.error(error.code, requestId, trace, { message: error.message, cause: error });
    }
    this.#host.report(error, "handler_error");
    return this.error("handler_error", requestId, trace, {
      message: `handler error: ${describe(error)}`,
    });
  }

  /**
   * A protocol error's answer: its text by default, or `message`; `data`
   * only where the protocol allows it (`invalid_payload`'s issues).
   */
  error(
    code: WireErrorCode,
    requestId: RequestId | undefined,
    trace?: Trace,
    { message, cause, data }: { message?: string; cause?: Error; data?: unknown } = {},
  ): string {
    const body = errorBody(code, requestId, message, data);
    // Handler failures are reported where they are caught, with the thrown value.
    if (code !== "handler_error") {
      this.#host.report(
        cause ?? new SocketBridgeError(code, message ?? ERROR_MESSAGES[code]),
        code,
      );
    }
    if (trace !== undefined) {
      trace.record(this.#host.settings.onRequest, this.#host.remoteAddr, code, body);
    }
    return body;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
