// The deadlines that watch a peer's input: the rest of a frame once its
// first byte is in (frameTimeout), a first authorised request
// (authTimeout), and activity (idleTimeout). Each has its own rule for
// what happens when it passes; none can be switched off by the peer.

import { SocketBridgeError } from "../errors.ts";
import type { Settings } from "./settings.ts";
import { Deadline } from "../_shared/timers.ts";

/** What the deadlines need from their connection. */
export interface DeadlineHost {
  readonly settings: Settings;
  /** Whether anything is under way (running, unwritten, half read, subscribed). */
  busy(): boolean;
  report(error: SocketBridgeError): void;
  /** Ends the connection after answering what it accepted. */
  endAfterAnswers(): void;
  /** Closes at once. */
  close(): void;
}

export class ReadDeadlines {
  readonly #host: DeadlineHost;
  readonly #frame = new Deadline(() => this.#frameExpired());
  readonly #idle = new Deadline(() => this.#idleExpired());
  readonly #auth = new Deadline(() => this.#authExpired());
  #lastActive = 0;

  constructor(host: DeadlineHost) {
    this.#host = host;
  }

  /** The connection starts: it must authorise, and stay active. */
  start(): void {
    const { authTimeout, idleTimeout } = this.#host.settings;
    this.#auth.start(authTimeout);
    this.#lastActive = performance.now();
    this.#idle.start(idleTimeout);
  }

  /** Whether a frame's deadline runs. */
  get frameArmed(): boolean {
    return this.#frame.armed;
  }

  /** A frame is under way: its deadline runs (again, in full) from now. */
  frameStarted(): void {
    this.#frame.start(this.#host.settings.frameTimeout);
  }

  /** No frame is under way, or we stopped reading: its deadline waits. */
  frameStopped(): void {
    this.#frame.stop();
  }

  /** A request passed the token check: the peer is active (and proven). */
  authorized(): void {
    if (this.#host.settings.idleTimeout > 0) this.#lastActive = performance.now();
    this.#auth.stop();
  }

  stop(): void {
    this.#frame.stop();
    this.#idle.stop();
    this.#auth.stop();
  }

  #frameExpired(): void {
    const ms = this.#host.settings.frameTimeout;
    this.#host.report(new SocketBridgeError("timeout", `Frame incomplete after ${ms} ms; closing`));
    // Requests accepted before the stalled frame still get their answers.
    this.#host.endAfterAnswers();
  }

  #idleExpired(): void {
    const { idleTimeout } = this.#host.settings;
    const quietFor = performance.now() - this.#lastActive;
    const busy = this.#host.busy();
    if (busy || quietFor < idleTimeout) {
      this.#idle.start(busy ? idleTimeout : idleTimeout - quietFor);
      return;
    }
    this.#host.report(
      new SocketBridgeError("timeout", `Connection idle for ${idleTimeout} ms; closing`),
    );
    this.#host.endAfterAnswers();
  }

  #authExpired(): void {
    const ms = this.#host.settings.authTimeout;
    this.#host.report(
      new SocketBridgeError(
        "timeout",
        `No authorised request within ${ms} ms of connecting; closing`,
      ),
    );
    this.#host.close();
  }
}
