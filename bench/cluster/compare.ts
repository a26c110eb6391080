// `bench/main.ts --compare`: the comparison matrix, Cairn against etcd, cell by cell (matrix.ts),
// then the tables. Exits with status 1 if any round failed a check (errors, lost or disordered watch
// events, a revision count that does not match the acknowledged writes, a leader change, a wrong key
// count); timings never fail a run.

import { checkFlags, choiceFlag, listFlag, numberFlag, stringFlag, switchFlag } from '../flags.js';
import { cairnRevision, etcdVersion } from './launcher.js';
import { cells, type MatrixResults, type MatrixSettings } from './matrix.js';
import { loadAverage } from './procfs.js';
import { machineDescription, resultsTable } from './report.js';
import { loadLines, metricLines, summaryTable } from './summary.js';

export const COMPARE_FLAGS = [
  'compare',
  'smoke',
  'only',
  'target',
  'rounds',
  'warmup',
  'duration',
  'timeout-ms',
  'conns',
  'value-size',
  'members',
  'in-flight',
  'put-in-flight',
  'get-keys',
  'watchers',
  'watch-conns',
  'watch-streams',
  'watch-rate',
  'lease-streams',
  'memory-keys',
  'restart-keys',
];

export const COMPARE_USAGE = `node dist/bench/main.js --compare [--smoke] [--only=CELLS] [--target=both|cairn|etcd]
    [--rounds=2] [--warmup=2] [--duration=10] [--timeout-ms=30000] [--conns=1] [--value-size=256]
    [--members=3] [--in-flight=64] [--put-in-flight=1,64,256] [--get-keys=10000]
    [--watchers=1000] [--watch-conns=4] [--watch-streams=20] [--watch-rate=100] [--lease-streams=8]
    [--memory-keys=100000] [--restart-keys=1000000]
  CELLS: comma-separated cell names or families: put (put-1, put-64, put-256, put-64-1m),
  get (get-lin, get-ser), txn (txn-put), lease (lease-keepalive), watch, memory, restart.
  --smoke: every cell on 1 member, 8 in flight, tiny sizes, one short round (CI; under a minute).`;

function settings(): MatrixSettings {
  checkFlags(COMPARE_FLAGS);
  const smoke = switchFlag('smoke');
  const target = choiceFlag('target', ['both', 'cairn', 'etcd'], 'both');
  const pick = (full: number, small: number): number => (smoke ? small : full);
  return {
    targets: target === 'both' ? ['cairn', 'etcd'] : [target],
    smoke,
    rounds: numberFlag('rounds', pick(2, 1)),
    warmupMs: numberFlag('warmup', pick(2, 0.25), false) * 1000,
    durationMs: numberFlag('duration', pick(10, 1), false) * 1000,
    timeoutMs: numberFlag('timeout-ms', 30_000),
    conns: numberFlag('conns', 1),
    valueSize: numberFlag('value-size', 256),
    members: numberFlag('members', pick(3, 1)),
    inFlight: numberFlag('in-flight', pick(64, 8)),
    putInFlight: listFlag('put-in-flight', smoke ? '8' : '1,64,256'),
    getKeys: numberFlag('get-keys', pick(10_000, 200)),
    watchers: numberFlag('watchers', pick(1000, 50)),
    watchConns: numberFlag('watch-conns', pick(4, 2)),
    watchStreams: numberFlag('watch-streams', pick(20, 4)),
    watchRate: numberFlag('watch-rate', pick(100, 50)),
    leaseStreams: numberFlag('lease-streams', pick(8, 2)),
    memoryKeys: numberFlag('memory-keys', pick(100_000, 2000)),
    restartKeys: numberFlag('restart-keys', pick(1_000_000, 5000)),
  };
}

export async function compare(): Promise<void> {
  const s = settings();
  const all = cells(s);
  const only = stringFlag('only', '');
  const wanted = only === '' ? undefined : only.split(',');
  const unknown = (wanted ?? []).filter((w) => !all.some((c) => c.name === w || c.family === w));
  if (unknown.length > 0) throw new Error(`--only: unknown cell(s) ${unknown.join(', ')}`);
  const chosen = all.filter(
    (c) => wanted === undefined || wanted.includes(c.name) || wanted.includes(c.family),
  );

  const started = performance.now();
  console.log(`# Cairn vs etcd comparison matrix${s.smoke ? ' (smoke)' : ''}`);
  console.log(`command: node ${process.argv.slice(1).join(' ')}`);
  console.log(`machine: ${machineDescription()}`);
  console.log(`cairn: ${cairnRevision()}; etcd: ${etcdVersion()}; load average at start ${loadAverage()}`);
  console.log(
    `rounds: ${s.rounds} per target, alternating; load cells ${s.warmupMs / 1000} s warm-up + ${s.durationMs / 1000} s; ` +
      `cells: ${chosen.map((c) => c.name).join(', ')}`,
  );
  const out: MatrixResults = { rows: [], metrics: [], failures: [] };
  for (const cell of chosen) {
    console.log(`\n## ${cell.name}: ${cell.what}`);
    const cellStarted = performance.now();
    try {
      await cell.run(s, out);
      console.log(`(${cell.name}: ${((performance.now() - cellStarted) / 1000).toFixed(1)} s)`);
    } catch (e) {
      // One broken cell must not hide the others' results; it still fails the run.
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      console.log(`${cell.name}: ABORTED: ${msg}`);
      out.failures.push(`${cell.name}: aborted: ${msg.split('\n')[0]}`);
    }
  }

  console.log(
    '\n## Results (rates pooled over rounds, each round in parentheses; percentiles over all rounds)\n',
  );
  if (out.rows.length > 0) console.log(`${resultsTable(out.rows)}\n`);
  const measure = (unit: string): string => (unit === 'events' ? 'events/s delivered' : `${unit}/s`);
  const lines = [...loadLines(out.rows, (r) => measure(r.unit)), ...metricLines(out.metrics)];
  console.log(summaryTable(lines));
  console.log(`\nwall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (out.failures.length > 0) {
    console.log(`\nFAILED:\n${out.failures.map((f) => `  ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
}
