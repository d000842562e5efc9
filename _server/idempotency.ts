// Idempotency keys (protocol D2): a request's key remembered per token for
// a window, with a digest of its payload and, once known, its final answer,
// so that a client may resend a request whose answer it lost without the
// handler running twice. Server-wide (a retry comes on a new connection);
// stored answers are charged to the server's memory budget. Pure: no Deno APIs.

import { hashOf, type Keyed, KeyTable } from "./key_table.ts";

/** What to do with a keyed request. */
export type Verdict =
  /** The key is new: run the handler, then `finish(entry, answer)` with its answer. */
  | { readonly kind: "run"; readonly entry: KeyEntry }
  /** The key is known: this answer (replayed, or the running first's, with this request's id). */
  | { readonly kind: "answer"; readonly answer: string | Promise<string> }
  /** The key is known with another payload. */
  | { readonly kind: "conflict" };

/** One remembered key. */
export interface KeyEntry extends Keyed {
  readonly at: number;
  /** Forgotten (expired, evicted, or its request abandoned): its answer is not stored. */
  forgotten?: boolean;
  /** Bytes charged for it: its first request, then also its answer. */
  charged: number;
  /**
   * The first request's payload, kept until the key comes again: only then
   * is a digest made (most keys are never repeated, and pay nothing for it).
   */
  payload?: Record<string, unknown>;
  /** The first request's body size: charged while its payload is kept. */
  readonly payloadBytes: number;
  digest?: string;
  /** The final answer's JSON text, once the first request has one (parsed only to replay). */
  answer?: string;
  /** While the first request runs: the requests that wait on its answer (made when one does). */
  waiting?: ((answer: string | undefined) => void)[];
}

/** The answer a waiting duplicate gets when the first request's connection went away. */
const ABANDONED = {
  status: "error",
  message:
    "cancelled: the request first sent with this idempotency key was abandoned; send it again",
  code: "cancelled",
  protocol_version: "1",
};

export class IdempotencyStore {
  readonly #window: number;
  readonly #maxKeys: number;
  readonly #charge: (bytes: number) => void;
  readonly #entries = new KeyTable<KeyEntry>();
  // Keys in the order they came, oldest at #head: expiry and eviction take
  // from the front. A taken slot is cleared at once, so that a forgotten
  // entry (and the payload and answer it holds) is not kept alive until the
  // array is next cut.
  #order: (KeyEntry | undefined)[] = [];
  #head = 0;

  /**
   * @param window Milliseconds a key is kept.
   * @param maxKeys Keys kept at most; the oldest is forgotten first.
   * @param charge Adds (or releases, negative) bytes held to the memory budget.
   */
  constructor(window: number, maxKeys: number, charge: (bytes: number) => void) {
    this.#window = window;
    this.#maxKeys = maxKeys;
    this.#charge = charge;
  }

  /** Keys held now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Looks a request's key up; a new key is remembered from now on.
   * `size` is the request's body size, charged while its payload is kept.
   */
  begin(
    caller: string | undefined,
    key: string,
    payload: Record<string, unknown>,
    requestId: string | number | undefined,
    now: number,
    size = 0,
  ): Verdict {
    this.#expire(now);
    const hash = hashOf(caller, key);
    const known = this.#entries.find(caller, key, hash);
    if (known !== undefined) {
      if (known.digest === undefined) {
        known.digest = digestOf(known.payload!);
        known.payload = undefined;
        known.charged -= known.payloadBytes;
        this.#charge(-known.payloadBytes);
      }
      if (known.digest !== digestOf(payload)) return { kind: "conflict" };
      if (known.answer !== undefined) {
        return { kind: "answer", answer: render(known.answer, requestId, true) };
      }
      const answer = new Promise<string>((resolve) =>
        (known.waiting ??= []).push((body) =>
          resolve(
            body === undefined
              ? renderObject(ABANDONED, requestId)
              : render(body, requestId, false),
          )
        )
      );
      return { kind: "answer", answer };
    }
    const entry: KeyEntry = {
      caller,
      key,
      hash,
      at: now,
      charged: size,
      payload,
      payloadBytes: size,
    };
    this.#charge(size);
    this.#entries.add(entry);
    this.#order.push(entry);
    while (this.#entries.size > this.#maxKeys) this.#forgetOldest();
    return { kind: "run", entry };
  }

  /** The first request of `entry` is answered (at once, or when its promise settles). */
  finish(entry: KeyEntry, answer: string | Promise<string>): void {
    // An answer made at once is stored at once: the next frame may repeat the key.
    if (typeof answer === "string") this.#store(entry, answer);
    else answer.then((body) => this.#store(entry, body));
  }

  #store(entry: KeyEntry, body: string): void {
    const current = entry.forgotten !== true;
    // An empty body: the connection went away and nothing was answered.
    if (body === "" || !current) {
      if (current) this.#forget(entry);
    } else {
      entry.answer = body;
      entry.charged += body.length;
      this.#charge(body.length);
    }
    const waiting = entry.waiting;
    entry.waiting = undefined;
    waiting?.forEach((wake) => wake(body === "" ? undefined : body));
  }

  #expire(now: number): void {
    while (this.#head < this.#order.length && now - this.#order[this.#head]!.at >= this.#window) {
      this.#forgetOldest();
    }
  }

  /** Forgets the oldest key in the order, if it still stands for that entry. */
  #forgetOldest(): void {
    const entry = this.#order[this.#head]!;
    this.#order[this.#head++] = undefined;
    if (this.#head > 1_024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
    if (entry.forgotten !== true) this.#forget(entry);
  }

  #forget(entry: KeyEntry): void {
    entry.forgotten = true;
    this.#entries.remove(entry);
    if (entry.charged > 0) this.#charge(-entry.charged);
    entry.charged = 0;
  }
}

/** The stored answer's text for a request with this id (its first request's id replaced). */
function render(body: string, requestId: string | number | undefined, replayed: boolean): string {
  const answer = JSON.parse(body) as Record<string, unknown>;
  delete answer.request_id;
  if (replayed) answer.replayed = true;
  return renderObject(answer, requestId);
}

function renderObject(
  answer: Record<string, unknown>,
  requestId: string | number | undefined,
): string {
  const copy: Record<string, unknown> = { ...answer };
  if (requestId !== undefined) copy.request_id = requestId;
  return JSON.stringify(copy);
}

/**
 * A digest of the payload's JSON text: two 32-bit FNV-1a hashes with
 * different offsets (64 bits), enough to tell a key reused with another
 * payload; not a defence against a caller forging collisions with itself.
 */
export function digestOf(payload: Record<string, unknown>): string {
  const text = JSON.stringify(payload);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x01000193) ^ (b >>> 15);
  }
  return `${(a >>> 0).toString(16)}${(b >>> 0).toString(16)}`;
}
