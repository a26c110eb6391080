// The comparison matrix's summary: one line per cell and measure, both targets side by side with
// their ratio, the server CPU per operation and the RSS of each member. Load cells (puts, gets, ...)
// come from pooled rows (report.ts); one-shot measures (memory after a load, restart time, snapshot
// speed) come from MetricRounds and are averaged over the rounds, each round shown in parentheses.

import type { Target } from './launcher.js';
import { ms, type Row } from './report.js';

/** One measure of a one-shot round. */
export interface Measure {
  readonly name: string;
  readonly value: number;
  readonly higherIsBetter: boolean;
  /** Server CPU µs per unit of the measure (e.g. per key loaded), if it has one. */
  readonly cpuUsPerUnit?: number;
}

/** A round that yields measures rather than a stream of timed calls. */
export interface MetricRound {
  readonly cell: string;
  readonly target: Target;
  readonly members: number;
  readonly round: number;
  readonly measures: readonly Measure[];
  /** VmRSS per member at the end of the round, MiB, leader first. */
  readonly rssMiB: readonly number[];
  readonly failures: readonly string[];
}

interface Side {
  readonly value: number;
  readonly rounds: readonly number[];
  readonly p99Ms?: number;
  readonly cpuUsPerOp?: number;
  readonly rssMiB: readonly number[];
}

export interface SummaryLine {
  readonly cell: string;
  readonly members: number;
  readonly measure: string;
  readonly higherIsBetter: boolean;
  readonly sides: Partial<Record<Target, Side>>;
}

/** Lines of the load cells: throughput pooled over rounds, p99, CPU per call, peak RSS. */
export function loadLines(rows: readonly Row[], measure: (r: Row) => string): SummaryLine[] {
  const out: SummaryLine[] = [];
  for (const r of rows) {
    let line = out.find((l) => l.cell === r.cell && l.members === r.members);
    if (line === undefined) {
      line = { cell: r.cell, members: r.members, measure: measure(r), higherIsBetter: true, sides: {} };
      out.push(line);
    }
    line.sides[r.target] = {
      value: r.callsPerSecond,
      rounds: r.roundRates,
      p99Ms: r.p99Ms,
      cpuUsPerOp: r.serverCpuPer1k * 1000,
      rssMiB: r.peakRssMiB,
    };
  }
  return out;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Lines of one-shot cells: each measure averaged over the rounds; RSS is the largest seen per member. */
export function metricLines(rounds: readonly MetricRound[]): SummaryLine[] {
  const out: SummaryLine[] = [];
  for (const r of rounds) {
    for (const m of r.measures) {
      let line = out.find((l) => l.cell === r.cell && l.measure === m.name);
      if (line === undefined) {
        line = {
          cell: r.cell,
          members: r.members,
          measure: m.name,
          higherIsBetter: m.higherIsBetter,
          sides: {},
        };
        out.push(line);
      }
      const mine = rounds.filter((x) => x.cell === r.cell && x.target === r.target);
      const values = mine.map((x) => x.measures.find((y) => y.name === m.name)?.value ?? NaN);
      const cpu = mine.map((x) => x.measures.find((y) => y.name === m.name)?.cpuUsPerUnit);
      const cpuKnown = cpu.filter((c): c is number => c !== undefined);
      line.sides[r.target] = {
        value: mean(values),
        rounds: values,
        cpuUsPerOp: cpuKnown.length === cpu.length ? mean(cpuKnown) : undefined,
        rssMiB: r.rssMiB.map((_, i) => Math.max(...mine.map((x) => x.rssMiB[i] ?? 0))),
      };
    }
  }
  return out;
}

const num = (v: number): string =>
  Number.isNaN(v)
    ? '-'
    : v >= 1000
      ? v.toFixed(0)
      : v >= 100
        ? v.toFixed(0)
        : v >= 10
          ? v.toFixed(1)
          : v.toFixed(2);

function sideText(s: Side | undefined): string {
  if (s === undefined) return '-';
  return s.rounds.length > 1 ? `${num(s.value)} (${s.rounds.map(num).join(', ')})` : num(s.value);
}

export function summaryTable(lines: readonly SummaryLine[]): string {
  const out = [
    '| cell | members | measure | cairn | etcd | cairn/etcd | p99 ms cairn / etcd | server CPU µs / op cairn / etcd | RSS MiB per member cairn; etcd |',
    '|---|---:|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const l of lines) {
    const c = l.sides.cairn;
    const e = l.sides.etcd;
    const ratio = c !== undefined && e !== undefined ? (c.value / e.value).toFixed(2) : '-';
    const pair = (f: (s: Side) => number | undefined, fmt: (v: number) => string): string => {
      const a = c === undefined ? undefined : f(c);
      const b = e === undefined ? undefined : f(e);
      return a === undefined && b === undefined
        ? ''
        : `${a === undefined ? '-' : fmt(a)} / ${b === undefined ? '-' : fmt(b)}`;
    };
    const rss = [c, e]
      .map((s) => (s === undefined ? '-' : s.rssMiB.map((x) => x.toFixed(0)).join('/')))
      .join('; ');
    out.push(
      `| ${[
        l.cell,
        l.members,
        `${l.measure}${l.higherIsBetter ? '' : ' (lower is better)'}`,
        sideText(c),
        sideText(e),
        ratio,
        pair((s) => s.p99Ms, ms),
        pair(
          (s) => s.cpuUsPerOp,
          (v) => v.toFixed(0),
        ),
        rss,
      ].join(' | ')} |`,
    );
  }
  return out.join('\n');
}
