// Idempotency keys (protocol D2): a request's key remembered per token for
// a window, with the request as it came and, once known, its final answer,
// so that a client may resend a request whose answer it lost without the
// handler running twice. Server-wide (a retry comes on a new connection);
// what is kept is charged to the server's memory budget. Pure: no Deno APIs.
//
// A busy client keys every request, and most keys never come again, so
// remembering one must cost next to nothing. Nothing remembered is a
// JavaScript object: an entry is a row of typed arrays, found through a
// table of numbers, and its request and answer are bytes in a ring buffer.
// Kept as objects, the entries lived just long enough (the key bound's worth
// of requests) to be copied by every young collection and then promoted, and
// that cost a pipelined server more than all the rest of the store's work.
// Only when a key comes again is its request parsed to compare payloads.

import { errorBody, parseRequest, Refusal, withoutEnvelope, withType } from "../_wire/envelope.ts";
import { ByteRing } from "./byte_ring.ts";
import { hashOf, KeyTable } from "./key_table.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

/** What to do with a keyed request. */
export type Verdict =
  /** The key is new: run the handler, then `finish(ticket, answer)` with its answer. */
  | { readonly kind: "run"; readonly ticket: number }
  /** The key is known: this answer (replayed, or the running first's, with this request's id). */
  | { readonly kind: "answer"; readonly answer: string | Promise<string> }
  /** The key is known with another payload. */
  | { readonly kind: "conflict" };

/** A keyed request as it came: its body, and the type its transport named (a NATS subject's). */
export interface KeyedRequest {
  readonly body: Uint8Array;
  readonly type?: string;
}

/** What a waiting duplicate is told when the first request's connection went away. */
const ABANDONED =
  "cancelled: the request first sent with this idempotency key was abandoned; send it again";

// Record kinds in the ring.
const REQUEST = 1;
const ANSWER = 2;
/**
 * Records larger than this are kept apart, each in a copy of its own (rare,
 * and one object each), as are records the ring has no room for at its largest.
 */
