// The protocol's control requests: `type` values starting with `$`. Pure:
// the connection's state is reached through a ControlPeer; no Deno APIs.

import { type RequestId, SERVER_NAME, type StatsReport } from "../protocol.ts";
import { parseRequest, Refusal } from "../_wire/envelope.ts";
import type { Described } from "./request_types.ts";
import { patternProblem } from "../_wire/topics.ts";
import { type Caller, OWNER } from "../_wire/scopes.ts";
import type { Reply } from "./calls.ts";

/** Patterns one connection may hold: each costs the server memory and matching. */
export const MAX_PATTERNS = 1_024;

/** The features a connection may opt into with `$hello`. */
export const FEATURES: readonly string[] = ["chunks", "events", "calls"];

/** What a control request may read or change on its connection. */
export interface ControlPeer {
  readonly maxBytes: number;
  /** Grants those of `asked` the server has; undefined when `$hello` was already said. */
  grant(asked: readonly string[]): string[] | undefined;
  hasFeature(feature: string): boolean;
  /** Aborts a request still running; false when none has that id. */
  cancel(target: RequestId): boolean;
  subscribe(patterns: readonly string[]): string[];
  /** Patterns the connection holds now. */
  patternCount(): number;
  unsubscribe(patterns: readonly string[]): string[];
  describe(): Described;
  /** A `$reply` to a call back: true if it ended a call still open. */
  reply(callId: number, reply: Reply): boolean;
  /** `$stats`'s answer (D4), with the types `include` keeps. */
  stats(include: (type: string) => boolean): StatsReport;
}

/** Whether a payload is a control request (its `type` starts with `$`). */
export function isControl(payload: Record<string, unknown>): boolean {
  const type = payload.type;
  return typeof type === "string" && type.charCodeAt(0) === 36;
}

/**
 * Runs one control request and returns its `result`.
 *
 * @throws {Refusal} For a malformed control request or an unknown `$` type.
 */
export function runControl(
  payload: Record<string, unknown>,
  requestId: RequestId | undefined,
  peer: ControlPeer,
  caller: Caller = OWNER,
): unknown {
  const type = payload.type as string;
  switch (type) {
    case "$hello": {
      const granted = peer.grant(stringArray(payload, "features", requestId));
      if (granted === undefined) {
        throw invalid(requestId, "$hello was already said on this connection");
      }
      return { features: granted, max_bytes: peer.maxBytes, server: SERVER_NAME };
    }
    case "$cancel": {
      const target = payload.target;
      if (
        typeof target !== "string" && !(typeof target === "number" && Number.isSafeInteger(target))
      ) {
        throw invalid(requestId, "$cancel needs target: the request_id of an earlier request");
      }
      return { cancelled: peer.cancel(target) };
    }
    case "$subscribe":
    case "$unsubscribe": {
      if (!peer.hasFeature("events")) {
        throw invalid(requestId, `${type} needs the "events" feature: say $hello first`);
      }
      const topics = stringArray(payload, "topics", requestId);
      for (const pattern of topics) {
        const problem = patternProblem(pattern);
        if (problem !== undefined) throw invalid(requestId, problem);
      }
      // A scoped token subscribes only within its patterns; none is added if one is out.
      const outside = type === "$subscribe"
        ? topics.find((pattern) => caller.scope?.allowsPattern(pattern) === false)
        : undefined;
      if (outside !== undefined) {
        throw new Refusal("forbidden", requestId, `forbidden: ${outside}`);
      }
      if (type === "$subscribe" && peer.patternCount() + topics.length > MAX_PATTERNS) {
        throw invalid(requestId, `at most ${MAX_PATTERNS} topic patterns per connection`);
      }
      const now = type === "$subscribe" ? peer.subscribe(topics) : peer.unsubscribe(topics);
      return { topics: now };
    }
    case "$stats": {
      const scope = caller.scope;
      return peer.stats(scope === undefined ? () => true : (type) => scope.allowsType(type));
    }
    case "$reply": {
      const callId = payload.call_id;
      if (typeof callId !== "number" || !Number.isSafeInteger(callId) || callId < 1) {
        throw invalid(requestId, "$reply needs call_id: the positive integer of a call");
      }
      if (payload.status === "ok") {
        return { accepted: peer.reply(callId, { status: "ok", result: payload.result }) };
      }
      if (payload.status === "error" && typeof payload.code === "string") {
        const message = typeof payload.message === "string" ? payload.message : payload.code;
        const reply = { status: "error" as const, code: payload.code, message, data: payload.data };
        return { accepted: peer.reply(callId, reply) };
      }
      throw invalid(requestId, '$reply needs status "ok" (with result) or "error" (with code)');
    }
    case "$describe": {
      const described = peer.describe();
      const scope = caller.scope;
      // A scoped token sees only the types it may call.
      return scope === undefined
        ? described
        : { ...described, types: described.types.filter((entry) => scope.allowsType(entry.type)) };
    }
    default:
      throw new Refusal("unknown_type", requestId, `unknown type: ${type}`);
  }
}

function stringArray(
  payload: Record<string, unknown>,
  key: string,
  requestId: RequestId | undefined,
): string[] {
  const value = payload[key];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw invalid(requestId, `${payload.type} needs ${key}: an array of strings`);
  }
  return value;
}

function invalid(requestId: RequestId | undefined, problem: string): Refusal {
  return new Refusal("invalid_message", requestId, `invalid message: ${problem}`);
}

const CANCEL_MARK = new TextEncoder().encode('"$cancel"');
const MAX_CANCEL_FRAME = 1_024;

/**
 * Whether a frame is a `$cancel` with an id: found by its bytes first (no
 * parse for the frames that are not), then confirmed by parsing it.
 */
export function isCancelWithId(body: Uint8Array): boolean {
  if (body.length > MAX_CANCEL_FRAME) return false;
  const first = CANCEL_MARK[0];
  let found = false;
  for (let i = body.indexOf(first); i !== -1 && !found; i = body.indexOf(first, i + 1)) {
    found = CANCEL_MARK.every((byte, k) => body[i + k] === byte);
  }
  if (!found) return false;
  const message = parseRequest(body);
  return !(message instanceof Refusal) && message.type === "$cancel" &&
    message.request_id !== undefined && message.request_id !== null;
}
