// The history of one key: its generations. A generation runs from the put that created the key to
// the delete that ended it (the tombstone, its last revision); the last generation is the live one,
// empty when the key is currently deleted. This is the in-memory index etcd keeps per key.
//
// Revisions are appended in increasing order, so every list here is sorted and searches walk from
// the newest end (reads are mostly of recent revisions).

import { assert } from '../raft/assert.js';
import type { Revision } from './revision.js';

export class Generation {
  /** How many puts this generation had before compaction removed any (the key's version). */
  version = 0;
  created: Revision = { main: 0, sub: 0 };
  revs: Revision[] = [];

  isEmpty(): boolean {
    return this.revs.length === 0;
  }

  /** Index of the newest revision with main <= atRev, or -1. */
  newestAtOrBefore(atRev: number): number {
    for (let i = this.revs.length - 1; i >= 0; i--) if (this.revs[i].main <= atRev) return i;
    return -1;
  }
}

/** What a key looked like at a revision. */
export interface KeyAt {
  readonly modified: Revision;
  readonly created: Revision;
  readonly version: number;
}

export class KeyIndex {
  modified: Revision = { main: 0, sub: 0 };
  generations: Generation[] = [new Generation()];

  constructor(readonly key: string) {}

  put(rev: Revision): void {
    assert(
      rev.main > this.modified.main || (rev.main === this.modified.main && rev.sub > this.modified.sub),
      `put at ${rev.main}.${rev.sub} is not after ${this.modified.main}.${this.modified.sub}`,
    );
    const g = this.generations[this.generations.length - 1];
    if (g.isEmpty()) g.created = rev;
    g.revs.push(rev);
    g.version++;
    this.modified = rev;
  }

  /** Ends the live generation at `rev`; false when the key is not live (nothing to delete). */
  tombstone(rev: Revision): boolean {
    if (this.generations[this.generations.length - 1].isEmpty()) return false;
    this.put(rev);
    this.generations.push(new Generation());
    return true;
  }

  /** Restores one revision read back from the backend (in revision order). */
  restore(rev: Revision, tombstone: boolean): void {
    if (tombstone) {
      // A tombstone whose generation was compacted away leaves nothing to end.
      if (!this.tombstone(rev)) this.modified = rev;
    } else {
      this.put(rev);
    }
  }

  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0].isEmpty();
  }

  /** Whether the key exists now (its last generation has revisions). */
  isLive(): boolean {
    return !this.generations[this.generations.length - 1].isEmpty();
  }

  /** The key as of `atRev`, or undefined if it did not exist then. */
  get(atRev: number): KeyAt | undefined {
    const g = this.findGeneration(atRev);
    if (g === undefined) return undefined;
    const n = g.newestAtOrBefore(atRev);
    if (n < 0) return undefined;
    return { modified: g.revs[n], created: g.created, version: g.version - (g.revs.length - n - 1) };
  }

  /** The generation alive at `atRev` (its tombstone after atRev), or undefined. */
  private findGeneration(atRev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let i = last; i >= 0; i--) {
      const g = this.generations[i];
      if (g.isEmpty()) continue;
      // A finished generation whose tombstone is at or before atRev: the key was deleted then.
      if (i !== last && g.revs[g.revs.length - 1].main <= atRev) return undefined;
      if (g.revs[0].main <= atRev) return g;
    }
    return undefined;
  }

  /**
   * Drops history older than `atRev`, keeping for each key the newest revision at or before it
   * (unless that is a tombstone). Revisions that must stay in the backend are added to `keep`.
   */
  compact(atRev: number, keep: RevisionSet): void {
    const { genIdx, revIdx } = this.compactionPoint(atRev, keep);
    const g = this.generations[genIdx];
    let firstKept = genIdx;
    if (!g.isEmpty()) {
      if (revIdx !== -1) g.revs = g.revs.slice(revIdx);
      // A generation reduced to its tombstone is over: drop it with the tombstone.
      if (g.revs.length === 1 && genIdx !== this.generations.length - 1) {
        keep.delete(g.revs[0]);
        firstKept++;
      }
    }
    this.generations = this.generations.slice(firstKept);
  }

  /** Like compact, without changing anything: which revisions a compaction at atRev would keep. */
  keep(atRev: number, keep: RevisionSet): void {
    if (this.isEmpty()) return;
    const { genIdx, revIdx } = this.compactionPoint(atRev, keep);
    const g = this.generations[genIdx];
    if (!g.isEmpty() && revIdx === g.revs.length - 1 && genIdx !== this.generations.length - 1) {
      keep.delete(g.revs[revIdx]);
    }
  }

  /** The first generation ending after atRev, and in it the newest revision at or before atRev. */
  private compactionPoint(atRev: number, keep: RevisionSet): { genIdx: number; revIdx: number } {
    let genIdx = 0;
    while (genIdx < this.generations.length - 1) {
      const g = this.generations[genIdx];
      if (g.revs[g.revs.length - 1].main > atRev) break;
      genIdx++;
    }
    const revIdx = this.generations[genIdx].newestAtOrBefore(atRev);
    if (revIdx !== -1) keep.add(this.generations[genIdx].revs[revIdx]);
    return { genIdx, revIdx };
  }
}

/** A set of revisions, keyed by value (main and sub). */
export class RevisionSet {
  private readonly set = new Set<string>();

  add(r: Revision): void {
    this.set.add(`${r.main}_${r.sub}`);
  }

  delete(r: Revision): void {
    this.set.delete(`${r.main}_${r.sub}`);
  }

  has(r: Revision): boolean {
    return this.set.has(`${r.main}_${r.sub}`);
  }

  get size(): number {
    return this.set.size;
  }
}
