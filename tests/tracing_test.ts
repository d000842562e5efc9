// OpenTelemetry: with OTEL_DENO=true a request makes a client span, a server
// span that is its child (the `traceparent` envelope key), and the handler's
// fetch is the server span's child, over a socket and through the NATS
// bridge; spans are caught by an OTLP/HTTP JSON receiver on loopback. With
// tracing off nothing is added to the wire.

import assert from "node:assert/strict";
import { connect, send, serve } from "../mod.ts";
import { ENVELOPE_KEYS } from "../protocol.ts";
import { formatTraceparent, parseTraceparent } from "../_wire/traceparent.ts";
import { encodeMessage } from "../codec.ts";
import { RawPeer, rawServer } from "./_helpers.ts";
import { hasPython, runDeno, startOriginalServer } from "./_processes.ts";
import { NatsServer, NO_NATS } from "./_nats.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string } }[];
}

const OTLP_SERVER = 2;
const OTLP_CLIENT = 3;

/** An OTLP/HTTP JSON receiver: every span it is sent. */
function otlpReceiver(): { url: string; spans: OtlpSpan[] } & AsyncDisposable {
  const spans: OtlpSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/v1/traces") {
      const body = await request.json();
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
      }
    } else {
      await request.body?.cancel();
    }
    return Response.json({});
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    spans,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** One request frame written by hand, its answer read back. */
async function exchangeRaw(port: number, message: unknown): Promise<Record<string, unknown>> {
  await using peer = await RawPeer.connect(port);
  return await peer.call(message) as unknown as Record<string, unknown>;
}

function attribute(span: OtlpSpan, key: string): string | undefined {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue;
}

Deno.test("a traced request: client span, server span as its child, the handler's fetch below", async () => {
  await using receiver = otlpReceiver();
  await using target = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => new Response(`fetched via ${new URL(request.url).searchParams.get("via")}`),
  );
  await using nats = NO_NATS ? undefined : await NatsServer.start();
  const args = [
    "run",
    "--allow-net=127.0.0.1",
    "tests/_traced.ts",
    `http://127.0.0.1:${target.addr.port}/`,
  ];
  if (nats !== undefined) args.push(nats.url);
  const run = await runDeno(args, {
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: "socketbridge-test",
    },
  });
  assert.equal(run.code, 0, run.stderr);
  const vias = nats === undefined ? ["socket"] : ["socket", "nats"];
  assert.deepEqual(JSON.parse(run.stdout), vias.map((via) => `fetched via ${via}`));
  const spans = receiver.spans;
  assert.ok(!spans.some((s) => s.name === "socketbridge.probe"), "the probe span was exported");
  // connect()'s $hello carries no trace context: it makes no root span of its own.
  assert.deepEqual(spans.filter((s) => s.name.startsWith("socketbridge $")), []);
  const clients = spans.filter((s) => s.name === "socketbridge lookup" && s.kind === OTLP_CLIENT);
  assert.equal(clients.length, vias.length, JSON.stringify(spans.map((s) => s.name)));
  for (const client of clients) {
    const server = spans.find((s) => s.parentSpanId === client.spanId);
    assert.ok(server !== undefined, "no server span under the client span");
    assert.equal(server.name, "socketbridge lookup");
    assert.equal(server.kind, OTLP_SERVER);
    assert.equal(server.traceId, client.traceId);
    assert.equal(attribute(server, "socketbridge.code"), "ok");
    assert.equal(attribute(client, "socketbridge.code"), "ok");
    assert.equal(attribute(server, "rpc.method"), "lookup");
    const fetchSpan = spans.find((s) => s.parentSpanId === server.spanId);
    assert.ok(fetchSpan !== undefined, "the handler's fetch is not a child of the server span");
    assert.equal(fetchSpan.kind, OTLP_CLIENT);
    assert.equal(fetchSpan.traceId, client.traceId);
  }
});

Deno.test("with tracing off the wire carries no trace context, and the handler never sees one", async () => {
  await using raw = rawServer(async (_request, conn) => {
    await conn.write(encodeMessage({ status: "ok", message: "received", protocol_version: "1" }));
  });
  await send({ port: raw.port }, { type: "x" });
  assert.deepEqual(raw.requests, [{ type: "x", protocol_version: "1" }]);
  const payloads: unknown[] = [];
  await using server = serve({ port: 0 }, (payload) => payloads.push(payload));
  await using client = await connect({ port: server.addr.port, twoWay: false });
  assert.ok(ENVELOPE_KEYS.includes("traceparent") && ENVELOPE_KEYS.includes("tracestate"));
  await assert.rejects(() => client.request({ traceparent: "x" }), /reserved for the envelope/);
  // A peer that sends trace context: the handler gets the payload without it.
  const response = await send({ port: server.addr.port }, { type: "y" });
  assert.equal(response.status, "ok");
  const answer = await exchangeRaw(server.addr.port, {
    type: "z",
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    tracestate: "vendor=1",
  });
  assert.equal(answer.status, "ok");
  assert.deepEqual(payloads.at(-1), { type: "z" });
});

Deno.test({
  name: "an original (Part A) server answers a request that carries traceparent as any other",
  ignore: !hasPython(),
  async fn() {
    await using original = await startOriginalServer("");
    const answer = await exchangeRaw(original.port, {
      type: "x",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      protocol_version: "1",
    });
    assert.deepEqual(answer, { status: "ok", message: "received", protocol_version: "1" });
  },
});

Deno.test("traceparent values: valid ones round-trip, invalid ones are dropped", () => {
  const valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const parsed = parseTraceparent(valid);
  assert.deepEqual(parsed, {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: 1,
    isRemote: true,
  });
  assert.equal(formatTraceparent(parsed!), valid);
  // A future version may add fields after the flags.
  assert.equal(parseTraceparent(`01-${valid.slice(3)}-more`)?.spanId, "b7ad6b7169203331");
  for (
    const bad of [
      undefined,
      42,
      "",
      `${valid}-extra`, // version 00 has exactly four fields
      `ff-${valid.slice(3)}`,
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
    ]
  ) {
    assert.equal(parseTraceparent(bad), undefined, String(bad));
  }
});
