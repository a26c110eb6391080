// The backend: the applied state of a member in one LMDB file, `<data-dir>/member/snap/db`, with
// etcd's ten buckets as named sub-databases (buckets.ts). This is etcd's mvcc/backend in TypeScript:
//
// WRITES go through the one BatchTx into an in-memory buffer (write-buffer.ts) and reach LMDB in
// batches: every `batchInterval` ms (default 100), as soon as `batchLimit` operations (default
// 10,000) are pending, or on an explicit commit(). One batch is one LMDB write transaction, committed
// with a full sync (lmdb-js' `overlappingSync` is off: the commit is durable when LMDB's own commit
// returns), and commit() resolves only then. At most one commit runs at a time; commit() calls made
// while one runs share the next one.
//
// ATOMIC UNITS. Automatic commits run from a timer or setImmediate, never inside a synchronous call.
// So every group of writes made without an await in between (applying one raft entry and then
// setConsistentIndex) lands in the same LMDB transaction: after a crash the data and the consistent
// index that describes it are both there or both absent. Keep such a group synchronous, or commit
// around it explicitly.
//
// READS see every applied write, committed or not (etcd's read buffer): get()/range() here and on
// the BatchTx read the live state synchronously; readTx() gives a snapshot that stays consistent
// across awaits until released (read-tx.ts explains why the two halves always agree).
//
// BACKUP copies the committed state (after committing the buffer) to a new single file with LMDB's
// own copy (mdb_env_copy2), which reads inside one LMDB read transaction, so the copy is a
// consistent point in time while commits go on. The copy is made under a temporary name and linked
// to the target only once complete and synced.
//
// DEFRAGMENT (etcd's Defrag) rewrites the file without its free pages, in steps:
//   1. a compacting copy to `db.tmp.<random>`, while commits go on (their batches are recorded);
//   2. commits pause; the recorded batches are replayed on the copy (now equal to the live file);
//   3. the copy is fsynced and renamed over `db` (atomic; a crash from here on restarts on it);
//   4. the copy's environment becomes the live one: commits resume on it, new reads use it;
//   5. the old environment is closed once the ReadTxs and backups that still use it are done.
// Only step 2 pauses commits (writes are buffered meanwhile) and reads never wait or fail.
// An LMDB environment cannot be opened twice in one process, and readers may overlap without end,
// so the live environment stays the one opened under the temporary name (lmdb-js keys environments
// by path). The only trace is its lock file `db.tmp.<random>-lock` beside `db`, removed at close.
// While it is live, another process opening `db` would not share its lock file: as with etcd (whose
// bbolt file is flock'ed), a data dir belongs to one process at a time.
//
// FAILURE. A failed LMDB commit leaves buffered writes that reads have already seen but that will
// never be durable; like etcd (which panics), the backend then refuses every further write and
// commit, and reports the error once to `onCommitError` (default: rethrown from a setImmediate, which
// ends the process). The same holds when defragment cannot sync the directory after its rename:
// the swap may not survive a crash, which would bring back the old file without later commits.
//
// DURABLE NAMES. Directories the backend creates, the db file and backup copies are made durable in
// their parent directory (fsync of the directory), not only in content.

import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  mkdirSync,
} from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { open, type RootDatabase } from 'lmdb';

import {
  BUCKETS,
  META_CONSISTENT_INDEX_KEY,
  META_TERM_KEY,
  decodeUint64BE,
  encodeUint64BE,
  type Bucket,
} from './buckets.js';
import { ReadTx, type BucketDbs, type KeyValue, type RangeOptions } from './read-tx.js';
import { WriteBuffer, type Layer } from './write-buffer.js';

export const DEFAULT_BATCH_INTERVAL_MS = 100;
export const DEFAULT_BATCH_LIMIT = 10_000;
/** lmdb-js' key size limit with 4 KiB pages; LMDB keys must also be non-empty. */
export const MAX_KEY_SIZE = 1978;

export interface BackendLogger {
  warn(message: string): void;
}

