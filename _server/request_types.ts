// Declared request types: one handler per value of the payload's `type`
// key, each with a description and a JSON Schema that `$describe` lists.

import { SocketBridgeError } from "../errors.ts";
import type { Handler, RequestInfo } from "./handler_info.ts";
import { isStandardSchema, jsonSchemaOf, type StandardSchemaLike, validate } from "./schema.ts";

/**
 * One declared request type: what it does, the JSON Schema of its payload
 * (listed by `$describe`), and its handler.
 *
 * @typeParam Payload The payload the handler accepts (with its `type` key).
 * @typeParam Result What the handler returns, or yields when it streams.
 *
 * @example A type that doubles a number
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RequestType } from "@socketbridge/core";
 * const double: RequestType<{ n: number }, number> = {
 *   description: "Doubles n",
 *   schema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] },
 *   handler: ({ n }) => n * 2,
 * };
 * assert.ok(double.description === "Doubles n");
 * ```
 */
export interface RequestType<Payload = Record<string, unknown>, Result = unknown> {
  /** One line on what the type does, for people and agents reading `$describe`. */
  description: string;
  /**
   * The payload's schema: a Standard Schema validator (zod, valibot,
   * arktype...), which checks every payload (one it rejects is answered
   * `invalid_payload` with each issue's path and message, and the handler
   * gets the validated value), or a plain JSON Schema object, shown by
   * `$describe` but not enforced.
   */
  schema?: StandardSchemaLike<Payload> | Record<string, unknown>;
  /**
   * The JSON Schema `$describe` shows, when `schema` is a validator that
   * cannot give one itself (Standard JSON Schema).
   */
  jsonSchema?: Record<string, unknown>;
  /**
   * Answers requests of this type. It may refuse a payload with
   * {@linkcode PayloadError} (`invalid_payload`), and return an async
   * iterable to stream its result.
   */
  handler: Handler<Payload, Result>;
}

/**
 * What `$describe` lists for one declared type.
 *
 * @example Reading a description
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TypeDescription } from "@socketbridge/core";
 * const entry: TypeDescription = { type: "echo", description: "Echoes", schema: null };
 * assert.ok(entry.schema === null);
 * ```
 */
export interface TypeDescription {
  /** The value of the payload's `type` key. */
  type: string;
  /** What the type does. */
  description: string;
  /** The JSON Schema of its payload, or `null`. */
  schema: Record<string, unknown> | null;
}

/**
 * A handler made by {@linkcode requestTypes}: it dispatches on `type` and
 * carries the descriptions `$describe` answers with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestTypes, type TypedHandler } from "@socketbridge/core";
 * const handler: TypedHandler = requestTypes({
 *   ping: { description: "Answers pong", handler: () => "pong" },
 * });
 * assert.ok(handler.types[0].type === "ping");
 * ```
 */
export interface TypedHandler<
  // deno-lint-ignore no-explicit-any
  Types extends Record<string, RequestType<any, any>> = Record<string, RequestType<any, any>>,
> extends Handler<Record<string, unknown>, unknown> {
  /** The declared types, in declaration order. */
  readonly types: readonly TypeDescription[];
  /** What any other payload gets, when the handler takes other types too (`otherwise`). */
  readonly otherwise?: { readonly description: string };
  /** Never set: carries the declarations' types, for {@linkcode TypedClient}. */
  readonly declared?: Types;
}

/**
 * What {@linkcode requestTypes} does with a payload whose `type` is none of
 * the declared ones (or that has no `type`).
 *
 * @example Answering the original's way: ok, with the payload echoed
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RequestTypesOptions } from "@socketbridge/core";
 * const options: RequestTypesOptions = {
 *   otherwise: { description: "Echoes any other payload", handler: (payload) => payload },
 * };
 * assert.ok(options.otherwise?.description.startsWith("Echoes"));
 * ```
 */
export interface RequestTypesOptions {
  /**
   * Handles every payload no declared type takes, instead of answering
   * `unknown_type`; `$describe` says that other types are accepted (its
   * `otherwise` key) with this description. What a server migrating from
   * the original needs: its clients send whatever object they like.
   * @default undefined (other types are answered `unknown_type`)
   */
  otherwise?: {
    /** What other payloads get, for people and agents reading `$describe`. */
    description: string;
    /** Answers them. */
    handler: Handler<Record<string, unknown>, unknown>;
  };
}

