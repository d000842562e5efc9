// The agents' toolkit rows of the load tool: the CLI's `call` as a shell
// runs it (one process per call) next to `curl` against a Deno.serve
// endpoint and `nats req` (when the nats CLI is installed); the cost of
// `serve --exec` per call against an in-process handler; and the cost of
// schema validation on the pipelined row.

import { z } from "zod";
import { connect, requestTypes, serve } from "../mod.ts";
import { REPLY } from "./_common.ts";
import { runClient } from "./_rows.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CLI = `${ROOT}cli.ts`;

async function timeEach(
  times: number,
  run: () => Promise<void>,
): Promise<number> {
  await run(); // warm: the module cache, the first connection
  const started = performance.now();
  for (let i = 0; i < times; i++) await run();
  return (performance.now() - started) / times;
}

async function succeed(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, {
    args,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!output.success) {
    throw new Error(
      `${command} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

function which(program: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${program}`).isFile) return `${dir}/${program}`;
    } catch { /* not here */ }
  }
  return undefined;
}

/** The toolkit rows as markdown, and notes on what was skipped. */
export async function measureAgents(
  seconds: number,
  quick: boolean,
): Promise<{ table: string; notes: string[] }> {
  const notes: string[] = [];
  const calls = quick ? 2 : 20;
  const lines = [
    "| measure | figure | baseline (same run) | ratio |",
    "| --- | ---: | ---: | ---: |",
  ];
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

  // One call per process, as a shell script makes them.
  {
    await using server = serve({ port: 0 }, () => REPLY);
    const port = String(server.addr.port);
    const cli = await timeEach(calls, () =>
      succeed(Deno.execPath(), [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-read",
        CLI,
        "call",
        "bench",
        '{"n":1}',
        "--port",
        port,
      ]));
    await using http = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      async (request) => Response.json({ ...(await request.json()), ...REPLY }),
    );
    const curl = await timeEach(calls, () =>
      succeed("curl", [
        "-s",
        "-X",
        "POST",
        "-d",
        '{"type":"bench","n":1}',
        `http://127.0.0.1:${http.addr.port}/`,
      ]));
    lines.push(
      `| \`socketbridge call\`, one process per call, ms | ${
        cli.toFixed(1)
      } | curl to Deno.serve: ${curl.toFixed(1)} | ${ratio(cli, curl)} |`,
    );
    const natsCli = which("nats");
    if (natsCli === undefined) {
      notes.push(
        "`nats req` row skipped: the nats CLI (natscli) is not installed; nats-server alone has no request client.",
      );
    }
  }

  // serve --exec: a process per request, against a handler in the server.
  {
    const exec = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-read",
        "--allow-run",
        CLI,
        "serve",
        "--port",
        "0",
        "--exec",
        "cat",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = exec.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let banner = "";
    while (!banner.includes("\n")) banner += (await reader.read()).value ?? "";
    const execPort = Number(banner.match(/:(\d+)/)![1]);
    await using inProcess = serve({ port: 0 }, (payload) => payload);
    const perCall = async (port: number) => {
      await using client = await connect({ port });
      return await timeEach(calls * 10, async () => {
        await client.request({ n: 1 });
      });
    };
    const viaExec = await perCall(execPort);
    const viaHandler = await perCall(inProcess.addr.port);
    lines.push(
      `| \`serve --exec cat\`, per request, ms | ${viaExec.toFixed(2)} | handler in the server: ${
        viaHandler.toFixed(3)
      } | ${ratio(viaExec, viaHandler)} |`,
    );
    exec.kill("SIGINT");
    await reader.cancel();
    await exec.status;
  }

  // Validation: the pipelined row with a declared type and a small zod schema.
  {
    const schema = z.object({
      type: z.literal("bench"),
      seq: z.number(),
      text: z.string(),
    });
    await using plain = serve({ port: 0, maxInFlight: 1024 }, () => REPLY);
    await using declared = serve(
      { port: 0, maxInFlight: 1024 },
      requestTypes({ bench: { description: "", handler: () => REPLY } }),
    );
    await using validated = serve(
      { port: 0, maxInFlight: 1024 },
      requestTypes({
        bench: { description: "", schema, handler: () => REPLY },
      }),
    );
    const rate = async (port: number) => {
      const result = await runClient(
        "socketbridge",
        port,
        "pipelined",
        seconds,
      );
      return result.requests / result.seconds;
    };
    const base = await rate(plain.addr.port);
    const typed = await rate(declared.addr.port);
    const checked = await rate(validated.addr.port);
    lines.push(
      `| pipelined req/s, declared type without a schema | ${
        Math.round(typed)
      } | a plain handler: ${Math.round(base)} | ${ratio(typed, base)} |`,
      `| pipelined req/s, declared type with a small zod schema | ${
        Math.round(checked)
      } | the same type without a schema: ${Math.round(typed)} | ${ratio(checked, typed)} |`,
    );
  }
  return { table: lines.join("\n"), notes };
}
