// The write-ahead log of a member's data directory (<data-dir>/member/wal), byte-compatible with etcd
// 3.4's WAL: the same segment names, frames, records, CRC chain, cut rule and repair rule. See
// record.ts for the format, decoder.ts for how damage is classified, docs/storage.md ("WAL") for the
// measurements behind the I/O choices.
//
//   const wal = await Wal.create(dir, { nodeId, clusterId });           // new member
//   const wal = await Wal.open(dir, { index, term });                    // restart at a snapshot
//   const { metadata, hardState, entries } = wal.readAll();
//   await wal.save(hardState, entries);       // one write + (if needed) one fdatasync per batch
//   await wal.saveSnapshot({ index, term });
//   await wal.releaseLockTo(index); await wal.purge(5);
//   await wal.close();
//
// Operations run one at a time in call order (an internal queue), so save() may be called again before
// the previous one resolved. A failed write or sync leaves the file in an unknown state: the WAL then
// refuses every further operation (a failed fsync must never be retried) and must be reopened.

import { Buffer } from 'node:buffer';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeEntry, encodeHardState } from '../../raft/codec.js';
import { EMPTY_HARD_STATE, isEmptyHardState, type Entry, type HardState } from '../../raft/types.js';
import { scanSegments, type ScanResult, type TornTail } from './decoder.js';
import {
  WalClosedError,
  WalCorruptError,
  WalError,
  WalExistsError,
  WalNotFoundError,
  WalSnapshotNotFoundError,
} from './errors.js';
import { NodeWalFs, type LockHandle, type WalFile, type WalFs } from './fs.js';
import {
  CRC_TYPE,
  ENTRY_TYPE,
  FrameBuilder,
  METADATA_TYPE,
  SNAPSHOT_TYPE,
  STATE_TYPE,
  encodeMetadata,
  encodeWalSnapshot,
  type WalMetadata,
  type WalSnapshot,
} from './record.js';
import { listSegments, selectSegments, walName, type SegmentName } from './segment.js';

/** etcd's SegmentSizeBytes: 64,000,000 bytes (not MiB). */
export const DEFAULT_SEGMENT_BYTES = 64_000_000;

/** etcd's --max-wals default. */
export const DEFAULT_MAX_WALS = 5;

export interface WalOptions {
  /** The file layer (tests inject faults here). Default: the real one, NodeWalFs. */
  readonly fs?: WalFs;
  /** Preallocated size of a segment, and the size past which a new one is cut. Default 64,000,000. */
  readonly segmentBytes?: number;
  /**
   * Told how long each sync of the tail segment took, in seconds (etcd's
   * etcd_disk_wal_fsync_duration_seconds). Must not throw; a throw is ignored.
   */
  readonly onFsync?: (seconds: number) => void;
}

/** What opening read: everything after the snapshot the WAL was opened at. */
export interface ReadAllResult {
  readonly metadata: WalMetadata;
  /** The last hard state recorded (EMPTY_HARD_STATE if none). */
  readonly hardState: HardState;
  /** Entries after the snapshot index; a later record for index i replaced i and everything after. */
  readonly entries: readonly Entry[];
}

/** What Wal.open did about a torn tail. */
export interface RepairReport {
  /** The segment that was truncated. */
  readonly file: string;
  /** The untouched copy of it. */
  readonly broken: string;
  /** Where it was truncated: the start of the torn record. */
  readonly offset: number;
  /** What was wrong with the torn record. */
  readonly reason: string;
}

interface Tail {
  seg: SegmentName;
  file: WalFile;
}

/** A segment being preallocated in the background as `<dir>/<n>.tmp`, like etcd's filePipeline. */
interface Prepared {
  readonly path: string;
  readonly file: WalFile;
}

const PIPELINE_TMP = /^[01]\.tmp$/;

class SegmentPipeline {
  private count = 0;
  private next: Promise<Prepared> | undefined;

  constructor(
    private readonly fs: WalFs,
    private readonly dir: string,
    private readonly size: number,
  ) {}

  /** Starts preparing the next segment unless one is ready or under way. */
  start(): void {
    if (this.next !== undefined) return;
    const p = this.prepare();
    p.catch(() => undefined); // reported by take()
    this.next = p;
  }

