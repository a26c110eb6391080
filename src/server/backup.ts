// `cairnutl backup` (etcdutl 3.5's backup, formerly `etcdctl backup` of the v2 API): a copy of a
// member's data dir under a NEW identity, to be started with --force-new-cluster as a one-member
// cluster holding all the keys. The administration guide's disaster-recovery procedure:
//
//   cairnutl backup --data-dir /var/lib/etcd --backup-dir /tmp/etcd_backup
//   cairn --data-dir /tmp/etcd_backup --force-new-cluster ...
//
// What the copy holds, as etcd 3.5 makes it:
//   - WAL: a new WAL whose metadata carries a new random member ID and cluster ID, holding the source
//     WAL's hard state and entries after the newest usable raft snapshot, each at its index and term.
//     Entries that refer to the old members become empty entries (what a new leader appends, so they
//     apply as nothing) instead of being removed: conf changes and members publishing themselves
//     (ClusterMemberAttrSet). Keeping every index in place keeps the backend's consistent index
//     meaningful (etcd 3.4 removed such entries and shifted the rest, which broke exactly that).
//     With --with-v3=false every v3 request becomes empty too (etcd keeps only the v2 store then;
//     Cairn has none, so that copy holds no keys).
//   - snap/*.snap: the newest usable raft snapshot, its configuration emptied (it named old members).
//   - snap/db: with --with-v3 (the default) a copy of the backend with the `members` and
//     `members_removed` buckets emptied; otherwise a new backend whose consistent index is the commit
//     index.
// So the copy is in no configuration at all, of raft or of the membership: only --force-new-cluster can
// start it, which adds the member (with its --initial-advertise-peer-urls) through a conf change.
//
// Differences from etcd, all in the direction of safety:
//   - IDs are 64 random bits (etcd: idutil's time-based IDs), and the hard state's vote is cleared
//     (it named an old member).
//   - The source is read under its WAL lock, so a member cannot run on it meanwhile: a running member
//     is refused with a clear error (take `cairnctl snapshot save` from it instead). The backend is
//     then a closed LMDB file, copied byte for byte; the source dir is not written (the lock file
//     comes and goes in the WAL dir; a stale one left by a killed member is broken).
//   - Nothing partial is left behind: the copy is built under temporary names beside the targets and
//     renamed into place when complete and synced. A backup dir (or backup WAL dir) that exists and is
//     not empty is refused; an existing empty one is replaced, as etcd accepts it.

import { randomBytes } from 'node:crypto';
import {
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
} from 'node:fs';
import { basename, dirname, join, resolve as resolvePath, sep } from 'node:path';

import { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import { EMPTY_CONF_STATE, NONE, type Entry, type HardState, type Snapshot } from '../raft/types.js';
import { formatId } from '../membership/index.js';
import { Backend } from '../storage/backend/index.js';
import { listSnaps, readSnapFile, saveSnap } from '../storage/snap/index.js';
import { fsyncDir, fsyncPath } from '../storage/snap/atomic-file.js';
import { NodeWalFs, Wal, WalLockedError, type LockHandle } from '../storage/wal/index.js';
import { dataDirLayout } from './bootstrap.js';

/** WAL entries written per write while copying the log. */
const SAVE_BATCH = 1000;

export class BackupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackupError';
  }
}

export type BackupLog = (message: string, fields?: Readonly<Record<string, unknown>>) => void;

export interface BackupOptions {
  /** --data-dir: the member's data dir. */
  readonly dataDir: string;
  /** --wal-dir: the member's WAL dir when not `<data-dir>/member/wal`. */
  readonly walDir?: string;
  /** --backup-dir: the copy's data dir (must not exist, or be empty). */
  readonly backupDir: string;
  /** --backup-wal-dir: the copy's WAL dir when not `<backup-dir>/member/wal`. */
  readonly backupWalDir?: string;
  /** --with-v3 (default true): copy the keyspace. */
  readonly withV3?: boolean;
  readonly log?: BackupLog;
  /** The new identity (default: random). Test seam. */
  readonly newIdentity?: () => { readonly memberId: bigint; readonly clusterId: bigint };
  /** Called once the copy is complete, before it is renamed into place. Test seam (a throw fails it). */
  readonly beforeRename?: () => void | Promise<void>;
}

export interface BackupResult {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  /** The source's identity. */
  readonly sourceMemberId: bigint;
  readonly sourceClusterId: bigint;
  /** The raft snapshot copied (0: none). */
  readonly snapshotIndex: number;
  readonly hardState: HardState;
  /** WAL entries copied, and how many of them were made empty. */
  readonly entries: number;
  readonly emptied: number;
}

function randomId(): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE(0);
    if (id !== 0n) return id;
  }
}

