// The life of one server connection: reading and framing, its deadlines
// (frame, idle, authentication, stalled writes, ending), pausing its reads
// (ReadPauses: backpressure, slots, the server's memory budget), and ending
// so that the peer still reads every answer. Requests themselves go to the
// RequestScheduler.

import { FrameDecoder } from "../codec.ts";
import { ConnectionClosedError, FrameTooLargeError, SocketBridgeError } from "../errors.ts";
import { errorBody } from "../_wire/envelope.ts";
import type { ErrorCode } from "../errors.ts";
import { ERROR_MESSAGES, type WireErrorCode } from "../protocol.ts";
import { RequestScheduler } from "./scheduler.ts";
import type { Settings } from "./settings.ts";
import type { SessionHost } from "./host.ts";
import { judgeOversized } from "./oversize.ts";
import { Ending } from "./ending.ts";
import { FairTurns } from "./fair_turns.ts";
import { MemoryCharge } from "./budget.ts";
import { ReadDeadlines } from "./read_deadlines.ts";
import { ChunkReader, closeQuietly, isPeerGone } from "../_shared/transport.ts";
import { FrameWriter } from "../_shared/writer.ts";
import { untilAborted } from "../_shared/until_aborted.ts";
import { ReadPauses } from "./read_pauses.ts";
import { describedTypes } from "./request_types.ts";
import { TwoWay } from "./peer_features.ts";
import { CallBook } from "./calls.ts";
import type { FrameText } from "../_wire/text_pieces.ts";

export class Session {
  readonly #host: SessionHost<Session>;
  readonly #settings: Settings;
  readonly #conn: Deno.Conn;
  readonly remoteAddr: Deno.Addr;
  readonly #writer: FrameWriter;
  readonly #reader: ChunkReader;
  readonly #decoder: FrameDecoder;
  readonly #scheduler: RequestScheduler;
  readonly #twoWay: TwoWay;
  readonly #calls: CallBook;
  readonly #deadlines: ReadDeadlines;
  #proven = false;
  #framesRead = 0;
  readonly #turns = new FairTurns();
  readonly #charge: MemoryCharge;
  // Set while #finish waits for the last request to settle.
  #wake?: () => void;
  readonly #pauses: ReadPauses;
  #draining = false;
  // Ending: input is dropped, and the FIN goes once nothing is in flight.
  readonly #ending: Ending;
  #discarded = 0;
  #closed = false;
  // Aborted once closed: what waits on the peer stops waiting.
  readonly #ended = new AbortController();