  /** The prepared segment (waiting for it if need be); the caller owns it. */
  async take(): Promise<Prepared> {
    this.start();
    const p = this.next as Promise<Prepared>;
    this.next = undefined;
    return p;
  }

  /** Waits for a preparation under way and deletes its file. */
  async close(): Promise<void> {
    const p = this.next;
    this.next = undefined;
    if (p === undefined) return;
    try {
      const prepared = await p;
      prepared.file.close();
      this.fs.unlink(prepared.path);
    } catch {
      // nothing prepared, nothing to remove
    }
  }

  private async prepare(): Promise<Prepared> {
    const file = path.join(this.dir, `${this.count % 2}.tmp`);
    this.count++;
    const f = this.fs.open(file, 'create');
    try {
      await this.fs.preallocate(f, this.size);
    } catch (e) {
      f.close();
      throw e;
    }
    return { path: file, file: f };
  }
}

function segmentBytesOf(options: WalOptions): number {
  const n = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`segmentBytes must be a positive integer`);
  return n;
}

/** Makes everything after `from` zero, so appending there can never be followed by leftover records. */
async function zeroToEnd(file: WalFile, from: number): Promise<boolean> {
  const size = file.size();
  if (from >= size) return false;
  const chunk = Buffer.alloc(Math.min(1 << 20, size - from));
  const zero = Buffer.alloc(chunk.byteLength);
  let dirty = false;
  for (let pos = from; pos < size;) {
    const n = file.read(chunk.subarray(0, Math.min(chunk.byteLength, size - pos)), pos);
    if (n === 0) break;
    const view = chunk.subarray(0, n);
    if (!view.equals(zero.subarray(0, n))) {
      let first = 0;
      while (view[first] === 0) first++;
      let last = n - 1;
      while (view[last] === 0) last--;
      const w = file.write(zero.subarray(0, last - first + 1), pos + first);
      if (w !== undefined) await w;
      dirty = true;
    }
    pos += n;
  }
  if (dirty) {
    const s = file.datasync();
    if (s !== undefined) await s;
  }
  return dirty;
}

/**
 * etcd's wal.Repair: keep a copy as `<file>.broken`, truncate at the torn record, fsync. The copy (its
 * content and its name) is durable before the original is cut, so a crash during the repair never
 * leaves the torn bytes nowhere.
 */
async function repair(fs: WalFs, dir: string, torn: TornTail): Promise<RepairReport> {
  const broken = `${torn.file}.broken`;
  fs.copyFile(torn.file, broken);
  await fs.syncDir(dir);
  const f = fs.open(torn.file, 'rw');
  try {
    f.truncate(torn.offset);
    await f.sync();
  } finally {
    f.close();
  }
  return { file: torn.file, broken, offset: torn.offset, reason: torn.reason };
}

/**
 * mkdir -p `dir`, making each directory it creates durable: its parent is fsynced after it. Without
 * this a power cut could take a freshly created `<data-dir>/member` away with everything in it.
 */
