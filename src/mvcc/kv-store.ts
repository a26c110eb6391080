// The revisioned keyspace over the backend's `key` bucket (etcd's mvcc store).
//
// Every change is stored under its revision: key bucket key = revision (main, sub), value = the
// mvccpb.KeyValue (for a delete: a tombstone revision whose value holds only the key). The in-memory
// TreeIndex maps each user key to its revisions and is rebuilt from the bucket on open.
//
// A write request takes one WriteTxn: all its changes share main revision currentRevision + 1, with
// sub revisions 0, 1, 2, ... in the order made; a WriteTxn with no change does not advance the
// revision. Everything a WriteTxn does is synchronous, so it lands in one backend batch together with
// the consistent index the caller records after it (backend.ts, ATOMIC UNITS).
//
// Compaction is logical at once (older revisions become unreadable and leave the index) and
// physical in the background: bounded batches of deletions with a pause in between, so writes never
// wait behind it. `scheduledCompactRev` / `finishedCompactRev` in the meta bucket let a compaction
// interrupted by a crash resume on open.

import { crc32c } from '@node-rs/crc32';

import { assert } from '../raft/assert.js';
import {
  BUCKETS,
  META_CONSISTENT_INDEX_KEY,
  META_TERM_KEY,
  entriesInChunks,
  successor,
  type Backend,
  type Bucket,
} from '../storage/backend/index.js';
import { decodeRevisionKey, encodeRevisionKey, REVISION_KEY_LENGTH } from '../storage/backend/revision.js';
import { KeyValue } from '../proto/mvccpb/kv.js';
import { encoded } from '../proto/reused-writer.js';
import { errCompacted, errFutureRevision } from './errors.js';
import type { RevisionSet } from './key-index.js';
import type { Revision } from './revision.js';
import { keyToString, TreeIndex, type KeyRange } from './tree-index.js';

export { KeyValue };

const latin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const META_SCHEDULED_COMPACT_KEY = latin1('scheduledCompactRev');
const META_FINISHED_COMPACT_KEY = latin1('finishedCompactRev');
const KEY_BUCKET_NAME = latin1('key');

/** Restoring and compacting walk the key bucket in chunks of this many revisions. */
const RESTORE_CHUNK = 10_000;

/** The leases attached to keys, kept by the lessor; the store tells it what puts and deletes change. */
export interface KeyLeases {
  /** The lease the key is attached to, 0n for none. */
  leaseOf(key: Uint8Array): bigint;
  /** Throws for an unknown lease. */
  attach(lease: bigint, keys: readonly Uint8Array[]): void;
  detach(lease: bigint, keys: readonly Uint8Array[]): void;
}

const NO_LEASES: KeyLeases = { leaseOf: () => 0n, attach: () => {}, detach: () => {} };

export interface KeyspaceLogger {
  warn(message: string): void;
}

export interface KeyspaceOptions {
  readonly leases?: KeyLeases;
  readonly logger?: KeyspaceLogger;
  /** Revisions deleted per physical compaction batch (etcd: 1000). */
  readonly compactionBatchLimit?: number;
  /** Pause between physical compaction batches, in ms (etcd: 10). */
  readonly compactionPauseMs?: number;
  /**
   * Told at the end of every read or write transaction how many ranges, puts and deletes it made
   * (etcd's metricsTxnWrite, behind etcd_mvcc_{range,put,delete,txn}_total). Must not throw.
   */
  readonly onTxnEnd?: TxnEndHook;
}

export type TxnEndHook = (ranges: number, puts: number, deletes: number) => void;

export interface RangeOptions {
  /** Read as of this revision; 0: the current one. */
  readonly rev?: number;
  /** At most this many keys (0: all). */
  readonly limit?: number;
  /** Only count; no key values are read. */
  readonly countOnly?: boolean;
}

export interface RangeResult {
  readonly kvs: KeyValue[];
  /** Keys in the range at that revision, regardless of the limit. */
  readonly count: number;
  /** The store's revision when read (the header revision). */
  readonly rev: number;
}

