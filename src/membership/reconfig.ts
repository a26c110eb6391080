// The checks a member makes before proposing a membership change under --strict-reconfig-check (on by
// default), as etcd 3.4 makes them: first the started-members quorum, then peer connectivity over the
// last HEALTH_INTERVAL_MS. Pure: the caller passes the clock and what its transport knows.

import type { RaftCluster } from './cluster.js';
import { MembershipError } from './errors.js';
import type { Member } from './member.js';

/** How long a peer must have been connected to count as healthy (etcd's HealthInterval). */
export const HEALTH_INTERVAL_MS = 5000;

/** A learner may be promoted once its log reaches this share of the leader's (etcd's readyPercent). */
export const LEARNER_READY_PERCENT = 0.9;

export interface ReconfigContext {
  /** --strict-reconfig-check; when false only the learner-sync check of a promote remains. */
  readonly strict: boolean;
  /** Milliseconds since the epoch, from the caller's clock. */
  readonly now: number;
  /** When the transport's connection to a peer became active (ms), undefined when not connected. */
  readonly activeSince: (id: bigint) => number | undefined;
}

/** Voters (self always included) connected continuously since `since`. */
export function numConnectedSince(
  localId: bigint,
  voters: readonly Member[],
  activeSince: ReconfigContext['activeSince'],
  since: number,
): number {
  let n = 0;
  for (const m of voters) {
    const t = m.id === localId ? undefined : activeSince(m.id);
    if (m.id === localId || (t !== undefined && t < since)) n++;
  }
  return n;
}

/** MemberAdd: throws 'not-enough-started' or 'unhealthy' as etcd's mayAddMember does. */
export function checkAddMember(cluster: RaftCluster, isLearner: boolean, ctx: ReconfigContext): void {
  if (!ctx.strict) return;
  // A learner does not vote, so it cannot cost the cluster its quorum.
  if (!isLearner && !cluster.isReadyToAddVotingMember()) throw new MembershipError('not-enough-started');
  const voters = cluster.voters();
  const since = ctx.now - HEALTH_INTERVAL_MS;
  if (numConnectedSince(cluster.localId, voters, ctx.activeSince, since) !== voters.length) {
    throw new MembershipError('unhealthy');
  }
}

/** MemberRemove: throws 'not-enough-started' or 'unhealthy' as etcd's mayRemoveMember does. */
export function checkRemoveMember(cluster: RaftCluster, id: bigint, ctx: ReconfigContext): void {
  if (!ctx.strict) return;
  if (cluster.member(id)?.isLearner === true) return;
  if (!cluster.isReadyToRemoveVotingMember(id)) throw new MembershipError('not-enough-started');
  // A peer that is down is not part of the active quorum, so removing it is safe.
  if (id !== cluster.localId && ctx.activeSince(id) === undefined) return;
  const voters = cluster.voters();
  const active = numConnectedSince(cluster.localId, voters, ctx.activeSince, ctx.now - HEALTH_INTERVAL_MS);
  if (active - 1 < 1 + Math.floor((voters.length - 1) / 2)) throw new MembershipError('unhealthy');
}

/** Whether a learner's log is close enough to the leader's to be promoted. */
export function isLearnerInSync(learnerMatch: number, leaderMatch: number): boolean {
  return learnerMatch >= leaderMatch * LEARNER_READY_PERCENT;
}

/**
 * MemberPromote on the leader, as etcd's mayPromoteMember: `match` is the leader's progress for `id`
 * (undefined when raft tracks no such peer: the check is then left to validateConfChange at apply,
 * which answers 'id-not-found' or 'member-not-learner'). A peer behind the leader fails with
 * 'learner-not-ready'; then, when strict, a started quorum must remain ('not-enough-started').
 */
export function checkPromoteMember(
  cluster: RaftCluster,
  id: bigint,
  progress: { readonly match: number | undefined; readonly leaderMatch: number },
  ctx: ReconfigContext,
): void {
  if (progress.match !== undefined && !isLearnerInSync(progress.match, progress.leaderMatch)) {
    throw new MembershipError('learner-not-ready');
  }
  if (ctx.strict && !cluster.isReadyToPromoteMember(id)) throw new MembershipError('not-enough-started');
}
