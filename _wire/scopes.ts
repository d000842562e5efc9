// Scoped tokens (protocol D1): what a token may call and subscribe to, and
// whether one topic pattern covers another. Pure: no Deno APIs.

/** Who made a request: the name of the token it carried, and what that token may do. */
export interface Caller {
  /** The token's name; undefined for the server's own token (or no token at all). */
  readonly name?: string;
  /** What it may do; undefined: everything (the server's own token). */
  readonly scope?: Scope;
}

/** The caller with every right: the server's own token, or a server without one. */
export const OWNER: Caller = Object.freeze({});

/** The request types a token may call and the topic patterns it may subscribe to. */
export class Scope {
  readonly #types: ReadonlySet<string> | "*";
  readonly topics: readonly string[];

  constructor(types: readonly string[], topics: readonly string[]) {
    this.#types = types.includes("*") ? "*" : new Set(types);
    this.topics = Object.freeze([...topics]);
  }

  /** Whether requests of `type` (`""` for none) may be made. */
  allowsType(type: string): boolean {
    return this.#types === "*" || this.#types.has(type);
  }

  /** Whether every topic `pattern` can match is matched by an allowed pattern. */
  allowsPattern(pattern: string): boolean {
    return this.topics.some((allowed) => patternCovers(allowed, pattern));
  }
}

/**
 * Whether `allowed` matches every topic `requested` can match (NATS subject
 * syntax: `*` one token, `>` as the last token one or more): `jobs.>` covers
 * `jobs.*.done`, `*` never covers `>`.
 */
export function patternCovers(allowed: string, requested: string): boolean {
  const a = allowed.split(".");
  const r = requested.split(".");
  for (let i = 0; i < a.length; i++) {
    // `>` takes one token or more: whatever `requested` has from here on.
    if (a[i] === ">") return i < r.length;
    if (i >= r.length || r[i] === ">") return false;
    if (a[i] !== "*" && a[i] !== r[i]) return false;
  }
  return a.length === r.length;
}
