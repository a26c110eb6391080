// Watchers over the keyspace (etcd's watchable store).
//
// A watcher wants every change to its key or range from `minRev` on. It is in one of three groups:
//  - synced: caught up; each write's events go to it as the write ends.
//  - unsynced: behind (it started in the past, or fell behind); a sync reads the history from the
//    backend in bounded batches, never splitting a revision, until it has caught up.
//  - victim: its stream's buffer was full; it keeps the one batch it could not deliver and is retried,
//    then catches up from the backend like an unsynced watcher.
// So a slow consumer costs one batch of memory and never holds back anyone else. A watcher whose
// next revision was compacted away is told so (compact revision, canceled) and removed.

import { Event, Event_EventType, KeyValue } from '../proto/mvccpb/kv.js';
import { decodeRevisionKey, encodeRevisionKey, REVISION_KEY_LENGTH } from '../storage/backend/revision.js';
import { successor, type Backend } from '../storage/backend/index.js';
import type { KeyspaceStore, WriteResult } from './kv-store.js';
import { keyToString, type KeyRange } from './tree-index.js';

/** What a watcher delivers to its stream. */
export interface WatchBatch {
  readonly watcher: Watcher;
  readonly events: Event[];
  /** The store revision the batch is as of (header revision). 0 for a compaction notice. */
  readonly revision: number;
  /** Set when the watcher's start revision was compacted: it is canceled. */
  readonly compactRevision: number;
}

/** The receiving side of a watcher: false when its buffer is full (the batch was not taken). */
export interface WatchSink {
  deliver(batch: WatchBatch): boolean;
  /** The watcher has caught up: everything up to the current revision is delivered. */
  caughtUp?(watcher: Watcher): void;
}

export interface WatcherOptions {
  readonly range: KeyRange;
  /** First revision wanted; 0: the next write. */
  readonly startRevision: number;
  readonly sink: WatchSink;
  readonly id: bigint;
}

type Group = 'synced' | 'unsynced' | 'victim' | 'removed';

export class Watcher {
  /** The next revision to deliver. */
  minRev: number;
  group: Group = 'unsynced';
  /** Victims: the batch the sink refused. */
  pending: WatchBatch | undefined;

  constructor(
    readonly id: bigint,
    readonly range: KeyRange,
    readonly sink: WatchSink,
    minRev: number,
  ) {
    this.minRev = minRev;
  }

  matches(key: string): boolean {
    const r = this.range;
    if (r.end === undefined) return key === r.start;
    return key >= r.start && (r.end === '' || key < r.end);
  }
}

export interface WatchableOptions {
  /** Revisions (backend rows) read per catch-up batch; a revision is never split. */
  readonly syncBatchLimit?: number;
  /** How often lagging watchers and victims are served when nothing else triggers it (ms). */
  readonly syncIntervalMs?: number;
  /** False: no timers; tests call syncNow(). */
  readonly autoSync?: boolean;
}

export class WatchableStore {
  private readonly synced = new Set<Watcher>();
  /** Synced single-key watchers by key, so a write touches only the watchers of its keys. */
  private readonly syncedByKey = new Map<string, Set<Watcher>>();
  private readonly syncedRanges = new Set<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private readonly victims = new Set<Watcher>();
  private readonly batchLimit: number;
  private readonly intervalMs: number;
  private readonly autoSync: boolean;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: () => void;
  private closed = false;

  constructor(
    private keyspace: KeyspaceStore,
    private backend: Backend,
    options: WatchableOptions = {},
  ) {
    this.batchLimit = options.syncBatchLimit ?? 1000;
    this.intervalMs = options.syncIntervalMs ?? 100;
    this.autoSync = options.autoSync ?? true;
    this.unsubscribe = keyspace.onWrite((w) => this.notify(w));
  }

  get store(): KeyspaceStore {
    return this.keyspace;
  }

