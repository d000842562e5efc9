// Idempotency keys (protocol D2): a request's key remembered per token for
// a window, with a digest of its payload and, once known, its final answer,
// so that a client may resend a request whose answer it lost without the
// handler running twice. Server-wide (a retry comes on a new connection);
// stored answers are charged to the server's memory budget. Pure: no Deno APIs.

/** What to do with a keyed request. */
export type Verdict =
  /** The key is new: run the handler, then `finish` with its answer. */
  | { readonly kind: "run"; finish(answer: string | Promise<string>): void }
  /** The key is known: this answer (replayed, or the running first's, with this request's id). */
  | { readonly kind: "answer"; readonly answer: string | Promise<string> }
  /** The key is known with another payload. */
  | { readonly kind: "conflict" };

interface Entry {
  readonly digest: string;
  readonly at: number;
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
  readonly #entries = new Map<string, Entry>();
  // Keys in the order they came, oldest at #head: expiry and eviction take
  // from the front here, never by iterating the Map from its start (which
  // walks the slots of every key already deleted).
  #order: { readonly id: string; readonly entry: Entry }[] = [];
  #head = 0;

  /**
   * @param window Milliseconds a key is kept.
   * @param maxKeys Keys kept at most; the oldest is forgotten first.
   * @param charge Adds (or releases, negative) the bytes of stored answers to the memory budget.
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

  /** Looks a request's key up; a new key is remembered from now on. */
  begin(
    caller: string | undefined,
    key: string,
    payload: Record<string, unknown>,
    requestId: string | number | undefined,
    now: number,
  ): Verdict {
    this.#expire(now);
    const id = `${caller ?? ""}\u0000${key}`;
    const digest = digestOf(payload);
    const known = this.#entries.get(id);
    if (known !== undefined) {
      if (known.digest !== digest) return { kind: "conflict" };
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
    const entry: Entry = { digest, at: now };
    const settle = (body: string | undefined) => {
      const waiting = entry.waiting;
      entry.waiting = undefined;
      waiting?.forEach((wake) => wake(body));
    };
    this.#entries.set(id, entry);
    this.#order.push({ id, entry });
    while (this.#entries.size > this.#maxKeys) this.#forgetOldest();
    return {
      kind: "run",
      finish: (answer) => {
        const store = (body: string) => {
          // An empty body: the connection went away and nothing was answered.
          if (body === "" || this.#entries.get(id) !== entry) {
            if (this.#entries.get(id) === entry) this.#forget(id);
            return settle(undefined);
          }
          entry.answer = body;
          this.#charge(body.length);
          settle(body);
        };
        // An answer made at once is stored at once: the next frame may repeat the key.
        if (typeof answer === "string") store(answer);
        else answer.then(store);
      },
    };
  }

  #expire(now: number): void {
    while (
      this.#head < this.#order.length && now - this.#order[this.#head].entry.at >= this.#window
    ) {
      this.#forgetOldest();
    }
  }

  /** Forgets the oldest key in the order, if it still stands for the entry it was put there with. */
  #forgetOldest(): void {
    const { id, entry } = this.#order[this.#head++];
    if (this.#head > 1_024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
    if (this.#entries.get(id) === entry) this.#forget(id);
  }

  #forget(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    if (entry.answer !== undefined) this.#charge(-entry.answer.length);
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
