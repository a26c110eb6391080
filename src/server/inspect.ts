// `cairnutl inspect`: a read-only report on a member's data dir for an operator in trouble: who the
// member is, what its WAL, raft snapshot files and backend hold, whether they agree, and which
// recovery procedure applies to what is wrong.
//
// Nothing in the data dir is changed, created or locked:
//   - the WAL is read by the WAL's own decoder (scanSegments) through a file layer that can only
//     open files for reading (every other operation throws), so nothing can repair or truncate;
//   - raft snapshot files are only read (a member would rename a damaged one to `.broken`; this
//     reports it);
//   - the backend is read from a private copy in a temporary directory, because opening an LMDB file
//     writes to it and creates a lock file beside it. A backend held open by a running process is not
//     copied (a copy taken while it commits may be torn); the report says so.
//
// How the WAL is read: first the whole chain of segments without assembling the entries into a log (as
// the member's start-up check, Wal.validSnapshots, reads it), which decodes every record, checks the
// CRC chain and finds a torn tail or mid-log corruption with its file and offset; after corruption, the same again with the damaged
// segment cut at the bad record, to report what comes before it. Then, as the member would at start,
// from the newest snapshot file the WAL records, with the entries.

import { constants as fsConstants, copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import type { Member } from '../membership/index.js';
import { RaftCluster } from '../membership/index.js';
import { KeyspaceStore } from '../mvcc/kv-store.js';
import { AlarmType } from '../proto/etcdserverpb/rpc.js';
import type { HardState } from '../raft/types.js';
import { Backend, decodeRevisionKey } from '../storage/backend/index.js';
import { listSnaps, readSnapFile } from '../storage/snap/index.js';
import { scanSegments, type ScanResult } from '../storage/wal/decoder.js';
import {
  NodeWalFs,
  Wal,
  WalCorruptError,
  type LockHandle,
  type OpenMode,
  type WalFile,
  type WalFs,
} from '../storage/wal/index.js';
import { listSegments, selectSegments, type SegmentName } from '../storage/wal/segment.js';
import { AlarmStore } from './alarms.js';
import { dataDirLayout } from './bootstrap.js';
import {
  describeHolders,
  lockMayHideHolder,
  memberFiles,
  processesHolding,
  readWalLock,
  type FileHolder,
  type WalLockInfo,
} from './data-dir-use.js';
import { backendFileProblem } from './offline-defrag.js';

/** The data dir cannot be inspected at all (no member in it). */
export class InspectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InspectError';
  }
}

export interface Position {
  readonly index: number;
  readonly term: number;
}

export interface FileOffset {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
}

export interface WalSegmentInfo {
  readonly name: string;
  readonly seq: number;
  /** The first raft index the segment may hold (from its name). */
  readonly firstIndex: number;
  readonly bytes: number;
}

export interface WalReport {
  readonly dir: string;
  readonly segments: readonly WalSegmentInfo[];
  /** Consecutive segments whose sequence numbers are not consecutive (files missing between them). */
  readonly gaps: readonly { readonly after: string; readonly before: string }[];
  /** Where the good data ends: the last segment read and the offset just past its last good record. */
  readonly end: { readonly file: string; readonly offset: number } | undefined;
  /** A torn write at the end of the last segment (the member repairs it at start). */
  readonly torn: FileOffset | undefined;
  /** A bad record anywhere else (the member refuses to start); what follows is as of before it. */
  readonly corrupt: FileOffset | undefined;
  /** Any other failure to read the WAL. */
  readonly error: string | undefined;
  /** The last hard state recorded (up to the damage, if any). */
  readonly hardState: HardState | undefined;
  /** Every snapshot record, in log order. */
  readonly snapshotRecords: readonly Position[];
  /** The snapshot the member opens its WAL at ({0, 0}: none). */
  readonly openedAt: Position | undefined;
  /** Entries after `openedAt`. */
  readonly entries: number | undefined;
  /** The log's last entry (or `openedAt` when no entry follows it). */
  readonly last: Position | undefined;
  /** Why the member could not open its WAL where it would, if it could not. */
  readonly openError: string | undefined;
}

