// `snapshot restore`: a data dir for one member of a NEW cluster, built from a snapshot file (etcd's
// or Cairn's: a bbolt database, normally followed by the SHA-256 of its content).
//
// What the member gets is what etcd's restore gives it: every bucket of the snapshot (keys and their
// revisions, leases, auth, alarms, cluster version), a membership replaced by the one of
// --initial-cluster and --initial-cluster-token (so member and cluster IDs are those etcd computes),
// and a raft state at term 1, index N (N members) from which all members start alike. Unlike etcd's,
// it writes no bootstrap entries: a raft snapshot at index N with all members as voters says the same.
//
// Unlike etcd, a restore that fails leaves nothing behind: everything is built under temporary names
// beside the targets and renamed into place only when complete and synced. The data dir is renamed
// last, so a data dir that exists is a complete one.

import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';

import {
  bootstrapNewCluster,
  encodeMember,
  memberKey,
  type Member as ClusterMember,
} from '../membership/index.js';
import {
  BUCKETS,
  Backend,
  decodeRevisionKey,
  encodeRevisionKey,
  type Bucket,
} from '../storage/backend/index.js';
import { saveSnap } from '../storage/snap/index.js';
import { fsyncDir } from '../storage/snap/atomic-file.js';
import { Wal } from '../storage/wal/index.js';
import { dataDirLayout } from './bootstrap.js';
import {
  RestoreError,
  openSnapshotSource,
  verifySnapshotHash,
  type SnapshotSource,
} from './snapshot-file.js';

export { RestoreError };

/** Entries written to the new backend between commits (bounds its write buffer). */
const COMMIT_EVERY = 10_000;

const latin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const META_SCHEDULED_COMPACT_KEY = latin1('scheduledCompactRev');
const META_FINISHED_COMPACT_KEY = latin1('finishedCompactRev');

export interface RestoreOptions {
  readonly snapshotPath: string;
  /** --name */
  readonly name: string;
  /** --data-dir (etcd's default is `<name>.etcd`; the caller resolves it). */
  readonly dataDir: string;
  /** --wal-dir; default `<data-dir>/member/wal`. */
  readonly walDir?: string;
  readonly initialCluster: string;
  readonly initialClusterToken: string;
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly skipHashCheck: boolean;
  /** --bump-revision: added to the snapshot's latest revision (needs markCompacted). */
  readonly bumpRevision?: number;
  /** --mark-compacted: the (bumped) latest revision becomes the compacted revision. */
  readonly markCompacted?: boolean;
  /** Progress lines (etcd logs the same steps). */
  readonly log?: (message: string, fields: Readonly<Record<string, unknown>>) => void;
}

export interface RestoreResult {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly members: readonly ClusterMember[];
  /** The snapshot's latest revision, before any bump. */
  readonly revision: number;
}

const bucketName = (name: Uint8Array): string => Buffer.from(name).toString('latin1');

/**
 * Copies the snapshot's buckets into a new backend, with the new membership and raft position;
 * `bump` (with `markCompacted`) moves the revision forward. Returns the snapshot's latest revision.
 */
async function buildBackend(
  reader: SnapshotSource,
  path: string,
  members: readonly ClusterMember[],
  bump: { readonly by: number; readonly markCompacted: boolean },
): Promise<number> {
  const backend = Backend.open(path);
  try {
    const tx = backend.batchTx;
    const known = new Set<string>(BUCKETS);
    let pending = 0;
    let lastRevisionKey: Uint8Array | undefined;
    for (const name of reader.bucketNames()) {
      const bucket = bucketName(name);
      // The old membership goes: the new cluster's replaces it below.
      if (!known.has(bucket) || bucket === 'members' || bucket === 'members_removed') continue;
      for (const { key, value } of reader.entries(name)) {
        tx.put(bucket as Bucket, key, value);
        if (bucket === 'key') lastRevisionKey = key;
        if (++pending >= COMMIT_EVERY) {
          pending = 0;
          await backend.commit();
        }
      }
    }
    for (const m of members) tx.put('members', memberKey(m.id), encodeMember(m));
    const revision = lastRevisionKey === undefined ? 0 : decodeRevisionKey(lastRevisionKey).main;
    if (bump.markCompacted) {
      const rev = encodeRevisionKey(revision + bump.by, 0);
      tx.put('meta', META_SCHEDULED_COMPACT_KEY, rev);
      tx.put('meta', META_FINISHED_COMPACT_KEY, rev);
    }
    // The state as of raft index N, term 1: what the raft snapshot below describes.
    tx.setConsistentIndex(members.length, 1);
    await backend.forceCommit();
    return revision;
  } finally {
    await backend.close();
  }
}

