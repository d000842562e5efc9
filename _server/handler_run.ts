// One handler run that did not finish at once (it returned a promise or a
// stream): its deadline, its abort signal (timeout, `$cancel`, shutdown, the
// peer leaving) and its streamed result, until it settles into exactly one
// answer. A handler that returns a plain value never gets here: the
// scheduler answers it without a promise, timer or AbortController.

import { CancelledError, ConnectionClosedError, TimeoutError } from "../errors.ts";
import type { RequestId } from "../protocol.ts";
import { startTimer, type TimerHandle } from "../_shared/timers.ts";
import { inSpan } from "../_shared/tracing.ts";
import type { Answers } from "./answers.ts";
import type { Trace } from "./request_trace.ts";
import { isAsyncIterable, type StreamOutlet, StreamRun } from "./stream_run.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

/** What one run is given; see {@linkcode HandlerRun}. */
export interface HandlerRunInit {
  /** What the handler returned: a promise, an async iterable, or a promise of one. */
  readonly result: unknown;
  /** The controller behind the handler's `info.signal`. */
  readonly controller: AbortController;
  readonly requestId: RequestId | undefined;
  /** Milliseconds until the run is aborted with a TimeoutError (Infinity: never). */
  readonly deadline: number;
  readonly answers: Answers;
  readonly outlet: StreamOutlet;
  /** The id a streamed result's chunk frames carry; undefined collects the items. */
  readonly chunkId: RequestId | undefined;
  readonly trace: Trace | undefined;
  /** The request was large: its large strings in the result are not copied into the answer. */
  readonly largeStrings: boolean;
  /** Called once as the run settles, before its answer is made. */
  readonly onSettled: () => void;
  /** Called with the answer once it is made ("" when the connection is gone). */
  readonly onAnswer?: (body: FrameText) => void;
}

/** A running handler, from its first await to its one answer. */
export class HandlerRun {
  /**
   * The answer's JSON text, "" when the connection is gone (nothing to
   * answer). Never rejects.
   */
  readonly answer: Promise<FrameText>;
  readonly #init: HandlerRunInit;
  #resolve!: (body: FrameText) => void;
  #timer: TimerHandle = undefined;
  #settled = false;
  #stream?: StreamRun;
  readonly #onAbort = (): void => this.#aborted();

  constructor(init: HandlerRunInit) {
    this.#init = init;
    this.answer = new Promise((resolve) => this.#resolve = resolve);
    const signal = init.controller.signal;
    if (signal.aborted) {
      this.#aborted();
      return;
    }
    signal.addEventListener("abort", this.#onAbort);
    const deadline = init.deadline;
    this.#timer = startTimer(() => init.controller.abort(new TimeoutError(deadline)), deadline);
    const result = init.result;
    const work = isAsyncIterable(result)
      ? this.#pull(result)
      : Promise.resolve(result).then((value) => isAsyncIterable(value) ? this.#pull(value) : value);
    work.then(
      (value) =>
        this.#settle(() =>
          init.answers.ok(value, init.requestId, {
            trace: init.trace,
            largeStrings: init.largeStrings,
          })
        ),
      (error) => this.#settle(() => init.answers.failed(error, init.requestId, init.trace)),
    );
  }

  #pull(iterable: AsyncIterable<unknown>): Promise<unknown> {
    const { outlet, chunkId, trace } = this.#init;
    const run = new StreamRun(iterable);
    this.#stream = run;
    const span = trace?.span;
    return span === undefined
      ? run.run(outlet, chunkId)
      : inSpan(span, () => run.run(outlet, chunkId));
  }

  #aborted(): void {
    const { controller, answers, requestId, trace } = this.#init;
    const reason = controller.signal.reason;
    if (reason instanceof ConnectionClosedError) return this.#settle(() => "");
    const code = reason instanceof TimeoutError
      ? "timeout"
      : reason instanceof CancelledError
      ? "cancelled"
      : "shutting_down";
    this.#settle(() => answers.error(code, requestId, trace));
  }

  #settle(answer: () => FrameText): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#init.controller.signal.removeEventListener("abort", this.#onAbort);
    this.#init.onSettled();
    // No chunk may follow the final answer: the stream stops first.
    this.#stream?.stop();
    const body = answer();
    this.#init.onAnswer?.(body);
    this.#resolve(body);
  }
}
