// The CLI's commands, one table entry each: the flags it takes besides the
// connection flags, and what it does. cli.ts parses the arguments by the
// entry and runs it.

import {
  type BridgeResponse,
  connect,
  PROTOCOL_VERSION,
  send,
  serve,
  type ServeTcpOptions,
  type ServeUnixOptions,
  SocketBridgeError,
  type StatsReport,
} from "../mod.ts";
import { listDiscovery } from "../_shared/discovery.ts";
import {
  atMost,
  connection,
  EXIT,
  type Flags,
  payloadOf,
  tokenOf,
  UsageError,
  wholeNumber,
} from "./args.ts";
import { execHandler } from "./exec.ts";
import { inspect } from "./inspect.ts";
import { durationOf, sleep, statsTable } from "./stats.ts";

/** Where the CLI writes its lines (stdout and stderr by default). */
export interface CliOutput {
  /** Writes one line of output (a JSON answer, a chunk, an event). */
  write(line: string): void;
  /** Writes one line of diagnostics; stderr by default. */
  error?(line: string): void;
}

/** What a command is given to run. */
export interface CommandInput {
  readonly flags: Flags;
  readonly positionals: string[];
  /** The words after the command's trailing flag (`serve --exec CMD ARG...`). */
  readonly trailing: string[];
  readonly output: CliOutput;
  /** Stops the commands that run until stopped (`sub`, `serve`, `mcp`). */
  readonly signal: AbortSignal | undefined;
}

/** One command of the CLI. */
export interface Command {
  /** Flags besides the connection flags. */
  readonly flags?: Record<string, { type: "string" | "boolean" }>;
  /** A flag after which every word belongs to the command (`--exec`). */
  readonly trailingAfter?: string;
  run(input: CommandInput): Promise<number>;
}

const JSON_FLAG = { json: { type: "boolean" } } as const;

