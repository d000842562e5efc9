// Opening a client connection: TCP, TLS or a Unix socket, with an abort
// signal, and failures turned into a ConnectError that names the address.

import { ConnectError } from "../errors.ts";
import { DEFAULT_PORT } from "../protocol.ts";
import { closeQuietly } from "../_shared/transport.ts";
import { resolveName } from "../_shared/discovery.ts";

/** Where a client connects. */
export interface DialOptions {
  hostname?: string;
  port?: number;
  path?: string;
  name?: string;
  tls?: boolean | { caCerts?: string[] };
}

/** `host:port` or the socket path, as errors name it. */
export function addressOf(options: DialOptions): string {
  if (options.path !== undefined) return options.path;
  if (options.name !== undefined && options.port === undefined) return `"${options.name}"`;
  const hostname = options.hostname ?? "127.0.0.1";
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${host}:${options.port ?? DEFAULT_PORT}`;
}

/** Refuses options that contradict each other, before anything is opened. */
function checkDialOptions(options: DialOptions): void {
  if (
    options.name !== undefined &&
    (options.path !== undefined || options.port !== undefined || options.hostname !== undefined)
  ) {
    throw new TypeError(
      "Cannot connect: name (a published server) goes without hostname, port and path",
    );
  }
  if (options.path !== undefined) {
    if (options.port !== undefined || options.hostname !== undefined) {
      throw new TypeError(
        "Cannot connect: path (a Unix socket) goes without port and hostname; choose one",
      );
    }
    if (options.tls) throw new TypeError("Cannot connect: tls is not available over a Unix socket");
  } else if (options.port !== undefined) {
    const port = options.port;
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new TypeError(
        `Cannot connect to port ${port}: expected a whole number from 1 to 65535`,
      );
    }
  }
}

/**
 * A client's destination, settled: the options checked and, for a name, its
 * discovery file read (where the server listens, and its token).
 */
export interface Target {
  readonly hostname?: string;
  readonly port?: number;
  readonly path?: string;
  readonly tls?: boolean | { caCerts?: string[] };
  /** The token a named server's discovery file holds. */
  readonly token?: string;
}

/**
 * Checks the options and resolves a name: what one dial needs, settled
 * before any socket is opened.
 *
 * @throws {TypeError} For options that contradict each other.
 * @throws {ConnectError} For a name no live server of this user publishes.
 */
export function resolveTarget(options: DialOptions): Target {
  checkDialOptions(options);
  if (options.name === undefined) return options;
  const where = resolveName(options.name);
  return { ...where, tls: options.tls ?? where.tls };
}

/** Connects to a settled target, or throws a ConnectError (or the signal's reason). */
export async function dial(target: Target, signal?: AbortSignal): Promise<Deno.Conn> {
  signal?.throwIfAborted();
  const hostname = target.hostname ?? "127.0.0.1";
  const port = target.port ?? DEFAULT_PORT;
  const tls = target.tls;
  let connecting: Promise<Deno.Conn>;
  try {
    connecting = target.path !== undefined
      ? Deno.connect({ transport: "unix", path: target.path })
      : tls
      ? Deno.connectTls({ hostname, port, caCerts: tls === true ? undefined : tls.caCerts })
      : Deno.connect({ hostname, port });
  } catch (error) {
    throw connectError(target, error);
  }
  const connected = connecting.catch((error) => {
    throw connectError(target, error);
  });
  if (signal === undefined) return await connected;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      connected,
      new Promise<never>((_, reject) => {
        onAbort = () => {
          connecting.then(closeQuietly, () => {});
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

function connectError(target: Target, error: unknown): unknown {
  if (error instanceof TypeError) return error;
  const address = addressOf(target);
  let hint: string;
  if (error instanceof Deno.errors.ConnectionRefused) {
    hint = "nothing listens there; is the server running?";
  } else if (error instanceof Deno.errors.NotFound) {
    hint = target.path !== undefined
      ? "no socket file at that path; is the server running?"
      : "the host name is unknown";
  } else if (error instanceof Deno.errors.NotCapable) {
    hint = target.path !== undefined
      ? `grant --allow-read, --allow-write and --allow-net=unix:${target.path}`
      : `grant --allow-net=${address}`;
  } else if (error instanceof Deno.errors.PermissionDenied) {
    hint = "the operating system refused it (check the socket file's owner and mode)";
  } else {
    hint = error instanceof Error ? error.message : String(error);
  }
  return new ConnectError(address, `Cannot connect to ${address}: ${hint}`, { cause: error });
}
