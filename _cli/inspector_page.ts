// The inspector's page: plain HTML, CSS and JavaScript in one document, with
// nothing fetched from elsewhere (it works offline). Forms come from each
// type's JSON Schema; everything the server does arrives on one event stream.

/** The page `socketbridge inspect` serves. */
export const INSPECTOR_PAGE: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SocketBridge inspector</title>
<style>
  :root { --ink: #1c2430; --muted: #5b6675; --line: #d9dee6; --panel: #ffffff; --bg: #f3f5f8;
    --accent: #2457c5; --ok: #1e7a46; --err: #b3261e; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.4rem; background: var(--ink); color: #fff; }
  header h1 { font-size: 1.05rem; margin: 0; font-weight: 600; }
  header .server { color: #c9d3e2; font-family: var(--mono); font-size: .85rem; }
  header .status { margin-left: auto; font-size: .85rem; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; padding: 1rem 1.4rem; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: .9rem 1rem; }
  section h2 { font-size: .95rem; margin: 0 0 .6rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
  .types { display: grid; gap: .8rem; }
  .type { border: 1px solid var(--line); border-radius: 6px; padding: .7rem .8rem; }
  .type h3 { margin: 0; font-family: var(--mono); font-size: .95rem; }
  .type p { margin: .2rem 0 .6rem; color: var(--muted); font-size: .88rem; }
  label { display: grid; grid-template-columns: 8rem 1fr; align-items: center; gap: .5rem; margin: .3rem 0; font-size: .88rem; }
  input, select, textarea { font: inherit; font-size: .9rem; padding: .3rem .45rem; border: 1px solid var(--line); border-radius: 4px; width: 100%; }
  textarea { font-family: var(--mono); min-height: 3.2rem; }
  input[type=checkbox] { width: auto; justify-self: start; }
  button { font: inherit; font-size: .88rem; padding: .35rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: var(--accent); }
  button:disabled { opacity: .45; cursor: default; }
  button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
  .actions { display: flex; gap: .5rem; margin-top: .5rem; }
  .output { margin-top: .5rem; font-family: var(--mono); font-size: .82rem; white-space: pre-wrap; word-break: break-word; }
  .chunk { color: var(--muted); }
  .ok { color: var(--ok); } .err { color: var(--err); }
  table { width: 100%; border-collapse: collapse; font-size: .84rem; }
  th, td { text-align: left; padding: .25rem .35rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .events { max-height: 14rem; overflow: auto; font-family: var(--mono); font-size: .82rem; }
  .log { max-height: 18rem; overflow: auto; }
  .row { display: flex; gap: .5rem; }
  .muted { color: var(--muted); font-size: .85rem; }
  svg.spark { width: 90px; height: 22px; }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; padding: .7rem; } label { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header><h1>SocketBridge inspector</h1><span class="server" id="server">connecting...</span><span class="status" id="status"></span></header>
<main>
  <div>
    <section><h2>Request types</h2><div class="types" id="types"><p class="muted">Asking the server ($describe)...</p></div></section>
    <section style="margin-top:1rem"><h2>Exchanges</h2>
      <div class="log"><table><thead><tr><th>#</th><th>type</th><th>payload</th><th>answer</th><th>ms</th></tr></thead><tbody id="log"></tbody></table></div>
    </section>
  </div>
  <div>
    <section><h2>Statistics</h2>
      <table><thead><tr><th>type</th><th>requests</th><th>errors</th><th>in flight</th><th>p50 ms</th><th>p99 ms</th><th>latency</th></tr></thead><tbody id="stats"></tbody></table>
      <p class="muted" id="events-stats"></p>
    </section>
    <section style="margin-top:1rem"><h2>Events</h2>
      <form class="row" id="subscribe"><input id="patterns" placeholder="topic patterns, e.g. jobs.&gt;, builds.*" aria-label="topic patterns"><button>Subscribe</button></form>
      <p class="muted" id="subscribed">Not subscribed. <span id="dropped"></span></p>
      <div class="events" id="events"></div>
    </section>
  </div>
</main>
<script>
const token = new URLSearchParams(location.search).get("token");
// The one-time token leaves the address bar; the page keeps it in memory.
history.replaceState(null, "", "/");
const $ = (id) => document.getElementById(id);
const api = async (path, body) => (await fetch("/" + path + "?token=" + token, { method: "POST", body: JSON.stringify(body ?? {}) })).json();
const redact = (value) => JSON.stringify(value, (key, v) => /token|secret|password/i.test(key) ? "***" : v);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) key.startsWith("aria-") ? node.setAttribute(key, value) : node[key] = value;
  node.append(...children);
  return node;
};
const cards = new Map(); const latency = new Map(); let next = 1; let dropped = 0;

function field(name, schema) {
  const id = "f" + Math.random().toString(36).slice(2);
  let input;
  if (Array.isArray(schema.enum)) { input = el("select", { id }); for (const v of schema.enum) input.append(el("option", { value: JSON.stringify(v), textContent: String(v) })); input.read = () => JSON.parse(input.value); }
  else if (schema.type === "boolean") { input = el("input", { id, type: "checkbox" }); input.read = () => input.checked; }
  else if (schema.type === "number" || schema.type === "integer") { input = el("input", { id, type: "number", step: schema.type === "integer" ? "1" : "any" }); if (schema.minimum !== undefined) input.min = schema.minimum; if (schema.maximum !== undefined) input.max = schema.maximum; input.read = () => input.value === "" ? undefined : Number(input.value); }
  else if (schema.type === "string") { input = el("input", { id, type: "text" }); input.read = () => input.value === "" ? undefined : input.value; }
  else { input = el("textarea", { id, placeholder: "JSON" }); input.read = () => input.value.trim() === "" ? undefined : JSON.parse(input.value); }
  input.name = name;
  return [el("label", { htmlFor: id }, name + (schema.type ? " (" + schema.type + ")" : "")), input];
}

function card(type) {
  const schema = type.schema ?? {};
  const props = schema.type === "object" && schema.properties ? Object.entries(schema.properties).filter(([k, s]) => !(k === "type" && "const" in s)) : [];
  const inputs = [];
  const form = el("form");
  for (const [name, s] of props) { const [label, input] = field(name, s); inputs.push(input); form.append(el("div", {}, label), input); }
  const raw = props.length === 0 || schema.additionalProperties !== false ? el("textarea", { placeholder: props.length === 0 ? "payload (JSON object)" : "more keys (JSON object)", "aria-label": type.type + " payload JSON" }) : null;
  if (raw) form.append(raw);
  const call = el("button", { textContent: "Call", type: "submit" });
  const cancel = el("button", { textContent: "Cancel", type: "button", className: "secondary", disabled: true });
  const output = el("div", { className: "output", "aria-live": "polite" });
  form.append(el("div", { className: "actions" }, call, cancel), output);
  let running;
  form.onsubmit = async (event) => {
    event.preventDefault();
    let payload = { type: type.type };
    try {
      if (raw && raw.value.trim() !== "") payload = { ...JSON.parse(raw.value), ...payload };
      for (const input of inputs) { const v = input.read(); if (v !== undefined) payload[input.name] = v; }
    } catch (error) { output.replaceChildren(el("span", { className: "err", textContent: "Not JSON: " + error.message })); return; }
    running = String(next++);
    cards.set(running, { output, call, cancel });
    output.replaceChildren(); call.disabled = true; cancel.disabled = false;
    await api("call", { id: running, payload });
  };
  cancel.onclick = () => running && api("cancel", { id: running });
  return el("div", { className: "type" }, el("h3", { textContent: type.type }), el("p", { textContent: type.description || "" }), form);
}

function spark(values) {
  const max = Math.max(...values, 0.001);
  const points = values.map((v, i) => (i * 90 / Math.max(1, values.length - 1)).toFixed(1) + "," + (21 - v / max * 20).toFixed(1)).join(" ");
  return '<svg class="spark" viewBox="0 0 90 22" role="img" aria-label="p99 latency over time"><polyline fill="none" stroke="#2457c5" stroke-width="1.5" points="' + points + '"/></svg>';
}

function onMessage(message) {
  if (message.kind === "stats") {
    const r = message.report;
    $("server").textContent = r.server + " · " + r.connections + " connections · up since " + new Date(r.started).toLocaleTimeString();
    $("stats").innerHTML = "";
    for (const t of r.types) {
      const h = latency.get(t.type) ?? []; h.push(t.processing_ms.p99); if (h.length > 60) h.shift(); latency.set(t.type, h);
      const row = el("tr"); row.innerHTML = "<td></td><td class=num>" + t.requests + "</td><td class=num>" + t.errors + "</td><td class=num>" + t.in_flight + "</td><td class=num>" + t.processing_ms.p50.toFixed(2) + "</td><td class=num>" + t.processing_ms.p99.toFixed(2) + "</td><td>" + spark(h) + "</td>";
      row.firstChild.textContent = t.type || "(none)"; if (t.last_error) row.title = t.last_error.code + ": " + t.last_error.message;
      $("stats").append(row);
    }
    $("events-stats").textContent = "events: " + r.events.published + " published, " + r.events.delivered + " delivered, " + r.events.dropped + " dropped";
  } else if (message.kind === "sent") {
    const row = el("tr", { id: "x" + message.id });
    row.append(el("td", { textContent: message.id }), el("td", { textContent: message.payload.type ?? "" }), el("td", { textContent: redact(message.payload) }), el("td", { textContent: "..." }), el("td", { className: "num" }));
    $("log").prepend(row);
  } else if (message.kind === "chunk") {
    cards.get(message.id)?.output.append(el("div", { className: "chunk", textContent: "chunk " + redact(message.chunk) }));
  } else if (message.kind === "answer") {
    const card = cards.get(message.id); const a = message.answer;
    const text = a.status === "ok" ? "ok " + redact(a.result) : "error " + a.code + ": " + a.message + (a.data ? " " + redact(a.data) : "");
    if (card) { card.output.append(el("div", { className: a.status === "ok" ? "ok" : "err", textContent: text })); card.call.disabled = false; card.cancel.disabled = true; }
    const row = $("x" + message.id); if (row) { row.children[3].textContent = a.status === "ok" ? "ok" : a.code; row.children[3].className = a.status === "ok" ? "ok" : "err"; row.children[4].textContent = message.ms.toFixed(1); }
  } else if (message.kind === "event") {
    const e = message.entry;
    if (e.kind === "dropped") { dropped += e.count; $("dropped").textContent = dropped + " dropped"; }
    $("events").prepend(el("div", { textContent: e.kind === "event" ? e.topic + " " + redact(e.data) : e.kind === "dropped" ? "$dropped " + e.count : "(reconnected: events may be missing)" }));
  }
}

$("subscribe").onsubmit = async (event) => {
  event.preventDefault();
  const patterns = $("patterns").value.split(",").map((p) => p.trim()).filter(Boolean);
  const answer = await api("subscribe", { patterns });
  $("subscribed").firstChild.textContent = answer.ok ? (patterns.length ? "Subscribed to " + patterns.join(", ") + ". " : "Not subscribed. ") : "Refused: " + answer.error.message + " ";
};

const source = new EventSource("/events?token=" + token);
source.onmessage = (event) => onMessage(JSON.parse(event.data));
source.onopen = () => { $("status").textContent = "live"; };
source.onerror = () => { $("status").textContent = "reconnecting..."; };
api("describe").then((answer) => {
  const types = $("types"); types.replaceChildren();
  if (!answer.ok) { types.append(el("p", { className: "err", textContent: answer.error.message })); return; }
  if (answer.value.length === 0) types.append(el("p", { className: "muted", textContent: "The server declares no request types." }));
  for (const type of answer.value) types.append(card(type));
});
</script>
</body>
</html>
`;
