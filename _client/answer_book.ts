// The client's book of requests waiting for answers, and the rules that match
// an answer to its request: by `request_id` when the server echoes ids, in
// send order when it does not (the original echoes ids only on some error
// answers, and answers one request at a time). No answer a peer sends can
// corrupt it: whatever does not match is a ProtocolError.

import { ApplicationError, isApplicationCode, ProtocolError, RemoteError } from "../errors.ts";
import { type BridgeResponse, errorCodeOf, type RequestId } from "../protocol.ts";
import type { TimerHandle } from "../_shared/timers.ts";
import { IdTable } from "./id_table.ts";

/** Cancelled ids remembered so that their late answers are dropped, not refused. */
const MAX_LATE_IDS = 65_536;

/** What a request is when it is made; see {@linkcode Pending}. */
export interface PendingInit {
  /** Its `request_id`; undefined: the request carries none. */
  readonly id: RequestId | undefined;
  /** The payload to send. */
  readonly payload: Record<string, unknown>;
  /**
   * Settle with the answer's `result`, rejecting error answers (true), or
   * with the whole response object, errors included (false).
   * @default true
   */
  readonly unwrap?: boolean;
  /** The `timeout_ms` to announce, if any. */
  readonly announcedTimeout?: number;
  /** One of the client's own control requests ($hello, $cancel...): not counted as pending. */
  readonly internal?: boolean;
  /** Called as an ok answer arrives, before the frames behind it are read. */
  readonly onAnswer?: () => void;
  /** Its `idempotency_key`; with one, the payload is kept so that a lost answer can be asked again. */
  readonly idempotencyKey?: string;
}

/**
 * One request from submission to settlement. Settles exactly once: the first
 * of answer, timeout, abort or connection loss wins; `outcome` says which.
 */
export class Pending {
  readonly id?: RequestId;
  /** Settles with the request: its result (or response), or the failure. */
  readonly outcome: Promise<unknown>;
  readonly #unwrap: boolean;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;
  settled = false;
  readonly internal: boolean;
  /** The payload, held until its frame is queued (then dropped). */
  payload?: Record<string, unknown>;
  readonly announcedTimeout?: number;
  readonly idempotencyKey?: string;
  /** The `traceparent` to send, while tracing is on. */
  traceparent?: string;
  /** UTF-16 length of the encoded request, once sent. */
  size = 0;
  sent = false;
  timer: TimerHandle;
  signal?: AbortSignal;
  onAbort?: () => void;
  readonly onAnswer?: () => void;
  /** Takes the request's chunk frames (a stream); without it they are collected. */
  onChunk?: (value: unknown) => void;
  /** Chunks of a plain request: its result is then their array, as a collecting server sends. */
  #collected?: unknown[];