  constructor(host: SessionHost<Session>, conn: Deno.Conn) {
    this.#host = host;
    this.#settings = host.settings;
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
    this.#writer = new FrameWriter(conn, this.#settings.maxOutboundBytes);
    this.#writer.onWritten = (bytes, frames) => {
      host.counters.bytes.out += bytes;
      host.counters.frames.out += frames;
      this.#recharge();
      if (!this.#writer.full) this.#twoWay.roomAgain();
      this.#pauses.written();
    };
    this.#writer.onFailure = (error) => {
      if (!isPeerGone(error)) this.#report(error);
      this.#close();
    };
    this.#ending = new Ending({
      conn,
      writeTimeout: this.#settings.writeTimeout,
      drained: () => this.#writer.drained(),
      idle: () => this.#scheduler.idle,
      closed: () => this.#closed,
      close: () => this.#close(),
    });
    this.#reader = new ChunkReader(conn);
    // Until it completes a request, its grown read buffers are given back at once.
    this.#reader.mapped = true;
    this.#deadlines = new ReadDeadlines({
      settings: this.#settings,
      busy: () =>
        !this.#scheduler.idle || this.#writer.bufferedBytes > 0 || !this.#decoder.idle ||
        this.#twoWay.subscribed,
      report: (error) => this.#report(error),
      endAfterAnswers: () => this.#endAfterAnswers(),
      close: () => this.#close(),
    });
    // Bodies are parsed at once, or copied when they must wait for a slot.
    this.#decoder = new FrameDecoder({
      maxBytes: this.#settings.maxBytes,
      onOversized: (size) => this.#oversized(size),
      lendBodies: true,
    });
    this.#calls = new CallBook((frame) => this.#send(frame));
    this.#twoWay = new TwoWay({
      maxBytes: this.#settings.maxBytes,
      hub: host.hub,
      sink: {
        // Events fit the connection's outbound bound and the server's budget:
        // past either they are dropped, never a reason to close anybody.
        room: () =>
          this.#closed || this.#ending.started ? 0 : Math.min(
            this.#settings.maxOutboundBytes - this.#writer.bufferedBytes,
            host.budget.droppableRoom(this),
          ),
        enqueue: (frame) => this.#send(frame),
      },
      cancel: (target) => this.#scheduler.cancel(target),
      describe: () => describedTypes(host.handler),
      reply: (callId, reply) => this.#calls.reply(callId, reply),
      stats: (include) => host.statsReport(include),
    });
    this.#scheduler = new RequestScheduler({
      settings: this.#settings,
      handler: host.handler,
      idempotency: host.idempotency,
      typeStats: host.typeStats,
      remoteAddr: this.remoteAddr,
      send: (body) => this.#send(body),
      control: this.#twoWay,
      calls: () => this.#twoWay.hasFeature("calls") ? this.#calls : undefined,
      chunks: () => this.#twoWay.chunks,
      room: () => this.#until(this.#writer.ready()),
      report: (error, code) => this.#report(error, code),
      authorized: () => this.#authorized(),
      refusing: () => this.#refusing(),
      congested: () => this.#writer.full,
      settled: () => this.#settled(),
      dropped: (count) => host.counters.requests.dropped += count,
    });
    this.#charge = new MemoryCharge(host.budget, this);
    this.#pauses = new ReadPauses({
      budget: host.budget,
      holder: this,
      writer: this.#writer,
      reader: this.#reader,
      writeTimeout: this.#settings.writeTimeout,
      closed: this.#ended.signal,
      backlogFull: () => this.#scheduler.backlogFull,
      release: () => {
        this.#reader.shrink();
        this.#recharge();
      },
      until: (event) => this.#until(event),
      stalled: () => this.#closeStalled(),
    });
  }

  /** Whether it has completed an authorised request. */
  get proven(): boolean {
    return this.#proven;
  }

  /** Answers a peer that may not be served with one error, then ends it. */
  async refuse(code: WireErrorCode): Promise<void> {
    this.#report(new SocketBridgeError(code, ERROR_MESSAGES[code]), code);
    this.#send(errorBody(code, undefined));
    this.#endAfterAnswers();
    await this.run();
  }

  async run(): Promise<void> {
    try {
      if ("setNoDelay" in this.#conn) (this.#conn as Deno.TcpConn).setNoDelay(true);
      if (!this.#ending.started) this.#deadlines.start();
      await this.#readLoop();
    } catch (error) {
      // A reset or a failed TLS handshake: the peer is gone, stop its handlers.
      if (!isPeerGone(error)) this.#report(error);
      this.#close();
    }
    await this.#finish();
  }

  async #readLoop(): Promise<void> {
    // While draining for a shutdown it reads on, answering shutting_down,
    // until its last request is answered; once ending, it reads only to drop.
    while (!this.#closed) {
      if (!this.#ending.started) {
        if (this.#scheduler.backlogged && !this.#writer.full) this.#scheduler.resume();
        // While it reads nothing, a half frame's deadline is paused: the
        // frame may be cut only because we stopped reading. Each pause has a
        // bound of its own (writeTimeout for a peer that does not read its
        // answers, our handlers' deadlines, the other peers draining, a
        // stranger's authTimeout), and the frame deadline runs again, in
        // full, once reading resumes.
        const pause = this.#pauses.next();
        if (pause !== undefined) {
          this.#deadlines.frameStopped();
          await pause;
          if (!this.#decoder.idle) this.#deadlines.frameStarted();
          continue;
        }
      }
      if (!this.#proven) this.#reader.limit = this.#host.budget.strangerShare;
      const value = await this.#reader.read();
      if (value === null) return;
      this.#host.counters.bytes.in += value.length;
      if (this.#ending.started) {
        // Closing: what the peer still sends is read only to be dropped.
        this.#discarded += value.length;
        if (this.#discarded > this.#settings.maxBytes) this.#close();
        continue;
      }
      const before = this.#framesRead;
      this.#decoder.push(value, (body) => {
        this.#framesRead++;
        this.#host.counters.frames.in++;
        this.#scheduler.admit(body);
      });
      if (this.#ending.started) continue;
      if (this.#decoder.idle) this.#deadlines.frameStopped();
      else if (this.#framesRead !== before || !this.#deadlines.frameArmed) {
        // A frame is under way: its deadline runs from its first byte.
        this.#deadlines.frameStarted();
      }
      this.#recharge();
      if (this.#draining && this.#scheduler.idle && this.#decoder.idle) this.#endAfterAnswers();
      const full = value.length >= this.#reader.capacity;
      const turn = this.#turns.afterRead(full, this.#framesRead - before, this.#host.crowded);
      if (turn !== undefined) await turn;
    }
  }

  beginShutdown(): void {
    this.#draining = true;
    // Stop a read that waits for a peer with nothing in flight.
    if (this.#scheduler.idle && this.#decoder.idle) this.#endAfterAnswers();
  }

  /** The grace period is over: nothing queued starts, running handlers abort. */
  abandon(): void {
    this.#scheduler.abandon(
      new SocketBridgeError("shutting_down", "Server is shutting down: grace period over"),
    );
  }

  /** Closes at once: evicted to make room, or a shutdown out of time. */
  forceClose(why?: string): void {
    if (why !== undefined) this.#report(new SocketBridgeError("busy", why));
    this.#close();
  }

  /**
   * Ends the connection so the peer still reads every answer (`Ending`):
   * from this call on, input is read only to be dropped (at most maxBytes),
   * and `last`, if given, goes raw after the answers.
   */
  #endAfterAnswers(last?: Uint8Array): void {
    if (this.#closed || this.#ending.started) return;
    this.#deadlines.stop();
    this.#ending.begin(last);
  }

  async #finish(): Promise<void> {
    // An ending keeps its deadline: it bounds the wait for a peer that reads nothing.
    if (!this.#ending.started) {
      this.#deadlines.stop();
    }
    this.#dropUnfinishedFrame();
    // Every accepted request gets its answer before the socket closes; once
    // closed, aborted handlers settle at once and queued ones never start.
    while (!this.#scheduler.idle) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    await this.#writer.drained();
    await this.#ending.done;
    this.#close();
  }

  /** Nothing more is read: the read buffer and half a frame's go back now, not at the next collection. */
  #dropUnfinishedFrame(): void {
    this.#reader.shrink();
    try {
      this.#decoder.finish();
    } catch {
      // Cut mid-frame: that frame is never answered, as its sender gave up on it.
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deadlines.stop();
    this.#ending.stop();
    closeQuietly(this.#conn);
    this.#twoWay.close();
    this.#calls.close(
      new ConnectionClosedError("Peer connection closed before it answered the call"),
    );
    this.#scheduler.abandon(
      new ConnectionClosedError("Peer connection closed; nobody waits for this answer"),
    );
    this.#charge.set(0);
    this.#host.budget.leave(this);
    this.#ended.abort();
    this.#wake?.();
  }

  /** Waits for `event`, or for the connection to close. */
  #until(event: Promise<void>): Promise<void> {
    return untilAborted(event, this.#ended.signal);
  }

  #closeStalled(): void {
    this.#report(new SocketBridgeError("busy", "Peer does not read its answers; closing"));
    this.#close();
  }

  #authorized(): void {
    this.#deadlines.authorized();
    if (this.#proven) return;
    this.#proven = true;
    // A client's reads are plain, and grow as far as any client's: the
    // strangers' share bounded them only while it was one.
    this.#reader.mapped = false;
    this.#reader.limit = Infinity;
    this.#charge.prove();
    this.#host.proven(this);
  }

  #refusing(): WireErrorCode | undefined {
    if (this.#draining || this.#host.shuttingDown) return "shutting_down";
    return this.#host.budget.overShare(this) ? "busy" : undefined;
  }

  #settled(): void {
    this.#recharge();
    this.#pauses.settled();
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    if (this.#scheduler.idle) {
      if (this.#draining && this.#decoder.idle) this.#endAfterAnswers();
      this.#ending.proceed();
    }
  }

  #oversized(size: number): void {
    const maxBytes = this.#settings.maxBytes;
    const verdict = judgeOversized(size, maxBytes, this.#framesRead === 0);
    if (verdict.foreign !== undefined) {
      const why = `Peer speaks ${verdict.foreign}, not SocketBridge; closing`;
      this.#report(new SocketBridgeError("invalid_message", why));
      this.#endAfterAnswers(verdict.last);
      return;
    }
    this.#framesRead++;
    this.#host.counters.frames.in++;
    this.#scheduler.refuse("payload_too_large", new FrameTooLargeError(size, maxBytes));
    if (verdict.close) this.#endAfterAnswers();
  }

  /** Bytes of the server's memory charged to this connection now. */
  get charged(): number {
    return this.#charge.bytes;
  }

  /** Closes it: it held the most of the server's memory when that ran out. */
  evict(held: number): void {
    const limit = this.#host.budget.limit;
    this.forceClose(
      `Peer holds ${held} bytes, the most of any, past the budget of ${limit}; closing`,
    );
  }

  /** Charges the server's budget with what this connection holds now. */
  #recharge(): void {
    if (this.#closed) return;
    this.#charge.set(
      this.#reader.capacity + this.#decoder.heldBytes + this.#scheduler.heldBytes +
        this.#writer.bufferedBytes,
    );
  }

  #send(body: FrameText | Uint8Array): void {
    this.#writer.enqueue(body);
    this.#recharge();
  }

  #report(error: unknown, code?: ErrorCode): void {
    this.#host.report(error, { remoteAddr: this.remoteAddr, code });
  }
}
