// Calls back to the caller (protocol D3): a handler asks the client that
// made its request; the client answers with onCall, or the call fails.

import assert from "node:assert/strict";
import {
  ApplicationError,
  type CallContext,
  connect,
  type RemoteError,
  type RequestInfo,
  requestTypes,
  serve,
} from "../mod.ts";
import { delay, portOf, RawPeer } from "./_helpers.ts";

async function failure(request: Promise<unknown>): Promise<RemoteError> {
  try {
    await request;
  } catch (error) {
    return error as RemoteError;
  }
  throw new Error("the request did not fail");
}

function askServer() {
  const outcomes: string[] = [];
  const server = serve(
    { port: 0 },
    requestTypes({
      ask: {
        description: "Asks its caller",
        handler: async (payload: { question: string; timeout?: number }, info: RequestInfo) => {
          try {
            return await info.call({ question: payload.question }, { timeout: payload.timeout });
          } catch (error) {
            const e = error as Error & { code?: string };
            outcomes.push(`${e.name}:${e.code ?? ""}`);
            throw error;
          }
        },
      },
      echo: { description: "Echoes", handler: (payload: Record<string, unknown>) => payload },
    }),
  );
  return { server, outcomes };
}

Deno.test("a handler calls its caller back and gets the answer; another connection's client is not asked", async () => {
  const { server, outcomes } = askServer();
  await using _server = server;
  const asked: unknown[] = [];
  await using client = await connect({
    port: portOf(server),
    onCall: (payload: unknown, { requestId }: CallContext) => {
      asked.push([payload, typeof requestId]);
      return `yes to ${(payload as { question: string }).question}`;
    },
  });
  assert.equal(await client.request({ type: "ask", question: "deploy?" }), "yes to deploy?");
  assert.deepEqual(asked, [[{ question: "deploy?" }, "number"]]);
  // A client without onCall is never asked: the call fails at once.
  await using plain = await connect({ port: portOf(server) });
  const refused = await failure(plain.request({ type: "ask", question: "x" }));
  assert.equal(refused.code, "handler_error");
  assert.match(refused.message, /did not ask for calls/);
  assert.deepEqual(outcomes, ["ProtocolError:protocol_error"]);
});

Deno.test("a client that never answers: the call times out, the request still gets one answer, onCall hears the cancel", async () => {
  const { server, outcomes } = askServer();
  await using _server = server;
  const aborted: unknown[] = [];
  await using client = await connect({
    port: portOf(server),
    onCall: (_payload, { signal }) =>
      new Promise((resolve) => {
        signal.addEventListener("abort", () => {
          aborted.push(signal.reason);
          resolve("too late");
        });
      }),
  });
  const answer = await failure(client.request({ type: "ask", question: "?", timeout: 100 }));
  assert.equal(answer.code, "handler_error");
  assert.match(answer.message, /timed out after 100 ms/);
  assert.deepEqual(outcomes, ["TimeoutError:timeout"]);
  for (let i = 0; i < 50 && aborted.length === 0; i++) await delay(10);
  assert.equal(aborted.length, 1);
  // The connection goes on: the late reply was dropped, another request is answered.
  assert.deepEqual(await client.request({ type: "echo", after: 1 }), { type: "echo", after: 1 });
});

Deno.test("an error reply carries its code; a $reply for a call never made or already ended is not accepted", async () => {
  const { server, outcomes } = askServer();
  await using _server = server;
  await using client = await connect({
    port: portOf(server),
    onCall: () => {
      throw new ApplicationError("denied", "the operator said no", { by: "ops" });
    },
  });
  const denied = await failure(client.request({ type: "ask", question: "?" }));
  assert.match(denied.message, /the operator said no/);
  assert.deepEqual(outcomes, ["RemoteError:denied"]);
  await using peer = await RawPeer.connect(portOf(server));
  await peer.call({ type: "$hello", features: ["calls"] });
  for (const callId of [1, 99]) {
    const reply = await peer.call({ type: "$reply", call_id: callId, status: "ok", result: 1 });
    assert.deepEqual(reply?.result, { accepted: false });
  }
  const bad = await peer.call({ type: "$reply", call_id: -1, status: "ok" });
  assert.equal(bad?.code, "invalid_message");
});

Deno.test("calls and requests interleave: a waiting call blocks no request, and onCall may itself make requests", async () => {
  const { server } = askServer();
  await using _server = server;
  const gate = Promise.withResolvers<void>();
  const client: Awaited<ReturnType<typeof connect>> = await connect({
    port: portOf(server),
    onCall: async (payload) => {
      // A request of its own, on the very client that is being called.
      const echoed = await client.request({ type: "echo", inner: payload });
      await gate.promise;
      return echoed;
    },
  });
  try {
    const asking = client.request({ type: "ask", question: "q" });
    // Meanwhile the same client's other requests are answered.
    for (let n = 0; n < 5; n++) {
      assert.deepEqual(await client.request({ type: "echo", n }), { type: "echo", n });
    }
    gate.resolve();
    assert.deepEqual(await asking, { type: "echo", inner: { question: "q" } });
  } finally {
    await client.close();
  }
});
