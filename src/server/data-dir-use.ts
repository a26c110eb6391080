// Who is using a data dir, found without changing anything in it (for the offline tools, which must
// never work on the files of a running member).
//
// A running member (1) holds the lock of its WAL directory: the file `<wal-dir>/.lock` naming its pid
// (src/storage/wal/lock.ts; Node has no flock, so it is a lock file, not a lock on the segments), and
// (2) keeps its WAL tail segment and its backend file (`member/snap/db`, which after an online
// defragment is the file it opened as `db.tmp.*`) open for as long as it runs. A tool that changes the
// dir takes the WAL lock itself (NodeWalFs.lock: the member's own exclusion, which also keeps a member
// from starting meanwhile) and then looks for processes holding the files open (processesHolding),
// which also finds a member whose WAL lives elsewhere (--wal-dir) and other tools. A read-only tool
// cannot take the lock: it reads the lock file (readWalLock) and looks for processes holding the files.

import { existsSync, readFileSync, readdirSync, statSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

import { LOCK_FILE_NAME } from '../storage/wal/index.js';

/** A process holding one of the files open. */
export interface FileHolder {
  readonly pid: number;
  /** Its command line (from /proc/<pid>/cmdline, arguments joined by spaces); '' if unreadable. */
  readonly command: string;
  /** The file it holds, as named by the caller. */
  readonly file: string;
}

function identity(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * The processes other than this one that hold any of `files` open, from /proc/<pid>/fd (Linux).
 * Files are matched by device and inode, so a file renamed since it was opened (the backend after an
 * online defragment) still matches. Files that do not exist are skipped. Returns undefined when /proc
 * cannot be read (not Linux): unknown. Processes of other users whose descriptors this process may
 * not read are not seen.
 */
export function processesHolding(files: readonly string[]): FileHolder[] | undefined {
  const wanted = new Map<string, string>();
  for (const f of files) {
    try {
      wanted.set(identity(statSync(f, { bigint: true })), f);
    } catch {
      // gone or unreadable: nothing to hold
    }
  }
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n));
  } catch {
    return undefined;
  }
  const holders: FileHolder[] = [];
  if (wanted.size === 0) return holders;
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    const seen = new Set<string>();
    for (const fd of fds) {
      let key: string;
      try {
        key = identity(statSync(`/proc/${p}/fd/${fd}`, { bigint: true }));
      } catch {
        continue;
      }
      const file = wanted.get(key);
      if (file === undefined || seen.has(file)) continue;
      seen.add(file);
      holders.push({ pid, command: commandOf(pid), file });
    }
  }
  return holders.sort((a, b) => a.pid - b.pid || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** `pid 1234 (command) holds A, B; pid 5678 holds C`: one part per process. */
export function describeHolders(holders: readonly FileHolder[], withCommand = true): string {
  const byPid = new Map<number, FileHolder[]>();
  for (const h of holders) byPid.set(h.pid, [...(byPid.get(h.pid) ?? []), h]);
  return [...byPid.entries()]
    .map(([pid, hs]) => {
      const command = withCommand && hs[0].command !== '' ? ` (${hs[0].command})` : '';
      return `pid ${pid}${command} holds ${hs.map((h) => h.file).join(', ')}`;
    })
    .join('; ');
}

/** What a WAL directory's lock file says (see src/storage/wal/lock.ts). */
export interface WalLockInfo {
  readonly path: string;
  /** The pid recorded; undefined when the file does not parse. */
  readonly pid: number | undefined;
  readonly host: string;
  readonly since: string;
  /** Whether a process with that pid exists on this host now (it may be another one: pids are reused). */
  readonly pidAlive: boolean;
}

/**
 * Whether the lock may belong to a running process that processesHolding cannot see: the lock file
 * cannot be read, or names a running pid whose open files this process may not list. Either way the
 * files must be treated as in use.
 */
export function lockMayHideHolder(lock: WalLockInfo | undefined): boolean {
  if (lock === undefined) return false;
  if (lock.pid === undefined) return true;
  if (!lock.pidAlive) return false;
  try {
    readdirSync(`/proc/${lock.pid}/fd`);
    return false; // listable: processesHolding saw whether it holds the files
  } catch {
    return true;
  }
}

/** Whether a process with that pid runs (a zombie, killed but not yet reaped by its parent, does not). */
function pidExists(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (e) {
    // gone meanwhile; or no /proc, where kill(0) is all there is
    return (e as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync('/proc/self');
  }
}

/** The WAL directory's lock file, read only; undefined when there is none. */
export function readWalLock(walDir: string): WalLockInfo | undefined {
  const path = join(walDir, LOCK_FILE_NAME);
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // there, but not ours to read (another user's member): reported without a pid
  }
  let fields: Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null) fields = v as Record<string, unknown>;
  } catch {
    // an unreadable lock file: reported without a pid
  }
  const pid = typeof fields.pid === 'number' ? fields.pid : undefined;
  return {
    path,
    pid,
    host: typeof fields.host === 'string' ? fields.host : '',
    since: typeof fields.since === 'string' ? fields.since : '',
    pidAlive: pid !== undefined && pidExists(pid),
  };
}

/** The files a running member keeps open: its backend (any name it has in snapDir) and WAL segments. */
export function memberFiles(snapDir: string, backendPath: string, walDir: string): string[] {
  const files = [backendPath];
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const n of list(snapDir))
    if (n.startsWith('db.tmp.') && !n.endsWith('-lock')) files.push(join(snapDir, n));
  for (const n of list(walDir)) if (n.endsWith('.wal') || n.endsWith('.tmp')) files.push(join(walDir, n));
  return files;
}