const APART = 8192;
/** Rows at first; they double, up to the key bound, when the oldest row is still held. */
const FIRST_ROWS = 1024;
/** Where a record kept apart is: also what the ring answers when it has no room. */
const NOWHERE = -1;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class IdempotencyStore {
  readonly #window: number;
  readonly #maxKeys: number;
  readonly #charge: (bytes: number) => void;
  readonly #table = new KeyTable();
  readonly #ring = new ByteRing(
    (id, kind, at) => this.#holds(id, kind, at),
    (id, kind, at) => this.#moved(id, kind, at),
  );
  // An entry is the key's ticket (1, 2, 3, ... in the order keys came), in
  // row `ticket % rows`: keys are forgotten oldest first, so the row a new
  // key takes holds the key that came the bound's count of keys before it.
  #rows = 0;
  #tickets = new Float64Array(0); // 0: the row is free
  #at = new Float64Array(0);
  #hashes = new Int32Array(0);
  #callers = new Int32Array(0);
  #requestAt = new Int32Array(0);
  #requestLength = new Int32Array(0);
  #answerAt = new Int32Array(0);
  #answerLength = new Int32Array(0); // -1: not answered yet
  readonly #apart = new Map<number, Uint8Array>(); // by apartKey(ticket, kind)
  readonly #types = new Map<number, string>(); // by ticket, for requests whose transport named one
  readonly #waiting = new Map<number, ((answer: string | undefined) => void)[]>();
  readonly #callerIds = new Map<string | undefined, number>();
  #next = 1;
  #oldest = 1;
  #size = 0;
  // The pair looked up, and the request found for it, for #matches.
  #wantedCaller = 0;
  #wantedKey = "";
  #found?: Record<string, unknown>;
  readonly #matches = (row: number): boolean => this.#isWanted(row);

  /**
   * @param window Milliseconds a key is kept.
   * @param maxKeys Keys kept at most; the oldest is forgotten first.
   * @param charge Adds (or releases, negative) bytes held to the memory budget.
   */
  constructor(window: number, maxKeys: number, charge: (bytes: number) => void) {
    this.#window = window;
    this.#maxKeys = maxKeys;
    this.#charge = charge;
    this.#resize(Math.min(maxKeys, FIRST_ROWS));
  }

  /** Keys held now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Looks a request's key up; a new key is remembered from now on, with a
   * copy of `request` (charged while kept). `payload` is the request less
   * its envelope, as the handler sees it.
   */
  begin(
    caller: string | undefined,
    key: string,
    request: KeyedRequest,
    payload: Record<string, unknown>,
    requestId: string | number | undefined,
    now: number,
  ): Verdict {
    if (this.#maxKeys === 0) return { kind: "run", ticket: 0 };
    this.#expire(now);
    const hash = hashOf(caller, key);
    let callerId = this.#callerIds.get(caller);
    if (callerId === undefined) this.#callerIds.set(caller, callerId = this.#callerIds.size);
    this.#wantedCaller = callerId;
    this.#wantedKey = key;
    const row = this.#table.find(hash, this.#matches);
    if (row >= 0) {
      const first = this.#found!;
      this.#found = undefined;
      const ticket = this.#tickets[row];
      if (!samePayload(first, this.#types.get(ticket), payload)) return { kind: "conflict" };
      if (this.#answerLength[row] >= 0) {
        return { kind: "answer", answer: render(this.#answerOf(row), requestId, true) };
      }
      const waiting = this.#waiting.get(ticket) ?? [];
      this.#waiting.set(ticket, waiting);
      const answer = new Promise<string>((resolve) =>
        waiting.push((body) =>
          resolve(
            body === undefined
              ? errorBody("cancelled", requestId, ABANDONED)
              : render(body, requestId, false),
          )
        )
      );
      return { kind: "answer", answer };
    }
    return { kind: "run", ticket: this.#remember(callerId, hash, request, now) };
  }

  /** The first request of `ticket` is answered (at once, or when its promise settles). */
  finish(ticket: number, answer: FrameText | Promise<FrameText>): void {
    if (ticket === 0) return;
    // An answer made at once is stored at once: the next frame may repeat the key.
    if (answer instanceof Promise) answer.then((body) => this.#store(ticket, String(body)));
    else this.#store(ticket, String(answer));
  }

  #remember(callerId: number, hash: number, request: KeyedRequest, now: number): number {
    const ticket = this.#next++;
    let row = ticket % this.#rows;
    if (this.#tickets[row] !== 0) {
      if (this.#rows < this.#maxKeys) {
        this.#resize(Math.min(this.#maxKeys, this.#rows * 2));
        row = ticket % this.#rows;
      } else {
        this.#forget(row);
      }
    }
    const { body, type } = request;
    this.#tickets[row] = ticket;
    this.#at[row] = now;
    this.#hashes[row] = hash;
    this.#callers[row] = callerId;
    this.#requestLength[row] = body.length;
    this.#answerLength[row] = -1;
    const at = body.length > APART ? NOWHERE : this.#ring.write(ticket, REQUEST, body);
    this.#requestAt[row] = at;
    if (at === NOWHERE) this.#apart.set(apartKey(ticket, REQUEST), body.slice());
    if (type !== undefined) this.#types.set(ticket, type);
    this.#table.add(row, hash);
    this.#size++;
    this.#charge(body.length);
    return ticket;
  }

  #store(ticket: number, body: string): void {
    const row = ticket % this.#rows;
    const current = this.#tickets[row] === ticket;
    // An empty body: the connection went away and nothing was answered.
    if (body === "" || !current) {
      if (current) this.#forget(row);
    } else {
      let { at, written } = body.length * 3 > APART
        ? { at: NOWHERE, written: 0 }
        : this.#ring.writeText(ticket, ANSWER, body);
      if (at === NOWHERE) {
        const bytes = encoder.encode(body);
        this.#apart.set(apartKey(ticket, ANSWER), bytes);
        written = bytes.length;
      }
      this.#answerAt[row] = at;
      this.#answerLength[row] = written;
      this.#charge(written);
    }
    const waiting = this.#waiting.get(ticket);
    if (waiting === undefined) return;
    this.#waiting.delete(ticket);
    waiting.forEach((wake) => wake(body === "" ? undefined : body));
  }

  /** Whether `row` holds the pair looked up; if so its first request is kept in #found. */
  #isWanted(row: number): boolean {
    if (this.#callers[row] !== this.#wantedCaller) return false;
    const first = parseRequest(this.#bytesOf(row, REQUEST));
    if (first instanceof Refusal || first.idempotency_key !== this.#wantedKey) return false;
    this.#found = first;
    return true;
  }

  #bytesOf(row: number, kind: number): Uint8Array {
    const at = kind === REQUEST ? this.#requestAt[row] : this.#answerAt[row];
    if (at === NOWHERE) return this.#apart.get(apartKey(this.#tickets[row], kind))!;
    const length = kind === REQUEST ? this.#requestLength[row] : this.#answerLength[row];
    return this.#ring.read(at, length);
  }

  #answerOf(row: number): string {
    return decoder.decode(this.#bytesOf(row, ANSWER));
  }

  #expire(now: number): void {
    while (this.#oldest < this.#next) {
      const row = this.#oldest % this.#rows;
      if (this.#tickets[row] === this.#oldest) {
        if (now - this.#at[row] < this.#window) return;
        this.#forget(row);
      }
      this.#oldest++;
    }
  }

  #forget(row: number): void {
    const ticket = this.#tickets[row];
    this.#table.remove(row, this.#hashes[row]);
    this.#tickets[row] = 0;
    this.#size--;
    const answered = this.#answerLength[row];
    this.#charge(-(this.#requestLength[row] + (answered >= 0 ? answered : 0)));
    if (this.#requestAt[row] === NOWHERE) this.#apart.delete(apartKey(ticket, REQUEST));
    if (answered >= 0 && this.#answerAt[row] === NOWHERE) {
      this.#apart.delete(apartKey(ticket, ANSWER));
    }
    this.#types.delete(ticket);
  }

  /** Whether the record of `ticket` and `kind` at `at` in the ring is still held. */
  #holds(ticket: number, kind: number, at: number): boolean {
    const row = ticket % this.#rows;
    if (this.#tickets[row] !== ticket) return false;
    return (kind === REQUEST ? this.#requestAt[row] : this.#answerAt[row]) === at;
  }

  #moved(ticket: number, kind: number, at: number): void {
    const row = ticket % this.#rows;
    if (kind === REQUEST) this.#requestAt[row] = at;
    else this.#answerAt[row] = at;
  }

  /** Rows for `rows` keys, each held key moved to its row there. */
  #resize(rows: number): void {
    const old = {
      tickets: this.#tickets,
      at: this.#at,
      hashes: this.#hashes,
      callers: this.#callers,
      requestAt: this.#requestAt,
      requestLength: this.#requestLength,
      answerAt: this.#answerAt,
      answerLength: this.#answerLength,
    };
    this.#tickets = new Float64Array(rows);
    this.#at = new Float64Array(rows);
    this.#hashes = new Int32Array(rows);
    this.#callers = new Int32Array(rows);
    this.#requestAt = new Int32Array(rows);
    this.#requestLength = new Int32Array(rows);
    this.#answerAt = new Int32Array(rows);
    this.#answerLength = new Int32Array(rows);
    this.#rows = rows;
    for (let from = 0; from < old.tickets.length; from++) {
      const ticket = old.tickets[from];
      if (ticket === 0) continue;
      // Held tickets span fewer than the old row count, so no two share a new row.
      const to = ticket % rows;
      this.#tickets[to] = ticket;
      this.#at[to] = old.at[from];
      this.#hashes[to] = old.hashes[from];
      this.#callers[to] = old.callers[from];
      this.#requestAt[to] = old.requestAt[from];
      this.#requestLength[to] = old.requestLength[from];
      this.#answerAt[to] = old.answerAt[from];
      this.#answerLength[to] = old.answerLength[from];
    }
    this.#table.renumber((from) => old.tickets[from] % rows);
  }
}

/** Where a ticket's request or answer kept apart is found. */
function apartKey(ticket: number, kind: number): number {
  return ticket * 2 + kind - REQUEST;
}

/** Whether a repeated key's request has the payload of the first request of that key. */
function samePayload(
  first: Record<string, unknown>,
  type: string | undefined,
  payload: Record<string, unknown>,
): boolean {
  const typed = type === undefined ? first : withType(first, type);
  if (typed instanceof Refusal) return false;
  return JSON.stringify(withoutEnvelope(typed)) === JSON.stringify(payload);
}

/** The stored answer's text for a request with this id (its first request's id replaced). */
function render(body: string, requestId: string | number | undefined, replayed: boolean): string {
  const answer = JSON.parse(body) as Record<string, unknown>;
  delete answer.request_id;
  if (replayed) answer.replayed = true;
  if (requestId !== undefined) answer.request_id = requestId;
  return JSON.stringify(answer);
}
