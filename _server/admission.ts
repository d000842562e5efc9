// What a request must pass once its envelope is open: its caller's scope
// (protocol D1); and the type it is counted under in `$stats`. Pure: no Deno APIs.

import { type Envelope, Refusal } from "../_wire/envelope.ts";
import { isControl } from "./control.ts";

/** A refusal when the caller's token may not call the request's type (control types aside). */
export function forbiddenType({ payload, caller, requestId }: Envelope): Refusal | undefined {
  const scope = caller.scope;
  if (scope === undefined || isControl(payload)) return undefined;
  const type = typeOf(payload);
  if (scope.allowsType(type)) return undefined;
  return new Refusal("forbidden", requestId, `forbidden: ${type}`);
}

/** The payload's type as `$stats` counts it: "" for none. */
export function typeOf(payload: Record<string, unknown>): string {
  return typeof payload.type === "string" ? payload.type : "";
}
