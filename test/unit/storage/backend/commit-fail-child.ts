// Child process for the backend's failure tests. The parent runs it under a file size limit
// (RLIMIT_FSIZE, `ulimit -f`), so LMDB really fails when a write would grow a file past the limit: the
// write comes up short and LMDB reports EIO. Node ignores SIGXFSZ, so the process is not killed.
//
//   node commit-fail-child.js <db-path> awaited   round 1 commits; round 2 (bigger than the limit) is
//                                                 committed with commit(), and a second commit() is
//                                                 queued behind it
//   node commit-fail-child.js <db-path> timer     the same, but round 2 is left to the batchInterval
//                                                 timer: nobody awaits the failing commit
//   node commit-fail-child.js <db-path> default   no onCommitError: the default must end the process
//   node commit-fail-child.js <db-path> backup <target>
//                                                 backs up an existing db bigger than the limit
//
// It prints one JSON line of what it observed (a Report) and exits normally; the parent judges.

import { readFileSync } from 'node:fs';

import { Backend, BackendError } from '../../../../src/storage/backend/index.js';

export interface Report {
  readonly limitBytes: number;
  /** onCommitError calls: message, and whether it is the error commit() and put() give. */
  readonly reported: readonly { readonly message: string; readonly cause: string }[];
  readonly commitRejected?: string;
  readonly queuedRejected?: string;
  readonly sameErrorEverywhere?: boolean;
  readonly refused?: {
    readonly put: boolean;
    readonly commit: boolean;
    readonly forceCommit: boolean;
    readonly defragment: boolean;
    readonly backup: boolean;
  };
  /** A round-1 key read back after the failure. */
  readonly readAfterFailure?: string;
  readonly backupRejected?: string;
}

const ROUND_1_KEYS = 10;

function fileSizeLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max file size'));
  const soft = line?.split(/\s+/)[3];
  if (soft === undefined || !/^\d+$/.test(soft)) throw new Error(`no file size limit: ${line}`);
  return Number(soft);
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejection message of `p`, or undefined if it resolved. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e;
  }
}

function writeRound(be: Backend, round: number, keys: number, valueBytes: number): void {
  for (let i = 0; i < keys; i++) {
    be.batchTx.put('key', Buffer.from(`${round}/${i}`), new Uint8Array(valueBytes).fill(round));
  }
  be.batchTx.setConsistentIndex(round, 1);
}

async function failingCommit(path: string, mode: 'awaited' | 'timer' | 'default'): Promise<Report> {
  const limitBytes = fileSizeLimit();
  const reported: BackendError[] = [];
  const be = Backend.open(path, {
    batchInterval: mode === 'awaited' ? 3_600_000 : 5,
    batchLimit: 1e9,
    ...(mode === 'default' ? {} : { onCommitError: (e: BackendError) => reported.push(e) }),
  });
  writeRound(be, 1, ROUND_1_KEYS, 100);
  await be.commit();
  // Round 2 needs four times the limit: its commit must grow the file past it.
  writeRound(be, 2, Math.ceil((4 * limitBytes) / 4096), 4096);
  let commitError: unknown;
  let queuedError: unknown;
  if (mode === 'awaited') {
    const first = be.commit();
    const queued = be.commit(); // called while the first one runs
    [commitError, queuedError] = await Promise.all([rejection(first), rejection(queued)]);
  } else {
    for (let i = 0; i < 2000 && (mode === 'default' || reported.length === 0); i++) await tick(5);
    if (mode === 'default') throw new Error('survived: the default onCommitError did not end the process');
    await tick(100); // more timer ticks: nothing may be reported twice
  }
  const putError = (() => {
    try {
      be.batchTx.put('key', Buffer.from('3/0'), new Uint8Array(1));
      return undefined;
    } catch (e) {
      return e;
    }
  })();
  const later = [
    await rejection(be.commit()),
    await rejection(be.forceCommit()),
    await rejection(be.defragment()),
    await rejection(be.backup(`${path}.copy`)),
  ];
  const readAfterFailure = be.get('key', Buffer.from('1/0'))?.byteLength.toString();
  await be.close();
  // Let anything left unhandled (an unhandled rejection ends the process with code 1) surface first.
  await tick(50);
  const failure = reported[0];
  const all = [commitError ?? failure, queuedError ?? failure, putError, ...later];
  return {
    limitBytes,
    reported: reported.map((e) => ({
      message: e.message,
      cause: e.cause instanceof Error ? e.cause.message : String(e.cause),
    })),
    commitRejected: commitError instanceof Error ? commitError.message : undefined,
    queuedRejected: queuedError instanceof Error ? queuedError.message : undefined,
    sameErrorEverywhere: failure !== undefined && all.every((e) => e === failure),
    refused: {
      put: putError instanceof BackendError,
      commit: later[0] instanceof BackendError,
      forceCommit: later[1] instanceof BackendError,
      defragment: later[2] instanceof BackendError,
      backup: later[3] instanceof BackendError,
    },
    readAfterFailure,
  };
}

async function failingBackup(path: string, target: string): Promise<Report> {
  const limitBytes = fileSizeLimit();
  const reported: BackendError[] = [];
  const be = Backend.open(path, { onCommitError: (e) => reported.push(e) });
  const e = await rejection(be.backup(target));
  await be.close();
  await tick(50);
  return {
    limitBytes,
    reported: [],
    backupRejected: e === undefined ? undefined : e instanceof Error ? e.message : String(e),
  };
}

async function main(): Promise<void> {
  const [path, mode, target] = process.argv.slice(2);
  if (path === undefined) throw new Error('usage: commit-fail-child.js <db-path> <mode> [target]');
  const report =
    mode === 'backup' && target !== undefined
      ? await failingBackup(path, target)
      : mode === 'awaited' || mode === 'timer' || mode === 'default'
        ? await failingCommit(path, mode)
        : undefined;
  if (report === undefined) throw new Error(`unknown mode ${mode}`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (process.argv[1]?.endsWith('commit-fail-child.js')) await main();
