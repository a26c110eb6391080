// Opens a member's data dir (etcd's layout: member/wal, member/snap, member/snap/db): a restart
// when the WAL exists, otherwise a new member, either bootstrapping a new cluster from the initial
// member list or (joining an existing cluster) starting empty and learning everything from the leader.
// A restart with --force-new-cluster first rewrites the end of the log so that the member comes up as
// the only member of its cluster (force-new-cluster.ts).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import type { TokenProvider } from '../auth/index.js';
import { RawNode } from '../raft/rawnode.js';
import { MemoryStorage } from '../raft/storage.js';
import {
  isEmptyHardState,
  type BootstrapPeer,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from '../raft/types.js';
import { Backend, type ConsistentIndex } from '../storage/backend/index.js';
import { SnapError, loadNewestAvailable, saveSnap } from '../storage/snap/index.js';
import { Wal, type ReadAllResult } from '../storage/wal/index.js';
import { minLeaseTtlSeconds } from '../lease/index.js';
import { formatId, normalizeUrls } from '../membership/index.js';
import { planForceNewCluster, type ForceNewClusterPlan } from './force-new-cluster.js';
import { removeStaleSnapshotFiles } from './backend-snapshot.js';
import { Member, type Logger, type MemberSettings, type PeerPort } from './member.js';
import { ServerMetrics } from './metrics.js';
import { RaftDriver } from './raft-driver.js';
import { openState, type MemberState } from './state.js';
import { AlarmType } from '../proto/etcdserverpb/rpc.js';

export interface DataDirLayout {
  readonly memberDir: string;
  readonly walDir: string;
  readonly snapDir: string;
  readonly backendPath: string;
}

export function dataDirLayout(dataDir: string, walDir?: string): DataDirLayout {
  const memberDir = join(dataDir, 'member');
  const snapDir = join(memberDir, 'snap');
  return {
    memberDir,
    walDir: walDir !== undefined && walDir !== '' ? walDir : join(memberDir, 'wal'),
    snapDir,
    backendPath: join(snapDir, 'db'),
  };
}

/** Whether the data dir already holds a member (its WAL exists). */
export function hasMemberData(layout: DataDirLayout): boolean {
  return Wal.exists(layout.walDir);
}

export interface OpenMemberOptions extends Omit<
  MemberSettings,
  'memberId' | 'clusterId' | 'snapDir' | 'backendPath'
> {
  readonly dataDir: string;
  readonly walDir?: string;
  /** --auth-token's provider, kept by the member's state (default: simple tokens). */
  readonly tokens?: TokenProvider;
  readonly preVote: boolean;
  /** Identity for a new member; a restart takes it from the WAL. */
  readonly identity: { readonly memberId: bigint; readonly clusterId: bigint };
  /** A new cluster's members (raft bootstrap); undefined when joining an existing cluster. */
  readonly bootstrapPeers: readonly BootstrapPeer[] | undefined;
  readonly peers: PeerPort;
  /** Seed for election timeout randomisation. */
  readonly randomSeed: number;
  /** Where the member and its storage count (GET /metrics). Default: a registry of its own. */
  readonly metrics?: ServerMetrics;
  /**
   * --force-new-cluster: a restart comes up as the only member of its cluster (force-new-cluster.ts),
   * with `advertisePeerUrls` as its peer URLs should it have to be added. Ignored for a new member.
   */
  readonly forceNewCluster?: { readonly advertisePeerUrls: readonly string[] };
}

export async function openMember(o: OpenMemberOptions): Promise<Member> {
  const layout = dataDirLayout(o.dataDir, o.walDir);
  const logger: Logger = o.logger;
  const metrics = o.metrics ?? new ServerMetrics();
  const walOptions = { onFsync: metrics.walFsync };
  mkdirSync(layout.snapDir, { recursive: true, mode: 0o700 });
  for (const name of await removeStaleSnapshotFiles(layout.snapDir))
    logger.warn(`removed ${name}, left by a crash`);

  let wal: Wal;
  let snapshot: Snapshot | undefined;
  let read: ReadAllResult | undefined;
  const storage = new MemoryStorage();
  let identity = o.identity;
  if (hasMemberData(layout)) {
    const walSnaps = Wal.validSnapshots(layout.walDir);
    try {
      snapshot = await loadNewestAvailable(layout.snapDir, walSnaps, { logger });
    } catch (e) {
      if (!(e instanceof SnapError && e.code === 'no-snapshot')) throw e;
    }
    const at = snapshot === undefined ? { index: 0, term: 0 } : snapshot.metadata;
    wal = await Wal.open(layout.walDir, { index: at.index, term: at.term }, walOptions);
    if (wal.repaired !== undefined) logger.warn(`repaired a torn WAL tail: ${JSON.stringify(wal.repaired)}`);
    read = wal.readAll();
    identity = { memberId: read.metadata.nodeId, clusterId: read.metadata.clusterId };
    if (snapshot !== undefined) storage.applySnapshot(snapshot);
  } else {
    wal = await Wal.create(
      layout.walDir,
      { nodeId: identity.memberId, clusterId: identity.clusterId },
      walOptions,
    );
    logger.info(
      `starting member ${identity.memberId.toString(16)} in cluster ${identity.clusterId.toString(16)}`,
    );
  }

  const backendOptions = {
    logger,
    onCommit: metrics.backendCommit,
    onCommitError: (e: Error) => {
      logger.error(`backend commit failed, stopping: ${e.message}`);
      process.exit(1);
    },
  };
  const backend = Backend.open(layout.backendPath, backendOptions);
  const stateOptions = {
    tokens: o.tokens,
    identity: { clusterId: identity.clusterId, localId: identity.memberId },
    lessor: {
      now: () => performance.now(),
      minTtlSeconds: minLeaseTtlSeconds(o.electionMs, o.heartbeatMs),
    },
    logger,
    onAlarm: (action: 'raised' | 'cleared', memberId: bigint, type: AlarmType) =>
      logger.warn(`alarm ${action}: member ${memberId.toString(16)} ${AlarmType[type]}`),
    onTxnEnd: metrics.txnEnded,
  };
  const state = openState(backend, stateOptions);
  const reopenState = (replaced: MemberState): MemberState =>
    openState(Backend.open(layout.backendPath, backendOptions), stateOptions, replaced);
  const applied = Math.max(backend.consistentIndex().index, snapshot?.metadata.index ?? 0);

  // Members that --force-new-cluster removes: never dialled (the removal is applied first thing).
  let notDialled: ReadonlySet<bigint> = new Set();
  let fresh = true;
  if (read !== undefined) {
    let { hardState, entries } = read;
    if (o.forceNewCluster !== undefined) {
      let plan: ForceNewClusterPlan;
      try {
        plan = planForceNewCluster({
          localId: identity.memberId,
          snapshotConfState: snapshot?.metadata.confState,
          snapshotIndex: snapshot?.metadata.index ?? 0,
          hardState,
          entries,
          appliedIndex: backend.consistentIndex().index,
          members: state.cluster.members(),
          removedIds: state.cluster.removedIds(),
          advertisePeerUrls: normalizeUrls(o.forceNewCluster.advertisePeerUrls),
        });
        if (plan.discarded !== undefined) {
          logger.info(
            `discarding uncommitted WAL entries (entry-index ${plan.discarded.firstIndex}, ` +
              `commit-index-from-wal ${hardState.commit}, number-of-discarded-entries ${plan.discarded.count})`,
          );
        }
        if (plan.changed) await wal.save(plan.hardState, plan.appended);
      } catch (e) {
        await state.close().catch(() => {});
        await backend.close().catch(() => {});
        await wal.close().catch(() => {});
        throw e;
      }
      for (const id of plan.removedIds) logger.info(`force-new-cluster: removing member ${formatId(id)}`);
      if (plan.addsSelf) logger.info(`force-new-cluster: adding member ${formatId(identity.memberId)}`);
      if (plan.promotesSelf)
        logger.info(`force-new-cluster: promoting member ${formatId(identity.memberId)}`);
      hardState = plan.hardState;
      entries = [...plan.kept, ...plan.appended];
      notDialled = new Set(plan.removedIds);
      logger.info(
        `forcing restart member ${formatId(identity.memberId)} in cluster ${formatId(identity.clusterId)} ` +
          `at commit index ${hardState.commit}`,
      );
    } else {
      const caughtUp = await catchUpWithBackend(backend.consistentIndex(), hardState, entries, snapshot, {
        wal,
        snapDir: layout.snapDir,
        confState: {
          voters: state.cluster.voters().map((m) => m.id),
          learners: state.cluster.learners().map((m) => m.id),
        },
        logger,
      });
      hardState = caughtUp.hardState;
      entries = caughtUp.entries;
      if (caughtUp.snapshot !== snapshot && caughtUp.snapshot !== undefined) {
        snapshot = caughtUp.snapshot;
        storage.applySnapshot(snapshot);
      }
      logger.info(
        `restarting member ${identity.memberId.toString(16)} in cluster ${identity.clusterId.toString(16)} at commit index ${hardState.commit}`,
      );
    }
    if (!isEmptyHardState(hardState)) storage.setHardState(hardState);
    storage.append(entries);
    // A crash before the first Ready was persisted leaves an empty WAL: start over as new.
    fresh = snapshot === undefined && entries.length === 0 && isEmptyHardState(hardState);
  }

  const electionTick = Math.max(1, Math.round(o.electionMs / o.heartbeatMs));
  const node = new RawNode({
    id: identity.memberId,
    storage,
    electionTick,
    heartbeatTick: 1,
    applied: fresh ? 0 : applied,
    checkQuorum: true,
    preVote: o.preVote,
    randomSeed: o.randomSeed,
    logger,
  });
  if (fresh && o.bootstrapPeers !== undefined) node.bootstrap(o.bootstrapPeers);
  const self = identity.memberId;
  const conf = node.status().confState;
  if (!fresh && o.forceNewCluster === undefined && ![...conf.voters, ...conf.learners].includes(self)) {
    if (state.cluster.member(self) === undefined && !state.cluster.isRemoved(self)) {
      logger.warn(
        `member ${formatId(self)} is in no configuration of its cluster as of the log it holds; ` +
          'a data dir made by `cairnutl backup` must be started with --force-new-cluster',
      );
    }
  }

  const driver = new RaftDriver(node, storage, wal, layout.snapDir, o.heartbeatMs);
  const settings = { ...o, ...identity, snapDir: layout.snapDir, backendPath: layout.backendPath };
  return new Member(
    settings,
    state,
    reopenState,
    driver,
    o.peers,
    {
      applied,
      snapshotIndex: snapshot?.metadata.index ?? 0,
      confState: node.status().confState,
      notDialled,
    },
    metrics,
  );
}

/**
 * The backend may be ahead of the WAL's hard state: a commit-only hard state is written without a
 * sync, and a repaired torn tail drops the newest records. Whatever the backend applied was committed,
 * so the WAL's commit is raised to it; raft's applied index must never pass its commit index.
 *
 * When the WAL no longer holds entries the backend applied, the backend itself stands as the raft
 * snapshot at its consistent index (saved as one, so later restarts agree): new entries then take
 * later indices. Without it, entries proposed at the lost indices would be skipped as applied.
 */
async function catchUpWithBackend(
  applied: ConsistentIndex,
  hardState: HardState,
  entries: readonly Entry[],
  snapshot: Snapshot | undefined,
  io: { wal: Wal; snapDir: string; confState: ConfState; logger: Logger },
): Promise<{ hardState: HardState; entries: readonly Entry[]; snapshot: Snapshot | undefined }> {
  if (applied.index <= hardState.commit) return { hardState, entries, snapshot };
  const lastIndex = entries.length > 0 ? entries[entries.length - 1].index : (snapshot?.metadata.index ?? 0);
  if (applied.index <= lastIndex) {
    const first = entries[0].index;
    const held = entries[applied.index - first];
    if (held === undefined || held.index !== applied.index || held.term !== applied.term) {
      throw new Error(
        `the backend applied entry ${applied.index} (term ${applied.term}) but the WAL holds another ` +
          `there (term ${held?.term ?? 'none'}): the data dir is inconsistent; remove this member and add it back empty, or restore from a snapshot`,
      );
    }
    io.logger.warn(`the WAL's commit index ${hardState.commit} lags the backend's ${applied.index}: raised`);
    return { hardState: { ...hardState, commit: applied.index }, entries, snapshot };
  }
  if (applied.term === 0) {
    throw new Error(
      `the backend applied entries up to ${applied.index}, but the WAL ends at ${lastIndex} and the ` +
        `backend does not record the term: the data dir is inconsistent; remove this member and add it back empty, or restore from a snapshot`,
    );
  }
  const caughtUp: HardState = {
    ...hardState,
    term: Math.max(hardState.term, applied.term),
    commit: applied.index,
  };
  const asSnapshot: Snapshot = {
    data: new Uint8Array(0),
    metadata: { index: applied.index, term: applied.term, confState: io.confState },
  };
  // The hard state first: a WAL snapshot record counts only up to the commit the WAL records.
  await saveSnap(io.snapDir, asSnapshot);
  await io.wal.save(caughtUp, []);
  await io.wal.saveSnapshot({ index: applied.index, term: applied.term });
  io.logger.warn(
    `the WAL ends at index ${lastIndex} but the backend applied up to ${applied.index} (a repaired tail ` +
      `dropped applied entries): the backend now stands as the raft snapshot at ${applied.index}`,
  );
  return { hardState: caughtUp, entries: [], snapshot: asSnapshot };
}