export interface HashResult {
  readonly hash: number;
  /** The store's revision (the header revision). */
  readonly revision: number;
  /** The revision hashed up to. */
  readonly hashRevision: number;
  readonly compactRevision: number;
}

/** The changes of a write, for watchers. A delete's KeyValue holds the key and its mod revision. */
export interface WriteResult {
  readonly rev: number;
  readonly changes: readonly Change[];
}

export interface Change {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
}

export class KeyspaceStore {
  private readonly index = new TreeIndex();
  private readonly leases: KeyLeases;
  private readonly logger: KeyspaceLogger;
  private readonly batchLimit: number;
  private readonly pauseMs: number;
  private currentRev = 1;
  /** The last compaction's revision; -1 before the first. */
  private compactMainRev = -1;
  private writing = false;
  /** Physical compactions run one after the other. */
  private compacting: Promise<void> = Promise.resolve();
  private closed = false;
  private writeListeners: ((result: WriteResult) => void)[] = [];
  private readonly onTxnEnd: TxnEndHook | undefined;

  private constructor(
    private readonly backend: Backend,
    options: KeyspaceOptions,
  ) {
    this.leases = options.leases ?? NO_LEASES;
    this.logger = options.logger ?? { warn: (m) => console.warn(m) };
    this.batchLimit = options.compactionBatchLimit ?? 1000;
    this.pauseMs = options.compactionPauseMs ?? 10;
    this.onTxnEnd = options.onTxnEnd;
    assert(this.batchLimit > 0, 'compactionBatchLimit must be positive');
  }

  /** Opens the keyspace held by `backend`, rebuilding the index (and resuming a compaction). */
  static open(backend: Backend, options: KeyspaceOptions = {}): KeyspaceStore {
    const store = new KeyspaceStore(backend, options);
    store.restore();
    return store;
  }

  get revision(): number {
    return this.currentRev;
  }

  /** The revision of the last compaction (-1: never compacted). Reads below it fail. */
  get compactRevision(): number {
    return this.compactMainRev;
  }

  /** Keys currently in the index (live or with history). */
  get indexedKeys(): number {
    return this.index.size;
  }

  /** Keys that exist at the current revision. */
  get liveKeys(): number {
    return this.index.liveKeys;
  }

  // ---- Reads --------------------------------------------------------------------------------------

  range(range: KeyRange, options: RangeOptions = {}): RangeResult {
    return this.rangeAt(range, options, this.currentRev);
  }

  private rangeAt(range: KeyRange, options: RangeOptions, curRev: number): RangeResult {
    let rev = options.rev ?? 0;
    if (rev > curRev) throw errFutureRevision();
    if (rev <= 0) rev = curRev;
    if (rev < this.compactMainRev) throw errCompacted();
    if (options.countOnly === true) return { kvs: [], count: this.index.count(range, rev), rev: curRev };
    const { keys, total } = this.index.range(range, rev, options.limit ?? 0);
    const kvs: KeyValue[] = new Array<KeyValue>(keys.length);
    for (let i = 0; i < keys.length; i++) kvs[i] = this.readRevision(keys[i].modified, keys[i].key);
    return { kvs, count: total, rev: curRev };
  }

  private readRevision(rev: Revision, key: string): KeyValue {
    const value = this.backend.get('key', encodeRevisionKey(rev.main, rev.sub));
    if (value === undefined) {
      throw new Error(`keyspace: revision ${rev.main}.${rev.sub} of key ${JSON.stringify(key)} is missing`);
    }
    return KeyValue.decode(value);
  }

  /** A read of one request at the current revision; end() it when done (for the range count). */
  read(): ReadTxn {
    return new ReadTxn(this, this.currentRev);
  }

  // ---- Writes -------------------------------------------------------------------------------------

  /** Starts the write of one request; end() it before starting another. */
  write(): WriteTxn {
    assert(!this.closed, 'keyspace: closed');
    assert(!this.writing, 'keyspace: a write is already open');
    this.writing = true;
    return new WriteTxn(this, this.currentRev);
  }