function randomIdentity(): { memberId: bigint; clusterId: bigint } {
  const memberId = randomId();
  let clusterId = randomId();
  while (clusterId === memberId) clusterId = randomId();
  return { memberId, clusterId };
}

function isEmptyDir(path: string): boolean {
  try {
    return readdirSync(path).length === 0;
  } catch {
    return false;
  }
}

/** Refuses a target that exists with something in it (or is not a directory). */
function checkTarget(flag: string, path: string): void {
  if (existsSync(path) && !isEmptyDir(path)) {
    throw new BackupError(`${flag} ${JSON.stringify(path)} exists and is not empty`);
  }
}

/** A name beside `path` to build it under. */
function stagingName(path: string): string {
  return join(dirname(path), `.${basename(path)}.backup-${randomBytes(4).toString('hex')}`);
}

/** Moves `staged` to `target` (an empty directory there is replaced) and makes the rename durable. */
async function moveIntoPlace(staged: string, target: string): Promise<void> {
  if (existsSync(target)) {
    try {
      rmdirSync(target); // only ever empty: checkTarget refused anything else
    } catch (e) {
      throw new BackupError(`cannot replace ${target}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  renameSync(staged, target);
  await fsyncDir(dirname(target));
}

/**
 * The newest raft snapshot that the WAL records and that reads back intact (etcd's
 * LoadNewestAvailable), read without renaming damaged files (the source is not to be written).
 */
async function newestUsableSnapshot(
  snapDir: string,
  walDir: string,
  log: BackupLog,
): Promise<Snapshot | undefined> {
  if (!existsSync(snapDir)) return undefined;
  const walSnaps = Wal.validSnapshots(walDir);
  for (const f of await listSnaps(snapDir, { logger: { warn: (m) => log(m) } })) {
    if (!walSnaps.some((w) => w.index === f.index && w.term === f.term)) continue;
    try {
      return await readSnapFile(join(snapDir, f.name));
    } catch (e) {
      log('skipping an unreadable snap file', { path: join(snapDir, f.name), error: String(e) });
    }
  }
  return undefined;
}

/** An entry that applies as nothing, at the same place in the log. */
function emptied(e: Entry): Entry {
  return { term: e.term, index: e.index, type: 'normal', data: new Uint8Array(0) };
}

/** etcd's translateWAL: entries naming old members (or, without v3, every v3 request) become empty. */
function translateEntries(
  entries: readonly Entry[],
  withV3: boolean,
  log: BackupLog,
): { out: Entry[]; emptied: number } {
  let count = 0;
  const out = entries.map((e): Entry => {
    if (e.type === 'confChange') {
      log('ignoring EntryConfChange raft entry', { 'entry-index': e.index });
      count++;
      return emptied(e);
    }
    if (e.data.byteLength === 0) return e;
    let request: InternalRaftRequest;
    try {
      request = InternalRaftRequest.decode(e.data);
    } catch (err) {
      throw new BackupError(`WAL entry ${e.index} holds no request Cairn can read: ${String(err)}`);
    }
    if (request.clusterMemberAttrSet !== undefined) {
      log('ignoring cluster_member_attr_set', { 'entry-index': e.index });
      count++;
      return emptied(e);
    }
    if (!withV3 && request.header !== undefined) {
      log('ignoring v3 raft entry', { 'entry-index': e.index });
      count++;
      return emptied(e);
    }
    return e;
  });
  return { out, emptied: count };
}

/** The copy's backend: the source's (or a new one), without the old membership. */
async function writeBackend(
  source: string,
  target: string,
  withV3: boolean,
  consistent: { readonly index: number; readonly term: number },
): Promise<void> {
  if (withV3) {
    if (!existsSync(source)) throw new BackupError(`no backend at ${source}: is this a member's data dir?`);
    // The source is closed (its WAL lock is ours): the file is what a restart would open.
    copyFileSync(source, target, constants.COPYFILE_EXCL);
  }
  const be = Backend.open(target, { logger: { warn: () => {} } });
  try {
    const tx = be.batchTx;
    for (const bucket of ['members', 'members_removed'] as const) {
      for (const { key } of be.range(bucket, new Uint8Array(0))) tx.delete(bucket, key);
    }
    if (!withV3) tx.setConsistentIndex(consistent.index, consistent.term);
    await be.forceCommit();
  } finally {
    await be.close();
  }
  // LMDB's lock file (opened by us only) is not part of a data dir.
  rmSync(`${target}-lock`, { force: true });
  await fsyncPath(target);
}

export async function backupDataDir(o: BackupOptions): Promise<BackupResult> {
  const log: BackupLog = o.log ?? (() => {});
  const withV3 = o.withV3 ?? true;
  const src = dataDirLayout(
    resolvePath(o.dataDir),
    o.walDir === undefined || o.walDir === '' ? undefined : resolvePath(o.walDir),
  );
  const backupDir = resolvePath(o.backupDir);
  const backupWalDir =
    o.backupWalDir === undefined || o.backupWalDir === '' ? undefined : resolvePath(o.backupWalDir);

  // Every refusal comes before anything is written.
  if (!Wal.exists(src.walDir)) {
    throw new BackupError(`no WAL in ${src.walDir}: ${JSON.stringify(o.dataDir)} holds no member`);
  }
  checkTarget('backup-dir', backupDir);
  if (backupWalDir !== undefined) checkTarget('backup-wal-dir', backupWalDir);
  for (const target of [backupDir, backupWalDir]) {
    if (target === undefined) continue;
    for (const source of [resolvePath(o.dataDir), src.walDir]) {
      if (target === source || target.startsWith(source + sep) || source.startsWith(target + sep)) {
        throw new BackupError(`the backup ${target} must lie outside the member's ${source}`);
      }
    }
  }
  let lock: LockHandle;
  try {
    lock = new NodeWalFs().lock(src.walDir);
  } catch (e) {
    if (e instanceof WalLockedError) {
      throw new BackupError(
        `${e.message} backup needs the member stopped (from a running member take \`cairnctl snapshot save\`)`,
      );
    }
    throw e;
  }

  const staged = stagingName(backupDir);
  const stagedWal = backupWalDir === undefined ? undefined : stagingName(backupWalDir);
  const layout = dataDirLayout(staged, stagedWal);
  let movedWal = false;
  try {
    const snapshot = await newestUsableSnapshot(src.snapDir, src.walDir, log);
    const at = snapshot === undefined ? { index: 0, term: 0 } : snapshot.metadata;
    const read = Wal.read(src.walDir, { index: at.index, term: at.term });
    const identity = (o.newIdentity ?? randomIdentity)();
    if (identity.memberId === 0n || identity.clusterId === 0n || identity.memberId === identity.clusterId) {
      throw new BackupError('the new member and cluster IDs must be distinct and non-zero');
    }
    const { out: entries, emptied: emptiedCount } = translateEntries(read.entries, withV3, log);
    const hardState: HardState = { ...read.hardState, vote: NONE };
    const atCommit = entries.find((e) => e.index === hardState.commit);

    mkdirSync(layout.snapDir, { recursive: true, mode: 0o700 });
    await writeBackend(src.backendPath, layout.backendPath, withV3, {
      index: hardState.commit,
      term: atCommit?.term ?? hardState.term,
    });
    if (snapshot !== undefined) {
      await saveSnap(layout.snapDir, {
        data: snapshot.data,
        metadata: { ...snapshot.metadata, confState: EMPTY_CONF_STATE },
      });
    }
    const wal = await Wal.create(layout.walDir, { nodeId: identity.memberId, clusterId: identity.clusterId });
    try {
      // In batches (one write each), so the frames of a long log are never all in memory at once.
      for (let i = 0; i < entries.length; i += SAVE_BATCH) {
        await wal.save(undefined, entries.slice(i, i + SAVE_BATCH));
      }
      await wal.save(hardState, []);
      if (snapshot !== undefined) await wal.saveSnapshot({ index: at.index, term: at.term });
    } finally {
      await wal.close();
    }
    await fsyncDir(layout.snapDir);
    await fsyncDir(layout.memberDir);
    await fsyncDir(staged);
    await o.beforeRename?.();

    if (stagedWal !== undefined && backupWalDir !== undefined) {
      await moveIntoPlace(stagedWal, backupWalDir);
      movedWal = true;
    }
    await moveIntoPlace(staged, backupDir);
    log('saved backup', {
      'data-dir': o.dataDir,
      'backup-dir': o.backupDir,
      'member-id': formatId(identity.memberId),
      'cluster-id': formatId(identity.clusterId),
      'snapshot-index': at.index,
      'commit-index': hardState.commit,
      'wal-entries': entries.length,
    });
    return {
      ...identity,
      sourceMemberId: read.metadata.nodeId,
      sourceClusterId: read.metadata.clusterId,
      snapshotIndex: at.index,
      hardState,
      entries: entries.length,
      emptied: emptiedCount,
    };
  } catch (e) {
    rmSync(staged, { recursive: true, force: true });
    if (stagedWal !== undefined) rmSync(stagedWal, { recursive: true, force: true });
    rmSync(`${layout.walDir}.tmp`, { recursive: true, force: true }); // Wal.create's own staging
    if (movedWal && backupWalDir !== undefined) rmSync(backupWalDir, { recursive: true, force: true });
    throw e;
  } finally {
    lock.release();
  }
}
