// The two-way rows as a markdown table: medians over rounds, each with its goal.

import { PACED_EVENTS_PER_SECOND, SUBSCRIBERS, type TwoWayRound } from "./_two_way.ts";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[sorted.length >> 1];
}

function figure(value: number | undefined, digits = 0): string {
  return value === undefined || Number.isNaN(value) ? "n/a" : value.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** The two-way rows as a markdown table of medians over rounds, with their goals. */
export function twoWayTable(rounds: TwoWayRound[]): string {
  const m = (pick: (round: TwoWayRound) => number | undefined) => {
    const values = rounds.map(pick).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : median(values);
  };
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : a / b;
  const fanout = m((r) => r.fanout.socketbridge);
  const natsFanout = m((r) => r.fanout.nats);
  const fanoutRatio = m((r) => ratio(r.fanout.socketbridge, r.fanout.nats));
  const p99 = m((r) => r.fanoutLatency.socketbridge.p99);
  const natsP99 = m((r) => r.fanoutLatency.nats?.p99);
  const streamRatio = m((r) => r.streaming.chunks / r.streaming.pipelined);
  const cancelP50 = m((r) => r.cancel.p50);
  const met = (ok: boolean | undefined) => ok === undefined ? "n/a" : ok ? "yes" : "**no**";
  return [
    "| measure | SocketBridge | other | ratio (same round, median) | goal | met |",
    "| --- | ---: | ---: | ---: | ---: | :---: |",
    `| events delivered/s, 1 publisher → ${SUBSCRIBERS} subscriber connections (other: nats-server + nats.js) | ${
      figure(fanout)
    } | ${figure(natsFanout)} | ${figure(fanoutRatio, 2)}× | ≥ 1.5× | ${
      met(fanoutRatio === undefined ? undefined : fanoutRatio >= 1.5)
    } |`,
    `| publish-to-delivery p50 / p99 µs at ${PACED_EVENTS_PER_SECOND} events/s × ${SUBSCRIBERS} (other: NATS) | ${
      figure(m((r) => r.fanoutLatency.socketbridge.p50))
    } / ${figure(p99)} | ${figure(m((r) => r.fanoutLatency.nats?.p50))} / ${figure(natsP99)} | ${
      figure(ratio(p99, natsP99), 2)
    }× (p99) | ≤ 1.0× (p99) | ${met(natsP99 === undefined ? undefined : p99! <= natsP99)} |`,
    `| chunks/s of one stream (other: pipelined requests/s, 64 in flight, same server) | ${
      figure(m((r) => r.streaming.chunks))
    } | ${figure(m((r) => r.streaming.pipelined))} | ${figure(streamRatio, 2)}× | ≥ 0.8× | ${
      met(streamRatio === undefined ? undefined : streamRatio >= 0.8)
    } |`,
    `| abort() in the client to the handler's signal, p50 / p99 µs | ${figure(cancelP50)} / ${
      figure(m((r) => r.cancel.p99))
    } | | | p50 < 1,000 µs | ${met(cancelP50 === undefined ? undefined : cancelP50 < 1_000)} |`,
  ].join("\n");
}
