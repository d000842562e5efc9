// A client whose transport is a NATS connection: each request is published
// on PREFIX.TYPE with a reply subject under one inbox of its own, answered
// by whichever server of the queue group took it. The same answers, errors
// and streams as a socket client's; giving up publishes a `$cancel` every
// server of the prefix hears.

// deno-lint-ignore no-import-prefix
import { createInbox, headers } from "npm:nats@^2.29.3";
import { ConnectError, ConnectionClosedError, ProtocolError, TimeoutError } from "../errors.ts";
import type { BridgeResponse } from "../protocol.ts";
import type { RequestOptions } from "../_client/options.ts";
import { Pending } from "../_client/answer_book.ts";
import { IdTable } from "../_client/id_table.ts";
import { checkDuration, startTimer } from "../_shared/timers.ts";
import { checkPayload, encodeRequest, envelopeOf } from "../_wire/request_text.ts";
import type { FrameText } from "../_wire/text_pieces.ts";
import { parseAnswer } from "../_wire/answer_text.ts";
import { pendingStream, type ResultStream } from "../_client/result_stream.ts";
import { FEATURES_HEADER } from "./exchange.ts";
import { traceCall, tracer } from "../_shared/tracing.ts";
import type {
  NatsClient,
  NatsClientOptions,
  NatsConnectionLike,
  NatsMessageLike,
  NatsSubscriptionLike,
} from "./types.ts";

const DEFAULT_TIMEOUT_MS = 30_000;
const SUBJECT_TOKENS = /^[^\s.*>$][^\s.*>]*(\.[^\s.*>]+)*$/;
const encoder = new TextEncoder();

export class ClientOverNats<Payload = Record<string, unknown>, Result = unknown>
  implements NatsClient<Payload, Result> {
  readonly #nc: NatsConnectionLike;
  readonly #prefix: string;
  readonly #token?: string;
  readonly #envelope: string;
  readonly #timeout: number;
  readonly #inbox: string;
  readonly #inboxSub: NatsSubscriptionLike;
  // By id, as the socket client books them (no Map churn per request).
  readonly #pending = new IdTable<Pending>();
  readonly #tracer = tracer();
  #nextId = 1;
  #closed = false;

  constructor(nc: NatsConnectionLike, options: NatsClientOptions) {
    this.#nc = nc;
    this.#prefix = options.prefix;
    this.#token = options.token;
    this.#envelope = envelopeOf(options.token);
    this.#timeout = checkDuration("timeout", options.timeout ?? DEFAULT_TIMEOUT_MS);
    this.#inbox = createInbox();
    this.#inboxSub = nc.subscribe(`${this.#inbox}.*`, {
      callback: (error, msg) => {
        if (error === null) this.#receive(msg);
        else for (const pending of [...this.#pending.values()]) this.#settle(pending, error);
      },
    });
  }

  /** Requests sent and not yet answered, timed out or aborted. */
  get pending(): number {
    return this.#pending.size;
  }

  request(payload: Payload, options?: RequestOptions): Promise<Result> {
    return this.#submit(payload as Record<string, unknown>, options) as Promise<Result>;
  }

  stream<Chunk = unknown, Final = unknown>(
    payload: Payload,
    options?: RequestOptions,
  ): ResultStream<Chunk, Final> {
    const { stream, attach } = pendingStream<Chunk, Final>((entry, reason) =>
      this.#giveUp(entry, reason)
    );
    this.#submit(payload as Record<string, unknown>, options, attach)
      .then((result) => stream.finish(result as Final), (error) => stream.fail(error));
    return stream;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const pending of [...this.#pending.values()]) {
        this.#giveUp(pending, new ConnectionClosedError("Client closed"));
      }
      this.#inboxSub.unsubscribe();
    }
    return Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #submit(
    payload: Record<string, unknown>,
    options: RequestOptions | undefined,
    streaming?: (pending: Pending) => void,
  ): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError("Client closed"));
    const timeout = options?.timeout ?? this.#timeout;
    try {
      checkPayload(payload);
      checkDuration("timeout", timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.#nextId++;
    const subject = this.#subjectOf(payload.type);
    const pending = new Pending({ id, payload });
    const answer = pending.outcome;
    let text: FrameText = "";
    const traceparent = this.#tracer === undefined
      ? undefined
      : traceCall(this.#tracer, payload.type, id, answer, () => text.length);
    try {
      text = encodeRequest(
        payload,
        this.#envelope,
        id,
        timeout,
        traceparent,
        options?.idempotencyKey,
      );
    } catch (error) {
      pending.fail(error);
      return answer;
    }
    const body = encoder.encode(String(text));
    streaming?.(pending);
    const signal = options?.signal;
    if (signal?.aborted) {
      pending.fail(signal.reason);
      return answer;
    }
    this.#pending.set(id, pending);
    if (signal !== undefined) {
      pending.signal = signal;
      pending.onAbort = () => this.#giveUp(pending, signal.reason);
      signal.addEventListener("abort", pending.onAbort, { once: true });
    }
    pending.timer = startTimer(() => this.#giveUp(pending, new TimeoutError(timeout)), timeout);
    let marks;
    if (streaming !== undefined) {
      marks = headers();
      marks.set(FEATURES_HEADER, "chunks");
    }
    try {
      this.#nc.publish(subject, body, { reply: `${this.#inbox}.${id}`, headers: marks });
    } catch (error) {
      this.#settle(pending, error);
    }
    return answer;
  }

  /** PREFIX.TYPE when the type can be a subject's tokens; else PREFIX, the type in the body. */
  #subjectOf(type: unknown): string {
    return typeof type === "string" && SUBJECT_TOKENS.test(type)
      ? `${this.#prefix}.${type}`
      : this.#prefix;
  }

  #receive(msg: NatsMessageLike): void {
    const id = Number(msg.subject.slice(this.#inbox.length + 1));
    const pending = this.#pending.get(id);
    if (pending === undefined) return; // given up: a late answer is dropped
    if (msg.headers?.code === 503) {
      const subject = this.#prefix;
      return this.#settle(
        pending,
        new ConnectError(
          subject,
          `No server answers on NATS subjects ${subject}.*: is a bridge serving prefix "${subject}"?`,
        ),
      );
    }
    let answer: unknown;
    try {
      answer = parseAnswer(msg.data);
    } catch (error) {
      return this.#settle(
        pending,
        new ProtocolError("Answer over NATS is not JSON", { cause: error }),
      );
    }
    const frame = answer as Record<string, unknown> | null;
    if (typeof frame !== "object" || frame === null) {
      return this.#settle(pending, new ProtocolError("Answer over NATS is not a JSON object"));
    }
    if ("chunk" in frame && !("status" in frame)) return pending.chunk(frame.chunk);
    if (frame.status !== "ok" && frame.status !== "error") {
      return this.#settle(pending, new ProtocolError("Answer over NATS has no status"));
    }
    this.#pending.delete(id);
    pending.answer(frame as unknown as BridgeResponse);
  }

  #settle(pending: Pending, error: unknown): void {
    this.#pending.delete(pending.id as number);
    pending.fail(error);
  }

  /** Fails the request and tells the servers: the one running it stops. */
  #giveUp(pending: Pending, reason: unknown): void {
    if (pending.settled) return;
    this.#settle(pending, reason);
    const cancel = JSON.stringify({
      target: `${this.#inbox}.${pending.id}`,
      auth_token: this.#token,
      protocol_version: "1",
    });
    try {
      this.#nc.publish(`${this.#prefix}.$cancel`, encoder.encode(cancel));
    } catch {
      // The connection is closed: no server can be running it for us.
    }
  }
}
