// Opens a member's data dir (etcd's layout: member/wal, member/snap, member/snap/db): a restart
// when the WAL exists, otherwise a new member, either bootstrapping a new cluster from the initial
// member list or (joining an existing cluster) starting empty and learning everything from the leader.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { RawNode } from '../raft/rawnode.js';
import { MemoryStorage } from '../raft/storage.js';
import { isEmptyHardState, type BootstrapPeer, type Snapshot } from '../raft/types.js';
import { Backend } from '../storage/backend/index.js';
import { SnapError, loadNewestAvailable } from '../storage/snap/index.js';
import { Wal } from '../storage/wal/index.js';
import { minLeaseTtlSeconds } from '../lease/index.js';
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
  let fresh: boolean;
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
    const read = wal.readAll();
    identity = { memberId: read.metadata.nodeId, clusterId: read.metadata.clusterId };
    if (snapshot !== undefined) storage.applySnapshot(snapshot);
    if (!isEmptyHardState(read.hardState)) storage.setHardState(read.hardState);
    storage.append(read.entries);
    // A crash before the first Ready was persisted leaves an empty WAL: start over as new.
    fresh = snapshot === undefined && read.entries.length === 0 && isEmptyHardState(read.hardState);
    logger.info(
      `restarting member ${identity.memberId.toString(16)} in cluster ${identity.clusterId.toString(16)} at commit index ${read.hardState.commit}`,
    );
  } else {
    wal = await Wal.create(
      layout.walDir,
      { nodeId: identity.memberId, clusterId: identity.clusterId },
      walOptions,
    );
    fresh = true;
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

  const driver = new RaftDriver(node, storage, wal, layout.snapDir, o.heartbeatMs);
  const settings = { ...o, ...identity, snapDir: layout.snapDir, backendPath: layout.backendPath };
  return new Member(
    settings,
    state,
    reopenState,
    driver,
    o.peers,
    { applied, snapshotIndex: snapshot?.metadata.index ?? 0, confState: node.status().confState },
    metrics,
  );
}
