/**
 * `deno task check:package`: proves that what `deno publish` would upload is
 * whole. It asks the publish dry run for its file list, copies exactly those
 * files into an empty directory, and there type-checks every export of
 * deno.json and runs one import of the core: a private module the package
 * list misses fails here, not on a user's machine.
 *
 * @module
 */

const root = new URL("../", import.meta.url).pathname;
const NO_COLOR = { NO_COLOR: "1" };

async function run(args: string[], cwd: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: NO_COLOR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`deno ${args.join(" ")} failed:\n${text}`);
  return text;
}

const listing = await run(["publish", "--dry-run", "--allow-dirty"], root);
const files = [...listing.matchAll(/file:\/\/(\/\S+)/g)].map((match) => match[1]);
if (files.length === 0) throw new Error(`no file list in the publish dry run:\n${listing}`);

const copy = await Deno.makeTempDir({ prefix: "socketbridge-package-" });
try {
  for (const file of files) {
    const relative = file.slice(root.length);
    const target = `${copy}/${relative}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(file, target);
  }
  const config = JSON.parse(await Deno.readTextFile(`${copy}/deno.json`));
  const exports = Object.values(config.exports as Record<string, string>);
  await run(["check", ...exports], copy);
  const probe = `${copy}/probe.ts`;
  await Deno.writeTextFile(
    probe,
    `import * as core from "./mod.ts";\nif (typeof core.serve !== "function") throw new Error("no serve");\n`,
  );
  await run(["run", "--no-config", probe], copy);
  console.log(`package: ${files.length} files; every export checks and the core loads`);
} finally {
  await Deno.remove(copy, { recursive: true });
}
