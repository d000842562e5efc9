// `socketbridge inspect`: a local web page for one SocketBridge server. The
// CLI connects to the server (by name, path or port) and serves the page on
// 127.0.0.1, on a free port, behind a one-time token in the URL it prints
// (as Jupyter does). The page asks for work with small POSTs and hears
// everything back on one Server-Sent Events stream: answers, chunks, events,
// $stats. The server's own token never reaches the page.

import {
  CancelledError,
  type Client,
  connect,
  type ConnectionOptions,
  type EventStream,
} from "../mod.ts";
import { TokenCheck } from "../_shared/token_check.ts";
import { INSPECTOR_PAGE } from "./inspector_page.ts";

/** A running inspector. */
export interface Inspector extends AsyncDisposable {
  /** The page's address, with its one-time token. */
  readonly url: string;
  /** Resolves once it has stopped. */
  readonly finished: Promise<void>;
}

const encoder = new TextEncoder();

/** Connects to the server and serves the inspector page until `signal` aborts. */
export async function inspect(
  where: ConnectionOptions,
  { signal, statsEvery = 1_000 }: { signal?: AbortSignal; statsEvery?: number } = {},
): Promise<Inspector> {
  const client = await connect({ ...where, reconnect: true });
  const secret = crypto.randomUUID().replaceAll("-", "");
  const secretCheck = new TokenCheck(secret);
  const listeners = new Set<(message: unknown) => void>();
  const emit = (message: unknown) => listeners.forEach((listener) => listener(message));
  const running = new Map<string, AbortController>();
  let subscription: EventStream | undefined;
  const stats = setInterval(() => {
    if (listeners.size === 0) return;
    client.request({ type: "$stats" }).then(
      (report) => emit({ kind: "stats", report }),
      () => {},
    );
  }, statsEvery);

  const actions: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    describe: () => client.describe(),
    call: (body) => call(client, body, running, emit),
    cancel: (body) =>
      Promise.resolve(
        running.get(String(body.id))?.abort(new CancelledError("Cancelled from the inspector")) ??
          null,
      ),
    subscribe: async (body) => {
      subscription?.unsubscribe();
      const patterns = (body.patterns as string[]).filter((pattern) => pattern !== "");
      if (patterns.length === 0) return [];
      subscription = await client.subscribe(patterns);
      const current = subscription;
      (async () => {
        for await (const entry of current) emit({ kind: "event", entry });
      })().catch((error) => emit({ kind: "error", message: String(error?.message ?? error) }));
      return patterns;
    },
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, signal },
    async (request) => {
      const url = new URL(request.url);
      if (!secretCheck.matches(url.searchParams.get("token"))) {
        return new Response("This inspector needs the one-time token of its URL.\n", {
          status: 403,
        });
      }
      if (url.pathname === "/") {
        return new Response(INSPECTOR_PAGE, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy":
              "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:",
          },
        });
      }
      if (url.pathname === "/events") return sse(listeners, request.signal);
      const name = url.pathname.slice(1);
      const action = Object.hasOwn(actions, name) ? actions[name] : undefined;
      if (action === undefined || request.method !== "POST") {
        return new Response(null, {
          status: 404,
        });
      }
      try {
        const body = await request.json().catch(() => ({}));
        return Response.json({ ok: true, value: await action(body) });
      } catch (error) {
        return Response.json({ ok: false, error: errorOf(error) });
      }
    },
  );
  const finished = server.finished.then(async () => {
    clearInterval(stats);
    subscription?.unsubscribe();
    await client.close();
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/?token=${secret}`,
    finished,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await finished;
    },
  };
}

/** One request from the page: streamed, so chunks show as they come; cancellable by its id. */
async function call(
  client: Client<Record<string, unknown>, unknown>,
  body: Record<string, unknown>,
  running: Map<string, AbortController>,
  emit: (message: unknown) => void,
): Promise<unknown> {
  const id = String(body.id);
  const payload = body.payload as Record<string, unknown>;
  const controller = new AbortController();
  running.set(id, controller);
  const started = performance.now();
  emit({ kind: "sent", id, payload });
  try {
    const stream = client.stream(payload, { signal: controller.signal });
    for await (const chunk of stream) emit({ kind: "chunk", id, chunk });
    const result = await stream.result;
    emit({ kind: "answer", id, ms: performance.now() - started, answer: { status: "ok", result } });
  } catch (error) {
    emit({
      kind: "answer",
      id,
      ms: performance.now() - started,
      answer: { status: "error", ...errorOf(error) },
    });
  } finally {
    running.delete(id);
  }
  return null;
}

function errorOf(error: unknown): { code: string; message: string; data?: unknown } {
  const { code, message, data } = error as { code?: string; message?: string; data?: unknown };
  return {
    code: code ?? "error",
    message: message ?? String(error),
    ...(data === undefined ? {} : { data }),
  };
}

/** The page's stream of everything that happens: one JSON message per event. */
function sse(listeners: Set<(message: unknown) => void>, closed: AbortSignal): Response {
  let listener: (message: unknown) => void;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      listener = (message) =>
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(message)}\n\n`));
      listeners.add(listener);
      controller.enqueue(encoder.encode(": connected\n\n"));
      closed.addEventListener("abort", () => {
        listeners.delete(listener);
        controller.close();
      }, { once: true });
    },
    cancel() {
      listeners.delete(listener);
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
  });
}
