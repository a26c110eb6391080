// The exclusive lock of a WAL directory, without native addons.
//
// etcd flock(2)s every segment it holds. Node 20 has no flock, so the lock is a file `<dir>/.lock`
// holding who owns it: {pid, process start time, boot id, hostname, a random nonce}. It is taken
// atomically with link(2) from a fully written temporary file (so nobody ever sees a half-written
// lock), and released by unlinking it. A process killed with SIGKILL cannot release it, so a lock is
// treated as STALE, and broken, when
//   - its boot id differs from ours (the machine rebooted since), or
//   - its pid is our own pid but not a lock this process holds (a previous incarnation that had the
//     same pid: common in containers, where the server is often pid 1), or
//   - its pid is not alive (kill(pid, 0) fails with ESRCH), or
//   - the pid is alive but started at another time than recorded (/proc/<pid>/stat): the pid was reused.
// Breaking renames the stale file away, checks that what it renamed is the stale lock it judged (same
// nonce), deletes it and retries. Limits: liveness can only be judged within one pid namespace on one
// host; a lock written by a process in another container or on another host sharing the filesystem is
// judged by a pid that means something else here. Two processes breaking the same stale lock at the
// same instant while a third takes it can, in a window of microseconds, both believe they hold it.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WalLockedError } from './errors.js';

export interface LockHandle {
  /** The lock file's current path. */
  readonly path: string;
  /** The lock file's directory was renamed: the lock is now `<dir>/<same name>`. */
  relocate(dir: string): void;
  /** Deletes the lock file (if it is still ours). Idempotent. */
  release(): void;
}

interface LockInfo {
  readonly pid: number;
  readonly start: string;
  readonly boot: string;
  readonly host: string;
  readonly nonce: string;
  readonly since: string;
}

/** Nonces of the locks this process holds. */
const held = new Set<string>();

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The start time (clock ticks since boot) of a process, from /proc; '' where there is no /proc. */
function startTimeOf(pid: number | 'self'): string {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return '';
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? ''; // field 22 of the line; fields[0] is field 3 (state)
}

let ownInfo: Omit<LockInfo, 'nonce' | 'since'> | undefined;

function own(): Omit<LockInfo, 'nonce' | 'since'> {
  ownInfo ??= {
    pid: process.pid,
    start: startTimeOf('self'),
    boot: (readProc('/proc/sys/kernel/random/boot_id') ?? '').trim(),
    host: os.hostname(),
  };
  return ownInfo;
}

function parse(text: string): LockInfo | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o.pid !== 'number' || typeof o.nonce !== 'string') return undefined;
    return {
      pid: o.pid,
      start: typeof o.start === 'string' ? o.start : '',
      boot: typeof o.boot === 'string' ? o.boot : '',
      host: typeof o.host === 'string' ? o.host : '',
      nonce: o.nonce,
      since: typeof o.since === 'string' ? o.since : '',
    };
  } catch {
    return undefined;
  }
}

function describe(info: LockInfo): string {
  return `pid ${info.pid} on ${info.host || 'an unknown host'} since ${info.since || 'an unknown time'}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Whether the recorded holder may still be running (see the rules at the top of this file). */
function mayBeHeld(info: LockInfo): boolean {
  const me = own();
  if (info.boot !== '' && me.boot !== '' && info.boot !== me.boot) return false;
  if (info.pid === me.pid) return held.has(info.nonce);
  if (!Number.isInteger(info.pid) || info.pid <= 0 || !isAlive(info.pid)) return false;
  if (info.start !== '') {
    const start = startTimeOf(info.pid);
    if (start !== '' && start !== info.start) return false;
  }
  return true;
}

function readLock(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function unlinkQuiet(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone
  }
}

/** Takes the lock file `lockPath` (inside `dir`, named in errors) or throws WalLockedError. */
export function acquireLockFile(lockPath: string, dir: string): LockHandle {
  const nonce = crypto.randomBytes(12).toString('hex');
  const info: LockInfo = { ...own(), nonce, since: new Date().toISOString() };
  const tmp = `${lockPath}.${process.pid}.${nonce}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(info) + '\n', { flag: 'wx', mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, lockPath);
        held.add(nonce);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      if (attempt >= 10) throw new WalLockedError(dir, 'the lock file keeps changing hands');
      const text = readLock(lockPath);
      if (text === undefined) continue; // released meanwhile
      const holder = parse(text);
      if (holder !== undefined && mayBeHeld(holder)) throw new WalLockedError(dir, describe(holder));
      breakStale(lockPath, text);
    }
  } finally {
    unlinkQuiet(tmp);
  }
  return new FileLock(lockPath, nonce);
}

/** Removes the stale lock whose content was `staleText`, unless someone replaced it meanwhile. */
function breakStale(lockPath: string, staleText: string): void {
  const aside = `${lockPath}.stale.${process.pid}.${crypto.randomBytes(6).toString('hex')}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else broke it
    throw e;
  }
  const moved = readLock(aside);
  if (moved !== staleText) {
    // We moved a lock someone took after we read the stale one: put it back if the name is free.
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // another lock took the name meanwhile; the one we moved is lost to its holder (see the top)
    }
  }
  unlinkQuiet(aside);
}

class FileLock implements LockHandle {
  private released = false;

  constructor(
    public path: string,
    private readonly nonce: string,
  ) {}

  relocate(dir: string): void {
    this.path = path.join(dir, path.basename(this.path));
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.nonce);
    const text = readLock(this.path);
    if (text !== undefined && parse(text)?.nonce === this.nonce) unlinkQuiet(this.path);
  }
}
