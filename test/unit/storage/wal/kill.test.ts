// A real process appending to a WAL is killed with SIGKILL at random moments; every index it reported
// as acknowledged (save() resolved, so written and fdatasync'ed) must be there when the WAL is reopened.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../../../src/storage/wal/wal.js';
import { rng, withTmpDir } from './helpers.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child-writer.js');
const SEGMENT_BYTES = 32 * 1024; // small, so kills also land in cuts and background preallocation

interface Round {
  readonly start: number;
  readonly lastAck: number;
}

/** Runs the writer until it has acknowledged `acks` more indexes, then SIGKILLs it after `delayMs`. */
function runAndKill(dir: string, acks: number, delayMs: number, children: Set<ChildProcess>): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(SEGMENT_BYTES)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let start = -1;
    let lastAck = 0;
    let count = 0;
    let killing = false;
    let buf = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [word, n] = line.split(' ');
        if (word === 'start') start = Number(n);
        else if (word === 'ack') {
          const i = Number(n);
          if (i !== (lastAck === 0 ? start : lastAck + 1)) reject(new Error(`ack ${i} after ${lastAck}`));
          lastAck = i;
          count++;
          if (count >= acks && !killing) {
            killing = true;
            setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), delayMs);
          }
        }
      }
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (signal === 'SIGKILL') resolve({ start, lastAck });
      else reject(new Error(`writer exited with ${code}: ${err}`));
    });
  });
}

describe('WAL under SIGKILL (real processes)', () => {
  test('every acknowledged index survives kill -9 at random moments', async (t) => {
    const rand = rng(0xc0ffee);
    const children = new Set<ChildProcess>();
    try {
      await withTmpDir(async (tmp) => {
        const dir = path.join(tmp, 'member', 'wal');
        let acked = 0;
        for (let round = 0; round < 5; round++) {
          const acks = 20 + Math.floor(rand() * 300);
          const delay = Math.floor(rand() * 4);
          const { start, lastAck } = await runAndKill(dir, acks, delay, children);
          assert.ok(start > acked, `round ${round}: restarted at ${start} after ack ${acked}`);
          acked = Math.max(acked, lastAck);
          const wal = await Wal.open(dir, { index: 0, term: 0 }, { segmentBytes: SEGMENT_BYTES });
          const { entries } = wal.readAll();
          await wal.close();
          const indexes = entries.map((e) => e.index);
          assert.ok(
            indexes.length >= acked,
            `round ${round}: ${indexes.length} entries, ${acked} acknowledged`,
          );
          indexes.forEach((idx, k) => assert.equal(idx, k + 1));
        }
        assert.ok(acked > 100);
        const names = fs.readdirSync(dir);
        t.diagnostic(
          `${acked} acknowledged; ${names.filter((n) => n.endsWith('.wal')).length} segments; ` +
            `${names.filter((n) => n.endsWith('.broken')).length} torn tails repaired`,
        );
      });
    } finally {
      for (const c of children)
        if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
    }
  });
});
