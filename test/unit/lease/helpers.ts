// Test doubles for the lessor: an in-memory lease bucket, a hand-driven clock, a keyspace that
// records what it is asked to delete.

import type { LeaseKeyspace, LeaseStore } from '../../../src/lease/index.js';
import { Lessor, type LessorConfig } from '../../../src/lease/index.js';

export const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
export const str = (u: Uint8Array): string => Buffer.from(u).toString('latin1');
export const strs = (us: readonly Uint8Array[]): string[] => us.map(str);

/** The lease bucket as a sorted map; counts writes so tests can check what apply persisted. */
export class MemoryLeaseStore implements LeaseStore {
  readonly rows = new Map<string, Uint8Array>();
  puts = 0;
  deletes = 0;

  put(_bucket: 'lease', key: Uint8Array, value: Uint8Array): void {
    this.puts++;
    this.rows.set(str(key), value.slice());
  }

  delete(_bucket: 'lease', key: Uint8Array): void {
    this.deletes++;
    this.rows.delete(str(key));
  }

  range(_bucket: 'lease', start: Uint8Array): { key: Uint8Array; value: Uint8Array }[] {
    const from = str(start);
    return [...this.rows.keys()]
      .filter((k) => k >= from)
      .sort()
      .map((k) => ({ key: b(k), value: this.rows.get(k) as Uint8Array }));
  }
}

export class FakeClock {
  constructor(public t = 0) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Records each deleteKeys call; optionally detaches the keys as mvcc's delete path does. */
export class RecordingKeyspace implements LeaseKeyspace {
  readonly calls: string[][] = [];
  lessor: Lessor | undefined;

  constructor(private readonly detachOnDelete = false) {}

  deleteKeys(keys: readonly Uint8Array[]): void {
    this.calls.push(strs(keys));
    if (this.detachOnDelete && this.lessor !== undefined) {
      for (const k of keys) this.lessor.detach(this.lessor.leaseOf(k), [k]);
    }
  }
}

export interface Fixture {
  readonly lessor: Lessor;
  readonly store: MemoryLeaseStore;
  readonly clock: FakeClock;
  readonly keyspace: RecordingKeyspace;
}

export function fixture(config: Partial<LessorConfig> = {}, detachOnDelete = false): Fixture {
  const store = new MemoryLeaseStore();
  const clock = new FakeClock(1_000_000);
  const keyspace = new RecordingKeyspace(detachOnDelete);
  const lessor = new Lessor(store, { now: clock.now, ...config }, keyspace);
  keyspace.lessor = lessor;
  return { lessor, store, clock, keyspace };
}
