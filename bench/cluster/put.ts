// End to end: puts/s and latency of a real cluster, Cairn and etcd side by side on the same machine.
//
//   node dist/bench/cluster/put.js [--members=3] [--clients=1,64,256] [--duration=15 | --total=N]
//     [--warmup=2] [--rounds=2] [--conns=1] [--value-size=256] [--keyspace=100000]
//     [--key-order=random|seq] [--target=both|cairn|etcd] [--timeout-ms=30000] [--cpu-prof-dir=DIR]
//     [--smoke]
//
// For every (members, clients) cell it starts a fresh cluster of each target, finds the leader, and
// runs the same put load against each in alternation (cairn, etcd, cairn, etcd, ...). The load goes
// to the leader's client URL: a follower would forward each put, adding a hop that etcd and Cairn
// may pay differently. Rounds are pooled, not averaged (see report.ts).
// Exits non-zero on any failed put or revision mismatch. --smoke: 1 member, 1 and 8 in flight,
// 2 s, one round (about 15 s in all), for CI.

import { mkdirSync } from 'node:fs';

import { stringFlag } from '../flags.js';
import { memberStatus, putOnce } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';
import {
  cairnRevision,
  etcdVersion,
  startCluster,
  type Cluster,
  type Member,
  type Target,
} from './launcher.js';
import { runLoad, type Stop } from './load.js';
import { cpuSeconds, loadAverage, machineCpu, mainThreadCpuSeconds, peakRssBytes } from './procfs.js';
import {
  machineDescription,
  pool,
  ratioTable,
  resultsTable,
  roundLine,
  type RoundResult,
  type Row,
} from './report.js';
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
  'smoke',
];

function checkFlags(): void {
  for (const arg of process.argv.slice(2)) {
    const name = /^--([a-z-]+)(=|$)/.exec(arg)?.[1];
    if (name === undefined || !KNOWN.includes(name)) throw new Error(`unknown argument ${arg}`);
  }
}

function positive(name: string, raw: string, integer: boolean): number {
  const v = Number(raw);
  if (!(v > 0) || (integer && !Number.isInteger(v))) throw new Error(`--${name} must be a positive number`);
  return v;
}

function numberFlag(name: string, fallback: number, integer = true): number {
  const raw = stringFlag(name, '');
  return raw === '' ? fallback : positive(name, raw, integer);
}

function listFlag(name: string, fallback: string): number[] {
  return stringFlag(name, fallback)
    .split(',')
    .map((x) => positive(name, x, true));
}

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
  readonly smoke: boolean;
}

function settings(): Settings {
  checkFlags();
  const smoke = process.argv.includes('--smoke');
  const target = stringFlag('target', 'both');
  if (!['both', 'cairn', 'etcd'].includes(target)) throw new Error('--target must be both, cairn or etcd');
  if (stringFlag('total', '') !== '' && stringFlag('duration', '') !== '') {
    throw new Error('give --total or --duration, not both');
  }
  const total = stringFlag('total', '');
  const stop: Stop =
    total !== ''
      ? { kind: 'total', calls: positive('total', total, true) }
      : { kind: 'duration', ms: numberFlag('duration', smoke ? 2 : 15, false) * 1000 };
  if (!['random', 'seq'].includes(stringFlag('key-order', 'random'))) {
    throw new Error('--key-order must be random or seq');
  }
  const cpuProfDir = stringFlag('cpu-prof-dir', '');
  return {
    members: listFlag('members', smoke ? '1' : '3'),
    clients: listFlag('clients', smoke ? '1,8' : '1,64,256'),
    targets: target === 'both' ? ['cairn', 'etcd'] : [target as Target],
    stop,
    warmupMs: numberFlag('warmup', smoke ? 0.5 : 2, false) * 1000,
    rounds: numberFlag('rounds', smoke ? 1 : 2),
    conns: numberFlag('conns', 1),
    timeoutMs: numberFlag('timeout-ms', 30_000),
    keyspace: numberFlag('keyspace', 100_000),
    keyOrder: stringFlag('key-order', 'random') as KeyOrder,
    valueSize: numberFlag('value-size', 256),
    cpuProfDir: cpuProfDir === '' ? undefined : cpuProfDir,
    smoke,
  };
}

