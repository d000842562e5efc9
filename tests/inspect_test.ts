// The inspector's HTTP side without a browser: its one-time token guards
// every path, and the server's own token never reaches the page.

import assert from "node:assert/strict";
import { inspect } from "../_cli/inspect.ts";
import { requestTypes, serve } from "../mod.ts";

Deno.test("inspect: only the one-time token opens it, and the page never holds the server's token", async () => {
  const token = "server-secret-token";
  await using server = serve(
    { port: 0, token },
    requestTypes({ echo: { description: "echo", handler: (payload: unknown) => payload } }),
  );
  await using inspector = await inspect({ port: server.addr.port, token });
  const url = new URL(inspector.url);
  const secret = url.searchParams.get("token")!;
  assert.equal(secret.length, 32);

  const page = await fetch(url);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<html/i);
  assert.equal(html.includes(token), false);

  // A guess of the same length, one character off, and none at all: refused.
  const nearMiss = secret.slice(0, -1) + (secret.endsWith("0") ? "1" : "0");
  for (const guess of [nearMiss, ""]) {
    const refused = await fetch(`${url.origin}/?token=${guess}`);
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
  }
  const describe = await fetch(`${url.origin}/describe?token=${nearMiss}`, { method: "POST" });
  assert.equal(describe.status, 403);
  await describe.body?.cancel();

  const described = await fetch(`${url.origin}/describe?token=${secret}`, {
    method: "POST",
    body: "{}",
  });
  const answer = await described.json();
  assert.equal(answer.ok, true);
  assert.deepEqual(answer.value.map((type: { type: string }) => type.type), ["echo"]);
});
