// serve()'s options checked in one pass, before any socket is opened: the
// defaults and the environment filled in, the transport and the discovery
// name settled. A running server works from these settings only.

import { DEFAULT_MAX_BYTES } from "../codec.ts";
import { DEFAULT_PORT } from "../protocol.ts";
import { Allowlist, envReadable, isLoopback, readGrantedEnv, TokenCheck } from "./policy.ts";
import { checkDuration } from "../_shared/timers.ts";
import { checkName } from "../_shared/discovery.ts";
import type { RequestRecord, ServeOptions } from "./options.ts";

/** Where a server listens: TCP (TLS with cert and key) or a Unix socket path. */
export type Listen =
  | {
    readonly transport: "tcp";
    readonly hostname: string;
    readonly port: number;
    readonly cert?: string;
    readonly key?: string;
  }
  | { readonly transport: "unix"; readonly path: string };

/** A discovery file to publish once the server listens. */
export interface Discovery {
  readonly name: string;
  readonly tls: boolean;
  /** The server's token, written to the owner-only file; undefined: none. */
  readonly token?: string;
}

/** The checked settings of a running server. */
export interface Settings {
  readonly maxBytes: number;
  readonly token?: TokenCheck;
  readonly allowlist?: Allowlist;
  readonly maxInFlight: number;
  readonly maxConnections: number;
  readonly idleTimeout: number;
  readonly frameTimeout: number;
  readonly authTimeout: number;
  readonly handlerTimeout: number;
  readonly gracePeriod: number;
  readonly maxOutboundBytes: number;
  readonly writeTimeout: number;
  readonly maxBufferedBytes: number;
  readonly onRequest?: (record: RequestRecord) => void;
  readonly listen: Listen;
  readonly discovery?: Discovery;
}

/** The options every transport shares, and the transport's own, loosely typed. */
export type AnyServeOptions = Omit<ServeOptions, "onListen"> & {
  // deno-lint-ignore no-explicit-any
  onListen?: (addr: any) => void;
  hostname?: string;
  port?: number;
  path?: string;
  cert?: string;
  key?: string;
};

/** Checks every option and fills in the defaults (and the environment's). */
export function resolveSettings(options: AnyServeOptions): Settings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Cannot serve: options must be an object");
  }
  if (options.path !== undefined) {
    for (const key of ["hostname", "port", "cert", "key"] as const) {
      if (options[key] !== undefined) {
        throw new TypeError(
          `Cannot serve: path (a Unix socket) goes without ${key}; choose one transport`,
        );
      }
    }
  }
  const tokenText = tokenOf(options);
  const listen = listenOf(options, tokenText !== "");
  const name = options.name === undefined ? undefined : checkName(options.name);
  const allowText = options.allowlist ??
    readGrantedEnv("SOCKETBRIDGE_ALLOWLIST")?.split(",");
  const envMaxBytes = readGrantedEnv("SOCKETBRIDGE_MAX_BYTES");
  const maxBytes = options.maxBytes ??
    (envMaxBytes === undefined ? DEFAULT_MAX_BYTES : Number(envMaxBytes));
  const entries = allowText?.map((entry) => entry.trim()).filter((e) => e !== "");
  return {
    maxBytes: wholeNumber("maxBytes", maxBytes, 0xffff_ffff),
    token: tokenText === "" ? undefined : new TokenCheck(tokenText),
    allowlist: entries === undefined ? undefined : new Allowlist(entries),
    maxInFlight: wholeNumber("maxInFlight", options.maxInFlight ?? 128, 1e9, 1),
    maxConnections: wholeNumber("maxConnections", options.maxConnections ?? 1024, 1e9, 1),
    idleTimeout: checkDuration("idleTimeout", options.idleTimeout ?? 0),
    frameTimeout: checkDuration("frameTimeout", options.frameTimeout ?? 10_000),
    authTimeout: checkDuration("authTimeout", options.authTimeout ?? 10_000),
    handlerTimeout: checkDuration("handlerTimeout", options.handlerTimeout ?? 0),
    gracePeriod: checkDuration("gracePeriod", options.gracePeriod ?? 5_000),
    maxOutboundBytes: wholeNumber(
      "maxOutboundBytes",
      options.maxOutboundBytes ?? 4_194_304,
      Number.MAX_SAFE_INTEGER,
    ),
    writeTimeout: checkDuration("writeTimeout", options.writeTimeout ?? 30_000),
    maxBufferedBytes: wholeNumber(
      "maxBufferedBytes",
      options.maxBufferedBytes ?? 134_217_728,
      Number.MAX_SAFE_INTEGER,
      1,
    ),
    onRequest: options.onRequest,
    listen,
    discovery: name === undefined
      ? undefined
      : { name, tls: options.cert !== undefined, token: tokenText || undefined },
  };
}

/** The transport, checked: loopback unless a token guards the address. */
function listenOf(options: AnyServeOptions, hasToken: boolean): Listen {
  if (options.path !== undefined) return { transport: "unix", path: options.path };
  const hostname = options.hostname ?? "127.0.0.1";
  const port = wholeNumber("port", options.port ?? DEFAULT_PORT, 65_535);
  if (!isLoopback(hostname) && !hasToken && !options.allowRemoteWithoutToken) {
    throw new TypeError(missingTokenMessage(hostname));
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("Cannot serve TLS: cert and key go together");
  }
  return { transport: "tcp", hostname, port, cert: options.cert, key: options.key };
}

/** The token a server uses: its option, else SOCKETBRIDGE_TOKEN when readable; "" for none. */
export function tokenOf(options: AnyServeOptions): string {
  return options.token ?? readGrantedEnv("SOCKETBRIDGE_TOKEN") ?? "";
}

/** Why a non-loopback bind without a token is refused, naming how to set one. */
function missingTokenMessage(hostname: string): string {
  const hint = envReadable("SOCKETBRIDGE_TOKEN")
    ? "Set token (or SOCKETBRIDGE_TOKEN)"
    : "Set token, or SOCKETBRIDGE_TOKEN and grant --allow-env=SOCKETBRIDGE_TOKEN " +
      "(this process cannot read it)";
  return `Cannot serve on ${hostname} without a token: anyone who reaches it could call ` +
    `the handler. ${hint}, or allowRemoteWithoutToken: true to accept that`;
}

function wholeNumber(name: string, value: number, max: number, min = 0): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `Cannot use ${name} ${value}: expected a whole number from ${min} to ${max}`,
    );
  }
  return value;
}
