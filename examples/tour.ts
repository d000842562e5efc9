/**
 * The request types of the example server, a tour of what SocketBridge
 * does: `echo` (a plain answer), `count` (a streamed result), `sleep`
 * (cancellation), `tick` (a counter: retries with idempotency keys), `ask`
 * (a call back to the caller), `publish` (events to subscribers). `$describe` lists them
 * with their JSON Schemas. Any other payload is answered as the original
 * SocketBridge server answers every message: `ok`, `received`, with the
 * payload echoed as `result`, so the tour server is a drop-in for it.
 *
 * @module
 */

import {
  ApplicationError,
  PayloadError,
  type RequestInfo,
  requestTypes,
  type TypedHandler,
} from "../mod.ts";

/** The most numbers one `count` request streams. */
export const MAX_COUNT = 10_000;

/** Makes the tour's handler; `publish` sends an event to the server's subscribers. */
export function tourTypes(publish: (topic: string, data: unknown) => number): TypedHandler {
  // The server's counter: with an idempotency key, a retried tick counts once.
  let ticks = 0;
  return requestTypes({
    echo: {
      description: "Answers with the request's payload as its result.",
      schema: { type: "object", properties: { type: { const: "echo" } } },
      handler: (payload: Record<string, unknown>) => payload,
    },
    count: {
      description:
        `Streams the numbers 1 to n (at most ${MAX_COUNT}), each a chunk; the result is "done".`,
      schema: {
        type: "object",
        properties: { n: { type: "integer", minimum: 0, maximum: MAX_COUNT } },
        required: ["n"],
      },
      handler: (payload: { n?: unknown }) => {
        const n = payload.n;
        if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_COUNT) {
          throw new PayloadError(`n must be a whole number from 0 to ${MAX_COUNT}`);
        }
        return countTo(n);
      },
    },
    sleep: {
      description: 'Answers "slept" after ms milliseconds; stops early when cancelled.',
      schema: {
        type: "object",
        properties: { ms: { type: "number", minimum: 0 } },
        required: ["ms"],
      },
      handler: (payload: { ms?: unknown }, { signal }: RequestInfo) => {
        const ms = payload.ms;
        if (typeof ms !== "number" || !(ms >= 0) || !Number.isFinite(ms)) {
          throw new PayloadError("ms must be a non-negative number");
        }
        return sleep(ms, signal);
      },
    },
    tick: {
      description:
        "Adds one to a counter kept by the server and returns the new value (send it with an idempotency_key to see a retry counted once).",
      schema: { type: "object" },
      handler: () => ++ticks,
    },
    ask: {
      description:
        'Calls its caller back with {"question": question} and returns the caller\'s answer; needs a client that answers calls.',
      schema: {
        type: "object",
        properties: { question: { type: "string" } },
        required: ["question"],
      },
      handler: async (payload: { question?: unknown }, info: RequestInfo) => {
        if (typeof payload.question !== "string") {
          throw new PayloadError("question must be a string");
        }
        try {
          return await info.call({ question: payload.question }, { timeout: 60_000 });
        } catch (error) {
          throw new ApplicationError(
            "not_answered",
            `the caller did not answer: ${error instanceof Error ? error.message : error}`,
          );
        }
      },
    },
    publish: {
      description:
        "Publishes data on topic to every subscriber; the result is how many connections it reached.",
      schema: {
        type: "object",
        properties: { topic: { type: "string" }, data: {} },
        required: ["topic"],
      },
      handler: (payload: { topic?: unknown; data?: unknown }) => {
        if (typeof payload.topic !== "string") throw new PayloadError("topic must be a string");
        try {
          return publish(payload.topic, payload.data ?? null);
        } catch (error) {
          throw new PayloadError(error instanceof Error ? error.message : String(error));
        }
      },
    },
  }, {
    otherwise: {
      description:
        "Any other payload, with or without a type, is answered ok with the payload as its result, " +
        "as the original SocketBridge server answers every message.",
      handler: (payload) => payload,
    },
  });
}

async function* countTo(n: number): AsyncGenerator<number, string> {
  for (let i = 1; i <= n; i++) yield i;
  return "done";
}

function sleep(ms: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve("slept");
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
