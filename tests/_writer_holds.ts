// Run by writer_test.ts with `--v8-flags=--expose-gc`: queues a large text
// in pieces to a peer that takes nothing, collects garbage at once (before
// the flush has even started), and prints whether the text was collected:
// the writer should hold its bytes only.

import { FrameWriter } from "../_shared/writer.ts";
import { TextPieces } from "../_wire/text_pieces.ts";

const stalled = { write: () => new Promise<number>(() => {}) };
const writer = new FrameWriter(stalled, 1 << 30);
let collected = false;
const registry = new FinalizationRegistry(() => collected = true);
let text: TextPieces | undefined = new TextPieces([`{"result":"`, "y".repeat(1 << 20), `"}`]);
registry.register(text, "text");
const length = text.length;
writer.enqueue(text);
text = undefined;
(globalThis as unknown as { gc(): void }).gc();
// Finalizers run in a later task.
await new Promise((resolve) => setTimeout(resolve, 50));
console.log(JSON.stringify({ collected, length, bufferedBytes: writer.bufferedBytes }));
Deno.exit(0);