export interface CommitInfo {
  /** Puts and deletes in the batch. */
  readonly ops: number;
  /** From handing the batch to LMDB to its durable commit. */
  readonly durationMs: number;
}

export interface BackendOptions {
  /** Commit at least this often while writes are pending (ms). Default 100, as etcd. */
  readonly batchInterval?: number;
  /** Commit as soon as this many puts and deletes are pending. Default 10,000, as etcd. */
  readonly batchLimit?: number;
  /** Called after each durable commit (for metrics). */
  readonly onCommit?: (info: CommitInfo) => void;
  /** Called once when a commit fails; the backend is unusable for writes afterwards. */
  readonly onCommitError?: (error: BackendError) => void;
  readonly logger?: BackendLogger;
}

export interface DefragmentResult {
  readonly sizeBefore: number;
  readonly sizeAfter: number;
  readonly durationMs: number;
}

export interface ConsistentIndex {
  readonly index: number;
  readonly term: number;
}

export class BackendError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackendError';
  }
}

type Env = RootDatabase<Uint8Array, Uint8Array>;

const CONSOLE_LOGGER: BackendLogger = { warn: (m) => console.warn(m) };

function crashOnCommitError(error: BackendError): void {
  setImmediate(() => {
    throw error;
  });
}

function openEnv(path: string): Env {
  return open<Uint8Array, Uint8Array>({
    path,
    noSubdir: true,
    maxDbs: 16,
    encoding: 'binary',
    keyEncoding: 'binary',
    overlappingSync: false,
  });
}

function openBuckets(env: Env): BucketDbs {
  const dbs: Partial<Record<Bucket, BucketDbs[Bucket]>> = {};
  for (const b of BUCKETS)
    dbs[b] = env.openDB<Uint8Array, Uint8Array>(b, { encoding: 'binary', keyEncoding: 'binary' });
  return dbs as BucketDbs;
}

/** Applies layers (oldest first; later writes win) in ONE LMDB transaction and waits until durable. */
async function writeLayers(env: Env, dbs: BucketDbs, batches: readonly (readonly Layer[])[]): Promise<void> {
  try {
    await env.batch(() => {
      for (const layers of batches) {
        for (const layer of layers) {
          for (const [bucket, w] of layer.entries()) {
            if (w.value === null) void dbs[bucket].remove(w.key);
            else void dbs[bucket].put(w.key, w.value);
          }
        }
      }
    });
  } catch (e) {
    // A long batch makes lmdb-js start the transaction early, under a commit promise of its own that
    // fails with the batch; `committed` still holds it. Handle it now, or it ends the process.
    void env.committed.then(undefined, () => {});
    throw await commitCause(e);
  }
  await env.flushed;
}

/**
 * lmdb-js rejects the writes of a failed commit with "Commit failed (see commitError for details)"
 * and rejects a second promise, `error.commitError`, with LMDB's error. Nothing else handles that
 * one: unhandled, it would end the process whatever onCommitError says. This handles it and returns
 * the real error (both are rejected in the same callback, before any of our code runs; should that
 * ever change, the generic error is returned after a macrotask instead of waiting).
 */
async function commitCause(e: unknown): Promise<unknown> {
  const commitError: unknown = e instanceof Error ? (e as { commitError?: unknown }).commitError : undefined;
  if (!(commitError instanceof Promise)) return e;
  const settled = commitError.then(
    () => e,
    (cause: unknown) => cause,
  );
  return Promise.race([settled, new Promise<unknown>((resolve) => setImmediate(() => resolve(e)))]);
}