  /**
   * Deletes these keys in one write (one revision): how a lease revocation removes its keys. Keys
   * that are not live are skipped.
   */
  deleteKeys(keys: readonly Uint8Array[]): WriteResult {
    const txn = this.write();
    for (const key of keys) txn.deleteRange({ start: keyToString(key), end: undefined });
    return txn.end();
  }

  /** @internal */
  _read(range: KeyRange, options: RangeOptions, curRev: number): RangeResult {
    return this.rangeAt(range, options, curRev);
  }

  /** @internal */
  _put(key: Uint8Array, value: Uint8Array, lease: bigint, rev: Revision): KeyValue {
    const k = keyToString(key);
    const entry = this.index.entry(k);
    const prev = entry?.get(rev.main);
    const oldLease = prev === undefined ? 0n : this.leases.leaseOf(key);
    const kv: KeyValue = {
      key,
      value,
      createRevision: BigInt(prev === undefined ? rev.main : prev.created.main),
      modRevision: BigInt(rev.main),
      version: BigInt(prev === undefined ? 1 : prev.version + 1),
      lease,
    };
    this.backend.batchTx.put('key', encodeRevisionKey(rev.main, rev.sub), encoded(KeyValue, kv));
    this.index.putAt(k, entry, rev);
    if (oldLease !== 0n && oldLease !== lease) this.leases.detach(oldLease, [key]);
    if (lease !== 0n && lease !== oldLease) this.leases.attach(lease, [key]);
    return kv;
  }

  /** @internal Deletes the live keys of the range at revision main `rev.main`, subs from `rev.sub`. */
  _deleteRange(range: KeyRange, readRev: number, rev: Revision): KeyValue[] {
    const { keys } = this.index.range(range, readRev, 0);
    const deleted: KeyValue[] = [];
    let sub = rev.sub;
    for (const { key } of keys) {
      const at: Revision = { main: rev.main, sub: sub++ };
      const keyBytes = latin1(key);
      const tombstone: KeyValue = {
        key: keyBytes,
        createRevision: 0n,
        modRevision: 0n,
        version: 0n,
        value: new Uint8Array(0),
        lease: 0n,
      };
      this.backend.batchTx.put('key', encodeRevisionKey(at.main, at.sub, true), encoded(KeyValue, tombstone));
      assert(this.index.tombstone(key, at), `deleting key ${JSON.stringify(key)} that is not live`);
      const lease = this.leases.leaseOf(keyBytes);
      if (lease !== 0n) this.leases.detach(lease, [keyBytes]);
      deleted.push({ ...tombstone, modRevision: BigInt(at.main) });
    }
    return deleted;
  }

  /**
   * Calls `listener` after every write that changed something, with its revision and changes (the
   * watchable store's feed). Returns a function that removes the listener.
   */
  onWrite(listener: (result: WriteResult) => void): () => void {
    this.writeListeners.push(listener);
    return () => {
      this.writeListeners = this.writeListeners.filter((l) => l !== listener);
    };
  }

  /** @internal */
  _counted(ranges: number, puts: number, deletes: number): void {
    this.onTxnEnd?.(ranges, puts, deletes);
  }

  /** @internal */
  _end(result: WriteResult): void {
    this.writing = false;
    if (result.changes.length === 0) return;
    this.currentRev++;
    for (const listener of this.writeListeners) listener(result);
  }

  // ---- Compaction ---------------------------------------------------------------------------------

  /**
   * Compacts the history up to `rev`: from now on reads below it fail. Returns the physical removal,
   * which runs in the background (await it for etcd's `physical: true`).
   */
  compact(rev: number): { readonly done: Promise<void> } {
    if (rev <= this.compactMainRev) throw errCompacted();
    if (rev > this.currentRev) throw errFutureRevision();
    this.compactMainRev = rev;
    this.backend.batchTx.put('meta', META_SCHEDULED_COMPACT_KEY, encodeRevisionKey(rev, 0));
    const keep = this.index.compact(rev);
    const done = this.compacting.then(() => this.removeCompacted(rev, keep));
    this.compacting = done.catch(() => {});
    return { done };
  }

