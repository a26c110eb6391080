// The A B A B schedule of a comparison: a fresh cluster of each target for a cell, then rounds that
// take turns (cairn, etcd, cairn, etcd, ...), so slow drifts of a shared machine hit both alike.
// The clusters are stopped afterwards, also when a round throws.

import { findLeader } from './leader.js';
import { startCluster, type Cluster, type ClusterLayout, type Target } from './launcher.js';
import type { RoundContext } from './round.js';

export interface AlternateOptions {
  readonly cell: string;
  readonly targets: readonly Target[];
  readonly members: number;
  readonly rounds: number;
  /** Node flags for cairn members (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Runs before a cluster's members start (see ClusterOptions.prepare). */
  readonly prepare?: (layout: ClusterLayout) => Promise<void>;
  /** Runs once all rounds are done, before the clusters stop. */
  readonly beforeStop?: (clusters: readonly Cluster[]) => void;
}

export async function runAlternating<R>(
  o: AlternateOptions,
  round: (ctx: RoundContext) => Promise<R>,
): Promise<R[]> {
  const clusters: Cluster[] = [];
  const results: R[] = [];
  try {
    for (const target of o.targets) {
      clusters.push(
        await startCluster({
          target,
          members: o.members,
          nodeArgs: o.nodeArgs,
          startTimeoutMs: o.startTimeoutMs,
          prepare: o.prepare,
        }),
      );
    }
    for (let r = 1; r <= o.rounds; r++) {
      for (const cluster of clusters) {
        // Asked before every round: after an election the load must again go to the leader.
        const leader = await findLeader(cluster);
        const other = clusters.find((c) => c !== cluster);
        results.push(await round({ cell: o.cell, cluster, other, leader, round: r }));
      }
    }
    o.beforeStop?.(clusters);
  } finally {
    for (const c of clusters) await c.stop();
  }
  return results;
}
