// Defragmenting the backend of a member that is not running (etcdutl's `defrag --data-dir`).
//
// The backend's own defragment (src/storage/backend/backend.ts: a compacting copy renamed over `db`)
// does the work; this makes sure nobody else uses the data dir meanwhile. etcd waits, without end, for
// the flock of its bbolt file; here a data dir in use is refused at once and left as it was:
//   1. the WAL directory's lock is taken (the lock a member takes when it opens its WAL, before it
//      opens the backend), so a running member is refused and a member started during the defragment
//      fails to open its WAL instead of opening the backend under our feet;
//   2. no other process may hold the backend (under any of its names) or a WAL segment open: this
//      catches a member whose WAL is elsewhere (--wal-dir) and other tools (Linux, through /proc).
// The lock is released when done. A stale lock left by a killed member is broken, as a member's start
// would break it.

import { closeSync, openSync, readSync, statSync } from 'node:fs';

import { Backend } from '../storage/backend/index.js';
import { NodeWalFs, Wal, WalLockedError, type LockHandle } from '../storage/wal/index.js';
import { dataDirLayout } from './bootstrap.js';
import { describeHolders, memberFiles, processesHolding } from './data-dir-use.js';

export type OfflineDefragErrorKind = 'no-database' | 'not-cairn' | 'in-use';

/** A defragment refused before anything was changed. */
export class OfflineDefragError extends Error {
  constructor(
    readonly kind: OfflineDefragErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'OfflineDefragError';
  }
}

export interface OfflineDefragOptions {
  /** Told when the defragment starts (after every check passed), with the file's sizes then. */
  readonly onStart?: (start: {
    readonly path: string;
    readonly size: number;
    readonly sizeInUse: number;
  }) => void;
  readonly warn?: (message: string) => void;
}

export interface OfflineDefragResult {
  readonly path: string;
  readonly sizeBefore: number;
  readonly sizeAfter: number;
  readonly sizeInUseBefore: number;
  readonly sizeInUseAfter: number;
  readonly durationMs: number;
}

const LMDB_MAGIC = 0xbeefc0de;
const BBOLT_MAGIC = 0xed0cdaed;

/**
 * The format of a backend file by its first meta page: 'lmdb' (Cairn's), 'bbolt' (etcd's), or
 * 'unknown'. LMDB must never open anything but its own files: a foreign file can crash the process.
 */
export function backendFileFormat(path: string): 'lmdb' | 'bbolt' | 'unknown' {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(32);
    if (readSync(fd, head, 0, head.length, 0) < head.length) return 'unknown';
    if (head.readUInt32LE(16) === BBOLT_MAGIC) return 'bbolt';
    if (head.readUInt32LE(16) === LMDB_MAGIC || head.readUInt32LE(24) === LMDB_MAGIC) return 'lmdb';
    return 'unknown';
  } finally {
    closeSync(fd);
  }
}

/** The reason a backend file cannot be used, or undefined when it is a Cairn backend. */
export function backendFileProblem(path: string): string | undefined {
  const format = backendFileFormat(path);
  if (format === 'bbolt') return `${path} is a bbolt database (etcd's format), not a Cairn backend`;
  if (format === 'unknown') return `${path} is not a Cairn backend (unknown file format)`;
  return undefined;
}

/** The errno text Go prints for a failed open (`no such file or directory`). */
function openErrorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'ENOTDIR') return 'not a directory';
  return e instanceof Error ? e.message : String(e);
}

/** Defragments `<dataDir>/member/snap/db` of a member that is not running. */
export async function defragmentDataDir(
  dataDir: string,
  options: OfflineDefragOptions = {},
): Promise<OfflineDefragResult> {
  const warn = options.warn ?? (() => {});
  const layout = dataDirLayout(dataDir);
  const path = layout.backendPath;
  try {
    if (!statSync(path).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
  } catch (e) {
    const text = (e as NodeJS.ErrnoException).code === 'EISDIR' ? 'is a directory' : openErrorText(e);
    throw new OfflineDefragError('no-database', `cannot open database at ${path} (open ${path}: ${text})`);
  }
  const problem = backendFileProblem(path);
  if (problem !== undefined) throw new OfflineDefragError('not-cairn', problem);

  let lock: LockHandle | undefined;
  if (Wal.exists(layout.walDir)) {
    try {
      lock = new NodeWalFs().lock(layout.walDir);
    } catch (e) {
      if (e instanceof WalLockedError) {
        throw new OfflineDefragError(
          'in-use',
          `data dir ${dataDir} is in use: its WAL ${layout.walDir} is locked by ${e.holder}; stop the member first, or defragment it online with \`cairnctl defrag\``,
        );
      }
      throw e;
    }
  } else {
    warn(`no WAL in ${layout.walDir}: only processes holding the backend open can be detected`);
  }
  try {
    const holders = processesHolding(memberFiles(layout.snapDir, path, layout.walDir));
    if (holders !== undefined && holders.length > 0) {
      throw new OfflineDefragError(
        'in-use',
        `data dir ${dataDir} is in use: ${describeHolders(holders)}; stop it first, or defragment a running member online with \`cairnctl defrag\``,
      );
    }
    // A failed commit or directory sync makes defragment() reject: nothing else to report it to.
    const backend = Backend.open(path, { logger: { warn }, onCommitError: () => {} });
    try {
      const sizeBefore = backend.size();
      const sizeInUseBefore = backend.sizeInUse();
      await options.onStart?.({ path, size: sizeBefore, sizeInUse: sizeInUseBefore });
      const done = await backend.defragment();
      const sizeInUseAfter = backend.sizeInUse();
      return {
        path,
        sizeBefore: done.sizeBefore,
        sizeAfter: done.sizeAfter,
        sizeInUseBefore,
        sizeInUseAfter,
        durationMs: done.durationMs,
      };
    } finally {
      await backend.close();
    }
  } finally {
    lock?.release();
  }
}
