// Request scheduling for one connection: the envelope checks, the handler
// runs and their deadlines, the slots (maxInFlight) and the backlog past
// them, the arrival order of requests without an id, and what happens to
// queued work nobody waits for any more (it never starts), cancellation by
// `$cancel`, and control requests, which run here in their turn like any
// other request but never reach the handler.

import { CancelledError, ConnectionClosedError, type SocketBridgeError } from "../errors.ts";
import type { RequestId, WireErrorCode } from "../protocol.ts";
import { type Envelope, openEnvelope, parseRequest, Refusal, withType } from "../_wire/envelope.ts";
import type { Caller } from "../_wire/scopes.ts";
import { type CallPort, HandlerInfo } from "./handler_info.ts";
import { isCancelWithId, isControl } from "./control.ts";
import { Trace } from "./request_trace.ts";
import { inSpan, tracer } from "../_shared/tracing.ts";
import { Answers } from "./answers.ts";
import { isAsyncIterable, type StreamOutlet } from "./stream_run.ts";
import { HandlerRun } from "./handler_run.ts";
import type { SchedulerHost } from "./host.ts";
import { Backlog, type Frame } from "./backlog.ts";
import type { KeyedRequest } from "./idempotency.ts";
import { turnNow } from "./turn_clock.ts";
import { forbiddenType, typeOf } from "./admission.ts";
import { type FrameText, PIECES_FROM } from "../_wire/text_pieces.ts";

export type { SchedulerHost } from "./host.ts";

// Frames that may wait for a slot before the reader pauses, at least.
const MIN_BACKLOG = 64;

export class RequestScheduler {
  readonly #host: SchedulerHost;
  readonly #identify?: (given: unknown) => Caller | undefined;
  readonly #maxInFlight: number;
  // Each request gets a Trace only while a hook is set or tracing is on.
  readonly #traced: boolean;
  readonly #tracer = tracer();
  #inFlight = 0;
  // Frames read past maxInFlight wait here, in order, for a free slot.
  readonly #backlog = new Backlog();
  // Bytes of the requests whose handlers are running: what their payloads
  // (and soon their results) make the server hold.
  #runningBytes = 0;
  readonly #running = new Set<AbortController>();
  // Running requests with an idempotency key: their caller may come back on
  // another connection for the answer, so this one closing does not stop them.
  readonly #keyedRunning = new Set<AbortController>();
  // Running requests by id, for `$cancel`.
  readonly #byId = new Map<RequestId, AbortController>();
  // The answer of the last request without an id, and how many such answers
  // are still to come: later id-less answers wait their turn.
  #ordered: Promise<unknown> = Promise.resolve();
  #orderedPending = 0;
  // Once set, no queued request starts: it is answered with this, or dropped.
  #abandoned?: SocketBridgeError;

  readonly #outlet: StreamOutlet;
  readonly #answers: Answers;
  readonly #calls?: () => CallPort | undefined;

