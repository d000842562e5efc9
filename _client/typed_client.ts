// End-to-end types: a client checked by the compiler against the request
// types a server declares, imported as a type only (as tRPC's AppRouter is).

import type { Client, RequestOptions } from "./options.ts";
import type { ResultStream } from "./result_stream.ts";
import type { RequestType, TypedHandler } from "../_server/request_types.ts";

/**
 * The declarations a handler type carries: what {@linkcode TypedClient}
 * checks calls against.
 *
 * @typeParam Handler `typeof handler` of a server made with `requestTypes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DeclaredTypes, requestTypes } from "@socketbridge/core";
 * const handler = requestTypes({ ping: { description: "", handler: () => "pong" } });
 * const names: (keyof DeclaredTypes<typeof handler>)[] = ["ping"];
 * assert.ok(names.length === 1);
 * ```
 */
export type DeclaredTypes<Handler> = Handler extends TypedHandler<infer Types> ? Types
  : Record<string, RequestType<unknown, unknown>>;

/** The payload a caller sends for a declared type (its `type` key is filled in). */
export type PayloadOf<Declaration> = Declaration extends RequestType<infer Payload, unknown>
  ? Omit<Payload, "type">
  : Record<string, unknown>;

/** The value a streaming handler returns when it ends (`undefined` when it returns nothing). */
export type FinalOf<Iterable> = Iterable extends AsyncGenerator<unknown, infer Final, unknown>
  ? Final
  : undefined;

/** What a call resolves with: the handler's (awaited) result, or its final value when it streams. */
export type ResultOf<Declaration> = Declaration extends RequestType<infer _Payload, infer Result>
  ? Awaited<Result> extends AsyncIterable<unknown> ? FinalOf<Awaited<Result>> : Awaited<Result>
  : unknown;

/** The items a streaming type yields. */
export type ChunkOf<Declaration> = Declaration extends RequestType<infer _Payload, infer Result>
  ? Awaited<Result> extends AsyncIterable<infer Chunk> ? Chunk : never
  : unknown;

/**
 * A client typed by a server's declarations: `call` and `stream` take the
 * type's name and its payload, checked by the compiler, and give the
 * result's type back. Made by {@linkcode typedClient}.
 *
 * @typeParam Handler The server's handler type (`typeof handler`, imported as a type).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, requestTypes, serve, typedClient } from "@socketbridge/core";
 * const handler = requestTypes({
 *   double: { description: "Doubles n", handler: ({ n }: { type: string; n: number }) => n * 2 },
 * });
 * await using server = serve({ port: 0 }, handler);
 * await using client = await connect({ port: server.addr.port });
 * const typed = typedClient<typeof handler>(client);
 * const four: number = await typed.call("double", { n: 2 });
 * assert.ok(four === 4);
 * ```
 */
export interface TypedClient<Handler> {
  /** The client underneath. */
  readonly client: Client;
  /**
   * Sends a request of a declared type and resolves with its result.
   *
   * @param type The declared type's name.
   * @param payload Its payload, without `type`.
   * @param options A signal and a timeout.
   */
  call<Name extends keyof DeclaredTypes<Handler> & string>(
    type: Name,
    payload: PayloadOf<DeclaredTypes<Handler>[Name]>,
    options?: RequestOptions,
  ): Promise<ResultOf<DeclaredTypes<Handler>[Name]>>;
  /**
   * Streams a request of a declared type.
   *
   * @param type The declared type's name.
   * @param payload Its payload, without `type`.
   * @param options A signal and a timeout.
   */
  stream<Name extends keyof DeclaredTypes<Handler> & string>(
    type: Name,
    payload: PayloadOf<DeclaredTypes<Handler>[Name]>,
    options?: RequestOptions,
  ): ResultStream<ChunkOf<DeclaredTypes<Handler>[Name]>, ResultOf<DeclaredTypes<Handler>[Name]>>;
}

/**
 * Wraps a client so that calls are checked against a server's declared
 * types; nothing changes on the wire.
 *
 * @typeParam Handler `typeof handler` of the server (a type-only import).
 * @param client A connected client.
 * @returns The typed view of `client`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, requestTypes, serve, typedClient } from "@socketbridge/core";
 * const handler = requestTypes({
 *   count: {
 *     description: "Streams 1..n",
 *     handler: async function* ({ n }: { type: string; n: number }) {
 *       for (let i = 1; i <= n; i++) yield i;
 *       return "done" as const;
 *     },
 *   },
 * });
 * await using server = serve({ port: 0 }, handler);
 * await using client = await connect({ port: server.addr.port });
 * const stream = typedClient<typeof handler>(client).stream("count", { n: 2 });
 * const seen: number[] = [];
 * for await (const n of stream) seen.push(n);
 * assert.deepEqual(seen, [1, 2]);
 * ```
 */
export function typedClient<Handler>(client: Client): TypedClient<Handler> {
  return {
    client,
    call: (type, payload, options) =>
      client.request({ ...payload, type } as Record<string, unknown>, options) as Promise<never>,
    stream: (type, payload, options) =>
      client.stream({ ...payload, type } as Record<string, unknown>, options) as never,
  };
}
