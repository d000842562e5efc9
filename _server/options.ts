// The public options of serve() and what its hooks are told, documented for
// users; server.ts re-exports them. settings.ts checks them.

import type { ErrorCode } from "../errors.ts";
import type { RequestId, WireErrorCode } from "../protocol.ts";

/**
 * One scoped token of {@linkcode ServeOptions.tokens}.
 *
 * @example A token that may only read build status
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ScopedToken } from "@socketbridge/core";
 * const reader: ScopedToken = { token: "r3ad", types: ["status"], topics: ["builds.>"] };
 * assert.ok(reader.types.includes("status"));
 * ```
 */
export interface ScopedToken {
  /** The secret, as a client sends it in `auth_token`. */
  token: string;
  /** The request types it may call; `"*"` for every type. */
  types: readonly string[];
  /**
   * The topic patterns it may subscribe within: a `$subscribe` pattern is
   * allowed only if one of these matches every topic it can match.
   * @default []
   */
  topics?: readonly string[];
}

/**
 * Where and how an error was seen, for {@linkcode ServeOptions.onError}.
 *
 * @example Counting error responses by code
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ErrorContext, send, serve } from "@socketbridge/core";
 * const counts = new Map<string, number>();
 * function onError(_error: unknown, { code }: ErrorContext): void {
 *   if (code !== undefined) counts.set(code, (counts.get(code) ?? 0) + 1);
 * }
 * await using server = serve({ port: 0, onError }, () => {
 *   throw new Error("nope");
 * });
 * await send({ port: server.addr.port }, {});
 * assert.ok(counts.get("handler_error") === 1);
 * ```
 */
export interface ErrorContext {
  /** The peer, when the error concerns one connection. */
  readonly remoteAddr?: Deno.Addr;
  /** The wire code answered, when the error became an error response. */
  readonly code?: ErrorCode;
}

/**
 * One answered request, for {@linkcode ServeOptions.onRequest}: what an
 * access log or a metrics exporter needs, and never the token or payload.
 *
 * @example An access log line per request
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RequestRecord, send, serve } from "@socketbridge/core";
 * const log: string[] = [];
 * function onRequest(record: RequestRecord): void {
 *   log.push(`${record.type ?? "-"} ${record.code} ${record.duration.toFixed(1)}ms`);
 * }
 * await using server = serve({ port: 0, onRequest }, () => "pong");
 * await send({ port: server.addr.port }, { type: "ping" });
 * assert.ok(log.length === 1 && log[0].startsWith("ping ok "));
 * ```
 */
export interface RequestRecord {
  /** The payload's `type`, when it is a string. */
  readonly type?: string;
  /** The request's `request_id`, when it carried one. */
  readonly requestId?: RequestId;
  /** The peer. */
  readonly remoteAddr: Deno.Addr;
  /** `"ok"`, the error code answered, or an application's own code. */
  readonly code: "ok" | WireErrorCode | (string & Record<never, never>);
  /** Milliseconds from reading the request to queuing its answer. */
  readonly duration: number;
  /** Bytes of the request body. */
  readonly bytesIn: number;
  /** UTF-16 length of the answer's JSON text (its bytes for ASCII text). */
  readonly bytesOut: number;
  /** The name of the scoped token that called (never the token); undefined for the server's own. */
  readonly caller?: string;
}

/**
 * Options of {@linkcode serve} common to every transport, shaped like
 * `Deno.serve`'s. The transport comes from {@linkcode ServeTcpOptions}
 * (TCP or TLS) or {@linkcode ServeUnixOptions}.
 *
 * @typeParam Addr The address type `onListen` receives.
 *
 * @example A hardened loopback server
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve, type ServeTcpOptions } from "@socketbridge/core";
 * const options: ServeTcpOptions = {
 *   port: 0,
 *   token: "s3cret",
 *   allowlist: ["127.0.0.1", "::1"],
 *   maxBytes: 64 * 1024,
 *   maxConnections: 64,
 *   frameTimeout: 5_000,
 *   handlerTimeout: 30_000,
 * };
 * await using server = serve(options, (payload) => payload);
 * assert.ok(server.addr.hostname === "127.0.0.1");
 * ```
 */