  /**
   * Moves every watcher onto a keyspace rebuilt from another backend (a member installing the
   * leader's snapshot). Nothing delivered is repeated and nothing in between is skipped: the synced
   * watchers had everything up to the old revision, so they catch up from the new backend's history
   * from there (or learn that it was compacted), as etcd's store restore does.
   */
  restore(keyspace: KeyspaceStore, backend: Backend): void {
    const delivered = this.keyspace.revision;
    this.unsubscribe();
    this.keyspace = keyspace;
    this.backend = backend;
    this.unsubscribe = keyspace.onWrite((w) => this.notify(w));
    for (const w of [...this.synced]) {
      this.removeFromGroup(w);
      w.minRev = delivered + 1;
      this.addUnsynced(w);
    }
  }

  get watcherCount(): number {
    return this.synced.size + this.unsynced.size + this.victims.size;
  }

  /** Watchers still catching up or waiting for their sink. */
  get laggingCount(): number {
    return this.unsynced.size + this.victims.size;
  }

  watch(options: WatcherOptions): Watcher {
    const current = this.store.revision;
    const start = options.startRevision;
    const synced = start === 0 || start > current;
    const w = new Watcher(
      options.id,
      options.range,
      options.sink,
      synced ? Math.max(current + 1, start) : start,
    );
    if (synced) this.addSynced(w);
    else this.addUnsynced(w);
    return w;
  }

  cancel(w: Watcher): void {
    this.removeFromGroup(w);
    w.group = 'removed';
    w.pending = undefined;
  }