function fsyncPathSync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p `dir`, fsyncing the parent of every directory it creates. */
function mkdirDurable(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    fsyncPathSync(dirname(d));
    if (d === first || dirname(d) === d) break;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const h = await openFile(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

interface LmdbTreeStats {
  readonly treeBranchPageCount: number;
  readonly treeLeafPageCount: number;
  readonly overflowPages: number;
}

interface LmdbEnvStats extends LmdbTreeStats {
  readonly pageSize: number;
  readonly free: LmdbTreeStats;
}

function treePages(s: LmdbTreeStats): number {
  return s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
}

function validateKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('backend: a key must be a Uint8Array');
  if (key.byteLength === 0 || key.byteLength > MAX_KEY_SIZE) {
    throw new RangeError(`backend: key length ${key.byteLength} is outside 1..${MAX_KEY_SIZE}`);
  }
}

/** The write side: etcd's batch tx. Obtain it from Backend.batchTx. */
export class BatchTx {
  /** @internal */
  constructor(private readonly be: Backend) {}

  put(bucket: Bucket, key: Uint8Array, value: Uint8Array): void {
    if (!(value instanceof Uint8Array)) throw new TypeError('backend: a value must be a Uint8Array');
    this.be._write(bucket, key, value);
  }

  delete(bucket: Bucket, key: Uint8Array): void {
    this.be._write(bucket, key, null);
  }

  /** Records the last applied raft entry in `meta`; it commits with the writes buffered with it. */
  setConsistentIndex(index: number, term: number): void {
    this.be._write('meta', META_CONSISTENT_INDEX_KEY, encodeUint64BE(index));
    this.be._write('meta', META_TERM_KEY, encodeUint64BE(term));
  }

  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined {
    return this.be.get(bucket, key);
  }

  range(bucket: Bucket, start: Uint8Array, end?: Uint8Array, options?: RangeOptions): KeyValue[] {
    return this.be.range(bucket, start, end, options);
  }

  /** Puts and deletes buffered since the last commit started. */
  get pending(): number {
    return this.be._pendingOps();
  }

  commit(): Promise<void> {
    return this.be.commit();
  }

  forceCommit(): Promise<void> {
    return this.be.forceCommit();
  }
}

export class Backend {
  readonly batchTx: BatchTx;
  /** The live LMDB environment (replaced by defragment). */
  private gen: Generation;
  private readonly buffer = new WriteBuffer();
  private readonly batchLimit: number;
  private readonly timer: NodeJS.Timeout;
  private readonly logger: BackendLogger;
  private limitCommitScheduled = false;
  /** The running commit (including its wait at the gate), and the one queued behind it. */
  private inflight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** The LMDB write of the running commit, from taking the buffer to the durable commit. */
  private writing: Promise<void> | undefined;
  /** Closed (defined) while defragment replays onto its copy and swaps files: commits wait. */
  private gate: Promise<void> | undefined;
  /** While defragment copies: the batches committed since the copy began, to replay on the copy. */
  private replay: (readonly Layer[])[] | undefined;
  private defragging: Promise<DefragmentResult> | undefined;
  private failure: BackendError | undefined;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  /** The file's size as of the last commit: the quota check reads it per request, so no syscall. */
  private knownSize = 0;

  private constructor(
    readonly path: string,
    private readonly options: BackendOptions,
  ) {
    this.logger = options.logger ?? CONSOLE_LOGGER;
    this.batchLimit = options.batchLimit ?? DEFAULT_BATCH_LIMIT;
    const interval = options.batchInterval ?? DEFAULT_BATCH_INTERVAL_MS;
    if (!(interval > 0) || !(this.batchLimit > 0)) {
      throw new RangeError('backend: batchInterval and batchLimit must be positive');
    }
    mkdirDurable(dirname(path));
    this.removeOrphanedTempFiles();
    const created = !existsSync(path);
    this.gen = new Generation(path);
    if (created) fsyncPathSync(dirname(path)); // the new file's name, durable before any commit counts
    this.batchTx = new BatchTx(this);
    this.refreshSize();
    this.timer = setInterval(() => this.autoCommit(), interval);
    this.timer.unref();
  }

  /** Opens (creating if needed) the backend file at `path`, e.g. `<data-dir>/member/snap/db`. */
  static open(path: string, options: BackendOptions = {}): Backend {
    return new Backend(path, options);
  }

  // ---- Writes (through batchTx) --------------------------------------------------------------------

  /** @internal BatchTx's entry point. */
  _write(bucket: Bucket, key: Uint8Array, value: Uint8Array | null): void {
    if (this.closing) throw new BackendError('backend: closed');
    if (this.failure !== undefined) throw this.failure;
    if (this.gen.dbs[bucket] === undefined)
      throw new RangeError(`backend: no bucket named ${String(bucket)}`);
    validateKey(key);
    this.buffer.write(bucket, key, value);
    if (this.buffer.pendingOps >= this.batchLimit && !this.limitCommitScheduled) {
      this.limitCommitScheduled = true;
      setImmediate(() => {
        this.limitCommitScheduled = false;
        this.autoCommit();
      });
    }
  }

  /** @internal */
  _pendingOps(): number {
    return this.buffer.pendingOps;
  }

  private autoCommit(): void {
    if (this.buffer.pendingOps === 0 || this.failure !== undefined || this.closed) return;
    this.commit().catch(() => {}); // a failure is reported through onCommitError
  }

  /**
   * Commits everything buffered so far in one LMDB transaction; resolves when it is durable (and,
   * if a commit was already running, after that one too). Rejects once the backend has failed.
   */
  commit(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new BackendError('backend: closed'));
    if (this.queued !== undefined) return this.queued;
    if (this.inflight !== undefined) {
      const q = this.inflight.then(
        () => {
          this.queued = undefined;
          return this.startCommit();
        },
        (e: unknown) => {
          this.queued = undefined;
          throw e;
        },
      );
      this.queued = q;
      return q;
    }
    return this.startCommit();
  }

  /**
   * etcd's ForceCommit. LMDB keeps no unsynced state of its own (every commit is synced), so this is
   * commit(): it resolves when everything applied so far is durable.
   */
  forceCommit(): Promise<void> {
    return this.commit();
  }

  private startCommit(): Promise<void> {
    if (this.buffer.pendingOps === 0) return Promise.resolve();
    const p: Promise<void> = this.runCommit().finally(() => {
      if (this.inflight === p) this.inflight = undefined;
    });
    this.inflight = p;
    return p;
  }

  private async runCommit(): Promise<void> {
    while (this.gate !== undefined) await this.gate;
    if (this.failure !== undefined) throw this.failure;
    // From here to setting `writing` there is no await: defragment relies on it.
    const taken = this.buffer.takePending();
    if (taken === undefined) return;
    this.replay?.push(taken.layers);
    const started = performance.now();
    const write = writeLayers(this.gen.env, this.gen.dbs, [taken.layers]);
    this.writing = write;
    try {
      await write;
    } catch (e) {
      throw this.fail(e);
    } finally {
      this.writing = undefined;
    }
    this.buffer.landed();
    this.refreshSize();
    this.options.onCommit?.({ ops: taken.ops, durationMs: performance.now() - started });
  }

  private fail(e: unknown, what = 'commit failed'): BackendError {
    if (this.failure === undefined) {
      const msg = e instanceof Error ? e.message : String(e);
      this.failure = new BackendError(`backend: ${what}: ${msg}`, { cause: e });
      (this.options.onCommitError ?? crashOnCommitError)(this.failure);
    }
    return this.failure;
  }

  // ---- Reads ---------------------------------------------------------------------------------------

  private checkReadable(): void {
    if (this.closed) throw new BackendError('backend: closed');
  }

  /**
   * A consistent snapshot of everything applied so far (committed or buffered), readable across
   * awaits. Call release() when done: it pins an LMDB read transaction, which keeps the pages it
   * sees from being reused (the file grows while it is held).
   */
  readTx(): ReadTx {
    this.checkReadable();
    const gen = this.gen;
    const txn = gen.env.useReadTransaction();
    const pinned = this.buffer.pin();
    gen.users++;
    return new ReadTx(gen.dbs, pinned.layers, txn, () => {
      pinned.unpin();
      gen.release();
    });
  }

  /** The live state for one synchronous read. */
  private view(): ReadTx {
    this.checkReadable();
    return new ReadTx(this.gen.dbs, this.buffer.live(), undefined, undefined);
  }

  /** The current value of `key` (buffered writes included). */
  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined {
    return this.view().get(bucket, key);
  }

  /** Entries with start <= key < end in key order (buffered writes included); see ReadTx.range. */
  range(bucket: Bucket, start: Uint8Array, end?: Uint8Array, options?: RangeOptions): KeyValue[] {
    return this.view().range(bucket, start, end, options);
  }

  /** The consistent index and term last set (committed or not); 0 and 0 when never set. */
  consistentIndex(): ConsistentIndex {
    const v = this.view();
    const index = v.get('meta', META_CONSISTENT_INDEX_KEY);
    const term = v.get('meta', META_TERM_KEY);
    return {
      index: index === undefined ? 0 : decodeUint64BE(index, 'consistent_index'),
      term: term === undefined ? 0 : decodeUint64BE(term, 'term'),
    };
  }

  // ---- Size ----------------------------------------------------------------------------------------

  /** Size of the file in bytes as of the last commit (etcd's Size). */
  size(): number {
    return this.knownSize;
  }

  /** One stat per commit (LMDB's own page counters do not track the file's length). */
  private refreshSize(): void {
    this.knownSize = statSync(this.path).size;
  }

  /**
   * Bytes in pages that hold data (etcd's SizeInUse): the two meta pages plus every page of the
   * B+trees (main db, free list, the ten buckets). Pages on LMDB's free list, reusable by later
   * commits, are the difference to size(); defragment() gives them back to the file system.
   */
  sizeInUse(): number {
    this.checkReadable();
    const env = this.gen.env.getStats() as LmdbEnvStats;
    let pages = 2 + treePages(env) + treePages(env.free);
    for (const b of BUCKETS) pages += treePages(this.gen.dbs[b].getStats() as LmdbTreeStats);
    return pages * env.pageSize;
  }

  // ---- Backup and defragment -----------------------------------------------------------------------

  /**
   * Commits the buffer, then copies the committed state to a new file at `target` (which must not
   * exist), optionally compacted. The copy is one consistent LMDB snapshot even while commits
   * continue, and opens as a backend. It is written as `<target>.tmp.<random>`, fsynced, and only then
   * linked to `target` (which never names a partial copy, and is never overwritten) and its
   * directory fsynced; on failure the temporary file is removed.
   */
  async backup(target: string, options: { readonly compact?: boolean } = {}): Promise<void> {
    if (this.closing) throw new BackendError('backend: closed');
    if (existsSync(target)) throw new BackendError(`backend: backup target ${target} already exists`);
    await this.commit();
    mkdirDurable(dirname(target));
    const tmp = `${target}.tmp.${randomBytes(6).toString('hex')}`;
    try {
      const gen = this.gen;
      gen.users++;
      try {
        await gen.env.backup(tmp, options.compact === true);
      } finally {
        gen.release();
      }
      await fsyncPath(tmp);
      linkSync(tmp, target); // fails if target appeared meanwhile
    } finally {
      rmSync(tmp, { force: true });
    }
    await fsyncPath(dirname(target));
  }

  /**
   * Rewrites the file without its free pages (etcd's Defrag); see the top of this file. Resolves when
   * the old environment is closed. Concurrent calls share one run.
   */
  defragment(): Promise<DefragmentResult> {
    if (this.defragging !== undefined) return this.defragging;
    const p = this.runDefragment().finally(() => {
      if (this.defragging === p) this.defragging = undefined;
    });
    this.defragging = p;
    return p;
  }

  private async runDefragment(): Promise<DefragmentResult> {
    if (this.closing) throw new BackendError('backend: closed');
    if (this.failure !== undefined) throw this.failure;
    const started = performance.now();
    const sizeBefore = this.size();
    const tmp = `${this.path}.tmp.${randomBytes(6).toString('hex')}`;
    const old = this.gen;
    let copy: Generation | undefined;
    let swapped = false;
    let swapError: { readonly error: unknown } | undefined;
    // 1. Record every commit from now on. A commit that has already taken its batch is waited for,
    //    so no batch can fall between the copy and the record.
    for (let w = this.writing; w !== undefined; w = this.writing) await w.catch(() => {});
    this.replay = []; // synchronously after seeing no write in progress
    try {
      await old.env.backup(tmp, true);
      // 2. Pause commits and bring the copy up to date with the batches committed meanwhile.
      let openGate = (): void => {};
      this.gate = new Promise((resolve) => (openGate = resolve));
      try {
        for (let w = this.writing; w !== undefined; w = this.writing) await w.catch(() => {});
        if (this.failure !== undefined) throw this.failure;
        const replay = this.replay;
        this.replay = undefined;
        copy = new Generation(tmp);
        if (replay.length > 0) await writeLayers(copy.env, copy.dbs, replay);
        // 3. Durable, then atomically in place of the old file.
        await fsyncPath(tmp);
        renameSync(tmp, this.path);
        // 4. The copy is live: commits resume on it, new reads go to it. From the rename on, `db` IS
        //    the copy, so this must happen whatever follows: commits to the old environment would go
        //    to a file that no longer has a name.
        this.gen = copy;
        swapped = true;
        this.refreshSize();
        try {
          fsyncPathSync(dirname(this.path));
        } catch (e) {
          throw this.fail(e, 'defragment could not sync the directory after replacing the file');
        }
      } finally {
        this.gate = undefined;
        openGate();
      }
    } catch (e) {
      this.replay = undefined;
      if (!swapped) {
        if (copy !== undefined) await copy.close().catch(() => {});
        rmSync(tmp, { force: true });
        rmSync(`${tmp}-lock`, { force: true });
        throw e;
      }
      swapError = { error: e };
    }
    // 5. Retire the old environment once nothing uses it.
    try {
      await old.close();
    } catch (e) {
      this.logger.warn(`backend: closing the pre-defragment environment failed: ${String(e)}`);
    }
    if (swapError !== undefined) throw swapError.error;
    return { sizeBefore, sizeAfter: this.size(), durationMs: performance.now() - started };
  }

  /** `db.tmp.*` files (and their LMDB lock files) left by a defragment that did not finish. */
  private removeOrphanedTempFiles(): void {
    const dir = dirname(this.path);
    const prefix = `${basename(this.path)}.tmp.`;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix)) continue;
      this.logger.warn(`backend: removing orphaned defragmentation file ${join(dir, name)}`);
      rmSync(join(dir, name), { force: true });
    }
  }

  // ---- Lifecycle -----------------------------------------------------------------------------------

  /**
   * Commits what is buffered and closes the file, after a running defragment and after the ReadTxs
   * and backups still open (like bbolt's Close, which waits for its read transactions): release
   * every ReadTx first.
   */
  close(): Promise<void> {
    this.closePromise ??= this.runClose();
    return this.closePromise;
  }

  private async runClose(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    if (this.defragging !== undefined) await this.defragging.catch(() => {});
    try {
      if (this.failure === undefined) await this.commit();
    } finally {
      this.closed = true;
      await this.gen.close();
    }
  }
}

/**
 * One opened LMDB environment and its buckets, with a count of the ReadTxs and backups using it so
 * that defragment can close it only when they are done.
 */
class Generation {
  readonly env: Env;
  readonly dbs: BucketDbs;
  users = 0;
  private drainWaiters: (() => void)[] = [];

  /** `openedAs`: the path the environment is opened under (db, or db.tmp.* after a defragment). */
  constructor(private readonly openedAs: string) {
    this.env = openEnv(openedAs);
    this.dbs = openBuckets(this.env);
  }

  release(): void {
    this.users--;
    if (this.users > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Waits until no ReadTx or backup uses the environment, closes it, and removes a temp lock file. */
  async close(): Promise<void> {
    while (this.users > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    await this.env.close();
    if (basename(this.openedAs).includes('.tmp.')) rmSync(`${this.openedAs}-lock`, { force: true });
  }
}