  /** Deletes every revision at or below `rev` that the index no longer needs, a batch at a time. */
  private async removeCompacted(rev: number, keep: RevisionSet): Promise<void> {
    const end = encodeRevisionKey(rev + 1, 0);
    let start: Uint8Array = new Uint8Array(0);
    for (;;) {
      if (this.closed) return;
      const batch = this.backend.range('key', start, end, { limit: this.batchLimit });
      for (const { key } of batch) {
        const r = decodeRevisionKey(key);
        if (!keep.has(r)) this.backend.batchTx.delete('key', key);
      }
      if (batch.length < this.batchLimit) break;
      start = successor(batch[batch.length - 1].key);
      await pause(this.pauseMs);
    }
    this.backend.batchTx.put('meta', META_FINISHED_COMPACT_KEY, encodeRevisionKey(rev, 0));
  }

  // ---- Hashes -------------------------------------------------------------------------------------

  /**
   * etcd's HashKV: CRC-32C of the key bucket's name and of every revision (key and value) up to
   * `rev` (0: the current revision), leaving out what compaction at the current compact revision
   * removes, so members that compacted physically or not agree.
   */
  hashByRev(rev: number): HashResult {
    // Unlike a read, hashing exactly at the compact revision is refused (as etcd does).
    if (rev > 0 && rev <= this.compactMainRev) throw errCompacted();
    if (rev > this.currentRev) throw errFutureRevision();
    // Only 0 means the current revision; a negative one hashes nothing, as in etcd.
    const at = rev === 0 ? this.currentRev : rev;
    const compactRev = this.compactMainRev;
    const keep = this.index.keep(at);
    let hash = crc32c(KEY_BUCKET_NAME);
    const end = encodeRevisionKey(Math.max(at + 1, 0), 0);
    this.forEachChunk('key', new Uint8Array(0), end, (key, value) => {
      const r = decodeRevisionKey(key);
      // Revisions a finished compaction would have removed do not count.
      if (r.main <= compactRev && keep.size > 0 && !keep.has(r)) return;
      hash = crc32c(key, hash);
      hash = crc32c(value, hash);
    });
    return { hash: hash >>> 0, revision: this.currentRev, hashRevision: at, compactRevision: compactRev };
  }

  /**
   * etcd's Hash: CRC-32C over every bucket (in name order: its name, then each key and value),
   * leaving out the consistent index and term, which differ between members with equal data.
   */
  hashAll(): number {
    let hash = 0;
    for (const bucket of [...BUCKETS].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      hash = crc32c(latin1(bucket), hash);
      this.forEachChunk(bucket, new Uint8Array(0), undefined, (key, value) => {
        if (
          bucket === 'meta' &&
          (bytesEqual(key, META_CONSISTENT_INDEX_KEY) || bytesEqual(key, META_TERM_KEY))
        )
          return;
        hash = crc32c(key, hash);
        hash = crc32c(value, hash);
      });
    }
    return hash >>> 0;
  }

  private forEachChunk(
    bucket: Bucket,
    from: Uint8Array,
    end: Uint8Array | undefined,
    f: (key: Uint8Array, value: Uint8Array) => void,
  ): void {
    for (const { key, value } of entriesInChunks(this.backend, bucket, from, end, RESTORE_CHUNK))
      f(key, value);
  }

  // ---- Opening ------------------------------------------------------------------------------------

