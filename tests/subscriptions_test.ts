// Subscriptions and events on the server, seen from raw sockets: patterns
// refused or listed, publish() to each matching connection in order, a slow
// subscriber told what it lost, and the bound on patterns per connection.

import assert from "node:assert/strict";
import { connect, serve } from "../mod.ts";
import { delay, portOf, RawPeer } from "./_helpers.ts";
import { hello, receive } from "./_two_way.ts";

Deno.test("subscriptions: need events, refuse bad patterns, list what is subscribed", async () => {
  await using server = serve({ port: 0 }, () => "ok");
  await using peer = await RawPeer.connect(portOf(server));
  const early = await peer.call({ type: "$subscribe", topics: ["a"], request_id: 1 });
  assert.equal(early?.code, "invalid_message");
  assert.match(String(early?.message), /needs the "events" feature/);
  await hello(peer, ["events"]);
  const bad = await peer.call({ type: "$subscribe", topics: ["a.>.b"], request_id: 2 });
  assert.equal(bad?.code, "invalid_message");
  assert.match(String(bad?.message), /">" before its last token/);
  const one = await peer.call({ type: "$subscribe", topics: ["a.*", "b.>"], request_id: 3 });
  assert.deepEqual(one?.result, { topics: ["a.*", "b.>"] });
  const two = await peer.call({ type: "$unsubscribe", topics: ["a.*", "never"], request_id: 4 });
  assert.deepEqual(two?.result, { topics: ["b.>"] });
});

Deno.test("publish(): once per matching connection, in publish order, never to others", async () => {
  await using server = serve({ port: 0 }, () => "ok");
  await using a = await RawPeer.connect(portOf(server));
  await using b = await RawPeer.connect(portOf(server));
  for (const [peer, topics] of [[a, ["jobs.*", "jobs.>"]], [b, ["logs.>"]]] as const) {
    await hello(peer, ["events"]);
    await peer.call({ type: "$subscribe", topics, request_id: 1 });
  }
  assert.equal(server.publish("jobs.build", { n: 1 }), 1);
  assert.equal(server.publish("logs.app.err", "boom"), 1);
  assert.equal(server.publish("jobs.test", { n: 2 }), 1);
  assert.equal(server.publish("other", 0), 0);
  assert.throws(() => server.publish("jobs.*", 1), TypeError);
  assert.deepEqual([await receive(a), await receive(a)], [
    { event: "jobs.build", data: { n: 1 }, protocol_version: "1" },
    { event: "jobs.test", data: { n: 2 }, protocol_version: "1" },
  ]);
  assert.deepEqual(await receive(b), {
    event: "logs.app.err",
    data: "boom",
    protocol_version: "1",
  });
  assert.deepEqual(server.stats().events, { published: 4, delivered: 3, dropped: 0 });
});

Deno.test("a slow subscriber loses events, counted, and is told with $dropped before the next", async () => {
  await using server = serve({ port: 0, maxOutboundBytes: 16_384 }, () => "ok");
  await using slow = await RawPeer.connect(portOf(server));
  await using fast = await RawPeer.connect(portOf(server));
  for (const peer of [slow, fast]) {
    await hello(peer, ["events"]);
    await peer.call({ type: "$subscribe", topics: ["t"], request_id: 1 });
  }
  // The slow peer reads nothing while 40 MB are published: its queue fills.
  const data = "y".repeat(4_000);
  // Every event either arrives or is counted in a $dropped, for both peers.
  const account = async (peer: RawPeer) => {
    let events = 0;
    let told = 0;
    while (true) {
      const frame = await receive(peer);
      if (frame.event === "$dropped") told += (frame.data as { count: number }).count;
      else if (frame.data === "after") return { events, told };
      else events++;
    }
  };
  const fastAccount = account(fast);
  for (let i = 0; i < 10_000; i++) {
    server.publish("t", data);
    if (i % 100 === 0) await delay(0);
  }
  assert.ok(server.stats().events.dropped > 0, "the slow subscriber lost events");
  server.publish("t", "last");
  await delay(50);
  server.publish("t", "after");
  // The slow peer reads now: what was queued, a $dropped, then what came after.
  const slowSeen = await account(slow);
  assert.equal(slowSeen.events + slowSeen.told, 10_001, JSON.stringify(slowSeen));
  assert.ok(slowSeen.told > 0);
  const fastSeen = await fastAccount;
  assert.equal(fastSeen.events + fastSeen.told, 10_001, JSON.stringify(fastSeen));
  assert.equal(server.stats().events.dropped, slowSeen.told + fastSeen.told);
});

Deno.test("a connection holds at most 1,024 topic patterns; past it, invalid_message and nothing added", async () => {
  await using server = serve({ port: 0 }, () => "ok");
  await using peer = await RawPeer.connect(portOf(server));
  await hello(peer, ["events"]);
  const many = Array.from({ length: 1_000 }, (_, i) => `t.${i}`);
  const first = await peer.call({ type: "$subscribe", topics: many, request_id: 1 });
  assert.equal((first?.result as { topics: string[] }).topics.length, 1_000);
  const more = Array.from({ length: 25 }, (_, i) => `u.${i}`);
  const refused = await peer.call({ type: "$subscribe", topics: more, request_id: 2 });
  assert.equal(refused?.code, "invalid_message");
  assert.match(String(refused?.message), /at most 1024 topic patterns per connection/);
  assert.equal(server.publish("u.1", 1), 0, "none of the refused patterns was added");
  assert.equal(server.publish("t.1", 1), 1);
  assert.deepEqual(await receive(peer), { event: "t.1", data: 1, protocol_version: "1" });
});

Deno.test("subscribers that never read lose events to the memory budget, never their connections", async () => {
  const limit = 2 * 2 ** 20;
  const closings: string[] = [];
  await using server = serve({
    port: 0,
    maxBufferedBytes: limit,
    onError: (error) => closings.push((error as Error).message),
  }, () => "ok");
  // Twelve subscribers whose outbound bounds (4 MiB each by default) add up to 24 times the budget.
  const sleepers = await Promise.all(
    Array.from({ length: 12 }, () => RawPeer.connect(portOf(server))),
  );
  for (const peer of sleepers) {
    await hello(peer, ["events"]);
    await peer.call({ type: "$subscribe", topics: ["t"], request_id: 1 });
  }
  await using client = await connect({ port: portOf(server) });
  // 600 KB for each: 7 MB in all, three and a half times the budget.
  const data = "z".repeat(4_000);
  const published = 150;
  for (let i = 0; i < published; i++) {
    server.publish("t", data);
    if (i % 50 === 0) await delay(0);
  }
  const { memory, events, connections } = server.stats();
  assert.equal(memory.evicted, 0, closings.join("\n"));
  assert.ok(memory.buffered <= limit, `${memory.buffered} bytes held`);
  assert.ok(events.dropped > 0, "no event was dropped");
  assert.equal(connections.open, 13);
  assert.equal(await client.request({ n: 1 }), "ok");
  // Each sleeper, reading at last, gets what was queued, then the count of what it lost.
  server.publish("t", "after");
  for (const peer of sleepers) {
    let told = 0;
    let seen = 0;
    for (let frame = await receive(peer); frame.data !== "after"; frame = await receive(peer)) {
      if (frame.event === "$dropped") told += (frame.data as { count: number }).count;
      else seen++;
    }
    assert.equal(seen + told, published, `${seen} + ${told}`);
  }
  for (const peer of sleepers) peer.close();
});
