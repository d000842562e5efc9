// Topics and topic patterns, in the NATS subject syntax: dot-separated
// tokens; in a pattern `*` stands for exactly one token and `>`, as the last
// token only, for one or more. Pure: no Deno APIs.

const MAX_TOPIC_LENGTH = 1_024;

/**
 * What is wrong with a topic an event is published on, or `undefined` when
 * it is valid: non-empty tokens without wildcards, whitespace or `$` at the
 * start (topics starting with `$` belong to the protocol, like `$dropped`).
 */
export function topicProblem(topic: unknown): string | undefined {
  const problem = shapeProblem(topic);
  if (problem !== undefined) return problem;
  const text = topic as string;
  for (const token of text.split(".")) {
    if (token === "*" || token === ">") return `topic "${text}" contains the wildcard "${token}"`;
  }
  return undefined;
}

/** What is wrong with a subscription pattern, or `undefined` when it is valid. */
export function patternProblem(pattern: unknown): string | undefined {
  const problem = shapeProblem(pattern);
  if (problem !== undefined) return problem;
  const tokens = (pattern as string).split(".");
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === ">" && i !== tokens.length - 1) {
      return `pattern "${pattern}" has ">" before its last token`;
    }
    if (token.length > 1 && (token.includes("*") || token.includes(">"))) {
      return `pattern "${pattern}" has a wildcard inside the token "${token}"`;
    }
  }
  return undefined;
}

function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== "string") {
    return `expected a string, got ${JSON.stringify(value) ?? typeof value}`;
  }
  if (value.length === 0) return "empty topic";
  if (value.length > MAX_TOPIC_LENGTH) return `topic longer than ${MAX_TOPIC_LENGTH} characters`;
  if (value.startsWith("$")) return `"${value}" starts with "$", reserved for the protocol`;
  if (/\s/.test(value)) return `"${value}" contains whitespace`;
  if (value.split(".").includes("")) return `"${value}" has an empty token`;
  return undefined;
}

/** Whether a valid pattern matches a valid topic. */
export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === topic) return true;
  let p = 0;
  let t = 0;
  while (p < pattern.length) {
    if (t >= topic.length) return false;
    const pEnd = tokenEnd(pattern, p);
    const tEnd = tokenEnd(topic, t);
    const wildcard = pEnd - p === 1 ? pattern[p] : "";
    if (wildcard === ">") return true;
    if (
      wildcard !== "*" &&
      (pEnd - p !== tEnd - t || !pattern.startsWith(topic.slice(t, tEnd), p))
    ) {
      return false;
    }
    p = pEnd + 1;
    t = tEnd + 1;
  }
  return t >= topic.length;
}

function tokenEnd(text: string, from: number): number {
  const dot = text.indexOf(".", from);
  return dot === -1 ? text.length : dot;
}

/**
 * A set of patterns with the answer for each topic seen kept, so a
 * publisher repeating its topics pays for matching once per pattern change.
 */
export class PatternSet {
  readonly #patterns = new Set<string>();
  #cache = new Map<string, boolean>();
  #lastTopic?: string;
  #lastAnswer = false;

  get size(): number {
    return this.#patterns.size;
  }

  /** The patterns, in the order they were added. */
  list(): string[] {
    return [...this.#patterns];
  }

  add(pattern: string): void {
    if (this.#patterns.has(pattern)) return;
    this.#patterns.add(pattern);
    this.#forget();
  }

  delete(pattern: string): void {
    if (this.#patterns.delete(pattern)) this.#forget();
  }

  clear(): void {
    this.#patterns.clear();
    this.#forget();
  }

  /** The patterns changed: every answer kept is forgotten. */
  #forget(): void {
    this.#cache = new Map();
    this.#lastTopic = undefined;
  }

  /** Whether any pattern matches `topic`. */
  matches(topic: string): boolean {
    // The topic of the last call first: a stream of events often repeats one.
    if (topic === this.#lastTopic) return this.#lastAnswer;
    let answer = this.#cache.get(topic);
    if (answer === undefined) {
      answer = false;
      for (const pattern of this.#patterns) {
        if (topicMatches(pattern, topic)) {
          answer = true;
          break;
        }
      }
      // Bounded: a publisher inventing topics must not grow it forever.
      if (this.#cache.size >= 1_024) this.#cache = new Map();
      this.#cache.set(topic, answer);
    }
    this.#lastTopic = topic;
    this.#lastAnswer = answer;
    return answer;
  }
}