  constructor(host: SchedulerHost) {
    this.#host = host;
    this.#answers = new Answers(host);
    if (host.calls !== undefined) this.#calls = () => host.calls!();
    this.#outlet = {
      send: (frame) => host.send(frame),
      congested: () => host.congested(),
      room: () => host.room(),
    };
    const callers = host.settings.callers;
    this.#identify = callers === undefined ? undefined : (given) => callers.identify(given);
    this.#maxInFlight = host.settings.maxInFlight;
    this.#traced = host.settings.onRequest !== undefined || this.#tracer !== undefined;
  }

  /** Requests running or waiting for their turn to answer. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether frames wait for a slot: the reader must pause. */
  get backlogged(): boolean {
    return this.#backlog.length > 0;
  }

  /**
   * Whether the reader must pause: as many frames wait as may run (or
   * MIN_BACKLOG), or a frame's worth of bytes. Until then it reads on, so that a `$cancel`
   * behind the waiting frames is seen (and goes ahead of them).
   */
  get backlogFull(): boolean {
    return this.#backlog.length >= Math.max(this.#maxInFlight, MIN_BACKLOG) ||
      this.#backlog.bytes >= this.#host.settings.maxBytes;
  }

  /** Bytes held for this connection's requests: frames waiting for a slot, and those running. */
  get heldBytes(): number {
    return this.#backlog.bytes + this.#runningBytes;
  }

  /** Nothing running, nothing waiting. */
  get idle(): boolean {
    return this.#inFlight === 0 && !this.backlogged;
  }

  /**
   * Takes one request frame: runs it now, or queues it for a slot. A
   * transport that names the request's type outside the body (a NATS
   * subject) passes it as `type`: the payload gets it, and a payload naming
   * another type is refused.
   */
  admit(body: Uint8Array, type?: string): void {
    if (this.#abandoned instanceof ConnectionClosedError) return;
    if (this.backlogged || this.#inFlight >= this.#maxInFlight || this.#host.congested()) {
      // A `$cancel` goes ahead of the frames waiting for a slot, or it would
      // wait behind the very work it cancels.
      if (isCancelWithId(body)) return this.#start({ body });
      this.#backlog.push(body, type);
    } else {
      this.#start({ body, type });
    }
  }

  /** Answers a frame that could not be read (oversized) in its turn. */
  refuse(code: WireErrorCode, cause?: Error): void {
    this.#refuse(new Refusal(code), { cause });
  }

  /**
   * Nobody waits for queued work any more. Running handlers are aborted
   * with `reason`; queued requests never start: after a shutdown's grace
   * period they are answered `shutting_down`, after the connection closed
   * they are dropped and counted.
   */
  abandon(reason: SocketBridgeError): void {
    if (!(this.#abandoned instanceof ConnectionClosedError)) this.#abandoned = reason;
    const closed = reason instanceof ConnectionClosedError;
    for (const controller of this.#running) {
      if (!(closed && this.#keyedRunning.has(controller))) controller.abort(reason);
    }
    if (reason instanceof ConnectionClosedError) {
      const dropped = this.#backlog.clear();
      if (dropped > 0) this.#host.dropped(dropped);
    }
  }

  /**
   * Aborts the running request with this id (its answer: `cancelled`), or
   * marks a waiting one so that it never starts. False when there is none.
   */
  cancel(target: RequestId): boolean {
    const running = this.#byId.get(target);
    if (running !== undefined) {
      running.abort(new CancelledError());
      return true;
    }
    return this.#backlog.cancel(target);
  }

  #start({ body, arrived, cancelled, type }: Frame): void {
    const traced = this.#traced;
    let message = parseRequest(body);
    if (type !== undefined && !(message instanceof Refusal)) message = withType(message, type);
    if (message instanceof Refusal) {
      return this.#refuse(message, {
        trace: traced ? new Trace(undefined, body, arrived, this.#tracer) : undefined,
      });
    }
    // Before the envelope is opened: it takes the envelope keys off the message.
    const trace = traced ? new Trace(message, body, arrived, this.#tracer) : undefined;
    const envelope = openEnvelope(message, this.#identify);
    if (envelope instanceof Refusal) return this.#refuse(envelope, { trace });
    this.#host.authorized();
    if (trace !== undefined) trace.caller = envelope.caller.name;
    const forbidden = forbiddenType(envelope);
    const typeName = typeOf(envelope.payload);
    if (forbidden !== undefined) return this.#refuse(forbidden, { trace, type: typeName });
    const refusing = this.#host.refusing();
    if (refusing !== undefined) {
      return this.#refuse(new Refusal(refusing, envelope.requestId), { trace, type: typeName });
    }
    const waited = arrived === undefined ? 0 : performance.now() - arrived;
    if (envelope.requestId === undefined && this.#orderedPending > 0) {
      // Requests without an id run one after another, answered in order.
      const queued = arrived ?? performance.now();
      this.#inOrder(() => this.#startQueued(envelope, queued, body.length, trace), body.length);
      return;
    }
    if (envelope.timeoutMs !== undefined && waited >= envelope.timeoutMs) {
      return this.#refuse(new Refusal("timeout", envelope.requestId), { trace, type: typeName });
    }
    if (cancelled) {
      return this.#refuse(new Refusal("cancelled", envelope.requestId), { trace, type: typeName });
    }
    const answer = envelope.idempotencyKey === undefined || isControl(envelope.payload)
      ? this.#execute(envelope, waited, body.length, trace)
      : this.#keyed(envelope, waited, { body, type }, trace);
    if (answer === undefined) return;
    if (!(answer instanceof Promise)) this.#host.send(answer);
    else if (envelope.requestId === undefined) this.#inOrder(() => answer, body.length);
    else this.#track(answer, body.length);
  }

  /**
   * A request with an idempotency key: run once per key (per token), the
   * same answer for every request that carries it again within the window.
   */
  #keyed(
    envelope: Envelope,
    waited: number,
    request: KeyedRequest,
    trace?: Trace,
  ): FrameText | Promise<FrameText> | undefined {
    const { caller, idempotencyKey, payload, requestId } = envelope;
    const store = this.#host.idempotency;
    const verdict = store.begin(
      caller.name,
      idempotencyKey!,
      request,
      payload,
      requestId,
      turnNow(),
    );
    if (verdict.kind === "conflict") {
      this.#refuse(new Refusal("idempotency_conflict", requestId), {
        trace,
        type: typeOf(payload),
      });
      return undefined;
    }
    if (verdict.kind === "answer") return verdict.answer;
    const answer = this.#execute(envelope, waited, request.body.length, trace);
    store.finish(verdict.ticket, answer);
    return answer;
  }

  /** A request that waited for its turn: it starts only if still wanted. */
  #startQueued(
    envelope: Envelope,
    queued: number,
    bytes: number,
    trace?: Trace,
  ): FrameText | Promise<FrameText> {
    const abandoned = this.#abandoned;
    if (abandoned instanceof ConnectionClosedError) return "";
    if (abandoned !== undefined) return this.#answers.error("shutting_down", undefined, trace);
    const waited = performance.now() - queued;
    if (envelope.timeoutMs !== undefined && waited >= envelope.timeoutMs) {
      return this.#answers.error("timeout", undefined, trace);
    }
    return this.#execute(envelope, waited, bytes, trace);
  }

  /** Answers a refusal in its turn; with the request's type known, `$stats` counts it. */
  #refuse(
    refusal: Refusal,
    { trace, cause, type }: { trace?: Trace; cause?: Error; type?: string } = {},
  ): void {
    const body = this.#answers.error(refusal.code, refusal.requestId, trace, {
      message: refusal.message,
      cause,
    });
    if (type !== undefined) {
      const stats = this.#host.typeStats;
      stats.answered(stats.of(type), body, undefined, 0);
    }
    if (refusal.requestId !== undefined || this.#orderedPending === 0) this.#host.send(body);
    else this.#inOrder(() => body);
  }

  /** Answers after every earlier request without an id is answered. */
  #inOrder(answer: () => FrameText | Promise<FrameText>, size = 0): void {
    this.#orderedPending++;
    const body = this.#ordered.then(answer);
    this.#ordered = body;
    this.#track(body.finally(() => this.#orderedPending--), size);
  }

  /** A request whose answer comes later; its body's size stands for what its handler holds. */
  #track(answer: Promise<FrameText>, size = 0): void {
    this.#inFlight++;
    this.#runningBytes += size;
    answer.then((body) => {
      this.#runningBytes -= size;
      // An empty body: the connection is gone, nothing to answer.
      if (body !== "") this.#host.send(body);
      this.#inFlight--;
      this.#settled();
    });
  }

  #settled(): void {
    this.resume();
    this.#host.settled();
  }

  /** Starts waiting frames while there are free slots and room for answers. */
  resume(): void {
    while (
      this.#backlog.length > 0 && this.#inFlight < this.#maxInFlight && !this.#host.congested()
    ) {
      this.#start(this.#backlog.take()!);
    }
  }

  /**
   * Runs the handler. One that returns at once is answered at once, with no
   * promise, timer or AbortController (the signal is made only if the
   * handler reads it). One that returns a promise or a stream becomes a
   * HandlerRun under its deadline, whose answer never rejects.
   */
  #execute(
    envelope: Envelope,
    waited: number,
    bytes: number,
    trace?: Trace,
  ): FrameText | Promise<FrameText> {
    const { payload, requestId, timeoutMs } = envelope;
    // A large request's result may hold its large strings: they are not copied into the answer.
    const largeStrings = bytes >= PIECES_FROM;
    if (isControl(payload)) {
      return this.#answers.control(payload, requestId, envelope.caller, trace);
    }
    const info = new HandlerInfo(
      this.#host.remoteAddr,
      requestId,
      envelope.caller.name,
      this.#calls,
    );
    // `$stats`: a counter per type; times only once somebody has asked.
    const stats = this.#host.typeStats;
    const counted = stats.of(typeOf(payload));
    const started = stats.timing ? performance.now() : undefined;
    let result: unknown;
    const span = trace?.span;
    try {
      result = span === undefined
        ? this.#host.handler(payload, info)
        : inSpan(span, () => this.#host.handler(payload, info));
    } catch (error) {
      const body = this.#answers.failed(error, requestId, trace);
      stats.answered(counted, body, started, started === undefined ? 0 : performance.now());
      return body;
    }
    if (!isThenable(result) && !isAsyncIterable(result)) {
      HandlerInfo.end(info);
      const body = this.#answers.ok(result, requestId, { trace, largeStrings });
      stats.answered(counted, body, started, started === undefined ? 0 : performance.now());
      return body;
    }
    counted.inFlight++;
    const controller = HandlerInfo.controllerOf(info);
    const handlerTimeout = this.#host.settings.handlerTimeout;
    const callerLeft = timeoutMs === undefined ? Infinity : timeoutMs - waited;
    this.#running.add(controller);
    if (envelope.idempotencyKey !== undefined) this.#keyedRunning.add(controller);
    if (requestId !== undefined) this.#byId.set(requestId, controller);
    if (this.#abandoned !== undefined) controller.abort(this.#abandoned);
    const run = new HandlerRun({
      result,
      controller,
      requestId,
      deadline: Math.min(handlerTimeout > 0 ? handlerTimeout : Infinity, callerLeft),
      answers: this.#answers,
      outlet: this.#outlet,
      chunkId: this.#host.chunks() ? requestId : undefined,
      trace,
      largeStrings,
      onAnswer: (body) => {
        counted.inFlight--;
        stats.answered(counted, body, started, started === undefined ? 0 : performance.now());
      },
      onSettled: () => {
        HandlerInfo.end(info);
        this.#running.delete(controller);
        this.#keyedRunning.delete(controller);
        if (this.#byId.get(requestId!) === controller) this.#byId.delete(requestId!);
      },
    });
    return run.answer;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}
