// Ending a connection so that the peer still reads every answer: closing a
// socket with unread input makes the kernel reset it, and a reset drops the
// answers still on their way. Once nothing is in flight and every answer is
// written (then a last raw message, if any), our side is ended (FIN), and
// the socket closes LINGER_MS later, or when the peer closes. The whole
// ending is bounded by writeTimeout + LINGER_MS for a peer that reads nothing.

import { Deadline } from "../_shared/timers.ts";

const LINGER_MS = 1_000;

/** What an ending needs from its connection. */
export interface EndingHost {
  readonly conn: Deno.Conn;
  readonly writeTimeout: number;
  /** Resolves once everything queued is written. */
  drained(): Promise<void>;
  /** Whether no accepted request is still in flight. */
  idle(): boolean;
  closed(): boolean;
  close(): void;
}

export class Ending {
  readonly #host: EndingHost;
  readonly #deadline: Deadline;
  #started = false;
  #last?: Uint8Array;
  #done?: Promise<void>;

  constructor(host: EndingHost) {
    this.#host = host;
    this.#deadline = new Deadline(() => host.close());
  }

  /** Whether it has begun: input is then read only to be dropped. */
  get started(): boolean {
    return this.#started;
  }

  /** Settles once our side is ended; undefined until that began. */
  get done(): Promise<void> | undefined {
    return this.#done;
  }

  /** Begins it (once), with `last` to send raw after the answers. */
  begin(last?: Uint8Array): void {
    if (this.#started) return;
    this.#started = true;
    this.#last = last;
    this.#deadline.start(this.#host.writeTimeout + LINGER_MS);
    this.proceed();
  }

  /** The second half, once nothing is in flight: the answers written, then the FIN. */
  proceed(): void {
    const host = this.#host;
    if (!this.#started || !host.idle() || this.#done !== undefined) return;
    this.#done = (async () => {
      await host.drained();
      if (host.closed()) return;
      if (this.#last !== undefined) await host.conn.write(this.#last).catch(() => 0);
      await host.conn.closeWrite().catch(() => host.close());
      if (!host.closed()) this.#deadline.start(LINGER_MS);
    })();
  }

  /** The connection closed: its deadline goes. */
  stop(): void {
    this.#deadline.stop();
  }
}