export interface ServeOptions<Addr extends Deno.Addr = Deno.Addr> {
  /**
   * The shared secret every request must carry as `auth_token`, compared in
   * constant time and never handed to the handler. An empty string means no
   * token.
   *
   * @default {the SOCKETBRIDGE_TOKEN environment variable, when readable}
   */
  token?: string;
  /**
   * Scoped tokens beside the server's own (which keeps every right), by
   * name: each may call only its `types` (`"*"` for all) and subscribe only
   * to topics its `topics` patterns cover. The handler learns the name
   * (`info.caller`), never the token. Needs `token`.
   *
   * @default {none}
   */
  tokens?: Readonly<Record<string, ScopedToken>>;
  /**
   * How long a request's `idempotency_key` is remembered (with its answer,
   * once known), in milliseconds: a request carrying it again within this
   * window gets the same answer and does not run twice.
   *
   * @default {300_000 (5 minutes)}
   */
  idempotencyWindow?: number;
  /**
   * Idempotency keys remembered at most (all tokens together); the oldest
   * is forgotten first. Stored answers count against `maxBufferedBytes`.
   *
   * @default {10_000}
   */
  maxIdempotencyKeys?: number;
  /**
   * Peer addresses or CIDR networks (IPv4, IPv6, IPv4-mapped IPv6) allowed to
   * connect. Others get `unauthorized host` before any byte of theirs is
   * read. Not applied to Unix sockets, whose file mode decides who connects.
   *
   * @default {the comma-separated SOCKETBRIDGE_ALLOWLIST, when readable; else everyone}
   */
  allowlist?: readonly string[];
  /**
   * The largest request body, in bytes, enforced from the length prefix.
   *
   * @default {SOCKETBRIDGE_MAX_BYTES when readable; else 1048576}
   */
  maxBytes?: number;
  /**
   * Allow binding a non-loopback address without a token. Anyone who can
   * reach the port can then call the handler.
   *
   * @default {false}
   */
  allowRemoteWithoutToken?: boolean;
  /**
   * Requests of one connection running at once. Past it the server reads no
   * further from that connection until one finishes, so TCP pushes back.
   *
   * @default {128}
   */
  maxInFlight?: number;
  /**
   * Connections open at once. A peer past it gets a `busy` error and is
   * closed; the others are unaffected.
   *
   * @default {1024}
   */
  maxConnections?: number;
  /**
   * Milliseconds a connection may sit with no frame in progress and nothing
   * in flight before it is closed; `0` never closes it.
   *
   * @default {0}
   */
  idleTimeout?: number;
  /**
   * Milliseconds in which the rest of a frame must arrive once its first
   * byte has; a slower peer is closed (the slowloris defence). `0` disables.
   *
   * @default {10000}
   */
  frameTimeout?: number;
  /**
   * Milliseconds a handler may run; past it its signal is aborted and the
   * caller gets a `timeout` error. `0` leaves only the caller's `timeout_ms`.
   *
   * @default {0}
   */
  handlerTimeout?: number;
  /**
   * Milliseconds `shutdown()` lets handlers in flight finish before aborting
   * them (their callers then get `shutting_down`).
   *
   * @default {5000}
   */
  gracePeriod?: number;
  /**
   * Bytes of answers a connection may have waiting to be written. Past it
   * the server stops reading from that peer until it reads its answers, and
   * closes it if they do not drain within `writeTimeout`.
   *
   * @default {4194304}
   */
  maxOutboundBytes?: number;
  /**
   * Milliseconds a peer that does not read its answers is given before it is
   * closed, once `maxOutboundBytes` is reached.
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * Milliseconds in which a new connection must complete one authorised
   * request (the TLS handshake included); a connection that has not is
   * closed, and while every slot is taken the oldest such connection is
   * closed to admit a new one. `0` disables both.
   *
   * @default {10000}
   */
  authTimeout?: number;
  /**
   * Bytes the whole server may hold for its peers: partial frames, frames
   * waiting for a slot and answers waiting to be written, over all
   * connections. Past it the server stops reading and answers new requests
   * `busy` until the memory drains.
   *
   * @default {134217728}
   */
  maxBufferedBytes?: number;
  /**
   * Publish the server under this name: a discovery file (mode 0600, in
   * `$XDG_RUNTIME_DIR/socketbridge/`, else `/tmp/socketbridge-UID/`, a
   * 0700 directory) holds its address and token, so processes of the same
   * user reach it with `connect({ name })`. Removed at shutdown; a file
   * left by a dead process is replaced; a live server's name is refused.
   * Needs `--allow-env=XDG_RUNTIME_DIR,TMPDIR`, `--allow-sys=uid` and read
   * and write access to that directory.
   */
  name?: string;
  /** Aborting it shuts the server down gracefully. */
  signal?: AbortSignal;
  /** Called once the server listens, with its address. Prints nothing by default. */
  onListen?: (addr: Addr) => void;
  /**
   * Called for every failure worth knowing: each error response (with its
   * `code`), each handler throw (the thrown value), each connection that
   * failed. Never receives a request body or the token. Prints nothing by
   * default.
   */
  onError?: (error: unknown, context: ErrorContext) => void;
  /**
   * Called once per answered request, after its answer is queued: for
   * access logs and metrics. Never receives the token or the payload.
   */
  onRequest?: (record: RequestRecord) => void;
}

/**
 * Options of {@linkcode serve} on TCP (loopback by default) or TLS.
 *
 * @example A TCP server on a free port; `addr` is a `Deno.NetAddr`
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve, type ServeTcpOptions } from "@socketbridge/core";
 * const options: ServeTcpOptions = { hostname: "127.0.0.1", port: 0 };
 * await using server = serve(options, () => "ok");
 * assert.ok(server.addr.port > 0);
 * ```
 */
export interface ServeTcpOptions extends ServeOptions<Deno.NetAddr> {
  /**
   * The address to bind. A non-loopback address needs a `token` (or
   * `allowRemoteWithoutToken`).
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The TCP port; `0` picks a free one (read it back from `server.addr`).
   *
   * @default {7002}
   */
  port?: number;
  /** PEM certificate chain: with `key`, serve TLS instead of plain TCP. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** Not with TCP: see {@linkcode ServeUnixOptions}. */
  path?: undefined;
}

/**
 * Options of {@linkcode serve} on a Unix domain socket.
 *
 * @example A server on a socket path; `addr` is a `Deno.UnixAddr`
 * ```ts ignore
 * import { serve, type ServeUnixOptions } from "@socketbridge/core";
 * const options: ServeUnixOptions = { path: "/run/user/1000/bridge.sock" };
 * await using server = serve(options, () => "ok");
 * console.log(server.addr.path);
 * ```
 */
export interface ServeUnixOptions extends ServeOptions<Deno.UnixAddr> {
  /**
   * Serve on this Unix domain socket path instead of TCP. The socket file is
   * made readable and writable by its owner only, a stale file left by a
   * dead server is replaced, and the file is removed on shutdown.
   */
  path: string;
  /** Not with a Unix socket. */
  hostname?: undefined;
  /** Not with a Unix socket. */
  port?: undefined;
  /** Not with a Unix socket. */
  cert?: undefined;
  /** Not with a Unix socket. */
  key?: undefined;
}
