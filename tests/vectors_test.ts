// Runs docs/vectors.json, the test vectors published for implementers,
// against our own server over a real socket.

import assert from "node:assert/strict";
import { encodeFrame } from "../codec.ts";
import { requestTypes, serve, type StandardSchemaLike } from "../server.ts";
import { concat, delay, RawPeer } from "./_helpers.ts";
import { ROOT } from "./_processes.ts";

interface Frame {
  json?: unknown;
  text?: string;
  hex?: string;
}
interface Step {
  send: Frame[];
  delivery?: "whole" | "bytewise" | "merged";
  expect: Record<string, unknown>[];
}
interface Case extends Partial<Step> {
  name: string;
  /** Sends and expects in turns, when the server answers between them (a call back). */
  steps?: Step[];
  closed?: boolean;
}
const vectors = JSON.parse(
  Deno.readTextFileSync(`${ROOT}docs/vectors.json`),
) as {
  server: {
    token: string;
    max_bytes: number;
    tokens: Record<string, { token: string; types: string[]; topics: string[] }>;
  };
  cases: Case[];
};

/** The vectors' "strict" type: a payload must carry a number `n`. */
const NEEDS_NUMBER_N: StandardSchemaLike<{ n: number }> = {
  "~standard": {
    version: 1,
    vendor: "vectors",
    validate: (value) =>
      typeof (value as { n?: unknown }).n === "number"
        ? { value: value as { n: number } }
        : { issues: [{ message: "must be a number", path: ["n"] }] },
  },
};

function bytesOf(frame: Frame): Uint8Array {
  if (frame.hex !== undefined) {
    return Uint8Array.from(
      frame.hex.match(/../g) ?? [],
      (byte) => parseInt(byte, 16),
    );
  }
  const text = frame.text ?? JSON.stringify(frame.json);
  return encodeFrame(new TextEncoder().encode(text));
}

Deno.test("docs/vectors.json: every case holds against our server", async (t) => {
  await using server = serve(
    {
      port: 0,
      token: vectors.server.token,
      tokens: vectors.server.tokens,
      maxBytes: vectors.server.max_bytes,
    },
    requestTypes({
      strict: {
        description: "Needs a number n",
        schema: NEEDS_NUMBER_N,
        handler: (payload) => payload,
      },
      ask: {
        description: "Asks its caller",
        handler: (payload: { question?: unknown }, info) =>
          info.call({ question: payload.question }),
      },
    }, { otherwise: { description: "Echoes", handler: (payload) => payload } }),
  );
  assert.ok(vectors.cases.length >= 20);
  for (const vector of vectors.cases) {
    await t.step(vector.name, async () => {
      await using peer = await RawPeer.connect(server.addr.port);
      const steps = vector.steps ?? [vector as Step];
      for (const step of steps) {
        const frames = step.send.map(bytesOf);
        if (step.delivery === "merged") {
          await peer.write(concat(frames));
        } else if (step.delivery === "bytewise") {
          for (const byte of concat(frames)) {
            await peer.write(Uint8Array.of(byte));
            await delay(0);
          }
        } else {
          for (const frame of frames) await peer.write(frame);
        }
        for (const expected of step.expect) {
          assert.deepEqual(await peer.receive(), expected);
        }
      }
      if (vector.closed) assert.ok(await peer.closedByServer());
    });
  }
});
