// The key index of the whole keyspace: key -> KeyIndex, sorted by key bytes. Keys are held as
// latin1 strings (one char per byte), whose natural order is the byte order, so the B+tree compares
// them natively and they work as Map keys too.

import sortedBtree from 'sorted-btree';

import { KeyIndex, RevisionSet, type KeyAt } from './key-index.js';
import type { Revision } from './revision.js';

const BTree = sortedBtree.default;

/** A range of keys: [start, end). `end` undefined: the single key `start`; '' : no upper bound. */
export interface KeyRange {
  readonly start: string;
  readonly end: string | undefined;
}

export interface IndexedKey extends KeyAt {
  readonly key: string;
}

const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function keyToString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export function stringToKey(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'));
}

export class TreeIndex {
  // Keys are all strings: compare them directly (the library's default comparator checks types first).
  private readonly tree = new BTree<string, KeyIndex>(undefined, compareKeys);
  /**
   * The same entries by key, for the single-key lookups of every write and point read: a hash
   * lookup instead of a tree descent whose key comparisons each touch another string in memory.
   */
  private readonly byKey = new Map<string, KeyIndex>();
  /** Keys that exist now, kept as keys are created and deleted (etcd's keys gauge) rather than counted. */
  private live = 0;

  get size(): number {
    return this.tree.size;
  }

  /** Keys that exist at the current revision. */
  get liveKeys(): number {
    return this.live;
  }

  put(key: string, rev: Revision): void {
    this.putAt(key, this.byKey.get(key), rev);
  }

  /** The key's index entry, if the key has ever been indexed (live or not). */
  entry(key: string): KeyIndex | undefined {
    return this.byKey.get(key);
  }

  /**
   * put() with the key's entry from entry() (undefined: a key never indexed), so that a write looks
   * the key up once, not twice.
   */
  putAt(key: string, entry: KeyIndex | undefined, rev: Revision): void {
    const ki = entry ?? this.create(key);
    if (!ki.isLive()) this.live++;
    ki.put(rev);
  }

  /** Records the deletion of a live key; false when the key is not live. */
  tombstone(key: string, rev: Revision): boolean {
    const ended = this.byKey.get(key)?.tombstone(rev) ?? false;
    if (ended) this.live--;
    return ended;
  }

  restore(key: string, rev: Revision, tombstone: boolean): void {
    const ki = this.getOrCreate(key);
    const wasLive = ki.isLive();
    ki.restore(rev, tombstone);
    this.live += Number(ki.isLive()) - Number(wasLive);
  }

  get(key: string, atRev: number): KeyAt | undefined {
    return this.byKey.get(key)?.get(atRev);
  }

  /**
   * The keys live at `atRev` within the range, in key order, up to `limit` of them (0: no limit),
   * and how many there are in all.
   */
  range(range: KeyRange, atRev: number, limit: number): { keys: IndexedKey[]; total: number } {
    const keys: IndexedKey[] = [];
    let total = 0;
    this.visit(range, (ki) => {
      const at = ki.get(atRev);
      if (at === undefined) return;
      total++;
      if (limit <= 0 || keys.length < limit) keys.push({ key: ki.key, ...at });
    });
    return { keys, total };
  }

  /** How many keys of the range were live at atRev. */
  count(range: KeyRange, atRev: number): number {
    let total = 0;
    this.visit(range, (ki) => {
      if (ki.get(atRev) !== undefined) total++;
    });
    return total;
  }

  /** Compacts every key at atRev; returns the revisions at or below atRev that must stay. */
  compact(atRev: number): RevisionSet {
    const keep = new RevisionSet();
    const emptied: string[] = [];
    this.tree.forEach((ki, key) => {
      ki.compact(atRev, keep);
      if (ki.isEmpty()) emptied.push(key);
    });
    for (const key of emptied) {
      this.tree.delete(key);
      this.byKey.delete(key);
    }
    return keep;
  }

  /** The revisions a compaction at atRev would keep, changing nothing. */
  keep(atRev: number): RevisionSet {
    const keep = new RevisionSet();
    this.tree.forEach((ki) => ki.keep(atRev, keep));
    return keep;
  }

  private getOrCreate(key: string): KeyIndex {
    return this.byKey.get(key) ?? this.create(key);
  }

  private create(key: string): KeyIndex {
    const ki = new KeyIndex(key);
    this.tree.set(key, ki);
    this.byKey.set(key, ki);
    return ki;
  }

  private visit(range: KeyRange, f: (ki: KeyIndex) => void): void {
    if (range.end === undefined) {
      const ki = this.byKey.get(range.start);
      if (ki !== undefined) f(ki);
      return;
    }
    if (range.end !== '' && range.end <= range.start) return;
    for (const [key, ki] of this.tree.entries(range.start)) {
      if (range.end !== '' && key >= range.end) break;
      f(ki);
    }
  }
}
