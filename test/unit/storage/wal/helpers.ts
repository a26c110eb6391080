// Shared helpers for the WAL tests.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entry, HardState } from '../../../../src/raft/types.js';
import { EMPTY_HARD_STATE, isEmptyHardState } from '../../../../src/raft/types.js';
import type { ReadAllResult } from '../../../../src/storage/wal/wal.js';

export const METADATA = { nodeId: 0x2919addb8c50e44n, clusterId: 0xc2d5034720b2d854n } as const;

/** Deterministic payload bytes without zeros (so no record has an all-zero sector by accident). */
export function payload(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) % 255) + 1;
  }
  return out;
}

export function entry(index: number, term: number, size = 32, salt = 0): Entry {
  return { index, term, type: 'normal', data: payload(index * 7919 + term * 31 + salt, size) };
}

export function entries(from: number, to: number, term: number, size = 32, salt = 0): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size, salt));
  return out;
}

export function hs(term: number, vote: bigint, commit: number): HardState {
  return { term, vote, commit };
}

/**
 * What a WAL must read back: the raft log with etcd's overwrite rule (a record for index i replaces
 * i and everything after it) and the last non-empty hard state.
 */
export class Model {
  log: Entry[] = [];
  hardState: HardState = EMPTY_HARD_STATE;

  save(state: HardState | undefined, ents: readonly Entry[]): void {
    for (const e of ents) {
      if (this.log.length > 0 && e.index <= this.log[this.log.length - 1].index) {
        const first = this.log[0].index;
        this.log.length = Math.max(0, e.index - first);
      }
      this.log.push(e);
    }
    if (state !== undefined && !isEmptyHardState(state)) this.hardState = state;
  }

  /** Entries after `index`. */
  after(index: number): Entry[] {
    return this.log.filter((e) => e.index > index);
  }

  clone(): Model {
    const m = new Model();
    m.log = [...this.log];
    m.hardState = this.hardState;
    return m;
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** A comparable rendering of what was read (or what the model says). */
export function stateKey(hardState: HardState, ents: readonly Entry[]): string {
  return (
    `hs ${hardState.term}/${hardState.vote}/${hardState.commit}; ` +
    ents.map((e) => `${e.index}:${e.term}:${e.type}:${hex(e.data)}`).join(',')
  );
}

export function resultKey(r: ReadAllResult): string {
  return stateKey(r.hardState, r.entries);
}

/** Entries as plain objects with copied data, for deepEqual against entries read back. */
export function plain(ents: readonly Entry[]): Entry[] {
  return ents.map((e) => ({ index: e.index, term: e.term, type: e.type, data: new Uint8Array(e.data) }));
}

/** A fresh temporary directory, removed after `fn` (even if it throws). */
export async function withTmpDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'cairn-wal-'));
  try {
    return await fn(dir);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