/** Every command, by name. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  call: {
    flags: { answer: { type: "boolean" } },
    async run({ flags, positionals, output }) {
      const payload = await typedPayload("call", positionals);
      if (!flags.answer) return answer(await send(requestOptions(flags), payload), output);
      // --answer: each call back is printed, and answered with a JSON line from stdin.
      const lines = stdinLines();
      await using client = await connect({
        ...requestOptions(flags),
        onCall: async (call) => {
          output.write(JSON.stringify({ call }));
          const line = await lines.next();
          if (line.done) throw new Error("stdin ended before the call was answered");
          try {
            return JSON.parse(line.value);
          } catch {
            throw new Error(`the answer is not JSON: ${line.value.slice(0, 80)}`);
          }
        },
      });
      const result = await client.request(payload);
      return answer(okAnswer(result), output);
    },
  },
  stream: {
    async run({ flags, positionals, output }) {
      const payload = await typedPayload("stream", positionals);
      await using client = await connect(requestOptions(flags));
      const stream = client.stream(payload);
      for await (const chunk of stream) output.write(JSON.stringify({ chunk }));
      const result = await stream.result;
      return answer(okAnswer(result), output);
    },
  },
  send: {
    async run({ flags, positionals, output }) {
      atMost(positionals, 1);
      return answer(await send(requestOptions(flags), await payloadOf(positionals[0])), output);
    },
  },
  sub: {
    async run({ flags, positionals, output, signal }) {
      if (positionals.length === 0) throw new UsageError("sub needs at least one PATTERN");
      await using client = await connect({ ...connection(flags), reconnect: true });
      const events = await client.subscribe(positionals);
      const stop = () => events.unsubscribe();
      signal?.addEventListener("abort", stop, { once: true });
      try {
        for await (const entry of events) {
          output.write(JSON.stringify(
            entry.kind === "event"
              ? { event: entry.topic, data: entry.data }
              : entry.kind === "dropped"
              ? { event: "$dropped", data: { count: entry.count } }
              : { event: "$gap" },
          ));
        }
      } finally {
        signal?.removeEventListener("abort", stop);
      }
      return EXIT.ok;
    },
  },
  describe: {
    flags: JSON_FLAG,
    async run({ flags, positionals, output }) {
      atMost(positionals, 0);
      await using client = await connect(requestOptions(flags));
      const types = await client.describe();
      if (flags.json) output.write(JSON.stringify(types));
      else if (types.length === 0) output.write("(the server declares no request types)");
      else {
        const width = Math.max(...types.map((entry) => entry.type.length));
        for (const entry of types) {
          output.write(`${entry.type.padEnd(width)}  ${entry.description}`);
          if (entry.schema !== null) {
            output.write(`${" ".repeat(width)}  schema: ${JSON.stringify(entry.schema)}`);
          }
        }
      }
      return EXIT.ok;
    },
  },
  ping: {
    async run({ flags, positionals, output }) {
      atMost(positionals, 0);
      const started = performance.now();
      const response = await send(requestOptions(flags), { type: "$hello", features: [] });
      const ms = Math.round((performance.now() - started) * 100) / 100;
      const server = (response.result as { server?: unknown } | undefined)?.server;
      output.write(JSON.stringify({ server: server ?? "(no two-way protocol)", ms }));
      return response.status === "ok" ? EXIT.ok : EXIT.errorAnswer;
    },
  },
  stats: {
    flags: { ...JSON_FLAG, watch: { type: "boolean" }, interval: { type: "string" } },
    async run({ flags, positionals, output, signal }) {
      atMost(positionals, 0);
      await using client = await connect(requestOptions(flags));
      const ask = async () => await client.request({ type: "$stats" }) as StatsReport;
      if (!flags.watch) {
        const report = await ask();
        output.write(flags.json ? JSON.stringify(report) : statsTable(report));
        return EXIT.ok;
      }
      const every = durationOf("interval", (flags.interval as string | undefined) ?? "2s");
      const live = Deno.stdout.isTerminal() && !flags.json;
      while (!signal?.aborted) {
        const report = await ask();
        // On a terminal the table is redrawn in place; elsewhere one JSON line per interval.
        output.write(live ? `\x1b[H\x1b[2J${statsTable(report)}` : JSON.stringify(report));
        await sleep(every, signal);
      }
      return EXIT.ok;
    },
  },
  wait: {
    async run({ flags, positionals, output, signal }) {
      atMost(positionals, 0);
      const limit = durationOf("timeout", (flags.timeout as string | undefined) ?? "10s");
      const started = performance.now();
      const progress = Deno.stderr.isTerminal();
      const where = connection(flags);
      let pause = 25;
      while (!signal?.aborted) {
        const left = limit - (performance.now() - started);
        try {
          await send({ ...where, timeout: Math.max(1, Math.min(left, 2_000)) }, {
            type: "$hello",
            features: [],
          });
          if (progress) output.error?.("");
          output.write(`ready after ${Math.round(performance.now() - started)} ms`);
          return EXIT.ok;
        } catch (failure) {
          if (!(failure instanceof SocketBridgeError)) throw failure;
        }
        const waited = performance.now() - started;
        if (waited >= limit) break;
        if (progress) output.error?.(`\x1b[1A\x1b[2Kwaiting... ${(waited / 1000).toFixed(1)} s`);
        // Backing off, never spinning: 25 ms doubling to half a second.
        await sleep(Math.min(pause, limit - waited), signal);
        pause = Math.min(pause * 2, 500);
      }
      output.error?.(`error: no answer within ${limit} ms`);
      return EXIT.noAnswer;
    },
  },
  inspect: {
    async run({ flags, positionals, output, signal }) {
      atMost(positionals, 0);
      const inspector = await inspect(connection(flags), { signal });
      output.write(`inspector for the server: ${inspector.url}`);
      output.write("(open it in a browser on this machine; Ctrl+C stops)");
      await inspector.finished;
      return EXIT.ok;
    },
  },
  ls: {
    flags: JSON_FLAG,
    run({ flags, positionals, output }) {
      atMost(positionals, 0);
      return Promise.resolve(list(flags.json === true, output));
    },
  },
  serve: {
    flags: { exec: { type: "boolean" }, concurrency: { type: "string" } },
    trailingAfter: "--exec",
    async run({ flags, positionals, trailing, output, signal }) {
      atMost(positionals, 0);
      await serveExec(flags, trailing, output, signal).finished;
      return EXIT.ok;
    },
  },
  mcp: {
    async run({ flags, positionals, signal }) {
      atMost(positionals, 0);
      // Loaded only here: the rest of the CLI never needs the MCP SDK.
      const { serveMcp } = await import("../mcp.ts");
      await serveMcp({ ...connection(flags), signal });
      return EXIT.ok;
    },
  },
};

/** The lines of stdin, one at a time, as they come. */
async function* stdinLines(): AsyncGenerator<string> {
  let buffered = "";
  for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) !== -1) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered !== "") yield buffered;
}