/** A name beside `path` for building it. */
function stagingName(path: string): string {
  return `${path}.restoring-${randomBytes(4).toString('hex')}`;
}

export async function restoreSnapshot(o: RestoreOptions): Promise<RestoreResult> {
  const log = o.log ?? (() => {});
  const dataDir = resolvePath(o.dataDir);
  const walDir = o.walDir !== undefined && o.walDir !== '' ? resolvePath(o.walDir) : undefined;
  const bump = o.bumpRevision ?? 0;
  if (!Number.isSafeInteger(bump) || bump < 0) throw new RestoreError(`invalid --bump-revision ${bump}`);
  if (bump > 0 && o.markCompacted !== true) {
    throw new RestoreError('--mark-compacted required if --bump-revision > 0');
  }
  // Every refusal comes before anything is written.
  const cluster = bootstrapNewCluster({
    name: o.name,
    initialCluster: o.initialCluster,
    token: o.initialClusterToken,
    advertisePeerUrls: o.initialAdvertisePeerUrls,
  });
  if (existsSync(dataDir)) throw new RestoreError(`data-dir ${JSON.stringify(o.dataDir)} exists`);
  if (walDir !== undefined && existsSync(walDir)) {
    throw new RestoreError(`wal-dir ${JSON.stringify(o.walDir)} exists`);
  }
  const length = verifySnapshotHash(o.snapshotPath, o.skipHashCheck);
  const reader = await openSnapshotSource(o.snapshotPath, length);

  const stagedData = stagingName(dataDir);
  const stagedWal = walDir === undefined ? undefined : stagingName(walDir);
  const layout = dataDirLayout(stagedData, stagedWal);
  log('restoring snapshot', {
    path: o.snapshotPath,
    'wal-dir': walDir ?? `${o.dataDir}/member/wal`,
    'data-dir': o.dataDir,
  });
  try {
    const revision = await buildBackend(reader, layout.backendPath, cluster.members, {
      by: bump,
      markCompacted: o.markCompacted === true,
    });
    for (const m of cluster.members) {
      log('added member', {
        'cluster-id': cluster.clusterId.toString(16),
        'added-peer-id': m.id.toString(16),
        'added-peer-peer-urls': m.peerUrls,
      });
    }

    const index = cluster.members.length;
    const voters = cluster.members.map((m) => m.id);
    const wal = await Wal.create(layout.walDir, { nodeId: cluster.localId, clusterId: cluster.clusterId });
    try {
      await wal.save({ term: 1, vote: 0n, commit: index }, []);
      await saveSnap(layout.snapDir, {
        data: new Uint8Array(0),
        metadata: { index, term: 1, confState: { voters, learners: [] } },
      });
      await wal.saveSnapshot({ index, term: 1 });
    } finally {
      await wal.close();
    }

    if (stagedWal !== undefined && walDir !== undefined) {
      renameSync(stagedWal, walDir);
      await fsyncDir(dirname(walDir));
    }
    renameSync(stagedData, dataDir);
    await fsyncDir(dirname(dataDir));
    log('restored snapshot', {
      path: o.snapshotPath,
      'wal-dir': walDir ?? `${o.dataDir}/member/wal`,
      'data-dir': o.dataDir,
    });
    return { clusterId: cluster.clusterId, memberId: cluster.localId, members: cluster.members, revision };
  } catch (e) {
    rmSync(stagedData, { recursive: true, force: true });
    if (stagedWal !== undefined) rmSync(stagedWal, { recursive: true, force: true });
    if (walDir !== undefined && existsSync(walDir) && !existsSync(dataDir)) {
      rmSync(walDir, { recursive: true, force: true });
    }
    throw e;
  } finally {
    await reader.close();
  }
}
