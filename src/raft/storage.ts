// The stable-storage view the consensus core reads from, and an in-memory implementation.
// The caller writes to storage (after it has made the Ready durable); raft only reads.

import { assert } from './assert.js';
import {
  EMPTY_BYTES,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from './types.js';

export type StorageErrorKind =
  /** The requested index is older than the last compaction. */
  | 'compacted'
  /** The requested index is beyond the last entry. */
  | 'unavailable'
  /** A snapshot is being prepared; raft retries later. */
  | 'snapshot-temporarily-unavailable'
  /** The snapshot offered is older than the one storage already has. */
  | 'snapshot-out-of-date';

export class StorageError extends Error {
  constructor(readonly kind: StorageErrorKind) {
    super(`raft storage: ${kind}`);
    this.name = 'StorageError';
  }
}

export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

export interface Storage {
  initialState(): InitialState;
  /** Entries in [lo, hi), at least one even if it alone exceeds maxSize bytes. */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** Term of entry i; valid for firstIndex()-1 <= i <= lastIndex(). */
  term(i: number): number;
  lastIndex(): number;
  /** Index of the first entry still available (the compaction point + 1). */
  firstIndex(): number;
  snapshot(): Snapshot;
}

/** Sum of data sizes, the measure used for message and batch limits. */
export function entriesSize(entries: readonly Entry[]): number {
  let size = 0;
  for (const e of entries) size += e.data.length + 16;
  return size;
}

/** Keep the longest prefix of `entries` within maxSize bytes, but never fewer than one entry. */
export function limitSize<T extends Entry>(entries: T[], maxSize: number): T[] {
  if (entries.length === 0) return entries;
  let size = entries[0]!.data.length + 16;
  let n = 1;
  for (; n < entries.length; n++) {
    size += entries[n]!.data.length + 16;
    if (size > maxSize) break;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}

/**
 * Storage held in memory. Position 0 of `ents` is a dummy entry standing for the last compacted
 * (or snapshotted) entry, so that term(firstIndex - 1) is always answerable.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot;
  private ents: Entry[];

  constructor(confState: ConfState = EMPTY_CONF_STATE) {
    this.snap = { data: EMPTY_BYTES, metadata: { index: 0, term: 0, confState } };
    this.ents = [{ term: 0, index: 0, type: 'normal', data: EMPTY_BYTES }];
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  private offset(): number {
    return this.ents[0]!.index;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new StorageError('compacted');
    if (hi > this.lastIndex() + 1) throw new StorageError('unavailable');
    if (this.ents.length === 1) throw new StorageError('unavailable');
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new StorageError('compacted');
    if (i - offset >= this.ents.length) throw new StorageError('unavailable');
    return this.ents[i - offset]!.term;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replace the whole content with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new StorageError('snapshot-out-of-date');
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 'normal', data: EMPTY_BYTES }];
  }

  /** Record a snapshot of the application state at `index` (which must be applied), for followers that fall behind. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new StorageError('snapshot-out-of-date');
    assert(index <= this.lastIndex(), `snapshot ${index} is beyond the last index ${this.lastIndex()}`);
    const term = this.term(index);
    this.snap = { data, metadata: { index, term, confState } };
    return this.snap;
  }

  /** Drop entries up to and including `compactIndex`; it must not pass the last applied index. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new StorageError('compacted');
    assert(
      compactIndex <= this.lastIndex(),
      `compact ${compactIndex} is beyond the last index ${this.lastIndex()}`,
    );
    const i = compactIndex - offset;
    const head: Entry = { term: this.ents[i]!.term, index: compactIndex, type: 'normal', data: EMPTY_BYTES };
    this.ents = [head, ...this.ents.slice(i + 1)];
  }

  /** Append entries, overwriting any conflicting suffix. Entries must be contiguous. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return; // everything is already compacted
    const toAdd = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const at = toAdd[0]!.index - this.offset();
    assert(
      at <= this.ents.length,
      `missing log entry: last ${this.lastIndex()}, appending at ${toAdd[0]!.index}`,
    );
    this.ents.length = at;
    for (const e of toAdd) this.ents.push(e);
  }
}
