// What the CLI's stats and wait commands share: $stats as a table, durations
// such as 10s, and a sleep that a signal cuts short.

import type { StatsReport } from "../protocol.ts";
import { UsageError } from "./args.ts";

/** `$stats` as a table a person reads. */
export function statsTable(report: StatsReport): string {
  const rows = [
    ["TYPE", "REQUESTS", "ERRORS", "IN FLIGHT", "P50 MS", "P99 MS", "MAX MS", "LAST ERROR"],
    ...report.types.map((t) => [
      t.type === "" ? "(none)" : t.type,
      String(t.requests),
      String(t.errors),
      String(t.in_flight),
      t.processing_ms.p50.toFixed(2),
      t.processing_ms.p99.toFixed(2),
      t.processing_ms.max.toFixed(2),
      t.last_error === null ? "" : `${t.last_error.code}: ${t.last_error.message}`,
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const { published, delivered, dropped } = report.events;
  return [
    `${report.server}, up since ${report.started}, ${report.connections} connections; ` +
    `events: ${published} published, ${delivered} delivered, ${dropped} dropped`,
    ...rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()),
  ].join("\n");
}

/** A duration flag: `500ms`, `10s`, `2m`, or a number of milliseconds. */
export function durationOf(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) {
    throw new UsageError(
      `--${flag}: expected a duration such as 500ms, 10s or 2m, got ${JSON.stringify(text)}`,
    );
  }
  const unit = match[2] === "m" ? 60_000 : match[2] === "s" ? 1_000 : 1;
  return Number(match[1]) * unit;
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
