// One measured round against one cluster, and the checks every round must pass. A round is bracketed
// by two marker puts and two Status calls on the leader, so the driver can verify that the store
// advanced by exactly the writes it acknowledged and that the raft term (the leader) did not change.
// The server's CPU and memory are read from /proc for the measured window only.

import { memberStatus, putOnce } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';
import type { Cluster, Member } from './launcher.js';
import { runLoad, type ChannelFactory, type LoadResult, type Stop } from './load.js';
import { cpuSeconds, machineCpu, mainThreadCpuSeconds, peakRssBytes } from './procfs.js';
import type { RoundResult } from './report.js';
import type { Workload } from './workloads.js';

const sumCpu = (ms: readonly Member[]): number => ms.reduce((n, m) => n + cpuSeconds(m.pid), 0);

/** What /proc says about a window: open it when measuring starts, close it when it ends. */
export interface ResourceUsage {
  readonly serverCpuSeconds: number;
  /** Leader first, then the other members in plan order. */
  readonly serverCpuByMember: readonly number[];
  readonly leaderMainThreadCpuSeconds: number;
  readonly idleOtherCpuSeconds: number | undefined;
  readonly foreignCpuSeconds: number;
  readonly stealSeconds: number;
  readonly machineIdleShare: number;
  /** Peak RSS per member so far (VmHWM), leader first. */
  readonly peakRssBytes: readonly number[];
}

/** The members leader first, so per-member numbers line up across rounds and targets. */
export function leaderFirst(cluster: Cluster, leader: Member): Member[] {
  return [leader, ...cluster.members.filter((m) => m.name !== leader.name)];
}

/**
 * Samples CPU times now; the returned function samples again and gives the differences.
 * `clientCpuSeconds` is what this process spent meanwhile, to tell others' work from ours.
 */
export function openWindow(
  cluster: Cluster,
  other: Cluster | undefined,
  leader: Member,
): (clientCpuSeconds: number) => ResourceUsage {
  const order = leaderFirst(cluster, leader);
  const cpu0 = order.map((m) => cpuSeconds(m.pid));
  const leaderMain0 = mainThreadCpuSeconds(leader.pid);
  const otherCpu0 = other === undefined ? 0 : sumCpu(other.members);
  const machine0 = machineCpu();
  return (clientCpuSeconds) => {
    const machine1 = machineCpu();
    const serverCpuByMember = order.map((m, i) => cpuSeconds(m.pid) - cpu0[i]);
    const serverCpuSeconds = serverCpuByMember.reduce((a, b) => a + b, 0);
    const idleOtherCpuSeconds = other === undefined ? undefined : sumCpu(other.members) - otherCpu0;
    const busy = machine1.busy - machine0.busy;
    const idle = machine1.idle - machine0.idle;
    return {
      serverCpuSeconds,
      serverCpuByMember,
      leaderMainThreadCpuSeconds: mainThreadCpuSeconds(leader.pid) - leaderMain0,
      idleOtherCpuSeconds,
      // Whatever the machine did beyond our servers and this process: someone else's work.
      foreignCpuSeconds: busy - serverCpuSeconds - (idleOtherCpuSeconds ?? 0) - clientCpuSeconds,
      stealSeconds: machine1.steal - machine0.steal,
      machineIdleShare: idle / Math.max(1e-9, idle + busy),
      peakRssBytes: order.map((m) => peakRssBytes(m.pid)),
    };
  };
}

/** The term and revision before a round; `close` reads them after it. */
export interface Bracket {
  close(): Promise<{ termBefore: bigint; termAfter: bigint; revisionDelta: bigint }>;
}

export async function openBracket(control: GrpcConnection, round: number): Promise<Bracket> {
  const before = await memberStatus(control);
  const revBefore = await putOnce(control, 'bench/marker', `before ${round}`);
  return {
    close: async () => {
      const revAfter = await putOnce(control, 'bench/marker', `after ${round}`);
      const after = await memberStatus(control);
      // The second marker put is one revision of its own.
      return {
        termBefore: before.raftTerm,
        termAfter: after.raftTerm,
        revisionDelta: revAfter - revBefore - 1n,
      };
    },
  };
}

export interface RoundContext {
  readonly cell: string;
  readonly cluster: Cluster;
  /** The other target's cluster, idle meanwhile: its CPU is reported apart. */
  readonly other: Cluster | undefined;
  readonly leader: Member;
  readonly round: number;
}

/** Assembles a RoundResult from a load-like result, the window's usage and the bracket. */
export function roundResult(
  ctx: RoundContext,
  load: LoadResult,
  usage: ResourceUsage,
  bracket: { termBefore: bigint; termAfter: bigint; revisionDelta: bigint },
  o: { unit: string; clients: number; conns: number; expectedRevisionDelta: bigint },
): RoundResult {
  return {
    cell: ctx.cell,
    unit: o.unit,
    target: ctx.cluster.target,
    members: ctx.cluster.members.length,
    clients: o.clients,
    conns: o.conns,
    round: ctx.round,
    load,
    ...usage,
    leader: ctx.leader.name,
    ...bracket,
    expectedRevisionDelta: o.expectedRevisionDelta,
  };
}

export interface LoadRoundOptions {
  readonly clients: number;
  readonly conns: number;
  readonly warmupMs: number;
  readonly stop: Stop;
  readonly timeoutMs: number;
  readonly workload: Workload;
  readonly channels?: ChannelFactory;
}

/** One closed-loop load round against the leader. */
export async function runLoadRound(ctx: RoundContext, o: LoadRoundOptions): Promise<RoundResult> {
  const control = await GrpcConnection.connect(ctx.leader.clientUrl);
  try {
    const bracket = await openBracket(control, ctx.round);
    let close: ((clientCpuSeconds: number) => ResourceUsage) | undefined;
    const load = await runLoad({
      url: ctx.leader.clientUrl,
      conns: o.conns,
      clients: o.clients,
      warmupMs: o.warmupMs,
      stop: o.stop,
      timeoutMs: o.timeoutMs,
      workload: o.workload,
      channels: o.channels,
      onMeasureStart: () => {
        close = openWindow(ctx.cluster, ctx.other, ctx.leader);
      },
    });
    if (close === undefined) throw new Error('the load never opened its measured window');
    const usage = close(load.clientCpuSeconds);
    const b = await bracket.close();
    return roundResult(ctx, load, usage, b, {
      unit: o.workload.unit,
      clients: o.clients,
      conns: o.conns,
      expectedRevisionDelta: BigInt((load.ok + load.warmupOk) * o.workload.revisionsPerCall),
    });
  } finally {
    control.close();
  }
}

/** Why a round failed; empty if it passed. Timings never fail a round, only wrong or lost work. */
export function roundFailures(r: RoundResult): string[] {
  const out: string[] = [];
  const where = `${r.cell === '' ? '' : `${r.cell} `}${r.target} round ${r.round}`;
  if (r.load.errors > 0 || r.load.warmupErrors > 0) {
    out.push(`${where}: ${r.load.errors + r.load.warmupErrors} errors (first: ${r.load.firstError ?? '?'})`);
  }
  if (r.load.ok === 0) out.push(`${where}: no successful ${r.unit}`);
  if (r.revisionDelta !== r.expectedRevisionDelta) {
    out.push(`${where}: store revision advanced by ${r.revisionDelta}, expected ${r.expectedRevisionDelta}`);
  }
  if (r.termAfter !== r.termBefore)
    out.push(`${where}: leader changed (term ${r.termBefore} -> ${r.termAfter})`);
  return out;
}