export interface SnapFileReport {
  readonly name: string;
  readonly term: number;
  readonly index: number;
  readonly bytes: number;
  /** Why the file cannot be read (the member renames such a file to `.broken`). */
  readonly error: string | undefined;
  /** The WAL records this snapshot at or below its commit index (a restart may use it). */
  readonly knownToWal: boolean;
  /** The snapshot the member starts from. */
  readonly used: boolean;
}

export interface AlarmReport {
  readonly memberId: bigint;
  readonly alarm: string;
}

export interface BackendReport {
  readonly path: string;
  readonly sizeBytes: number;
  readonly sizeInUseBytes: number;
  readonly consistentIndex: number;
  readonly consistentTerm: number;
  /** The keyspace's current revision (the last revision in the `key` bucket, or the compaction's). */
  readonly revision: number;
  /** The last finished compaction's revision; -1 when never compacted. */
  readonly compactRevision: number;
  /** The last scheduled compaction's revision; -1 when none. */
  readonly scheduledCompactRevision: number;
  /** What etcd's HashKV at the current revision gives for this member. */
  readonly hashKv: { readonly hash: number; readonly revision: number; readonly compactRevision: number };
  readonly clusterVersion: string | undefined;
  readonly members: readonly Member[];
  readonly removedMemberIds: readonly bigint[];
  readonly alarms: readonly AlarmReport[];
  /** Warnings the keyspace or backend printed while opening. */
  readonly warnings: readonly string[];
}

export type BackendState =
  | ({ readonly state: 'read' } & BackendReport)
  | { readonly state: 'missing'; readonly path: string }
  | { readonly state: 'in-use'; readonly path: string; readonly sizeBytes: number }
  | { readonly state: 'unreadable'; readonly path: string; readonly error: string };

export type Severity = 'info' | 'warning' | 'error';

export interface Finding {
  readonly severity: Severity;
  readonly problem: string;
  /** What to do about it ('none needed' when the member handles it). */
  readonly procedure: string;
}

export interface InspectReport {
  readonly dataDir: string;
  /** Processes holding the member's files open (undefined: could not be checked, no /proc). */
  readonly holders: readonly FileHolder[] | undefined;
  readonly walLock: WalLockInfo | undefined;
  readonly memberId: bigint | undefined;
  readonly clusterId: bigint | undefined;
  readonly wal: WalReport;
  readonly snapDir: string;
  /** The `.snap` files, newest first. */
  readonly snapshots: readonly SnapFileReport[];
  readonly backend: BackendState;
  readonly findings: readonly Finding[];
  /** No finding of severity warning or error. */
  readonly healthy: boolean;
}

// ---- A WAL file layer that can only read ----------------------------------------------------------

function readOnly(what: string): never {
  throw new Error(`inspect: refusing to ${what}: the data dir is only read`);
}

class ReadOnlyFile implements WalFile {
  constructor(
    private readonly file: WalFile,
    private readonly limit: number,
  ) {}

  size(): number {
    return Math.min(this.file.size(), this.limit);
  }

  read(buf: Uint8Array, position: number): number {
    const n = Math.max(0, Math.min(buf.byteLength, this.limit - position));
    return n === 0 ? 0 : this.file.read(buf.subarray(0, n), position);
  }

  write(): void {
    readOnly('write a WAL segment');
  }

  datasync(): void {
    readOnly('sync a WAL segment');
  }

  sync(): void {
    readOnly('sync a WAL segment');
  }

  truncate(): void {
    readOnly('truncate a WAL segment');
  }

  close(): void {
    this.file.close();
  }
}

/** Reads through NodeWalFs; every change throws. A file can be made to look shorter (`limits`). */
class ReadOnlyWalFs implements WalFs {
  private readonly real = new NodeWalFs();
  /** Files read as if they ended at the given offset. */
  readonly limits = new Map<string, number>();

