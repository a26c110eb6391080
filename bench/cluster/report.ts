// Results of benchmark rounds: pooling rounds into one row, percentiles, the markdown tables, and a
// description of the machine the numbers came from.

import { readFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';

import type { Target } from './launcher.js';
import type { LoadResult } from './load.js';

export interface RoundResult {
  /** The matrix cell, e.g. "get-lin"; empty for a driver that runs one kind of cell. */
  readonly cell: string;
  /** What one counted operation is, plural: "puts", "gets", "events", ... */
  readonly unit: string;
  readonly target: Target;
  readonly members: number;
  readonly clients: number;
  readonly conns: number;
  readonly round: number;
  readonly load: LoadResult;
  /** CPU seconds of all members together during the measured window. */
  readonly serverCpuSeconds: number;
  /** The same per member, in the order of peakRssBytes (leader first). */
  readonly serverCpuByMember: readonly number[];
  /** Peak RSS per member at the end of the round, the load's target (leader) first. */
  readonly peakRssBytes: readonly number[];
  /** CPU seconds of the leader's main thread (for cairn: its event loop). */
  readonly leaderMainThreadCpuSeconds: number;
  /** CPU seconds of other processes on the machine during the window (noise on shared cores). */
  readonly foreignCpuSeconds: number;
  /** Share of all cores' time that was idle during the window (0.5 = one of two cores free). */
  readonly machineIdleShare: number;
  /** CPU seconds the hypervisor stole from this VM during the window. */
  readonly stealSeconds: number;
  /** CPU seconds the other target's idle cluster used meanwhile (its share of the 2 cores). */
  readonly idleOtherCpuSeconds: number | undefined;
  readonly leader: string;
  readonly termBefore: bigint;
  readonly termAfter: bigint;
  /** Revisions the store advanced during the round versus acknowledged writes (they must match). */
  readonly revisionDelta: bigint;
  readonly expectedRevisionDelta: bigint;
}

export interface Row {
  readonly cell: string;
  readonly unit: string;
  readonly target: Target;
  readonly members: number;
  readonly clients: number;
  readonly rounds: number;
  readonly ok: number;
  readonly callsPerSecond: number;
  /** Per-round throughput, to show the spread the pooled number hides. */
  readonly roundRates: readonly number[];
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly serverCpuPer1k: number;
  readonly peakRssMiB: readonly number[];
  readonly clientCpuUsPerCall: number;
  /** Client CPU seconds per wall second: near 1.0 means one core is busy generating load. */
  readonly clientCpuShare: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

function mergeSorted(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out.sort();
}

/**
 * Pools the rounds of one target and cell: throughput is all successful calls over all measured
 * seconds, and percentiles are taken over the union of the rounds' latencies (not a mean of
 * per-round percentiles, which has no meaning for tails).
 */
export function pool(rounds: readonly RoundResult[]): Row {
  const first = rounds[0];
  const ok = rounds.reduce((n, r) => n + r.load.ok, 0);
  const errors = rounds.reduce((n, r) => n + r.load.errors, 0);
  const seconds = rounds.reduce((n, r) => n + r.load.seconds, 0);
  const lat = mergeSorted(rounds.map((r) => r.load.latenciesUs));
  const clientCpu = rounds.reduce((n, r) => n + r.load.clientCpuSeconds, 0);
  const serverCpu = rounds.reduce((n, r) => n + r.serverCpuSeconds, 0);
  const rss = first.peakRssBytes.map(
    (_, i) => Math.max(...rounds.map((r) => r.peakRssBytes[i] ?? 0)) / 2 ** 20,
  );
  return {
    cell: first.cell,
    unit: first.unit,
    target: first.target,
    members: first.members,
    clients: first.clients,
    rounds: rounds.length,
    ok,
    callsPerSecond: seconds > 0 ? ok / seconds : 0,
    roundRates: rounds.map((r) => (r.load.seconds > 0 ? r.load.ok / r.load.seconds : 0)),
    p50Ms: percentile(lat, 0.5) / 1000,
    p90Ms: percentile(lat, 0.9) / 1000,
    p99Ms: percentile(lat, 0.99) / 1000,
    maxMs: lat.length > 0 ? lat[lat.length - 1] / 1000 : NaN,
    errors,
    serverCpuPer1k: ok > 0 ? (serverCpu / ok) * 1000 : NaN,
    peakRssMiB: rss,
    clientCpuUsPerCall: ok + errors > 0 ? (clientCpu / (ok + errors)) * 1e6 : NaN,
    clientCpuShare: seconds > 0 ? clientCpu / seconds : 0,
  };
}

export const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function roundLine(r: RoundResult): string {
  const l = r.load;
  const rate = l.seconds > 0 ? l.ok / l.seconds : 0;
  const minSec = l.perSecond.length > 0 ? Math.min(...l.perSecond) : NaN;
  const parts = [
    `${r.cell === '' ? '' : `${r.cell} `}${r.target} m=${r.members} c=${r.clients} round ${r.round}:`,
    `${rate.toFixed(0)} ${r.unit}/s over ${l.seconds.toFixed(1)} s`,
    `(slowest whole second ${Number.isNaN(minSec) ? '-' : minSec})`,
    `p99 ${ms(percentile(l.latenciesUs, 0.99) / 1000)} ms, max ${ms(percentile(l.latenciesUs, 1) / 1000)} ms,`,
    `errors ${l.errors}${l.warmupErrors > 0 ? ` (+${l.warmupErrors} in warm-up)` : ''},`,
    `server CPU ${r.serverCpuSeconds.toFixed(2)} s (${r.serverCpuByMember.map((x) => x.toFixed(2)).join(' + ')}, leader first),`,
    r.target === 'cairn'
      ? `leader event loop ${(r.leaderMainThreadCpuSeconds / Math.max(l.seconds, 1e-9)).toFixed(2)} core,`
      : '',
    `client CPU ${(l.clientCpuSeconds / Math.max(l.seconds, 1e-9)).toFixed(2)} core,`,
    r.idleOtherCpuSeconds === undefined
      ? ''
      : `idle other cluster ${r.idleOtherCpuSeconds.toFixed(2)} CPU-s,`,
    `machine idle ${(r.machineIdleShare * 100).toFixed(0)}%, other processes ~${Math.max(0, r.foreignCpuSeconds).toFixed(1)} CPU-s,`,
    r.stealSeconds > 0 ? `steal ${r.stealSeconds.toFixed(2)} s,` : '',
    `leader ${r.leader}, term ${r.termBefore}${r.termAfter !== r.termBefore ? `->${r.termAfter} (LEADER CHANGE)` : ''},`,
    `revisions +${r.revisionDelta}${r.revisionDelta !== r.expectedRevisionDelta ? ` != ${r.expectedRevisionDelta} expected from acknowledged writes (MISMATCH)` : ' as expected'}`,
  ];
  if (l.maxConcurrentStreams !== undefined && l.maxConcurrentStreams < r.clients / r.conns) {
    parts.push(
      `\n    the server allows ${l.maxConcurrentStreams} streams per connection: the rest queued in the client`,
    );
  }
  parts.push(`\n    per second: ${l.perSecond.join(' ')}`);
  if (l.firstError !== undefined) parts.push(`\n    first error: ${l.firstError}`);
  return parts.filter((p) => p !== '').join(' ');
}

/** One unit for the header ("puts/s") when all rows share it, else "ops/s" (the cell column says). */
function unitOf(rows: readonly Row[]): string {
  const units = new Set(rows.map((r) => r.unit));
  return units.size === 1 ? [...units][0].replace(/s$/, '') : 'op';
}

export function resultsTable(rows: readonly Row[]): string {
  const withCell = rows.some((r) => r.cell !== '');
  const u = unitOf(rows);
  const head =
    `| ${withCell ? 'cell | ' : ''}target | members | in flight | ${u}s/s | p50 ms | p90 ms | p99 ms | max ms | errors | ` +
    `server CPU-s / 1k ${u}s | peak RSS / member MiB | client CPU µs / ${u} |`;
  const sep = `|${withCell ? '---|' : ''}---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|`;
  const lines = rows.map((r) =>
    [
      ...(withCell ? [r.cell] : []),
      r.target,
      r.members,
      r.clients,
      `${r.callsPerSecond.toFixed(0)} (${r.roundRates.map((x) => x.toFixed(0)).join(', ')})`,
      ms(r.p50Ms),
      ms(r.p90Ms),
      ms(r.p99Ms),
      ms(r.maxMs),
      r.errors,
      r.serverCpuPer1k.toFixed(3),
      r.peakRssMiB.map((x) => x.toFixed(0)).join(' / '),
      `${r.clientCpuUsPerCall.toFixed(0)} (${r.clientCpuShare.toFixed(2)} core)`,
    ].join(' | '),
  );
  return [head, sep, ...lines.map((l) => `| ${l} |`)].join('\n');
}

export function ratioTable(rows: readonly Row[]): string {
  const withCell = rows.some((r) => r.cell !== '');
  const u = unitOf(rows);
  const out = [
    `| ${withCell ? 'cell | ' : ''}members | in flight | ${u}s/s cairn/etcd | p99 cairn/etcd | server CPU per ${u} cairn/etcd |`,
    `|${withCell ? '---|' : ''}---:|---:|---:|---:|---:|`,
  ];
  for (const c of rows.filter((r) => r.target === 'cairn')) {
    const e = rows.find(
      (r) => r.target === 'etcd' && r.cell === c.cell && r.members === c.members && r.clients === c.clients,
    );
    if (e === undefined) continue;
    const cells = [
      ...(withCell ? [c.cell] : []),
      c.members,
      c.clients,
      (c.callsPerSecond / e.callsPerSecond).toFixed(2),
      (c.p99Ms / e.p99Ms).toFixed(2),
      (c.serverCpuPer1k / e.serverCpuPer1k).toFixed(2),
    ];
    out.push(`| ${cells.join(' | ')} |`);
  }
  return out.length > 2 ? out.join('\n') : '';
}

/** Where the numbers came from: cores, CPU, Node, kernel and the disk under the temp dirs. */
export function machineDescription(): string {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return [
    `${cpus().length} cores (${model}), Node ${process.version}, Linux ${release()}`,
    `temp dirs on ${diskOf(tmpdir())}`,
  ].join('; ');
}

function diskOf(dir: string): string {
  try {
    // The longest mount point that prefixes the dir holds it.
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2 && (dir === f[1] || dir.startsWith(f[1] === '/' ? '/' : `${f[1]}/`)))
      .sort((a, b) => b[1].length - a[1].length);
    const [dev, mnt, fs] = mounts[0];
    const name = dev.replace('/dev/', '');
    let rotational = '?';
    try {
      rotational = readFileSync(`/sys/block/${name}/queue/rotational`, 'utf8').trim();
    } catch {
      // A partition or a virtual device: no queue of its own.
    }
    return `${dev} (${fs} at ${mnt}, rotational=${rotational})`;
  } catch {
    return 'unknown device';
  }
}
