// The floor: the framing server and client a careful engineer would write
// by hand, with no checks, ids or ordering rules. Reads go straight into one
// growing buffer per connection, frames are views of it, and everything to
// send in one turn of the event loop goes out in one write. What SocketBridge
// does beyond this is the cost of its checks, ids and ordering.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A connection's input: one buffer, grown or compacted, frames handed out as views. */
export class FrameBuffer {
  #buffer = new Uint8Array(65_536);
  #start = 0;
  #end = 0;

  /** Reads once from `conn` into the free space; false at the end. */
  async fill(conn: Deno.Conn): Promise<boolean> {
    if (this.#end === this.#buffer.length) this.#makeRoom(this.#buffer.length);
    const count = await conn.read(this.#buffer.subarray(this.#end));
    if (count === null) return false;
    this.#end += count;
    return true;
  }

  /** Hands out every complete frame's body (a view, valid until the next fill). */
  frames(onFrame: (body: Uint8Array) => void): void {
    const buffer = this.#buffer;
    while (this.#end - this.#start >= 4) {
      const at = this.#start;
      const length = ((buffer[at] << 24) | (buffer[at + 1] << 16) | (buffer[at + 2] << 8) |
        buffer[at + 3]) >>> 0;
      if (this.#end - at < 4 + length) {
        // Make sure the whole frame will fit, once, rather than copy per read.
        if (4 + length > buffer.length - at) this.#makeRoom(4 + length);
        return;
      }
      onFrame(buffer.subarray(at + 4, at + 4 + length));
      this.#start = at + 4 + length;
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  #makeRoom(needed: number): void {
    const pending = this.#end - this.#start;
    if (needed <= this.#buffer.length && this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    } else {
      let size = this.#buffer.length;
      while (size < Math.max(needed, pending * 2)) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = grown;
    }
    this.#start = 0;
    this.#end = pending;
  }
}

/** Coalesces the frames queued in one turn into one write, through one reused buffer. */
export class FrameSender {
  readonly #conn: Deno.Conn;
  #queue: (string | Uint8Array)[] = [];
  #scheduled = false;
  #writing: Promise<void> = Promise.resolve();
  #buffer = new Uint8Array(65_536);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  send(body: string | Uint8Array): void {
    this.#queue.push(body);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#writing = this.#writing.then(() => this.#flush());
      });
    }
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    let capacity = 0;
    for (const body of batch) {
      capacity += 4 +
        (typeof body === "string" ? 3 * body.length : body.length);
    }
    if (capacity > this.#buffer.length) this.#buffer = new Uint8Array(capacity);
    const buffer = this.#buffer;
    let size = 0;
    for (const body of batch) {
      const length = typeof body === "string"
        ? encoder.encodeInto(body, buffer.subarray(size + 4)).written
        : (buffer.set(body, size + 4), body.length);
      buffer[size] = length >>> 24;
      buffer[size + 1] = (length >>> 16) & 0xff;
      buffer[size + 2] = (length >>> 8) & 0xff;
      buffer[size + 3] = length & 0xff;
      size += 4 + length;
    }
    try {
      for (let at = 0; at < size;) {
        at += await this.#conn.write(buffer.subarray(at, size));
      }
    } catch {
      // The peer went away.
    }
  }
}

/** The floor server: parses each request and answers `reply` (raw: echoes fixed bytes). */
export async function floorServer(
  json: boolean,
  reply: unknown,
  ready: (port: number) => void,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  ready(listener.addr.port);
  const replyText = JSON.stringify(reply);
  const replyBytes = encoder.encode(replyText);
  for await (const conn of listener) {
    conn.setNoDelay(true);
    (async () => {
      const input = new FrameBuffer();
      const output = new FrameSender(conn);
      try {
        while (await input.fill(conn)) {
          input.frames((body) => {
            if (json) {
              JSON.parse(decoder.decode(body));
              output.send(JSON.stringify(reply));
            } else {
              output.send(replyBytes);
            }
          });
        }
      } catch {
        // Client gone.
      } finally {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    })();
  }
}

/** The floor client: pipelines on one connection; answers come in order. */
export async function floorClient(
  port: number,
  json: boolean,
): Promise<
  { call: (request: unknown) => Promise<unknown>; close: () => void }
> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const output = new FrameSender(conn);
  let waiting: ((value: unknown) => void)[] = [];
  let head = 0;
  const texts = new Map<unknown, Uint8Array>();
  (async () => {
    const input = new FrameBuffer();
    try {
      while (await input.fill(conn)) {
        input.frames((body) => {
          waiting[head++](
            json ? JSON.parse(decoder.decode(body)) : body.length,
          );
          if (head > 4096) {
            waiting = waiting.slice(head);
            head = 0;
          }
        });
      }
    } catch { /* closed */ }
  })();
  return {
    call: (request) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        if (json) {
          output.send(JSON.stringify(request));
        } else {
          // Raw: the same bytes every time, encoded once.
          let bytes = texts.get(request);
          if (bytes === undefined) {
            texts.set(request, bytes = encoder.encode(JSON.stringify(request)));
          }
          output.send(bytes);
        }
      }),
    close: () => conn.close(),
  };
}
