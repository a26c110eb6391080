// End to end: puts/s and latency of a real cluster, Cairn and etcd side by side on the same machine.
//
//   node dist/bench/cluster/put.js [--members=3] [--clients=1,64,256] [--duration=15 | --total=N]
//     [--warmup=2] [--rounds=2] [--conns=1] [--value-size=256] [--keyspace=100000]
//     [--key-order=random|seq] [--target=both|cairn|etcd] [--timeout-ms=30000] [--cpu-prof-dir=DIR]
//     [--node-args=FLAG,FLAG]
//     [--smoke]
//
// For every (members, clients) cell it starts a fresh cluster of each target, finds the leader, and
// runs the same put load against each in alternation (cairn, etcd, cairn, etcd, ...). The load goes
// to the leader's client URL: a follower would forward each put, adding a hop that etcd and Cairn
// may pay differently. Rounds are pooled, not averaged (see report.ts).
// Exits non-zero on any failed put, revision mismatch or leader change. --smoke: 1 member, 1 and 8
// in flight, 2 s, one round (about 15 s in all), for CI. The whole comparison matrix (gets, txns,
// watches, leases, memory, restarts) is bench/main.ts --compare.

import { mkdirSync } from 'node:fs';

import { checkFlags, choiceFlag, listFlag, numberFlag, stringFlag, switchFlag } from '../flags.js';
import { runAlternating } from './alternate.js';
import { cairnRevision, etcdVersion, type Target } from './launcher.js';
import type { Stop } from './load.js';
import { loadAverage } from './procfs.js';
import { machineDescription, pool, ratioTable, resultsTable, roundLine, type Row } from './report.js';
import { roundFailures, runLoadRound } from './round.js';
import { putWorkload, type KeyOrder } from './workloads.js';

const KNOWN = [
  'members',
  'clients',
  'duration',
  'total',
  'warmup',
  'rounds',
  'conns',
  'value-size',
  'keyspace',
  'key-order',
  'target',
  'timeout-ms',
  'cpu-prof-dir',
  'node-args',
  'smoke',
];

interface Settings {
  readonly members: readonly number[];
  readonly clients: readonly number[];
  readonly targets: readonly Target[];
  readonly stop: Stop;
  readonly warmupMs: number;
  readonly rounds: number;
  readonly conns: number;
  readonly timeoutMs: number;
  readonly keyspace: number;
  readonly keyOrder: KeyOrder;
  readonly valueSize: number;
  readonly cpuProfDir: string | undefined;
  /** Node flags for the cairn members (--node-args=--max-semi-space-size=32,...), for experiments. */
  readonly nodeArgs: readonly string[];
  readonly smoke: boolean;
}

function settings(): Settings {
  checkFlags(KNOWN);
  const smoke = switchFlag('smoke');
  const target = choiceFlag('target', ['both', 'cairn', 'etcd'], 'both');
  if (stringFlag('total', '') !== '' && stringFlag('duration', '') !== '') {
    throw new Error('give --total or --duration, not both');
  }
  const stop: Stop =
    stringFlag('total', '') !== ''
      ? { kind: 'total', calls: numberFlag('total', 1) }
      : { kind: 'duration', ms: numberFlag('duration', smoke ? 2 : 15, false) * 1000 };
  const cpuProfDir = stringFlag('cpu-prof-dir', '');
  return {
    members: listFlag('members', smoke ? '1' : '3'),
    clients: listFlag('clients', smoke ? '1,8' : '1,64,256'),
    targets: target === 'both' ? ['cairn', 'etcd'] : [target],
    stop,
    warmupMs: numberFlag('warmup', smoke ? 0.5 : 2, false) * 1000,
    rounds: numberFlag('rounds', smoke ? 1 : 2),
    conns: numberFlag('conns', 1),
    timeoutMs: numberFlag('timeout-ms', 30_000),
    keyspace: numberFlag('keyspace', 100_000),
    keyOrder: choiceFlag('key-order', ['random', 'seq'], 'random'),
    valueSize: numberFlag('value-size', 256),
    cpuProfDir: cpuProfDir === '' ? undefined : cpuProfDir,
    nodeArgs: stringFlag('node-args', '')
      .split(',')
      .filter((a) => a !== ''),
    smoke,
  };
}

async function main(): Promise<void> {
  const s = settings();
  if (s.cpuProfDir !== undefined) mkdirSync(s.cpuProfDir, { recursive: true });
  const stopText = s.stop.kind === 'total' ? `${s.stop.calls} puts` : `${s.stop.ms / 1000} s`;
  console.log(`# cluster put benchmark${s.smoke ? ' (smoke)' : ''}`);
  console.log(`command: node ${process.argv.slice(1).join(' ')}`);
  console.log(`machine: ${machineDescription()}`);
  console.log(`cairn: ${cairnRevision()}; etcd: ${etcdVersion()}; load average at start ${loadAverage()}`);
  console.log(
    `load: ${stopText} per round after ${s.warmupMs / 1000} s warm-up, ${s.rounds} round(s) per target ` +
      `alternating, ${s.conns} HTTP/2 connection(s), sent to the leader`,
  );
  const rows: Row[] = [];
  const failures: string[] = [];
  for (const members of s.members) {
    for (const clients of s.clients) {
      const results = await runAlternating(
        {
          cell: '',
          targets: s.targets,
          members,
          rounds: s.rounds,
          nodeArgs: [
            ...s.nodeArgs,
            ...(s.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${s.cpuProfDir}`]),
          ],
          beforeStop: (clusters) => {
            if (s.cpuProfDir === undefined) return;
            for (const c of clusters.filter((x) => x.target === 'cairn')) {
              const pids = c.members.map((m) => `${m.name}=${m.pid}`).join(', ');
              console.log(`cpu profiles in ${s.cpuProfDir}, one per member (${pids})`);
            }
          },
        },
        async (ctx) => {
          const r = await runLoadRound(ctx, {
            clients,
            conns: s.conns,
            warmupMs: s.warmupMs,
            stop: s.stop,
            timeoutMs: s.timeoutMs,
            workload: putWorkload({
              keyPrefix: 'bench/put/',
              keyspace: s.keyspace,
              keyOrder: s.keyOrder,
              valueSize: s.valueSize,
              // The same seed for both targets in a round: they get the same keys in the same order.
              seed: ctx.round,
            }),
          });
          console.log(roundLine(r));
          return r;
        },
      );
      for (const t of s.targets) {
        const mine = results.filter((r) => r.target === t);
        if (mine.length > 0) rows.push(pool(mine));
      }
      failures.push(...results.flatMap(roundFailures));
    }
  }
  console.log('');
  console.log('puts/s: all rounds pooled (each round in parentheses); latency percentiles over all rounds');
  console.log(resultsTable(rows));
  const ratios = ratioTable(rows);
  if (ratios !== '') console.log(`\n${ratios}`);
  if (failures.length > 0) {
    console.log(`\nFAILED:\n${failures.map((f) => `  ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