  open(file: string, mode: OpenMode): WalFile {
    if (mode !== 'r') readOnly(`open ${file} for writing`);
    return new ReadOnlyFile(this.real.open(file, 'r'), this.limits.get(file) ?? Number.MAX_SAFE_INTEGER);
  }

  preallocate(): Promise<void> {
    return readOnly('preallocate a WAL segment');
  }

  readdir(dir: string): string[] {
    return this.real.readdir(dir);
  }

  exists(file: string): boolean {
    return this.real.exists(file);
  }

  mkdirp(): void {
    readOnly('create a directory');
  }

  rename(): void {
    readOnly('rename a file');
  }

  unlink(): void {
    readOnly('remove a file');
  }

  removeAll(): void {
    readOnly('remove files');
  }

  copyFile(): void {
    readOnly('copy a file');
  }

  syncDir(): void {
    readOnly('sync a directory');
  }

  lock(): LockHandle {
    return readOnly('lock the WAL');
  }
}

// ---- The WAL --------------------------------------------------------------------------------------

/** Read from the start; with entries not assembled, a WAL may begin after index 1 (after a purge). */
const FROM_START: Position = { index: 0, term: 0 };

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface ChainResult {
  readonly scan: ScanResult | undefined;
  /** The segments that hold good data (up to and including a corrupt one). */
  readonly usable: readonly SegmentName[];
  readonly corrupt: FileOffset | undefined;
  readonly error: string | undefined;
}

/** Checks every frame and the CRC chain of `segs` (consecutive), stopping at the first bad record. */
function scanChain(fs: ReadOnlyWalFs, dir: string, segs: readonly SegmentName[]): ChainResult {
  try {
    return {
      scan: scanSegments(fs, dir, segs, FROM_START, false),
      usable: segs,
      corrupt: undefined,
      error: undefined,
    };
  } catch (e) {
    if (!(e instanceof WalCorruptError))
      return { scan: undefined, usable: segs, corrupt: undefined, error: message(e) };
    const corrupt = { file: e.file, offset: e.offset, reason: e.reason };
    const at = segs.findIndex((s) => join(dir, s.name) === e.file);
    const usable = at < 0 ? segs : segs.slice(0, at + 1);
    fs.limits.set(e.file, e.offset);
    try {
      return { scan: scanSegments(fs, dir, usable, FROM_START, false), usable, corrupt, error: undefined };
    } catch (again) {
      return { scan: undefined, usable, corrupt, error: message(again) };
    }
  }
}