/** `TYPE [JSON]`: the payload with TYPE as its type; a JSON naming another is refused. */
async function typedPayload(
  command: string,
  positionals: string[],
): Promise<Record<string, unknown>> {
  const [type, json] = positionals;
  if (type === undefined) throw new UsageError(`${command} needs a TYPE`);
  atMost(positionals, 2);
  const payload = await payloadOf(json);
  if (payload.type !== undefined && payload.type !== type) {
    throw new UsageError(
      `the payload's type ${JSON.stringify(payload.type)} disagrees with TYPE ${
        JSON.stringify(type)
      }`,
    );
  }
  return { ...payload, type };
}

/** The connection flags and --timeout, for a command that makes requests. */
function requestOptions(flags: Flags) {
  return { ...connection(flags), timeout: wholeNumber("timeout", flags.timeout) };
}

/** The `ok` answer a client got `result` in, as the wire has it. */
function okAnswer(result: unknown): BridgeResponse {
  return {
    status: "ok",
    message: "received",
    protocol_version: PROTOCOL_VERSION,
    ...(result === undefined ? {} : { result }),
  };
}

function answer(response: BridgeResponse, output: CliOutput): number {
  output.write(JSON.stringify(response));
  if (response.message === "unauthorized") output.error?.(UNAUTHORIZED_HINT);
  return response.status === "ok" ? EXIT.ok : EXIT.errorAnswer;
}

/** Said after a bare `unauthorized`: where the CLI takes a token from. */
export const UNAUTHORIZED_HINT = "hint: the server wants a token; the CLI takes it from " +
  "SOCKETBRIDGE_TOKEN, --token-file FILE, or the discovery file with --name (never --token)";

function list(json: boolean, output: CliOutput): number {
  const servers = listDiscovery();
  if (json) {
    output.write(JSON.stringify(servers.map(({ record, live }) => ({
      name: record.name,
      transport: record.transport,
      hostname: record.hostname,
      port: record.port,
      path: record.path,
      pid: record.pid,
      started: record.started,
      live,
    }))));
    return EXIT.ok;
  }
  if (servers.length === 0) output.write("(no servers published by name)");
  for (const { record, live } of servers) {
    const address = record.path ?? `${record.hostname}:${record.port}`;
    output.write(
      `${record.name}  ${record.transport} ${address}  pid ${record.pid}  ${
        live ? "running" : "stale"
      }`,
    );
  }
  return EXIT.ok;
}

function serveExec(
  flags: Flags,
  command: string[],
  output: CliOutput,
  signal: AbortSignal | undefined,
): { finished: Promise<void> } {
  if (!flags.exec || command.length === 0) {
    throw new UsageError("serve needs --exec CMD [ARG...]");
  }
  const port = wholeNumber("port", flags.port);
  const token = tokenOf(flags["token-file"] as string | undefined);
  const handler = execHandler({
    command,
    concurrency: wholeNumber("concurrency", flags.concurrency) ?? 4,
    timeout: wholeNumber("timeout", flags.timeout) ?? 30_000,
    maxOutput: 1_048_576,
  });
  const common = {
    token: token ?? "",
    name: flags.name as string | undefined,
    signal,
    onListen: (addr: Deno.NetAddr | Deno.UnixAddr) =>
      output.write(
        "path" in addr ? `listening on ${addr.path}` : `listening on ${addr.hostname}:${addr.port}`,
      ),
  };
  const options: ServeTcpOptions | ServeUnixOptions = flags.path !== undefined
    ? { ...common, path: flags.path as string }
    // Found by its name, a server needs no fixed port: a free one is taken.
    : {
      ...common,
      hostname: (flags.host as string) ?? "127.0.0.1",
      port: port ?? (flags.name !== undefined ? 0 : 7002),
    };
  return serve(options as ServeTcpOptions, handler);
}
