// Calls back to the caller (protocol D3): a handler asks the connection that
// made its request for a value (approval, input), with a call frame; the
// client answers with `$reply`. Each call ends once: answered, timed out,
// cancelled with its request, or lost with the connection; past the bound
// of calls in flight a new one waits its turn. Pure: no Deno APIs.

import { CancelledError, type ErrorCode, RemoteError, TimeoutError } from "../errors.ts";
import { PROTOCOL_VERSION, type RequestId } from "../protocol.ts";
import { startTimer, type TimerHandle } from "../_shared/timers.ts";
import type { CallOptions, CallPort } from "./handler_info.ts";

/** A `$reply`'s outcome: a result, or an error with its code. */
export type Reply =
  | { readonly status: "ok"; readonly result: unknown }
  | {
    readonly status: "error";
    readonly code: string;
    readonly message: string;
    readonly data?: unknown;
  };

interface Open {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly end: () => void;
}

/** Calls in flight on one connection at most, unless told otherwise. */
export const MAX_CALLS_IN_FLIGHT = 64;

/** The calls of one connection. */
export class CallBook implements CallPort {
  readonly #send: (frame: string) => void;
  readonly #maxInFlight: number;
  readonly #open = new Map<number, Open>();
  #nextId = 1;
  #turns: (() => void)[] = [];
  #closed?: Error;

  constructor(send: (frame: string) => void, maxInFlight = MAX_CALLS_IN_FLIGHT) {
    this.#send = send;
    this.#maxInFlight = maxInFlight;
  }

  /** Calls in flight now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Sends a call for the request `requestId` and resolves with the client's
   * result. `ended` aborts when the calling request ends.
   *
   * @throws {RemoteError} With the client's code when it answers an error.
   * @throws {TimeoutError} When `timeout` passes first; the call is cancelled.
   */
  async call(
    payload: unknown,
    requestId: RequestId | undefined,
    ended: AbortSignal,
    { timeout, signal }: CallOptions = {},
  ): Promise<unknown> {
    signal?.throwIfAborted();
    ended.throwIfAborted();
    while (this.#open.size >= this.#maxInFlight && this.#closed === undefined) {
      await new Promise<void>((resolve) => this.#turns.push(resolve));
      signal?.throwIfAborted();
      ended.throwIfAborted();
    }
    if (this.#closed !== undefined) throw this.#closed;
    const callId = this.#nextId++;
    let text: string;
    try {
      text = JSON.stringify({
        call_id: callId,
        payload,
        request_id: requestId,
        timeout_ms: timeout !== undefined && Number.isFinite(timeout) ? timeout : undefined,
        protocol_version: PROTOCOL_VERSION,
      });
    } catch (error) {
      throw new TypeError("Cannot call back: the payload is not JSON-serializable", {
        cause: error,
      });
    }
    return await new Promise<unknown>((resolve, reject) => {
      let timer: TimerHandle;
      const cancel = (reason: unknown) => {
        // The client hears that nobody waits for this call any more.
        this.#send(`{"call_id":${callId},"cancel":true,"protocol_version":"${PROTOCOL_VERSION}"}`);
        this.#finish(callId)?.reject(reason);
      };
      const onEnded = () => cancel(ended.reason ?? new CancelledError());
      const onSignal = () => cancel(signal!.reason);
      const end = () => {
        if (timer !== undefined) clearTimeout(timer);
        ended.removeEventListener("abort", onEnded);
        signal?.removeEventListener("abort", onSignal);
      };
      this.#open.set(callId, { resolve, reject, end });
      ended.addEventListener("abort", onEnded, { once: true });
      signal?.addEventListener("abort", onSignal, { once: true });
      if (timeout !== undefined) {
        timer = startTimer(() => cancel(new TimeoutError(timeout)), timeout);
      }
      this.#send(text);
    });
  }

  /** A `$reply` arrived: true if it ended a call still open. */
  reply(callId: number, reply: Reply): boolean {
    const open = this.#finish(callId);
    if (open === undefined) return false;
    if (reply.status === "ok") open.resolve(reply.result);
    else {
      open.reject(new RemoteError(reply.code as ErrorCode, reply.message, { data: reply.data }));
    }
    return true;
  }

  /** The connection is gone: every call fails with `reason`, and no new one is made. */
  close(reason: Error): void {
    this.#closed ??= reason;
    for (const callId of [...this.#open.keys()]) this.#finish(callId)?.reject(reason);
    for (const turn of this.#turns.splice(0)) turn();
  }

  #finish(callId: number): Open | undefined {
    const open = this.#open.get(callId);
    if (open === undefined) return undefined;
    this.#open.delete(callId);
    open.end();
    this.#turns.shift()?.();
    return open;
  }
}
