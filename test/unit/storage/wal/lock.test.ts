// The WAL directory lock, across real processes.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WalLockedError } from '../../../../src/storage/wal/errors.js';
import { Wal } from '../../../../src/storage/wal/wal.js';
import { METADATA, withTmpDir } from './helpers.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child-lock.js');
const AT0 = { index: 0, term: 0 };
const OPTS = { segmentBytes: 65536 };

interface Line {
  readonly ok: boolean;
  readonly pid?: number;
  readonly name?: string;
  readonly message?: string;
}

function startChild(dir: string, mode: 'try' | 'hold'): { child: ChildProcess; first: Promise<Line> } {
  const child = spawn(process.execPath, [CHILD, dir, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = new Promise<Line>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as Line);
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before reporting`)));
  });
  return { child, first };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

function killIfAlive(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    process.kill(child.pid, 'SIGKILL');
  }
}

describe('WAL lock across processes', () => {
  test('a second process opening a WAL this process holds gets a clear error', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'wal');
      const wal = await Wal.create(dir, METADATA, OPTS);
      const { child, first } = startChild(dir, 'try');
      try {
        const line = await first;
        assert.equal(line.ok, false);
        assert.equal(line.name, 'WalLockedError');
        assert.match(line.message!, new RegExp(`locked by another process \\(pid ${process.pid} on `));
        assert.match(line.message!, /is another member running on this data directory\?/);
        assert.equal(await exited(child), 1);
      } finally {
        killIfAlive(child);
        await wal.close();
      }
    });
  });

  test('a WAL held by another process is refused here; once it is killed (SIGKILL) the stale lock is broken', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'wal');
      await (await Wal.create(dir, METADATA, OPTS)).close();
      const { child, first } = startChild(dir, 'hold');
      try {
        const line = await first;
        assert.equal(line.ok, true);
        await assert.rejects(Wal.open(dir, AT0, OPTS), (e: unknown) => {
          assert.ok(e instanceof WalLockedError);
          assert.match(e.message, new RegExp(`\\(pid ${line.pid} on `));
          return true;
        });
        process.kill(child.pid!, 'SIGKILL');
        await exited(child);
        assert.ok(fs.existsSync(path.join(dir, '.lock')), 'a killed holder leaves its lock file behind');
        const wal = await Wal.open(dir, AT0, OPTS);
        await wal.close();
      } finally {
        killIfAlive(child);
      }
    });
  });

  test('a holder that exits cleanly releases the lock', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'wal');
      await (await Wal.create(dir, METADATA, OPTS)).close();
      const { child, first } = startChild(dir, 'hold');
      try {
        assert.equal((await first).ok, true);
        child.stdin!.end();
        assert.equal(await exited(child), 0);
        assert.equal(fs.existsSync(path.join(dir, '.lock')), false);
        await (await Wal.open(dir, AT0, OPTS)).close();
      } finally {
        killIfAlive(child);
      }
    });
  });

  test('stale lock files are recognised: dead pid, our own pid from an earlier life, a reused pid', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'wal');
      await (await Wal.create(dir, METADATA, OPTS)).close();
      const lockFile = path.join(dir, '.lock');
      const stat = (pid: number): string => {
        const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
      };
      const write = (o: object): void => fs.writeFileSync(lockFile, JSON.stringify(o));
      const base = { boot: '', host: 'h', since: 'then', nonce: 'n1' };

      write({ ...base, pid: 4_000_000, start: '' }); // no such process (above pid_max)
      await (await Wal.open(dir, AT0, OPTS)).close();

      write({ ...base, pid: process.pid, start: stat(process.pid) }); // our pid, not our lock
      await (await Wal.open(dir, AT0, OPTS)).close();

      write({ ...base, pid: process.ppid, start: '1' }); // alive, but started at another time
      await (await Wal.open(dir, AT0, OPTS)).close();

      fs.writeFileSync(lockFile, 'not json'); // unreadable (a crash while writing it): stale
      await (await Wal.open(dir, AT0, OPTS)).close();

      write({ ...base, pid: process.ppid, start: stat(process.ppid) }); // a live holder
      await assert.rejects(Wal.open(dir, AT0, OPTS), (e: unknown) => {
        assert.ok(e instanceof WalLockedError);
        assert.match(e.message, new RegExp(`pid ${process.ppid} on h since then`));
        return true;
      });
      assert.ok(fs.existsSync(lockFile), "a live holder's lock is left alone");
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.startsWith('.lock.')),
        [],
        'no temporary lock files are left behind',
      );
    });
  });
});