async function mkdirpDurable(fs: WalFs, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; !fs.exists(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  if (missing.length === 0) return;
  fs.mkdirp(dir);
  for (let i = missing.length - 1; i >= 0; i--) await fs.syncDir(path.dirname(missing[i]));
}

/** Syncs a segment (the syncs etcd times in wal.sync()) and reports how long it took. */
async function timedSync(
  file: WalFile,
  kind: 'data' | 'full',
  onFsync: ((seconds: number) => void) | undefined,
): Promise<void> {
  const started = performance.now();
  const s = kind === 'data' ? file.datasync() : file.sync();
  if (s !== undefined) await s;
  if (onFsync === undefined) return;
  try {
    onFsync((performance.now() - started) / 1000);
  } catch {
    // Metrics must never poison the WAL (a throw inside io() would).
  }
}

function removeStalePipelineFiles(fs: WalFs, dir: string): void {
  for (const name of fs.readdir(dir)) if (PIPELINE_TMP.test(name)) fs.unlink(path.join(dir, name));
}

function checkSnapshot(at: WalSnapshot): void {
  if (!Number.isSafeInteger(at.index) || at.index < 0 || !Number.isSafeInteger(at.term) || at.term < 0) {
    throw new RangeError(`snapshot {index: ${at.index}, term: ${at.term}} is not two non-negative integers`);
  }
}

function trimDir(dir: string): string {
  const d = path.normalize(dir);
  return d.length > 1 && d.endsWith(path.sep) ? d.slice(0, -1) : d;
}

/** Reads a WAL without locking or repairing it (for tools); a torn tail ends the data. */
function readOnly(fs: WalFs, dir: string, at: WalSnapshot): ScanResult {
  const segments = selectSegments(dir, listSegments(fs, dir), at.index);
  return scanSegments(fs, dir, segments, at);
}

export class Wal {
  private queue: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  private closed = false;
  private readonly builder: FrameBuilder;
  /** The last hard state written: decides whether a save must sync, and starts each new segment. */
  private state: HardState;
  /** Index of the last entry written (or of a later snapshot): names the next segment. */
  private enti: number;
  /** End of the data in the tail segment: where the next write goes. */
  private offset: number;
  private tail: Tail;
  /** The segments this WAL holds (from the one holding the snapshot opened at): purge keeps them. */
  private held: SegmentName[];
  private readonly pipeline: SegmentPipeline;
  private result: ReadAllResult | undefined;

  private constructor(
    private readonly fs: WalFs,
    /** The WAL directory. */
    readonly dir: string,
    private readonly lock: LockHandle,
    private readonly segmentBytes: number,
    private readonly metadataBytes: Uint8Array,
    init: {
      readonly tail: Tail;
      readonly offset: number;
      readonly crc: number;
      readonly held: SegmentName[];
      readonly state: HardState;
      readonly enti: number;
      readonly result: ReadAllResult;
    },
    /** Set when opening repaired a torn tail. */
    readonly repaired: RepairReport | undefined,
    private readonly onFsync: ((seconds: number) => void) | undefined,
  ) {
    this.tail = init.tail;
    this.offset = init.offset;
    this.builder = new FrameBuilder(init.crc);
    this.held = init.held;
    this.state = init.state;
    this.enti = init.enti;
    this.result = init.result;
    this.pipeline = new SegmentPipeline(fs, dir, segmentBytes);
    if (this.offset >= segmentBytes / 2) this.pipeline.start();
  }

  /** Whether `dir` holds WAL segments (etcd's wal.Exist). */
  static exists(dir: string, options: WalOptions = {}): boolean {
    return listSegments(options.fs ?? new NodeWalFs(), dir).length > 0;
  }

  /**
   * Creates a new WAL in `dir`: built in `<dir>.tmp` (a crc record, the metadata record and the
   * snapshot record {0, 0}, synced), renamed into place, parent directory synced (missing ancestors
   * are created durably first). Fails with WalExistsError if `dir` already holds segments; a failure
   * before the rename removes `<dir>.tmp`.
   */
  static async create(dir: string, metadata: WalMetadata, options: WalOptions = {}): Promise<Wal> {
    const fs = options.fs ?? new NodeWalFs();
    const segmentBytes = segmentBytesOf(options);
    dir = trimDir(dir);
    const metadataBytes = encodeMetadata(metadata);
    if (listSegments(fs, dir).length > 0) throw new WalExistsError(dir);
    if (fs.exists(dir) && fs.readdir(dir).length > 0) {
      // etcd would delete it; refusing is kinder to a mistyped --wal-dir.
      throw new WalError(`wal: ${dir} exists, is not empty and holds no WAL segments`);
    }
    const tmpDir = `${dir}.tmp`;
    if (fs.exists(tmpDir)) fs.removeAll(tmpDir);
    await mkdirpDurable(fs, path.dirname(dir));
    fs.mkdirp(tmpDir); // made durable by the rename below and the sync of its parent
    const lock = fs.lock(tmpDir);
    const seg: SegmentName = { name: walName(0, 0), seq: 0, index: 0 };
    let file: WalFile | undefined;
    let renamed = false;
    try {
      file = fs.open(path.join(tmpDir, seg.name), 'create');
      await fs.preallocate(file, segmentBytes);
      const b = new FrameBuilder(0);
      b.add(CRC_TYPE, undefined);
      b.add(METADATA_TYPE, metadataBytes);
      b.add(SNAPSHOT_TYPE, encodeWalSnapshot({ index: 0, term: 0 }));
      const head = b.take();
      const w = file.write(head, 0);
      if (w !== undefined) await w;
      await timedSync(file, 'data', options.onFsync); // etcd's Create syncs through wal.sync() too
      await fs.syncDir(tmpDir); // the segment's name must travel with the directory
      if (fs.exists(dir)) fs.removeAll(dir); // an empty directory (checked above)
      fs.rename(tmpDir, dir);
      renamed = true;
      lock.relocate(dir);
      await fs.syncDir(path.dirname(dir));
      return new Wal(
        fs,
        dir,
        lock,
        segmentBytes,
        metadataBytes,
        {
          tail: { seg, file },
          offset: head.byteLength,
          crc: b.crc,
          held: [seg],
          state: EMPTY_HARD_STATE,
          enti: 0,
          result: { metadata: { ...metadata }, hardState: EMPTY_HARD_STATE, entries: [] },
        },
        undefined,
        options.onFsync,
      );
    } catch (e) {
      file?.close();
      lock.release();
      if (!renamed) {
        try {
          fs.removeAll(tmpDir); // a half-built WAL (and its 64 MB segment) is of no use to anyone
        } catch {
          // the next create removes it
        }
      }
      throw e;
    }
  }

  /**
   * Opens the WAL in `dir` for appending, at the snapshot `at` ({0, 0} for a WAL that never had one):
   * takes the directory's lock, reads every segment from the one holding `at`, repairs a torn tail
   * of the last segment (a `.broken` copy is kept; see `repaired`) and refuses corruption anywhere
   * else with WalCorruptError. `at` must be recorded in the WAL (WalSnapshotNotFoundError).
   */
  static async open(dir: string, at: WalSnapshot, options: WalOptions = {}): Promise<Wal> {
    const fs = options.fs ?? new NodeWalFs();
    const segmentBytes = segmentBytesOf(options);
    checkSnapshot(at);
    dir = trimDir(dir);
    const all = listSegments(fs, dir);
    if (all.length === 0) throw new WalNotFoundError(`no WAL segments in ${dir}`);
    const lock = fs.lock(dir);
    let file: WalFile | undefined;
    try {
      removeStalePipelineFiles(fs, dir);
      const segments = selectSegments(dir, all, at.index);
      let scan = scanSegments(fs, dir, segments, at);
      let repaired: RepairReport | undefined;
      if (scan.torn !== undefined) {
        repaired = await repair(fs, dir, scan.torn); // at most once, like etcd
        scan = scanSegments(fs, dir, segments, at);
        const torn = scan.torn;
        if (torn !== undefined) {
          throw new WalCorruptError(torn.file, torn.offset, `${torn.reason}, still torn after a repair`);
        }
      }
      if (!scan.matched) throw new WalSnapshotNotFoundError(dir, at.index, at.term);
      const metadataBytes = scan.metadataBytes;
      const metadata = scan.metadata;
      if (metadataBytes === undefined || metadata === undefined) {
        throw new WalCorruptError(path.join(dir, segments[0].name), 0, 'no metadata record');
      }
      const last = segments[segments.length - 1];
      file = fs.open(path.join(dir, last.name), 'rw');
      await zeroToEnd(file, scan.tailEnd);
      return new Wal(
        fs,
        dir,
        lock,
        segmentBytes,
        metadataBytes,
        {
          tail: { seg: last, file },
          offset: scan.tailEnd,
          crc: scan.crc,
          held: segments,
          state: scan.hardState,
          enti: Math.max(scan.lastIndex, at.index),
          result: { metadata, hardState: scan.hardState, entries: scan.entries },
        },
        repaired,
        options.onFsync,
      );
    } catch (e) {
      file?.close();
      lock.release();
      throw e;
    }
  }

  /**
   * Reads the WAL in `dir` at snapshot `at` without locking or changing anything (etcd's
   * OpenForRead + ReadAll): a torn tail simply ends the data. For tools; a member uses open().
   */
  static read(dir: string, at: WalSnapshot, options: WalOptions = {}): ReadAllResult {
    const fs = options.fs ?? new NodeWalFs();
    checkSnapshot(at);
    dir = trimDir(dir);
    const scan = readOnly(fs, dir, at);
    if (!scan.matched) throw new WalSnapshotNotFoundError(dir, at.index, at.term);
    if (scan.metadata === undefined) throw new WalCorruptError(dir, 0, 'no metadata record');
    return { metadata: scan.metadata, hardState: scan.hardState, entries: scan.entries };
  }

  /**
   * The snapshot positions recorded in the WAL in `dir` that a restart may open at (etcd's
   * ValidSnapshotEntries): those at or below the last recorded commit index, oldest first. A `.snap`
   * file without such a record (a crash between writing the file and the record) must not be used.
   */
  static validSnapshots(dir: string, options: WalOptions = {}): WalSnapshot[] {
    const fs = options.fs ?? new NodeWalFs();
    dir = trimDir(dir);
    const all = listSegments(fs, dir);
    if (all.length === 0) throw new WalNotFoundError(`no WAL segments in ${dir}`);
    const scan = scanSegments(fs, dir, all, { index: 0, term: 0 }, false);
    return scan.snapshots.filter((s) => s.index <= scan.hardState.commit);
  }

  /** What was read when the WAL was opened. May be called once (the WAL drops it afterwards). */
  readAll(): ReadAllResult {
    const r = this.result;
    if (r === undefined) throw new WalError('wal: readAll() may be called only once');
    this.result = undefined;
    return r;
  }

  /** Index of the last entry written (or of a later snapshot record). */
  get lastIndex(): number {
    return this.enti;
  }

  /** Names of the segments this WAL holds (purge() never deletes them), oldest first. */
  get heldSegments(): readonly string[] {
    return this.held.map((s) => s.name);
  }

  /** The tail segment's name and the offset where the next record goes. */
  get position(): { readonly segment: string; readonly offset: number } {
    return { segment: this.tail.seg.name, offset: this.offset };
  }

  /**
   * Appends `entries`, then `hardState` (if given and not empty), with ONE write, followed by ONE
   * fdatasync when there are entries or the term or vote changed (etcd's raft.MustSync); a
   * commit-only change is written but not synced. Resolves once written (and synced if required).
   * Cuts a new segment afterwards once the tail has reached the segment size.
   */
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    return this.enqueue(() => this.doSave(hardState, entries));
  }

  /** Records that a snapshot at {index, term} exists, and syncs. */
  saveSnapshot(snapshot: WalSnapshot): Promise<void> {
    return this.enqueue(async () => {
      checkSnapshot(snapshot);
      const data = encodeWalSnapshot(snapshot);
      await this.io(async () => {
        this.builder.add(SNAPSHOT_TYPE, data);
        await this.append(this.builder.take());
        if (this.enti < snapshot.index) this.enti = snapshot.index;
        await this.syncTail('data');
      });
    });
  }

  /**
   * Stops holding the segments that lie entirely before the one containing `index` (etcd's
   * ReleaseLockTo), so purge() may delete them. The segment that may contain `index` is kept.
   */
  releaseLockTo(index: number): Promise<void> {
    return this.enqueue(() => {
      let smaller = this.held.length - 1; // no held segment starts at or after index: keep the last
      for (let i = 0; i < this.held.length; i++) {
        if (this.held[i].index >= index) {
          smaller = i - 1;
          break;
        }
      }
      if (smaller > 0) this.held = this.held.slice(smaller);
    });
  }

  /**
   * Deletes the oldest segments while more than `maxWals` remain, stopping at the first one this WAL
   * still holds (etcd's purge of *.wal). Returns the deleted names.
   */
  purge(maxWals: number = DEFAULT_MAX_WALS): Promise<string[]> {
    return this.enqueue(async () => {
      if (!Number.isSafeInteger(maxWals) || maxWals < 1) throw new RangeError('maxWals must be >= 1');
      const names = listSegments(this.fs, this.dir);
      const heldNames = new Set(this.held.map((s) => s.name));
      const deleted: string[] = [];
      while (names.length > maxWals && !heldNames.has(names[0].name)) {
        const oldest = names.shift() as SegmentName;
        this.fs.unlink(path.join(this.dir, oldest.name));
        deleted.push(oldest.name);
      }
      if (deleted.length > 0) await this.fs.syncDir(this.dir);
      return deleted;
    });
  }

  /** Syncs the tail, deletes the preallocated spare segment, closes files and releases the lock. */
  close(): Promise<void> {
    if (this.closed) return this.queue.then(() => undefined);
    this.closed = true;
    const p = this.queue.then(async () => {
      try {
        if (this.failure === undefined) await this.syncTail('data');
      } finally {
        this.tail.file.close();
        await this.pipeline.close();
        this.lock.release();
      }
    });
    this.queue = p.catch(() => undefined);
    return p;
  }

  // ---- internals --------------------------------------------------------------------------------

  private enqueue<T>(op: () => Promise<T> | T): Promise<T> {
    if (this.closed) return Promise.reject(new WalClosedError('the WAL is closed'));
    const p = this.queue.then(() => {
      if (this.failure !== undefined) {
        const why = this.failure instanceof Error ? this.failure.message : String(this.failure);
        throw new WalClosedError(`a previous write failed (${why}); reopen the WAL`, {
          cause: this.failure,
        });
      }
      return op();
    });
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Runs file I/O; any failure poisons the WAL (its files are in an unknown state). */
  private async io(op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (e) {
      this.failure ??= e;
      throw e;
    }
  }

  private syncTail(kind: 'data' | 'full'): Promise<void> {
    return timedSync(this.tail.file, kind, this.onFsync);
  }

  private async append(buf: Uint8Array): Promise<void> {
    const w = this.tail.file.write(buf, this.offset);
    if (w !== undefined) await w;
    this.offset += buf.byteLength;
  }

  private async doSave(hs: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    const hasState = hs !== undefined && !isEmptyHardState(hs);
    if (!hasState && entries.length === 0) return;
    const mustSync =
      entries.length > 0 ||
      (hs !== undefined && (hs.term !== this.state.term || hs.vote !== this.state.vote));
    const crcBefore = this.builder.crc;
    try {
      for (const e of entries) this.builder.add(ENTRY_TYPE, encodeEntry(e));
      if (hasState) this.builder.add(STATE_TYPE, encodeHardState(hs));
    } catch (e) {
      this.builder.discard(crcBefore); // nothing written: the WAL stays usable
      throw e;
    }
    const buf = this.builder.take();
    await this.io(async () => {
      await this.append(buf);
      if (entries.length > 0) this.enti = entries[entries.length - 1].index;
      if (hasState) this.state = hs;
      if (this.offset >= this.segmentBytes) {
        await this.cut(); // syncs
        return;
      }
      if (mustSync) await this.syncTail('data');
      if (this.offset >= this.segmentBytes / 2) this.pipeline.start();
    });
  }

  /**
   * etcd's cut: truncate the full segment at its end and sync it; the next segment (prepared in the
   * background) gets a crc record carrying the running CRC, the metadata and the current hard state,
   * is synced, renamed to `%016x-%016x.wal` (seq + 1, last index + 1), and the directory is synced.
   */
  private async cut(): Promise<void> {
    const old = this.tail;
    old.file.truncate(this.offset);
    await this.syncTail('full');
    const next = await this.pipeline.take();
    const seq = old.seg.seq + 1;
    const seg: SegmentName = { name: walName(seq, this.enti + 1), seq, index: this.enti + 1 };
    this.builder.add(CRC_TYPE, undefined);
    this.builder.add(METADATA_TYPE, this.metadataBytes);
    if (!isEmptyHardState(this.state)) this.builder.add(STATE_TYPE, encodeHardState(this.state));
    const head = this.builder.take();
    const w = next.file.write(head, 0);
    if (w !== undefined) await w;
    const s = next.file.datasync();
    if (s !== undefined) await s;
    const final = path.join(this.dir, seg.name);
    this.fs.rename(next.path, final);
    await this.fs.syncDir(this.dir);
    old.file.close();
    this.tail = { seg, file: next.file };
    this.offset = head.byteLength;
    this.held.push(seg);
  }
}