/**
 * Declares request types: the returned handler calls the one named by the
 * payload's `type` key (the key the original's own messages carry) and
 * answers any other request with `unknown_type`, or with `options.otherwise`.
 * `$describe` lists the types with their descriptions and schemas.
 *
 * @param types Each request type by name.
 * @param options What other payloads get; `unknown_type` by default.
 * @returns A handler to pass to `serve()`.
 * @throws {TypeError} When a name is empty or starts with `$` (reserved for
 * the protocol), or a type has no handler.
 *
 * @example Two types, called and described
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, requestTypes, serve } from "@socketbridge/core";
 * await using server = serve({ port: 0 }, requestTypes({
 *   add: {
 *     description: "Adds a and b",
 *     handler: (payload: { a: number; b: number }) => payload.a + payload.b,
 *   },
 *   ping: { description: "Answers pong", handler: () => "pong" },
 * }));
 * await using client = await connect({ port: server.addr.port });
 * assert.ok(await client.request({ type: "add", a: 2, b: 3 }) === 5);
 * const described = await client.describe();
 * assert.deepEqual(described.map((entry) => entry.type), ["add", "ping"]);
 * ```
 */
// deno-lint-ignore no-explicit-any
export function requestTypes<Types extends Record<string, RequestType<any, any>>>(
  types: Types,
  options: RequestTypesOptions = {},
): TypedHandler<Types> {
  const otherwise = options.otherwise;
  if (otherwise !== undefined && typeof otherwise.handler !== "function") {
    throw new TypeError("Cannot declare request types: otherwise.handler must be a function");
  }
  const handlers = new Map<string, Handler<Record<string, unknown>, unknown>>();
  const descriptions: TypeDescription[] = [];
  for (const [name, spec] of Object.entries(types)) {
    if (name === "" || name.startsWith("$")) {
      throw new TypeError(
        `Cannot declare request type "${name}": names must be non-empty and not start with "$"`,
      );
    }
    if (typeof spec?.handler !== "function") {
      throw new TypeError(`Cannot declare request type "${name}": its handler must be a function`);
    }
    const schema = spec.schema;
    if (isStandardSchema(schema)) {
      const handler = spec.handler;
      handlers.set(name, (payload, info) => {
        const valid = validate(name, schema, payload);
        return valid instanceof Promise
          ? valid.then((value) => handler(value, info))
          : handler(valid, info);
      });
    } else {
      handlers.set(name, spec.handler);
    }
    descriptions.push({
      type: name,
      description: String(spec.description ?? ""),
      schema: spec.jsonSchema ??
        (isStandardSchema(schema)
          ? jsonSchemaOf(schema)
          : schema as Record<string, unknown> | undefined) ??
        null,
    });
  }
  const dispatch = (payload: Record<string, unknown>, info: RequestInfo): unknown => {
    const type = payload.type;
    const handler = typeof type === "string" ? handlers.get(type) : undefined;
    if (handler === undefined) {
      if (otherwise !== undefined) return otherwise.handler(payload, info);
      throw new SocketBridgeError(
        "unknown_type",
        `unknown type: ${typeof type === "string" ? type : JSON.stringify(type) ?? "(none)"}`,
      );
    }
    return handler(payload, info);
  };
  return Object.assign(dispatch, {
    types: Object.freeze(descriptions),
    otherwise: otherwise === undefined
      ? undefined
      : Object.freeze({ description: String(otherwise.description ?? "") }),
  }) as TypedHandler<Types>;
}

/**
 * Declares one request type with its payload and result types inferred
 * from its schema and handler, so that a {@linkcode TypedClient} checks
 * calls against them.
 *
 * @typeParam Payload What the schema's validation outputs (the handler's input).
 * @typeParam Result What the handler returns, or an async iterable it streams.
 * @param spec The description, the Standard Schema validator and the handler.
 * @returns The same declaration, typed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestType, type StandardSchemaLike } from "@socketbridge/core";
 * const numbers: StandardSchemaLike<{ a: number; b: number }> = {
 *   "~standard": { version: 1, vendor: "example", validate: (value) => ({ value: value as { a: number; b: number } }) },
 * };
 * const add = requestType({ description: "Adds", schema: numbers, handler: ({ a, b }) => a + b });
 * assert.ok(add.description === "Adds");
 * ```
 */
export function requestType<Payload, Result>(spec: {
  description: string;
  schema: StandardSchemaLike<Payload>;
  jsonSchema?: Record<string, unknown>;
  handler: Handler<Payload, Result>;
}): RequestType<Payload, Result> {
  return spec;
}

/** What `$describe` answers: the declared types, and whether others are taken. */
export interface Described {
  readonly types: readonly TypeDescription[];
  readonly otherwise?: { readonly description: string };
}

/** What a handler declares, for `$describe`; no types for a plain function. */
export function describedTypes(handler: unknown): Described {
  const { types, otherwise } = handler as Partial<TypedHandler>;
  return {
    types: Array.isArray(types) ? types : [],
    ...(otherwise === undefined ? {} : { otherwise }),
  };
}
