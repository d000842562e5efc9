/**
 * SocketBridge clients: {@linkcode send}, the one-shot helper of the
 * original (connect, one request, one response, close), and
 * {@linkcode connect}, a persistent client that carries any number of
 * requests at once over one connection, with cancellation, timeouts and
 * optional reconnection.
 *
 * @example One request, one response
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0, token: "s3cret" }, () => "pong");
 * const port = server.addr.port;
 * const response = await send({ port, token: "s3cret" }, { type: "ping" });
 * assert.ok(response.status === "ok" && response.result === "pong");
 * ```
 *
 * @module
 */

import { TimeoutError } from "./errors.ts";
import type { BridgeResponse } from "./protocol.ts";
import { BridgeClient } from "./_client/bridge_client.ts";
import type { Client, ConnectOptions, SendOptions } from "./_client/options.ts";
import { checkDuration, startTimer } from "./_shared/timers.ts";

export { type BridgeEvent, EventStream } from "./_client/events.ts";
export { ResultStream } from "./_client/result_stream.ts";
export {
  type ChunkOf,
  type DeclaredTypes,
  type FinalOf,
  type PayloadOf,
  type ResultOf,
  type TypedClient,
  typedClient,
} from "./_client/typed_client.ts";
export type { TypeDescription } from "./_server/request_types.ts";
export type {
  CallContext,
  Client,
  ConnectionOptions,
  ConnectOptions,
  ReconnectOptions,
  RequestOptions,
  SendOptions,
  SubscribeOptions,
} from "./_client/options.ts";

const DEFAULT_SEND_TIMEOUT = 30_000;

/**
 * Sends one request on a fresh connection and returns the response object,
 * `ok` or `error` alike (the original client's behaviour). Sends no
 * `request_id`, so it speaks to an original server exactly as the original
 * client did.
 *
 * @param options Where to connect, the token, the timeout and a signal.
 * @param payload The request object, without envelope keys.
 * @returns The server's response.
 * @throws {TimeoutError} When connecting and answering took longer than `timeout`.
 * @throws {ConnectError} When connecting failed (names the address).
 * @throws {ConnectionClosedError} When the server closed before answering.
 * @throws {ProtocolError} When the peer's answer is not a SocketBridge answer.
 * @throws {FrameTooLargeError} When the response is larger than `maxBytes`.
 * @throws {TypeError} When the payload is not an object or uses an envelope key.
 *
 * @example Sending a message, and reading an error answer
 * ```ts
 * import assert from "node:assert/strict";
 * import { send, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0, token: "s3cret" }, (payload) => payload);
 * const port = server.addr.port;
 * const ok = await send({ port, token: "s3cret" }, { type: "message", text: "hi" });
 * assert.ok(ok.status === "ok");
 * const refused = await send({ port, token: "guess" }, { type: "message", text: "hi" });
 * assert.ok(refused.status === "error" && refused.code === "unauthorized");
 * ```
 */
export async function send<Result = unknown>(
  options: SendOptions,
  payload: Record<string, unknown>,
): Promise<BridgeResponse<Result>> {
  const timeout = checkDuration("timeout", options.timeout ?? DEFAULT_SEND_TIMEOUT);
  const deadline = new AbortController();
  const timer = startTimer(() => deadline.abort(new TimeoutError(timeout)), timeout);
  const signal = options.signal === undefined
    ? deadline.signal
    : AbortSignal.any([options.signal, deadline.signal]);
  try {
    const client = await BridgeClient.open({ ...options, signal }, false);
    try {
      // timeout_ms travels only when the caller chose a timeout: with the
      // default, the request is byte for byte what the original client sends.
      const response = await client.exchange(payload, { signal }, false, options.timeout);
      return response as BridgeResponse<Result>;
    } finally {
      await client.close();
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * Opens a persistent connection. Resolves once connected.
 *
 * Every request gets a `request_id` and is matched to its answer by it, so
 * any number may be in flight. Against an original server, which answers in
 * order and echoes no id, answers are matched in order instead.
 *
 * @typeParam Payload The request payload type.
 * @typeParam Result The type of `result` in answers.
 * @param options Where to connect, the token, timeouts, reconnection.
 * @returns The connected client.
 * @throws {ConnectError} When nothing listens there (names the address).
 * @throws {TypeError} On contradictory options (`path` with `port`).
 *
 * @example Many requests on one connection, one of them cancelled
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@socketbridge/core";
 *
 * await using server = serve({ port: 0 }, async (payload: { n: number }, { signal }) => {
 *   if (payload.n < 0) await new Promise((resolve) => signal.addEventListener("abort", resolve));
 *   return payload.n * 10;
 * });
 * await using client = await connect<{ n: number }, number>({
 *   port: server.addr.port,
 * });
 * const answers = await Promise.all([1, 2, 3].map((n) => client.request({ n })));
 * assert.ok(answers.join() === "10,20,30");
 * const controller = new AbortController();
 * const slow = client.request({ n: -1 }, { signal: controller.signal, timeout: 5_000 });
 * controller.abort(new Error("user gave up"));
 * const error = await slow.catch((error: Error) => error);
 * assert.ok(error instanceof Error && error.message === "user gave up");
 * ```
 */
export function connect<Payload = Record<string, unknown>, Result = unknown>(
  options: ConnectOptions = {},
): Promise<Client<Payload, Result>> {
  return BridgeClient.open(options, true) as Promise<Client<Payload, Result>>;
}
