// Each row's server and client: SocketBridge, the floor, Deno.serve + fetch,
// vscode-jsonrpc and NATS, and the client loop that measures a scenario.

import * as net from "node:net";
import { connect, send, serve } from "../mod.ts";
import {
  type Kind,
  LARGE_BYTES,
  LARGE_REQUEST,
  REPLY,
  REQUEST,
  type Result,
  type Scenario,
  shapeOf,
} from "./_common.ts";
import { floorClient, floorServer } from "./_floor.ts";
import { quantile } from "./_report.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs `kind`'s server; `ready` gets its port. */
export async function runServer(
  kind: Kind,
  ready: (port: number) => void,
): Promise<void> {
  switch (kind) {
    case "socketbridge":
    case "socketbridge-send": {
      const server = serve(
        {
          port: 0,
          maxBytes: 2 * LARGE_BYTES,
          maxInFlight: 1024,
          authTimeout: 0,
        },
        () => REPLY,
      );
      ready(server.addr.port);
      await server.finished;
      return;
    }
    case "floor-json":
    case "floor-raw":
      return floorServer(kind === "floor-json", REPLY, ready);
    case "deno-serve": {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        async (req) => {
          await req.json();
          return Response.json(REPLY);
        },
      );
      ready(server.addr.port);
      await server.finished;
      return;
    }
    case "vscode-jsonrpc": {
      const rpc = await import("vscode-jsonrpc/node.js");
      const server = net.createServer((socket) => {
        socket.setNoDelay(true);
        const connection = rpc.createMessageConnection(
          new rpc.StreamMessageReader(socket),
          new rpc.StreamMessageWriter(socket),
        );
        connection.onRequest("bench", () => REPLY);
        connection.listen();
      });
      server.listen(
        0,
        "127.0.0.1",
        () => ready((server.address() as net.AddressInfo).port),
      );
      await new Promise(() => {});
      return;
    }
    case "nats": {
      const { connect: natsConnect } = await import("nats");
      const port = Number(Deno.args[2]);
      const nc = await natsConnect({ servers: `127.0.0.1:${port}` });
      nc.subscribe("bench", {
        callback: (_err, msg) => {
          JSON.parse(decoder.decode(msg.data));
          msg.respond(encoder.encode(JSON.stringify(REPLY)));
        },
      });
      await nc.flush();
      ready(port);
      await nc.closed();
      return;
    }
  }
}

/** A caller: sends one request, resolves when its answer is in. */
interface Channel {
  call(large: boolean): Promise<unknown>;
  close(): Promise<void> | void;
}

async function openChannel(kind: Kind, port: number): Promise<Channel> {
  switch (kind) {
    case "socketbridge": {
      const client = await connect({ port, maxBytes: 2 * LARGE_BYTES });
      return {
        call: (large) => client.request(large ? LARGE_REQUEST : REQUEST),
        close: () => client.close(),
      };
    }
    case "socketbridge-send":
      return {
        call: (large) =>
          send(
            { port, maxBytes: 2 * LARGE_BYTES },
            large ? LARGE_REQUEST : REQUEST,
          ),
        close: () => {},
      };
    case "floor-json":
    case "floor-raw": {
      const client = await floorClient(port, kind === "floor-json");
      return {
        call: (large) => client.call(large ? LARGE_REQUEST : REQUEST),
        close: client.close,
      };
    }
    case "deno-serve": {
      const url = `http://127.0.0.1:${port}/`;
      const client = Deno.createHttpClient({});
      return {
        call: async (large) => {
          const response = await fetch(url, {
            method: "POST",
            body: JSON.stringify(large ? LARGE_REQUEST : REQUEST),
            headers: { "content-type": "application/json" },
            client,
          });
          return await response.json();
        },
        close: () => client.close(),
      };
    }
    case "vscode-jsonrpc": {
      const rpc = await import("vscode-jsonrpc/node.js");
      const socket = net.connect(port, "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.setNoDelay(true);
      const connection = rpc.createMessageConnection(
        new rpc.StreamMessageReader(socket),
        new rpc.StreamMessageWriter(socket),
      );
      connection.listen();
      return {
        call: (large) => connection.sendRequest("bench", large ? LARGE_REQUEST : REQUEST),
        close: () => {
          connection.dispose();
          socket.destroy();
        },
      };
    }
    case "nats": {
      const { connect: natsConnect } = await import("nats");
      const nc = await natsConnect({
        servers: `127.0.0.1:${port}`,
        maxPingOut: 100,
      });
      return {
        call: async (large) => {
          const msg = await nc.request(
            "bench",
            encoder.encode(JSON.stringify(large ? LARGE_REQUEST : REQUEST)),
            { timeout: 10_000 },
          );
          return JSON.parse(decoder.decode(msg.data));
        },
        close: () => nc.close(),
      };
    }
  }
}

/** Drives `kind`'s server at `port` with `scenario` for `seconds`. */
export async function runClient(
  kind: Kind,
  port: number,
  scenario: Scenario,
  seconds: number,
): Promise<Result> {
  const { connections, depth } = shapeOf(scenario);
  const large = scenario === "large";
  const channels: Channel[] = [];
  // Opened in small batches: a thousand connects at once overflow the backlog.
  for (let i = 0; i < connections; i += 50) {
    const batch = Math.min(50, connections - i);
    channels.push(
      ...await Promise.all(
        Array.from({ length: batch }, () => openChannel(kind, port)),
      ),
    );
  }
  // Warm up: JIT, connection set-up.
  const warmEnd = performance.now() + Math.min(500, seconds * 250);
  await Promise.all(channels.map(async (channel) => {
    while (performance.now() < warmEnd) await channel.call(large);
  }));
  const latencies: number[] = [];
  // Latency is timed where it means something: one in flight, or many connections.
  const timed = (depth === 1 && connections === 1) ||
    scenario.startsWith("conns");
  let requests = 0;
  // A timer ends the run, so the loop reads the clock only to time latencies.
  let running = true;
  const stop = setTimeout(() => running = false, seconds * 1000);
  const started = performance.now();
  await Promise.all(
    channels.flatMap((channel) =>
      Array.from({ length: depth }, async () => {
        while (running) {
          if (timed) {
            const t0 = performance.now();
            await channel.call(large);
            latencies.push((performance.now() - t0) * 1000);
          } else {
            await channel.call(large);
          }
          requests++;
        }
      })
    ),
  );
  clearTimeout(stop);
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(channels.map((channel) => channel.close()));
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => quantile(latencies, q);
  return {
    requests,
    seconds: elapsed,
    bytes: requests * (large ? LARGE_BYTES : 0),
    p50: pick(0.5),
    p99: pick(0.99),
  };
}
