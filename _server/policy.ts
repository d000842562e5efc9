// The security policy: peer allowlist, who a token is (each compared in
// constant time), loopback detection and permission-aware environment fallback. Private to the module.

import { type Caller, OWNER, type Scope } from "../_wire/scopes.ts";
import { TokenCheck } from "../_shared/token_check.ts";

/**
 * Parses an IPv4 or IPv6 address (with an optional `%zone`) into 16 bytes,
 * IPv4 as IPv4-mapped IPv6, so `127.0.0.1`, `::ffff:127.0.0.1` and
 * `::ffff:7f00:1` compare equal. Returns `undefined` for anything else.
 */
export function parseAddress(text: string): Uint8Array | undefined {
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const v4 = parseIPv4(text);
  if (v4 !== undefined) {
    const bytes = new Uint8Array(16);
    bytes[10] = bytes[11] = 0xff;
    bytes.set(v4, 12);
    return bytes;
  }
  return parseIPv6(text);
}

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return undefined;
    const value = Number(parts[i]);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const pieces = half.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece);
        if (v4 === undefined) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

interface Network {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/**
 * A set of peer addresses and CIDR networks. Entries are IPv4, IPv6 or
 * IPv4-mapped IPv6 in any spelling, each optionally `/prefix`.
 */
export class Allowlist {
  readonly #networks: Network[];

  constructor(entries: readonly string[]) {
    this.#networks = entries.map((entry) => {
      const [address, prefixText, extra] = entry.trim().split("/");
      const bytes = parseAddress(address);
      const isV4 = parseIPv4(address) !== undefined;
      const width = isV4 ? 32 : 128;
      const prefix = prefixText === undefined ? width : Number(prefixText);
      if (
        bytes === undefined || extra !== undefined ||
        !/^\d+$/.test(prefixText ?? "0") || prefix > width
      ) {
        throw new TypeError(
          `Cannot use allowlist entry "${entry}": expected an IP address or CIDR network`,
        );
      }
      return { bytes, prefix: isV4 ? prefix + 96 : prefix };
    });
  }

  /** Whether the peer at `hostname` is allowed. Unparsable peers are not. */
  allows(hostname: string): boolean {
    const peer = parseAddress(hostname);
    if (peer === undefined) return false;
    return this.#networks.some((network) => matches(network, peer));
  }
}

function matches({ bytes, prefix }: Network, peer: Uint8Array): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== peer[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole] & mask) === (peer[whole] & mask);
}

/** Whether binding `hostname` keeps the server reachable from this host only. */
export function isLoopback(hostname: string): boolean {
  if (hostname === "localhost") return true;
  const bytes = parseAddress(hostname);
  if (bytes === undefined) return false;
  const isMapped = bytes.subarray(0, 10).every((b) => b === 0) &&
    bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return bytes[12] === 127;
  return bytes.subarray(0, 15).every((b) => b === 0) && bytes[15] === 1;
}

/**
 * Who a token is: the server's own (every right) or one of its scoped
 * tokens (protocol D1). Every configured token is compared, in constant
 * time, on every request: the time taken says neither which matched nor how
 * close a guess came.
 */
export class Callers {
  readonly #owner: TokenCheck;
  readonly #scoped: { check: TokenCheck; caller: Caller }[];

  constructor(owner: string, scoped: readonly { name: string; token: string; scope: Scope }[]) {
    this.#owner = new TokenCheck(owner);
    this.#scoped = scoped.map(({ name, token, scope }) => ({
      check: new TokenCheck(token),
      caller: Object.freeze({ name, scope }),
    }));
  }

  /** The caller `given` identifies, or undefined for no token of this server. */
  identify(given: unknown): Caller | undefined {
    let found: Caller | undefined = this.#owner.matches(given) ? OWNER : undefined;
    for (const { check, caller } of this.#scoped) {
      // No early exit: every token is compared whatever matched before.
      if (check.matches(given)) found = caller;
    }
    return found;
  }
}

/** Whether `--allow-env` lets this process read the variable (never prompts). */
export function envReadable(name: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Reads an environment variable only when `--allow-env` grants it, so the
 * library never prompts. Deno cannot tell an unset variable from one it may
 * not read: both give `undefined` here, and callers that must tell them
 * apart ask {@linkcode envReadable}.
 */
export function readGrantedEnv(name: string): string | undefined {
  return envReadable(name) ? Deno.env.get(name) : undefined;
}
