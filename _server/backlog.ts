// The frames of one connection waiting for a slot (past maxInFlight), in
// arrival order: a queue with O(1) take, its size in frames and bytes, and
// the search a `$cancel` makes in it (each frame parsed at most once for
// that, however many cancels a peer sends). Pure: no Deno APIs.

import type { RequestId } from "../protocol.ts";
import { parseRequest, Refusal } from "../_wire/envelope.ts";

/** A request frame on its way to its handler. */
export interface Frame {
  readonly body: Uint8Array;
  /** When it was queued for a slot; undefined: it starts as it arrives. */
  readonly arrived?: number;
  /** Cancelled by `$cancel` before it started: it never will. */
  cancelled?: boolean;
  /** Its request_id (null: none), read once when a `$cancel` first looks for it. */
  id?: RequestId | null;
  /** The request type its transport named (a NATS subject's), if any. */
  readonly type?: string;
}

export class Backlog {
  #frames: Frame[] = [];
  #head = 0;
  #bytes = 0;

  /** Frames waiting. */
  get length(): number {
    return this.#frames.length - this.#head;
  }

  /** Bytes of the frames waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues a frame (its body copied: it may be a view of a read buffer reused next). */
  push(body: Uint8Array, type: string | undefined): void {
    this.#frames.push({ body: body.slice(), arrived: performance.now(), type });
    this.#bytes += body.length;
  }

  /** The oldest frame, taken out; undefined when none waits. */
  take(): Frame | undefined {
    if (this.#head >= this.#frames.length) return undefined;
    const frame = this.#frames[this.#head++];
    this.#bytes -= frame.body.length;
    if (this.#head === this.#frames.length) this.clear();
    return frame;
  }

  /** Drops every frame; returns how many there were. */
  clear(): number {
    const dropped = this.length;
    this.#frames = [];
    this.#head = 0;
    this.#bytes = 0;
    return dropped;
  }

  /** Marks the waiting frame with this id cancelled; false when none has it. */
  cancel(target: RequestId): boolean {
    for (let i = this.#head; i < this.#frames.length; i++) {
      const queued = this.#frames[i];
      if (queued.cancelled) continue;
      if (queued.id === undefined) {
        const message = parseRequest(queued.body);
        const id = message instanceof Refusal ? undefined : message.request_id;
        queued.id = typeof id === "string" || typeof id === "number" ? id : null;
      }
      if (queued.id === target) {
        queued.cancelled = true;
        return true;
      }
    }
    return false;
  }
}