  /** Whether `w` has delivered everything up to the current revision. */
  isSynced(w: Watcher): boolean {
    return w.group === 'synced';
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  // ---- Live events --------------------------------------------------------------------------------

  private notify(write: WriteResult): void {
    if (this.synced.size === 0) return;
    const byWatcher = new Map<Watcher, Event[]>();
    for (const change of write.changes) {
      const key = keyToString(change.kv.key);
      const event: Event = {
        type: change.type === 'put' ? Event_EventType.PUT : Event_EventType.DELETE,
        kv: change.kv,
        prevKv: undefined,
      };
      const add = (w: Watcher): void => {
        const list = byWatcher.get(w);
        if (list === undefined) byWatcher.set(w, [event]);
        else list.push(event);
      };
      const single = this.syncedByKey.get(key);
      if (single !== undefined) for (const w of single) add(w);
      for (const w of this.syncedRanges) if (w.matches(key)) add(w);
    }
    for (const [w, events] of byWatcher) {
      const batch: WatchBatch = { watcher: w, events, revision: write.rev, compactRevision: 0 };
      if (!w.sink.deliver(batch)) {
        this.removeFromGroup(w);
        // A synced watcher's minRev is implicitly current + 1; it only matters once it leaves.
        w.minRev = write.rev + 1;
        w.pending = batch;
        w.group = 'victim';
        this.victims.add(w);
        this.schedule();
      }
    }
  }

  // ---- Catching up --------------------------------------------------------------------------------

  /** Serves victims and lagging watchers once; returns how many still lag. Timers call this too. */
  syncNow(): number {
    this.retryVictims();
    this.syncUnsynced();
    return this.laggingCount;
  }

  private retryVictims(): void {
    for (const w of [...this.victims]) {
      if (w.pending !== undefined && !w.sink.deliver(w.pending)) continue;
      w.pending = undefined;
      this.victims.delete(w);
      if (w.minRev <= this.store.revision) this.addUnsynced(w);
      else this.addSynced(w);
    }
  }

  private syncUnsynced(): void {
    if (this.unsynced.size === 0) return;
    const current = this.store.revision;
    const compactRev = this.store.compactRevision;
    let from = Infinity;
    for (const w of [...this.unsynced]) {
      if (w.minRev < compactRev) {
        // Its history is gone: tell it so (if its sink has room) and drop it.
        if (w.sink.deliver({ watcher: w, events: [], revision: 0, compactRevision: compactRev })) {
          this.cancel(w);
        }
        continue;
      }
      if (w.minRev > current) {
        this.unsynced.delete(w);
        this.addSynced(w);
        continue;
      }
      from = Math.min(from, w.minRev);
    }
    if (from === Infinity) return;
    const { events, upTo } = this.readHistory(from, current);
    for (const w of [...this.unsynced]) {
      if (w.minRev > upTo) continue;
      const mine = events.filter(
        (e) => Number(e.kv!.modRevision) >= w.minRev && w.matches(keyToString(e.kv!.key)),
      );
      w.minRev = upTo + 1;
      if (mine.length > 0) {
        const batch: WatchBatch = { watcher: w, events: mine, revision: current, compactRevision: 0 };
        if (!w.sink.deliver(batch)) {
          this.unsynced.delete(w);
          w.pending = batch;
          w.group = 'victim';
          this.victims.add(w);
          continue;
        }
      }
      if (w.minRev > current) {
        this.unsynced.delete(w);
        this.addSynced(w);
      }
    }
  }

  /** Events of revisions [from, ...] up to `current`, at most about batchLimit rows, whole revisions. */
  private readHistory(from: number, current: number): { events: Event[]; upTo: number } {
    const end = encodeRevisionKey(current + 1, 0);
    const rows = this.backend.range('key', encodeRevisionKey(from, 0), end, { limit: this.batchLimit });
    let upTo = current;
    if (rows.length === this.batchLimit) {
      // Complete the last revision read, so no revision is split between batches.
      const last = decodeRevisionKey(rows[rows.length - 1].key).main;
      rows.push(
        ...this.backend.range('key', successor(rows[rows.length - 1].key), encodeRevisionKey(last + 1, 0)),
      );
      upTo = last;
    }
    const events = rows.map(({ key, value }) => rowToEvent(key, value));
    return { events, upTo };
  }

  // ---- Groups -------------------------------------------------------------------------------------

  private addSynced(w: Watcher): void {
    const wasLagging = w.group === 'unsynced' || w.group === 'victim';
    w.group = 'synced';
    this.synced.add(w);
    if (w.range.end === undefined) {
      let set = this.syncedByKey.get(w.range.start);
      if (set === undefined) this.syncedByKey.set(w.range.start, (set = new Set()));
      set.add(w);
    } else {
      this.syncedRanges.add(w);
    }
    if (wasLagging) w.sink.caughtUp?.(w);
  }

  private addUnsynced(w: Watcher): void {
    w.group = 'unsynced';
    this.unsynced.add(w);
    this.schedule();
  }

  private removeFromGroup(w: Watcher): void {
    switch (w.group) {
      case 'synced': {
        this.synced.delete(w);
        const set = this.syncedByKey.get(w.range.start);
        if (set !== undefined) {
          set.delete(w);
          if (set.size === 0) this.syncedByKey.delete(w.range.start);
        }
        this.syncedRanges.delete(w);
        break;
      }
      case 'unsynced':
        this.unsynced.delete(w);
        break;
      case 'victim':
        this.victims.delete(w);
        break;
      case 'removed':
        break;
    }
  }

  /** Arranges a sync soon if anyone lags (at once when watchers are far behind). */
  private schedule(): void {
    if (!this.autoSync || this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      this.syncNow();
      if (this.laggingCount > 0) this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }
}

function rowToEvent(revKey: Uint8Array, value: Uint8Array): Event {
  const kv = KeyValue.decode(value);
  if (revKey.byteLength === REVISION_KEY_LENGTH) return { type: Event_EventType.PUT, kv, prevKv: undefined };
  // A tombstone stores only the key; the event carries the revision of the delete.
  return {
    type: Event_EventType.DELETE,
    kv: { ...kv, modRevision: BigInt(decodeRevisionKey(revKey).main) },
    prevKv: undefined,
  };
}
