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
  /** The final answer, without its request_id, once the first request has one. */
  answer?: Record<string, unknown>;
  /** While the first request runs: its answer, for the requests that wait on it. */
  running?: Promise<Record<string, unknown> | undefined>;
  bytes: number;
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
      return {
        kind: "answer",
        answer: known.running!.then((answer) => render(answer ?? ABANDONED, requestId, false)),
      };
    }
    const entry: Entry = { digest, at: now, bytes: 0 };
    let settle!: (answer: Record<string, unknown> | undefined) => void;
    entry.running = new Promise((resolve) => settle = resolve);
    this.#entries.set(id, entry);
    while (this.#entries.size > this.#maxKeys) this.#forget(this.#entries.keys().next().value!);
    return {
      kind: "run",
      finish: (answer) => {
        Promise.resolve(answer).then((body) => {
          entry.running = undefined;
          // An empty body: the connection went away and nothing was answered.
          if (body === "" || this.#entries.get(id) !== entry) {
            if (this.#entries.get(id) === entry) this.#forget(id);
            return settle(undefined);
          }
          const stored = JSON.parse(body) as Record<string, unknown>;
          delete stored.request_id;
          entry.answer = stored;
          entry.bytes = body.length;
          this.#charge(entry.bytes);
          settle(stored);
        });
      },
    };
  }

  #expire(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (now - entry.at < this.#window) break;
      this.#forget(id);
    }
  }

  #forget(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    if (entry.bytes > 0) this.#charge(-entry.bytes);
  }
}

/** The stored answer as JSON text for a request with this id. */
function render(
  answer: Record<string, unknown>,
  requestId: string | number | undefined,
  replayed: boolean,
): string {
  const copy: Record<string, unknown> = { ...answer };
  if (requestId !== undefined) copy.request_id = requestId;
  if (replayed) copy.replayed = true;
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
