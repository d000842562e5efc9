// The shape of the house, read from the code: every module's imports, the
// layers they may cross, and no cycle anywhere (docs/architecture.md draws
// the same rules).

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const ENTRY_FILES = [
  "mod.ts",
  "codec.ts",
  "server.ts",
  "client.ts",
  "errors.ts",
  "protocol.ts",
  "cli.ts",
  "mcp.ts",
  "nats.ts",
];
const FOLDERS = ["_wire", "_shared", "_server", "_client", "_nats", "_cli", "_mcp"];

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

const IMPORT =
  /^\s*(import|export)\s+(type\s+)?(?:[^"';]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/gm;

async function libraryModules(): Promise<string[]> {
  const modules = [...ENTRY_FILES];
  for (const folder of FOLDERS) {
    for await (const entry of Deno.readDir(new URL(`${folder}/`, ROOT))) {
      if (entry.isFile && entry.name.endsWith(".ts")) modules.push(`${folder}/${entry.name}`);
    }
  }
  return modules.sort();
}

async function importsOf(module: string): Promise<Edge[]> {
  const text = await Deno.readTextFile(new URL(module, ROOT));
  const edges: Edge[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[3] ?? match[4];
    const to = new URL(specifier, new URL(module, ROOT)).href.slice(ROOT.href.length);
    edges.push({ from: module, to, typeOnly: match[2] !== undefined });
  }
  return edges;
}

function folderOf(module: string): string {
  return module.includes("/") ? module.split("/")[0] : "(entry)";
}

const modules = await libraryModules();
const edges = (await Promise.all(modules.map(importsOf))).flat();

Deno.test("every private module lives in a private folder; none sits flat in the root", async () => {
  const flat: string[] = [];
  for await (const entry of Deno.readDir(ROOT)) {
    if (entry.isFile && entry.name.startsWith("_") && entry.name.endsWith(".ts")) {
      flat.push(entry.name);
    }
  }
  assert.deepEqual(flat, []);
  assert.ok(modules.length > 50, `only ${modules.length} modules found`);
});

Deno.test("the import graph has no cycle, type-only imports included", () => {
  const next = new Map<string, string[]>();
  for (const edge of edges) next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (module: string, path: string[]): void => {
    if (state.get(module) === "done") return;
    if (state.get(module) === "open") {
      cycles.push([...path.slice(path.indexOf(module)), module].join(" -> "));
      return;
    }
    state.set(module, "open");
    for (const to of next.get(module) ?? []) visit(to, [...path, module]);
    state.set(module, "done");
  };
  for (const module of modules) visit(module, []);
  assert.deepEqual(cycles, []);
});

// What each folder may import (besides itself). The base of every layer is
// protocol.ts and errors.ts, which import nothing but each other one way.
const ALLOWED: Record<string, { values: string[]; types?: string[] }> = {
  "_wire": { values: ["protocol.ts", "errors.ts"] },
  "_shared": { values: ["protocol.ts", "errors.ts", "_wire"] },
  "_server": { values: ["protocol.ts", "errors.ts", "codec.ts", "_wire", "_shared"] },
  "_client": {
    values: ["protocol.ts", "errors.ts", "codec.ts", "_wire", "_shared"],
    types: ["_server"],
  },
  // A bridge to another transport: both a server and a client over NATS.
  "_nats": { values: ["protocol.ts", "errors.ts", "_wire", "_shared", "_server", "_client"] },
  // Adapters that use the library as a user would (the CLI also lists the
  // discovery files, which are this package's own convention).
  "_cli": {
    values: ["mod.ts", "server.ts", "client.ts", "mcp.ts", "protocol.ts", "errors.ts", "_shared"],
  },
  "_mcp": { values: ["mod.ts", "protocol.ts", "errors.ts"] },
};

Deno.test("each private folder imports only the layers beneath it", () => {
  const violations: string[] = [];
  for (const edge of edges) {
    const from = folderOf(edge.from);
    const rules = ALLOWED[from];
    if (rules === undefined || folderOf(edge.to) === from) continue;
    const target = edge.to.includes("/") ? folderOf(edge.to) : edge.to;
    const allowed = rules.values.includes(target) ||
      (edge.typeOnly && (rules.types ?? []).includes(target));
    if (!allowed) violations.push(`${edge.from} -> ${edge.to}${edge.typeOnly ? " (type)" : ""}`);
  }
  assert.deepEqual(violations, []);
});

Deno.test("protocol.ts imports nothing of ours, and errors.ts only protocol.ts", () => {
  assert.deepEqual(edges.filter((edge) => edge.from === "protocol.ts"), []);
  assert.deepEqual(
    [...new Set(edges.filter((edge) => edge.from === "errors.ts").map((edge) => edge.to))],
    ["protocol.ts"],
  );
});

Deno.test("the wire's modules are pure: no Deno namespace, no network, no files", async () => {
  const impure: string[] = [];
  for (const module of modules.filter((name) => name.startsWith("_wire/"))) {
    const code = (await Deno.readTextFile(new URL(module, ROOT)))
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
    if (/\bDeno\./.test(code)) impure.push(module);
  }
  assert.deepEqual(impure, []);
});

Deno.test("the core (mod.ts and all it imports) loads no npm package", () => {
  const seen = new Set<string>();
  const queue = ["mod.ts"];
  while (queue.length > 0) {
    const module = queue.pop()!;
    if (seen.has(module)) continue;
    seen.add(module);
    for (const edge of edges) if (edge.from === module && !edge.typeOnly) queue.push(edge.to);
  }
  const reached = [...seen];
  assert.ok(!reached.some((module) => /^(_nats|_mcp|_cli)\//.test(module)), reached.join(", "));
  assert.ok(reached.includes("_server/session.ts") && reached.includes("_client/link.ts"));
});
