// Payload validation through the Standard Schema interface (the `~standard`
// property zod, valibot and arktype implement), and JSON Schema through
// Standard JSON Schema. Only the shape we call is declared here; the core
// depends on no validator. Pure: no Deno APIs.

import { PayloadError } from "../errors.ts";

/**
 * A validator that follows the Standard Schema interface
 * (https://standardschema.dev): zod, valibot, arktype and others. Only the
 * members SocketBridge calls are listed.
 *
 * @typeParam Output What a valid payload becomes (the handler's input).
 *
 * @example A hand-made validator (any Standard Schema library's schema works the same)
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StandardSchemaLike } from "@socketbridge/core";
 * const positive: StandardSchemaLike<{ n: number }> = {
 *   "~standard": {
 *     version: 1,
 *     vendor: "example",
 *     validate: (value) =>
 *       typeof (value as { n?: unknown }).n === "number" && (value as { n: number }).n > 0
 *         ? { value: value as { n: number } }
 *         : { issues: [{ message: "must be a positive number", path: ["n"] }] },
 *   },
 * };
 * assert.ok(positive["~standard"].vendor === "example");
 * ```
 */
export interface StandardSchemaLike<Output = unknown> {
  /** The Standard Schema properties. */
  readonly "~standard": {
    /** The version of the standard: 1. */
    readonly version: 1;
    /** The library's name. */
    readonly vendor: string;
    /** Validates a value: the (possibly transformed) value, or the issues. */
    readonly validate: (
      value: unknown,
    ) => SchemaResult<Output> | Promise<SchemaResult<Output>>;
    /** Standard JSON Schema support, when the library has it. */
    readonly jsonSchema?: {
      /** The JSON Schema of what the validator accepts. */
      readonly input: (options: { target: string }) => Record<string, unknown>;
    };
  };
}

/**
 * What a Standard Schema validator answers.
 *
 * @typeParam Output The valid value's type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SchemaResult } from "@socketbridge/core";
 * const failed: SchemaResult<number> = { issues: [{ message: "not a number" }] };
 * assert.ok(failed.issues?.length === 1);
 * ```
 */
export type SchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
    readonly issues: ReadonlyArray<{
      readonly message: string;
      readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
    }>;
  };

/** Whether a value is a Standard Schema validator (rather than a plain JSON Schema). */
export function isStandardSchema(value: unknown): value is StandardSchemaLike {
  const standard = (value as { "~standard"?: { validate?: unknown } } | null)?.["~standard"];
  return typeof standard?.validate === "function";
}

/**
 * The JSON Schema a validator describes itself with (draft 2020-12), or
 * undefined when it cannot.
 */
export function jsonSchemaOf(schema: StandardSchemaLike): Record<string, unknown> | undefined {
  try {
    return schema["~standard"].jsonSchema?.input({ target: "draft-2020-12" });
  } catch {
    // A library that cannot express this schema in JSON Schema: described without one.
    return undefined;
  }
}

/**
 * Validates `payload` for the request type `type`: resolves (or returns)
 * the validated value.
 *
 * @throws {PayloadError} Listing each issue's path and message.
 * @throws {Error} When the validator itself throws (a server bug, not the caller's).
 */
export function validate<Output>(
  type: string,
  schema: StandardSchemaLike<Output>,
  payload: unknown,
): Output | Promise<Output> {
  let result: SchemaResult<Output> | Promise<SchemaResult<Output>>;
  try {
    result = schema["~standard"].validate(payload);
  } catch (error) {
    throw schemaFailed(type, error);
  }
  if (result instanceof Promise) {
    return result.then((settled) => valueOf(settled), (error) => {
      throw schemaFailed(type, error);
    });
  }
  return valueOf(result);
}

function valueOf<Output>(result: SchemaResult<Output>): Output {
  if (result.issues === undefined) return result.value;
  const issues = result.issues.map((issue) => ({
    path: (issue.path ?? []).map((part) => keyOf(typeof part === "object" ? part.key : part)),
    message: String(issue.message),
  }));
  const problems = issues.map(({ path, message }) =>
    path.length === 0 ? message : `${path.join(".")}: ${message}`
  );
  throw new PayloadError(problems.join("; ") || "rejected by its schema", {
    issues: issues.length > 0 ? issues : undefined,
  });
}

/** A path segment as JSON can carry it: an index stays a number, any other key a string. */
function keyOf(key: unknown): string | number {
  return typeof key === "number" ? key : String(key);
}

function schemaFailed(type: string, error: unknown): Error {
  return new Error(
    `the schema of "${type}" threw: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
