// The inspector in a real browser: Debian's Chromium, driven headless by
// playwright-core (which downloads no browser of its own), against the tour
// server. Without Chromium the test is ignored with a warning, and under CI
// (SOCKETBRIDGE_REQUIRE_CHROMIUM=1, set by .ci/run) it fails.

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import { chromium } from "npm:playwright-core@1.65.1";
import { inspect } from "../../_cli/inspect.ts";
import { exists, ROOT, startExampleServer } from "../_processes.ts";

const CHROMIUM = "/usr/bin/chromium";
const NO_CHROMIUM = !exists(CHROMIUM);
if (NO_CHROMIUM) {
  const message =
    `Chromium is not installed at ${CHROMIUM}: the inspector's browser test is IGNORED. ` +
    "Install it (apt-get install chromium) or run .ci/run, which does.";
  if (Deno.env.get("SOCKETBRIDGE_REQUIRE_CHROMIUM") === "1") throw new Error(message);
  console.warn(`\n*** ${message} ***\n`);
}

Deno.test({
  name:
    "the inspector in Chromium: refused without its token; forms call, stream, cancel; events and stats live",
  ignore: NO_CHROMIUM,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using tour = await startExampleServer(["--no-token"]);
    await using inspector = await inspect({ port: tour.port }, { statsEvery: 200 });
    // playwright-core gives each launch a fresh profile directory of its own.
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      // Without the one-time token: refused.
      const bare = await page.goto(inspector.url.replace(/\?token=.*/, ""));
      assert.equal(bare?.status(), 403);
      await page.goto(inspector.url);
      assert.equal(new URL(page.url()).search, "", "the token stayed in the address bar");
      await page.locator(".type h3", { hasText: "echo" }).waitFor();
      const card = (type: string) =>
        page.locator(".type", { has: page.locator("h3", { hasText: new RegExp(`^${type}$`) }) });

      // echo: the raw JSON editor, then Call.
      await card("echo").locator("textarea").fill('{"text": "hi from the page"}');
      await card("echo").getByRole("button", { name: "Call" }).click();
      await card("echo").locator(".output .ok").waitFor();
      assert.match(await card("echo").locator(".output").innerText(), /hi from the page/);

      // count: n from its schema's field; 5 chunks, then done.
      await card("count").locator("input[name=n]").fill("5");
      await card("count").getByRole("button", { name: "Call" }).click();
      await card("count").locator(".output .ok").waitFor();
      assert.equal(await card("count").locator(".output .chunk").count(), 5);
      assert.match(await card("count").locator(".output .ok").innerText(), /"done"/);

      // sleep: started, then cancelled from the page.
      await card("sleep").locator("input[name=ms]").fill("60000");
      await card("sleep").getByRole("button", { name: "Call" }).click();
      await page.waitForTimeout(200);
      await card("sleep").getByRole("button", { name: "Cancel" }).click();
      await card("sleep").locator(".output .err").waitFor({ timeout: 5_000 });
      assert.match(await card("sleep").locator(".output").innerText(), /cancel/i);

      // Events: subscribe, then publish through the publish form.
      await page.locator("#patterns").fill("demo.>");
      await page.getByRole("button", { name: "Subscribe" }).click();
      await page.locator("#subscribed", { hasText: "Subscribed to demo.>" }).waitFor();
      await card("publish").locator("input[name=topic]").fill("demo.greeting");
      await card("publish").locator("textarea[name=data]").fill('"hello, page"');
      await card("publish").getByRole("button", { name: "Call" }).click();
      await page.locator("#events", { hasText: "demo.greeting" }).waitFor();
      assert.match(await page.locator("#events").innerText(), /hello, page/);

      // Stats: the types called show up with their counts.
      await page.locator("#stats tr", { hasText: "count" }).waitFor();
      assert.match(await page.locator("#stats").innerText(), /echo\s+1\s+0/);
      assert.ok((await page.locator("#log tr").count()) >= 4);
      // The README's picture, when asked for (SOCKETBRIDGE_UPDATE_SCREENSHOT=1); else a scratch file.
      const shot = Deno.env.get("SOCKETBRIDGE_UPDATE_SCREENSHOT") === "1"
        ? `${ROOT}docs/inspector.png`
        : await Deno.makeTempFile({ suffix: ".png" });
      await page.screenshot({ path: shot, fullPage: true });
      const png = await Deno.readFile(shot);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "not a PNG");
      // A narrow window is still usable: one column.
      await page.setViewportSize({ width: 420, height: 900 });
      assert.ok(await page.getByRole("button", { name: "Subscribe" }).isVisible());
    } finally {
      await browser.close();
    }
  },
});