  private restore(): void {
    const finished = this.backend.get('meta', META_FINISHED_COMPACT_KEY);
    if (finished !== undefined) this.compactMainRev = decodeRevisionKey(finished).main;
    const scheduled = this.backend.get('meta', META_SCHEDULED_COMPACT_KEY);
    const scheduledRev = scheduled === undefined ? -1 : decodeRevisionKey(scheduled).main;

    // The latest lease of every live key, attached once the whole history is read.
    const keyLeases = new Map<string, bigint>();
    this.forEachChunk('key', new Uint8Array(0), undefined, (revKey, value) => {
      const r = decodeRevisionKey(revKey);
      const kv = KeyValue.decode(value);
      const k = keyToString(kv.key);
      const tombstone = revKey.byteLength !== REVISION_KEY_LENGTH;
      this.index.restore(k, r, tombstone);
      if (tombstone || kv.lease === 0n) keyLeases.delete(k);
      else keyLeases.set(k, kv.lease);
      this.currentRev = r.main;
    });
    if (this.currentRev < this.compactMainRev) this.currentRev = this.compactMainRev;
    for (const [k, lease] of [...keyLeases].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      try {
        this.leases.attach(lease, [latin1(k)]);
      } catch (e) {
        this.logger.warn(
          `keyspace: key ${JSON.stringify(k)} refers to unknown lease ${lease.toString(16)}: ${String(e)}`,
        );
      }
    }
    if (scheduledRev > this.compactMainRev) {
      this.logger.warn(`keyspace: resuming the compaction at revision ${scheduledRev} interrupted before`);
      this.compact(scheduledRev).done.catch((e: unknown) =>
        this.logger.warn(`keyspace: resumed compaction failed: ${String(e)}`),
      );
    }
  }

  /** Stops background work (a running compaction stops after its current batch). */
  async close(): Promise<void> {
    this.closed = true;
    await this.compacting;
  }
}

/** The reads of one request, all at revision `rev`. */
export class ReadTxn {
  private ranges = 0;

  /** @internal */
  constructor(
    private readonly store: KeyspaceStore,
    readonly rev: number,
  ) {}

  range(range: KeyRange, options: RangeOptions = {}): RangeResult {
    this.ranges++;
    return this.store._read(range, options, this.rev);
  }

  end(): void {
    this.store._counted(this.ranges, 0, 0);
  }
}

/** The write of one request: every change at main revision `beginRev + 1`. */
export class WriteTxn {
  private readonly changes: Change[] = [];
  private ended = false;
  // Operations made, reported at end() (etcd counts calls, not keys: a delete of many keys is one).
  private ranges = 0;
  private puts = 0;
  private deletes = 0;

  /** @internal */
  constructor(
    private readonly store: KeyspaceStore,
    readonly beginRev: number,
  ) {}

  /** The revision reads inside this write see: its own changes included. */
  get rev(): number {
    return this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  get changed(): boolean {
    return this.changes.length > 0;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  range(range: KeyRange, options: RangeOptions = {}): RangeResult {
    this.check();
    this.ranges++;
    return this.store._read(range, options, this.rev);
  }

  /** Puts the key; returns the revision of the write. */
  put(key: Uint8Array, value: Uint8Array, lease: bigint): number {
    this.check();
    this.puts++;
    const main = this.beginRev + 1;
    const kv = this.store._put(key, value, lease, { main, sub: this.changes.length });
    this.changes.push({ type: 'put', kv });
    return main;
  }

  /** Deletes the live keys of the range; how many, and the revision (unchanged if none so far). */
  deleteRange(range: KeyRange): { deleted: number; rev: number } {
    this.check();
    this.deletes++;
    const deleted = this.store._deleteRange(range, this.rev, {
      main: this.beginRev + 1,
      sub: this.changes.length,
    });
    for (const kv of deleted) this.changes.push({ type: 'delete', kv });
    return { deleted: deleted.length, rev: this.rev };
  }

  /** Ends the write; the store's revision advances if anything changed. */
  end(): WriteResult {
    this.check();
    this.ended = true;
    const result: WriteResult = { rev: this.rev, changes: this.changes };
    this.store._end(result);
    this.store._counted(this.ranges, this.puts, this.deletes);
    return result;
  }

  private check(): void {
    assert(!this.ended, 'keyspace: write already ended');
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
