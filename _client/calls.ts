// The client's side of calls back (protocol D3): each call frame runs the
// caller's onCall, whose outcome goes back as a `$reply`; a call cancel
// aborts its signal.

import { ApplicationError, CancelledError } from "../errors.ts";
import type { ConnectOptions } from "./options.ts";
import type { Link, LinkHost } from "./link.ts";

/** What answering calls needs of its client. */
export interface CallReplies {
  /** Whether `link` is still the client's (a reply for an old link is dropped). */
  current(link: Link): boolean;
  /** Sends the `$reply` control request. */
  reply(reply: Record<string, unknown>): void;
}

/** Runs `onCall` for each call back of the server, and answers it with `$reply`. */
export function answerCalls(
  onCall: NonNullable<ConnectOptions["onCall"]>,
  client: CallReplies,
): NonNullable<LinkHost["calls"]> {
  const running = new Map<number, AbortController>();
  return {
    call: (link, callId, payload, requestId) => {
      const controller = new AbortController();
      running.set(callId, controller);
      const context = {
        signal: controller.signal,
        requestId: typeof requestId === "string" || typeof requestId === "number"
          ? requestId
          : undefined,
      };
      // A microtask later: onCall may itself make requests on this client.
      Promise.resolve().then(() => onCall(payload, context)).then(
        (result) => ({ status: "ok", result: result ?? null }),
        (error) => ({
          status: "error",
          code: error instanceof ApplicationError ? error.code : "handler_error",
          message: error instanceof ApplicationError
            ? error.message
            : `handler error: ${error instanceof Error ? error.message : String(error)}`,
          ...(error instanceof ApplicationError && error.data !== undefined
            ? { data: error.data }
            : {}),
        }),
      ).then((reply) => {
        running.delete(callId);
        if (controller.signal.aborted || !client.current(link)) return;
        client.reply({ call_id: callId, ...reply });
      });
    },
    cancel: (_link, callId) => {
      running.get(callId)?.abort(new CancelledError("The server cancelled this call"));
      running.delete(callId);
    },
  };
}
