// serve()'s options checked in one pass, before any socket is opened: the
// defaults and the environment filled in, the transport and the discovery
// name settled. A running server works from these settings only.

import { DEFAULT_MAX_BYTES } from "../codec.ts";
import { DEFAULT_PORT } from "../protocol.ts";
import { Allowlist, Callers, envReadable, isLoopback, readGrantedEnv } from "./policy.ts";
import { Scope } from "../_wire/scopes.ts";
import { patternProblem } from "../_wire/topics.ts";
import { checkDuration } from "../_shared/timers.ts";
import { checkName } from "../_shared/discovery.ts";
import type { RequestRecord, ScopedToken, ServeOptions } from "./options.ts";

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
  /** Who may call; undefined: anyone (the server has no token). */
  readonly callers?: Callers;
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
  readonly idempotencyWindow: number;
  readonly maxIdempotencyKeys: number;
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
    callers: callersOf(tokenText, options.tokens),
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
    idempotencyWindow: checkDuration("idempotencyWindow", options.idempotencyWindow ?? 300_000),
    maxIdempotencyKeys: wholeNumber(
      "maxIdempotencyKeys",
      options.maxIdempotencyKeys ?? 10_000,
      1e9,
    ),
    onRequest: options.onRequest,
    listen,
    discovery: name === undefined
      ? undefined
      : { name, tls: options.cert !== undefined, token: tokenText || undefined },
  };
}

/** The server's token and its scoped tokens, checked. */
function callersOf(
  owner: string,
  tokens: Readonly<Record<string, ScopedToken>> | undefined,
): Callers | undefined {
  const entries = Object.entries(tokens ?? {});
  if (owner === "") {
    if (entries.length > 0) {
      throw new TypeError("Cannot serve: tokens (scoped) need token (the server's own)");
    }
    return undefined;
  }
  const seen = new Set([owner]);
  const scoped = entries.map(([name, spec]) => {
    const where = `Cannot serve: scoped token "${name}"`;
    if (name === "" || typeof spec?.token !== "string" || spec.token === "") {
      throw new TypeError(`${where} needs a name and a non-empty token`);
    }
    if (seen.has(spec.token)) throw new TypeError(`${where} repeats another token`);
    seen.add(spec.token);
    if (!Array.isArray(spec.types) || !spec.types.every((type) => typeof type === "string")) {
      throw new TypeError(`${where}: types must be an array of type names (or "*")`);
    }
    const topics = spec.topics ?? [];
    for (const pattern of topics) {
      const problem = patternProblem(pattern);
      if (problem !== undefined) throw new TypeError(`${where}: ${problem}`);
    }
    return { name, token: spec.token, scope: new Scope(spec.types, topics) };
  });
  return new Callers(owner, scoped);
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