  constructor(init: PendingInit) {
    this.id = init.id;
    this.payload = init.payload;
    this.#unwrap = init.unwrap ?? true;
    this.internal = init.internal ?? false;
    this.announcedTimeout = init.announcedTimeout;
    this.idempotencyKey = init.idempotencyKey;
    this.onAnswer = init.onAnswer;
    this.outcome = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Whether it may be sent again after a reconnect: the caller's, with its key and payload. */
  get retriable(): boolean {
    return this.idempotencyKey !== undefined && this.payload !== undefined && !this.internal;
  }

  /** A chunk frame for this request arrived. */
  chunk(value: unknown): void {
    if (this.settled) return;
    if (this.onChunk !== undefined) this.onChunk(value);
    else (this.#collected ??= []).push(value);
  }

  answer(response: BridgeResponse): void {
    if (!this.#settle()) return;
    if (response.status === "ok") this.onAnswer?.();
    if (!this.#unwrap) this.#resolve(response);
    else if (response.status === "ok") this.#resolve(this.#collected ?? response.result);
    else if (isApplicationCode(response.code)) {
      this.#reject(new ApplicationError(response.code, String(response.message), response.data));
    } else {
      const data = response.data;
      this.#reject(new RemoteError(errorCodeOf(response), String(response.message), { data }));
    }
  }

  fail(error: unknown): void {
    if (this.#settle()) this.#reject(error);
  }

  #settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.payload = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal!.removeEventListener("abort", this.onAbort);
    return true;
  }
}

/**
 * What {@linkcode AnswerBook.match} found for one answer: the request it
 * settles; `undefined` for a late answer to a request given up (dropped);
 * a RemoteError when the answer refuses the whole connection.
 */
export type Match = Pending | RemoteError | undefined;

/** The requests sent on one connection and not yet answered. */
export class AnswerBook {
  readonly #byId = new IdTable<Pending>();
  // Sent requests in send order: all of them until the server shows it
  // echoes ids on every answer, then only those without an id.
  #inOrder: Pending[] = [];
  #head = 0;
  readonly #late = new Set<RequestId>();
  #echoesIds?: boolean;

  /** Records a request whose frame was just queued. */
  sent(entry: Pending): void {
    entry.sent = true;
    if (entry.id !== undefined) this.#byId.set(entry.id, entry);
    if (entry.id === undefined || this.#echoesIds !== true) this.#inOrder.push(entry);
  }

  /** A sent request was given up: its answer, if it comes, is dropped. */
  givenUp(entry: Pending): void {
    if (entry.id === undefined || !this.#byId.delete(entry.id)) return;
    this.#late.add(entry.id);
    if (this.#late.size > MAX_LATE_IDS) this.#late.delete(this.#late.values().next().value!);
  }

  /** The ids of the caller's requests still waiting (not the client's own). */
  waitingIds(): RequestId[] {
    const ids: RequestId[] = [];
    for (const entry of this.#byId.values()) {
      if (!entry.settled && !entry.internal) ids.push(entry.id!);
    }
    return ids;
  }

  /** Requests sent and waiting for their answer. */
  get size(): number {
    let count = 0;
    for (const entry of this.#byId.values()) if (!entry.settled && !entry.internal) count++;
    for (let i = this.#head; i < this.#inOrder.length; i++) {
      const entry = this.#inOrder[i];
      if (entry.id === undefined && !entry.settled && !entry.internal) count++;
    }
    return count;
  }

  /**
   * Finds the request an answer belongs to.
   *
   * @throws {ProtocolError} When the frame is not an answer, or answers
   * nothing that is waiting.
   */
  match(response: unknown): Match {
    if (!isAnswer(response)) {
      throw new ProtocolError(`Peer sent a frame that is not an answer: ${preview(response)}`);
    }
    const id = response.request_id ?? undefined;
    if (id !== undefined) return this.#matchId(response, id);
    const entry = this.#takeInOrder();
    if (entry !== undefined) return entry.settled ? undefined : entry;
    if (response.status === "error") {
      const error = new RemoteError(errorCodeOf(response), String(response.message));
      // A server that echoes ids answers without one only when it could not
      // read the request: an oversized frame (the largest one sent), or the
      // whole connection refused.
      if (error.code !== "payload_too_large") return error;
      const largest = this.#largestWaiting();
      if (largest !== undefined) {
        this.#byId.delete(largest.id!);
        return largest;
      }
    }
    throw new ProtocolError("Peer sent an answer while no request was waiting for one");
  }

  #matchId(response: BridgeResponse, id: RequestId): Match {
    if (typeof id !== "string" && typeof id !== "number") {
      throw new ProtocolError(`Peer sent an answer whose request_id is ${preview(id)}`);
    }
    if (this.#echoesIds !== true && (response.status === "ok" || response.code !== undefined)) {
      // Only a server that echoes every id puts one on an ok or coded answer.
      this.#echoesIds = true;
      this.#inOrder = this.#inOrder.slice(this.#head).filter((entry) => entry.id === undefined);
      this.#head = 0;
    }
    const entry = this.#byId.get(id);
    if (entry !== undefined) {
      this.#byId.delete(id);
      if (this.#echoesIds !== true) this.#dropFromOrder(id);
      return entry;
    }
    if (this.#late.delete(id)) {
      if (this.#echoesIds !== true) this.#dropFromOrder(id);
      return undefined;
    }
    throw new ProtocolError(
      `Peer answered request_id ${JSON.stringify(id)}, which no request is waiting for ` +
        "(never sent, or answered already)",
    );
  }

  /**
   * The request a chunk frame belongs to: `undefined` for one given up
   * (the chunk is dropped).
   *
   * @throws {ProtocolError} When no request with that id is waiting.
   */
  chunkTarget(id: unknown): Pending | undefined {
    const entry = this.#byId.get(id as RequestId);
    if (entry !== undefined) return entry;
    if (this.#late.has(id as RequestId)) return undefined;
    throw new ProtocolError(
      `Peer sent a chunk for request_id ${preview(id)}, which no request is waiting for`,
    );
  }

  /** Removes and returns the oldest request, for an answer that names none. */
  #takeInOrder(): Pending | undefined {
    if (this.#head >= this.#inOrder.length) return undefined;
    const entry = this.#inOrder[this.#head++];
    if (this.#head === this.#inOrder.length) {
      this.#inOrder = [];
      this.#head = 0;
    }
    if (entry.id !== undefined) {
      // An id-carrying request answered without its id: the server only
      // speaks Part A, and answers in order.
      this.#echoesIds = false;
      this.#byId.delete(entry.id);
      this.#late.delete(entry.id);
    }
    return entry;
  }

  #dropFromOrder(id: RequestId): void {
    for (let i = this.#head; i < this.#inOrder.length; i++) {
      if (this.#inOrder[i].id !== id) continue;
      if (i > this.#head) this.#inOrder.splice(i, 1);
      else if (++this.#head === this.#inOrder.length) {
        this.#inOrder = [];
        this.#head = 0;
      }
      return;
    }
  }

  #largestWaiting(): Pending | undefined {
    let largest: Pending | undefined;
    for (const entry of this.#byId.values()) {
      if (largest === undefined || entry.size > largest.size) largest = entry;
    }
    return largest;
  }

  /** The oldest request still waiting, taken out (an oversized answer is its). */
  takeOldest(): Pending | undefined {
    if (this.#echoesIds === true) return undefined;
    return this.#takeInOrder();
  }

  /** Empties the book, returning every request still waiting. */
  drain(): Pending[] {
    const waiting = new Set<Pending>(this.#byId.values());
    for (let i = this.#head; i < this.#inOrder.length; i++) waiting.add(this.#inOrder[i]);
    this.#byId.clear();
    this.#inOrder = [];
    this.#head = 0;
    this.#late.clear();
    this.#echoesIds = undefined;
    return [...waiting].filter((entry) => !entry.settled);
  }
}

function isAnswer(value: unknown): value is BridgeResponse {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    ((value as BridgeResponse).status === "ok" || (value as BridgeResponse).status === "error");
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