/** The member every member names as leader, once they agree. */
async function findLeader(cluster: Cluster, timeoutMs = 15_000): Promise<Member> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = new Map<bigint, Member>();
    const leaders = new Set<bigint>();
    for (const m of cluster.members) {
      const conn = await GrpcConnection.connect(m.clientUrl).catch(() => undefined);
      if (conn === undefined) continue;
      try {
        const s = await memberStatus(conn);
        seen.set(s.memberId, m);
        leaders.add(s.leader);
      } catch {
        // Not answering yet: ask again.
      } finally {
        conn.close();
      }
    }
    const [only] = [...leaders];
    if (seen.size === cluster.members.length && leaders.size === 1 && seen.has(only)) return seen.get(only)!;
    if (Date.now() > deadline) throw new Error(`${cluster.target}: the members don't agree on a leader`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const sumCpu = (ms: readonly Member[]): number => ms.reduce((n, m) => n + cpuSeconds(m.pid), 0);

async function runRound(
  s: Settings,
  cluster: Cluster,
  other: Cluster | undefined,
  leader: Member,
  clients: number,
  round: number,
): Promise<RoundResult> {
  const control = await GrpcConnection.connect(leader.clientUrl);
  try {
    const before = await memberStatus(control);
    const revBefore = await putOnce(control, 'bench/marker', `before ${round}`);
    // Leader first, so per-member numbers line up across rounds and targets.
    const order = [leader, ...cluster.members.filter((m) => m !== leader)];
    let cpu0: number[] = [];
    let leaderMain0 = 0;
    let otherCpu0 = 0;
    let machine0 = { busy: 0, idle: 0, steal: 0 };
    const load = await runLoad({
      url: leader.clientUrl,
      conns: s.conns,
      clients,
      warmupMs: s.warmupMs,
      stop: s.stop,
      timeoutMs: s.timeoutMs,
      workload: putWorkload({
        keyPrefix: 'bench/put/',
        keyspace: s.keyspace,
        keyOrder: s.keyOrder,
        valueSize: s.valueSize,
        // The same seed for both targets in a round: they get the same keys in the same order.
        seed: round,
      }),
      onMeasureStart: () => {
        cpu0 = order.map((m) => cpuSeconds(m.pid));
        leaderMain0 = mainThreadCpuSeconds(leader.pid);
        otherCpu0 = other === undefined ? 0 : sumCpu(other.members);
        machine0 = machineCpu();
      },
    });
    const machine1 = machineCpu();
    const serverCpuByMember = order.map((m, i) => cpuSeconds(m.pid) - cpu0[i]);
    const leaderMainThreadCpuSeconds = mainThreadCpuSeconds(leader.pid) - leaderMain0;
    const idleOtherCpuSeconds = other === undefined ? undefined : sumCpu(other.members) - otherCpu0;
    const serverCpuSeconds = serverCpuByMember.reduce((a, b) => a + b, 0);
    // Whatever the machine did beyond our servers and this process: someone else's work.
    const foreignCpuSeconds =
      machine1.busy - machine0.busy - serverCpuSeconds - (idleOtherCpuSeconds ?? 0) - load.clientCpuSeconds;
    const peak = order.map((m) => peakRssBytes(m.pid));
    const revAfter = await putOnce(control, 'bench/marker', `after ${round}`);
    const after = await memberStatus(control);
    return {
      target: cluster.target,
      members: cluster.members.length,
      clients,
      conns: s.conns,
      round,
      load,
      serverCpuSeconds,
      foreignCpuSeconds,
      stealSeconds: machine1.steal - machine0.steal,
      machineIdleShare:
        (machine1.idle - machine0.idle) /
        Math.max(1e-9, machine1.idle - machine0.idle + machine1.busy - machine0.busy),
      serverCpuByMember,
      leaderMainThreadCpuSeconds,
      peakRssBytes: peak,
      idleOtherCpuSeconds,
      leader: leader.name,
      termBefore: before.raftTerm,
      termAfter: after.raftTerm,
      // The second marker put is one revision of its own.
      revisionDelta: revAfter - revBefore - 1n,
      expectedRevisionDelta: BigInt(load.ok + load.warmupOk),
    };
  } finally {
    control.close();
  }
}

async function runCell(s: Settings, members: number, clients: number): Promise<RoundResult[]> {
  const clusters: Cluster[] = [];
  const results: RoundResult[] = [];
  try {
    for (const target of s.targets) {
      const nodeArgs = s.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${s.cpuProfDir}`];
      clusters.push(await startCluster({ target, members, nodeArgs }));
    }
    const leaders = new Map<Cluster, Member>();
    for (const c of clusters) leaders.set(c, await findLeader(c));
    for (let round = 1; round <= s.rounds; round++) {
      for (const c of clusters) {
        const other = clusters.find((x) => x !== c);
        const r = await runRound(s, c, other, leaders.get(c)!, clients, round);
        console.log(roundLine(r));
        results.push(r);
        // After an election the next round must again go to the leader.
        if (r.termAfter !== r.termBefore) leaders.set(c, await findLeader(c));
      }
    }
    if (s.cpuProfDir !== undefined) {
      for (const c of clusters.filter((x) => x.target === 'cairn')) {
        console.log(
          `cpu profiles in ${s.cpuProfDir}: leader ${leaders.get(c)!.name} is pid ${leaders.get(c)!.pid} ` +
            `(members: ${c.members.map((m) => `${m.name}=${m.pid}`).join(', ')})`,
        );
      }
    }
  } finally {
    for (const c of clusters) await c.stop();
  }
  return results;
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
  let failed = false;
  for (const m of s.members) {
    for (const c of s.clients) {
      const results = await runCell(s, m, c);
      for (const t of s.targets) {
        const mine = results.filter((r) => r.target === t);
        if (mine.length > 0) rows.push(pool(mine));
      }
      failed ||= results.some(
        (r) => r.load.errors > 0 || r.load.ok === 0 || r.revisionDelta !== r.expectedRevisionDelta,
      );
    }
  }
  console.log('');
  console.log('puts/s: all rounds pooled (each round in parentheses); latency percentiles over all rounds');
  console.log(resultsTable(rows));
  const ratios = ratioTable(rows);
  if (ratios !== '') console.log(`\n${ratios}`);
  if (failed) {
    console.log('\nFAILED: errors, no successful puts, or a revision count that does not match (see rounds)');
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
