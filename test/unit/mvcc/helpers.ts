// Shared set-up for keyspace tests: a real backend in a temp dir, closed and removed afterwards.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { KeyspaceStore, type KeyspaceOptions } from '../../../src/mvcc/kv-store.js';
import { Backend } from '../../../src/storage/backend/index.js';

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
export const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

export interface Opened {
  readonly backend: Backend;
  readonly store: KeyspaceStore;
}

export interface KeyspaceFixture {
  readonly dir: string;
  /** Opens (or reopens) the keyspace at the fixture's path; options may depend on the backend. */
  open(options?: KeyspaceOptions | ((backend: Backend) => KeyspaceOptions)): Opened;
  /** Commits and closes what is open, like a clean shutdown. */
  close(): Promise<void>;
}

export function keyspaceFixture(
  t: { after: (fn: () => Promise<void>) => void },
  name = 'db',
): KeyspaceFixture {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-mvcc-'));
  let current: Opened | undefined;
  const close = async (): Promise<void> => {
    if (current === undefined) return;
    const { backend, store } = current;
    current = undefined;
    await store.close();
    await backend.commit();
    await backend.close();
  };
  t.after(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    open(options = {}) {
      if (current !== undefined) throw new Error('fixture: already open');
      const backend = Backend.open(join(dir, name), { logger: { warn: () => {} } });
      const extra = typeof options === 'function' ? options(backend) : options;
      const store = KeyspaceStore.open(backend, {
        logger: { warn: () => {} },
        compactionPauseMs: 0,
        ...extra,
      });
      current = { backend, store };
      return current;
    },
    close,
  };
}