/** The member and cluster IDs from the first segment whose metadata record reads. */
function identityFromAnySegment(
  fs: ReadOnlyWalFs,
  dir: string,
  segs: readonly SegmentName[],
): { nodeId: bigint; clusterId: bigint } | undefined {
  for (const s of segs) {
    try {
      const md = scanSegments(fs, dir, [s], FROM_START, false).metadata;
      if (md !== undefined) return md;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

// ---- The backend ----------------------------------------------------------------------------------

const latin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const META_SCHEDULED_COMPACT_KEY = latin1('scheduledCompactRev');

/** Reads the backend from a private copy (opening LMDB writes to the file and creates a lock file). */
async function readBackend(
  path: string,
  identity: { clusterId: bigint; localId: bigint },
): Promise<BackendState> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing', path };
    return { state: 'unreadable', path, error: message(e) };
  }
  let problem: string | undefined;
  try {
    problem = backendFileProblem(path);
  } catch (e) {
    problem = message(e);
  }
  if (problem !== undefined) return { state: 'unreadable', path, error: problem };
  const dir = mkdtempSync(join(tmpdir(), 'cairn-inspect-'));
  const warnings: string[] = [];
  try {
    const copy = join(dir, 'db');
    copyFileSync(path, copy, fsConstants.COPYFILE_FICLONE);
    const backend = Backend.open(copy, {
      logger: { warn: (m) => warnings.push(m) },
      onCommitError: () => {},
    });
    let store: KeyspaceStore | undefined;
    try {
      const sizeInUseBytes = backend.sizeInUse();
      const ci = backend.consistentIndex();
      const scheduled = backend.get('meta', META_SCHEDULED_COMPACT_KEY);
      store = KeyspaceStore.open(backend, { logger: { warn: (m) => warnings.push(m) } });
      const hash = store.hashByRev(0);
      const cluster = RaftCluster.recover(identity, backend.batchTx);
      const alarms = new AlarmStore(backend.batchTx)
        .get()
        .map((a) => ({ memberId: a.memberID, alarm: AlarmType[a.alarm] ?? String(a.alarm) }));
      return {
        state: 'read',
        path,
        sizeBytes: size,
        sizeInUseBytes,
        consistentIndex: ci.index,
        consistentTerm: ci.term,
        revision: store.revision,
        compactRevision: store.compactRevision,
        scheduledCompactRevision: scheduled === undefined ? -1 : decodeRevisionKey(scheduled).main,
        hashKv: { hash: hash.hash, revision: hash.hashRevision, compactRevision: hash.compactRevision },
        clusterVersion: cluster.version(),
        members: cluster.members(),
        removedMemberIds: cluster.removedIds(),
        alarms,
        warnings,
      };
    } finally {
      await store?.close();
      await backend.close();
    }
  } catch (e) {
    return { state: 'unreadable', path, error: message(e) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Diagnosis ------------------------------------------------------------------------------------

const NONE_NEEDED = 'none needed';

function replaceMember(memberId: bigint | undefined, voters: number | undefined): string {
  const id = memberId === undefined ? '<member ID>' : memberId.toString(16);
  const replace =
    `remove the member from the cluster (cairnctl member remove ${id}), move this data dir aside (keep ` +
    'it for diagnosis) and start from an empty one: cairnctl member add <name> --peer-urls=<its peer URLs>, ' +
    'then start the member with --initial-cluster-state existing; it catches up from the leader';
  const restore =
    'restore the data dir from the newest backup (cairnutl snapshot restore); writes made after that ' +
    'backup are lost';
  if (voters === 1) return `this is the cluster's only member: ${restore}`;
  if (voters === undefined) return `${replace}; if it is the cluster's only member: ${restore}`;
  return replace;
}

interface DiagnosisInput {
  readonly holders: readonly FileHolder[] | undefined;
  readonly walLock: WalLockInfo | undefined;
  readonly memberId: bigint | undefined;
  readonly wal: WalReport;
  readonly startCheckError: string | undefined;
  readonly snapshots: readonly SnapFileReport[];
  readonly backend: BackendState;
}

/** Whether the WAL still holds every entry from the first (its first segment has sequence number 0). */
function walFromStart(wal: WalReport): boolean {
  return wal.segments[0]?.seq === 0 && wal.gaps.length === 0;
}

function diagnose(d: DiagnosisInput): Finding[] {
  const out: Finding[] = [];
  const add = (severity: Severity, problem: string, procedure: string): void => {
    out.push({ severity, problem, procedure });
  };
  const voters =
    d.backend.state === 'read'
      ? d.backend.members.filter((m) => !m.isLearner).length || undefined
      : undefined;
  const replace = replaceMember(d.memberId, voters);
  const { wal } = d;

  if (d.holders !== undefined && d.holders.length > 0) {
    const who = describeHolders(d.holders, false);
    add(
      'warning',
      `the data dir is in use (${who}): its files change while they are read, the WAL tail may look torn, and the backend was not read`,
      'stop the member for a reliable report (or inspect a copy of the data dir taken while it was stopped)',
    );
  } else if (lockMayHideHolder(d.walLock)) {
    const pid = d.walLock?.pid;
    add(
      'warning',
      `the data dir may be in use: ${pid === undefined ? `the WAL lock file ${d.walLock?.path} cannot be read` : `the WAL lock file names pid ${pid}, which runs, and its open files cannot be listed`}; the backend was not read`,
      'make sure no member runs on this data dir, then inspect it again (as its owner)',
    );
  } else if (d.walLock !== undefined && d.walLock.pid !== undefined && !d.walLock.pidAlive) {
    add(
      'info',
      `stale WAL lock file ${d.walLock.path} (pid ${d.walLock.pid} is not running)`,
      `${NONE_NEEDED}: the member breaks it at start`,
    );
  }

  for (const g of wal.gaps) {
    add('error', `WAL segments missing: the sequence jumps from ${g.after} to ${g.before}`, replace);
  }
  if (wal.corrupt !== undefined) {
    const c = wal.corrupt;
    add(
      'error',
      `WAL corrupt mid-log at ${c.file} offset ${c.offset} (${c.reason}): the member refuses to start`,
      replace,
    );
  }
  if (wal.torn !== undefined) {
    const t = wal.torn;
    add(
      'warning',
      `WAL tail torn at ${t.file} offset ${t.offset} (${t.reason})`,
      `${NONE_NEEDED}: the member repairs it at start (it cuts ${basename(t.file)} at offset ${t.offset} and keeps the original as ${t.file}.broken)`,
    );
  }
  if (wal.error !== undefined) add('error', `the WAL cannot be read: ${wal.error}`, replace);
  const walReadable = wal.gaps.length === 0 && wal.corrupt === undefined && wal.error === undefined;
  if (walReadable && wal.openError !== undefined) {
    add('error', `the member cannot open its WAL: ${wal.openError}`, replace);
  } else if (walReadable && d.startCheckError !== undefined) {
    add(
      'error',
      `the member's start-up check of the WAL (Wal.validSnapshots) fails: ${d.startCheckError}`,
      `the WAL reads correctly from the segment the member needs (checked above), so this is a defect of the start-up check, not damage to the WAL: keep this data dir for diagnosis and report it; meanwhile ${replace}`,
    );
  }

  for (const s of d.snapshots) {
    if (s.error !== undefined) {
      add(
        'warning',
        `raft snapshot file ${s.name} is unreadable (${s.error})`,
        `${NONE_NEEDED} while an older snapshot or the WAL covers it: the member renames it to ${s.name}.broken at start and uses the next older one`,
      );
    }
  }
  const newestReadable = d.snapshots.find((s) => s.error === undefined);
  if (newestReadable !== undefined && !newestReadable.knownToWal && walReadable) {
    add(
      'info',
      `raft snapshot file ${newestReadable.name} is not recorded in the WAL at or below its commit (a crash right after writing it)`,
      `${NONE_NEEDED}: the member ignores it and starts from an older one`,
    );
  }

  const at = wal.openedAt;
  const b = d.backend;
  if (b.state === 'missing') {
    if (at !== undefined && at.index > 0) {
      add(
        'error',
        `the backend ${b.path} is missing and the member starts from a snapshot at index ${at.index}: the keyspace up to that index is gone`,
        replace,
      );
    } else if (!walFromStart(wal)) {
      add(
        'error',
        `the backend ${b.path} is missing and the WAL no longer holds the first entries (its oldest segment is ${wal.segments[0]?.name}): the keyspace cannot be rebuilt`,
        replace,
      );
    } else {
      add(
        'warning',
        `the backend ${b.path} is missing`,
        `${NONE_NEEDED}: the WAL holds every entry from the first; the member creates an empty backend and replays the whole WAL at start`,
      );
    }
  } else if (b.state === 'unreadable') {
    add('error', `the backend ${b.path} cannot be read: ${b.error}`, replace);
  } else if (b.state === 'read') {
    const ci = b.consistentIndex;
    const commit = wal.hardState?.commit;
    if (walReadable && at !== undefined && ci < at.index) {
      add(
        'error',
        `backend older than the raft snapshot the member starts from (consistent index ${ci} < snapshot index ${at.index}): entries ${ci + 1}..${at.index} are no longer in the WAL and would never be applied`,
        replace,
      );
    } else if (walReadable && commit !== undefined && ci > commit) {
      const inLog = wal.last !== undefined && ci <= wal.last.index;
      add(
        'error',
        `backend ahead of the WAL commit (consistent index ${ci} > commit ${commit}${inLog ? '; the entries are in the WAL but its recorded commit is older' : `; the WAL ends at index ${wal.last?.index ?? 0}`}): the data dir is not consistent and the member refuses to start`,
        replace,
      );
    } else if (walReadable && commit !== undefined && ci < commit) {
      add(
        'info',
        `backend behind the WAL (consistent index ${ci} < commit ${commit})`,
        `${NONE_NEEDED}: entries ${ci + 1}..${commit} are replayed from the WAL at start`,
      );
    }
    if (b.scheduledCompactRevision > b.compactRevision) {
      add(
        'info',
        `a compaction at revision ${b.scheduledCompactRevision} was interrupted`,
        `${NONE_NEEDED}: the member resumes it at start`,
      );
    }
    for (const a of b.alarms) {
      const id = a.memberId.toString(16);
      if (a.alarm === 'NOSPACE') {
        add(
          'warning',
          `alarm NOSPACE is raised (member ${id}): the cluster refuses writes`,
          'free space: compact (cairnctl compaction <revision>), defragment (cairnctl defrag, or cairnutl defrag --data-dir while the member is stopped), raise --quota-backend-bytes if needed, then cairnctl alarm disarm',
        );
      } else {
        add(
          'warning',
          `alarm ${a.alarm} is raised (member ${id})`,
          a.alarm === 'CORRUPT'
            ? `find the member whose data differs (cairnctl endpoint hashkv --cluster) and ${replaceMember(a.memberId, voters)}; then cairnctl alarm disarm`
            : 'cairnctl alarm list; cairnctl alarm disarm once the cause is gone',
        );
      }
    }
  }
  if (!out.some((f) => f.severity !== 'info')) {
    add('info', 'the data dir is consistent', `${NONE_NEEDED}: the member starts normally`);
  }
  const rank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  return out.sort((x, y) => rank[x.severity] - rank[y.severity]);
}

// ---- The report -----------------------------------------------------------------------------------

/** Inspects `<dataDir>` (read only). Throws InspectError for a dir without a member. */
export async function inspectDataDir(dataDir: string): Promise<InspectReport> {
  const layout = dataDirLayout(dataDir);
  const fs = new ReadOnlyWalFs();
  const walDir = layout.walDir;
  let all: SegmentName[];
  try {
    all = listSegments(fs, walDir);
  } catch (e) {
    throw new InspectError(`cannot read ${walDir}: ${message(e)}`);
  }
  if (all.length === 0) {
    let why = 'does not exist';
    try {
      if (statSync(walDir).isDirectory()) why = 'holds no WAL segments';
    } catch {
      // does not exist
    }
    throw new InspectError(`no member in data dir ${dataDir}: ${walDir} ${why}`);
  }

  const holders = processesHolding(memberFiles(layout.snapDir, layout.backendPath, walDir));
  const walLock = readWalLock(walDir);
  const inUse = (holders !== undefined && holders.length > 0) || lockMayHideHolder(walLock);

  const segments = all.map((s) => {
    let bytes = 0;
    try {
      bytes = statSync(join(walDir, s.name)).size;
    } catch {
      // reported by the scan
    }
    return { name: s.name, seq: s.seq, firstIndex: s.index, bytes };
  });
  const gaps: { after: string; before: string }[] = [];
  let runStart = 0;
  for (let i = 1; i < all.length; i++) {
    if (all[i].seq !== all[i - 1].seq + 1) {
      gaps.push({ after: all[i - 1].name, before: all[i].name });
      runStart = i;
    }
  }
  // Past a gap the CRC chain cannot be followed: check the run of segments after the last one.
  const chain = scanChain(fs, walDir, all.slice(runStart));
  const scan = chain.scan;
  const metadata = scan?.metadata ?? identityFromAnySegment(fs, walDir, all);
  const hardState = scan?.hardState;
  const snapshotRecords = scan?.snapshots ?? [];
  const commit = hardState?.commit ?? 0;
  const known = snapshotRecords.filter((s) => s.index <= commit);

  // Raft snapshot files, newest first; the member starts from the newest readable one the WAL knows.
  const snapshots: SnapFileReport[] = [];
  let used: Position | undefined;
  let snapNames: { name: string; term: number; index: number }[] = [];
  try {
    snapNames = await listSnaps(layout.snapDir, { logger: { warn: () => {} } });
  } catch {
    // no snap dir: no snapshot files
  }
  for (const s of snapNames) {
    const file = join(layout.snapDir, s.name);
    let bytes = 0;
    let error: string | undefined;
    try {
      bytes = statSync(file).size;
      await readSnapFile(file);
    } catch (e) {
      error = message(e);
    }
    const knownToWal = known.some((k) => k.index === s.index && k.term === s.term);
    const isUsed = used === undefined && error === undefined && knownToWal;
    if (isUsed) used = { index: s.index, term: s.term };
    snapshots.push({ name: s.name, term: s.term, index: s.index, bytes, error, knownToWal, used: isUsed });
  }

  // The WAL as the member opens it: from the segment holding its snapshot, with the entries.
  const openedAt: Position = used ?? { index: 0, term: 0 };
  let openError: string | undefined;
  let entries: number | undefined;
  let last: Position | undefined;
  if (chain.error === undefined) {
    try {
      const view = scanSegments(fs, walDir, selectSegments(walDir, chain.usable, openedAt.index), openedAt);
      if (!view.matched && chain.corrupt === undefined) {
        openError = `wal: snapshot not found: no snapshot record {index: ${openedAt.index}, term: ${openedAt.term}} in ${walDir}`;
      }
      entries = view.entries.length;
      const tail = view.entries[view.entries.length - 1];
      last = tail === undefined ? openedAt : { index: tail.index, term: tail.term };
    } catch (e) {
      openError = message(e);
    }
  }
  // What the member checks before opening (it reads every segment); a failure there stops it too.
  let startCheckError: string | undefined;
  if (chain.corrupt === undefined && chain.error === undefined && gaps.length === 0) {
    try {
      Wal.validSnapshots(walDir, { fs });
    } catch (e) {
      startCheckError = message(e);
    }
  }

  const usedLast = chain.usable[chain.usable.length - 1];
  const wal: WalReport = {
    dir: walDir,
    segments,
    gaps,
    end:
      scan === undefined || usedLast === undefined
        ? undefined
        : { file: join(walDir, usedLast.name), offset: scan.tailEnd },
    torn: scan?.torn === undefined ? undefined : { ...scan.torn },
    corrupt: chain.corrupt,
    error: chain.error,
    hardState,
    snapshotRecords,
    openedAt: chain.error === undefined ? openedAt : undefined,
    entries,
    last,
    openError,
  };

  const backend: BackendState = inUse
    ? { state: 'in-use', path: layout.backendPath, sizeBytes: sizeOf(layout.backendPath) }
    : await readBackend(layout.backendPath, {
        clusterId: metadata?.clusterId ?? 0n,
        localId: metadata?.nodeId ?? 0n,
      });

  const findings = diagnose({
    holders,
    walLock,
    memberId: metadata?.nodeId,
    wal,
    startCheckError,
    snapshots,
    backend,
  });
  return {
    dataDir,
    holders,
    walLock,
    memberId: metadata?.nodeId,
    clusterId: metadata?.clusterId,
    wal,
    snapDir: layout.snapDir,
    snapshots,
    backend,
    findings,
    healthy: findings.every((f) => f.severity === 'info'),
  };
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
