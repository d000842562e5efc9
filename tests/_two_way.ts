// Speaking the two-way protocol by hand on a raw socket: `$hello`, and
// reading frames up to a request's final answer.

import assert from "node:assert/strict";
import type { RawPeer } from "./_helpers.ts";

/** A frame as parsed JSON. */
export type Frame = Record<string, unknown>;

/** The next frame; fails the test if the server closed instead. */
export async function receive(peer: RawPeer): Promise<Frame> {
  const frame = await peer.receive();
  assert.ok(frame !== undefined, "the server closed the connection");
  return frame as unknown as Frame;
}

/** Reads frames until the final answer of `id`; returns what came, in order. */
export async function untilAnswer(peer: RawPeer, id: unknown): Promise<Frame[]> {
  const frames: Frame[] = [];
  while (true) {
    const frame = await receive(peer);
    frames.push(frame);
    if ("status" in frame && frame.request_id === id) return frames;
  }
}

/** Says `$hello` asking `features`; returns what the server granted. */
export async function hello(peer: RawPeer, features: unknown[]): Promise<Frame> {
  await peer.send({ type: "$hello", features, request_id: "hello" });
  const answer = await receive(peer);
  assert.equal(answer.status, "ok", JSON.stringify(answer));
  return answer.result as Frame;
}
