// Backend write and read cost on this machine: durable commits of small batches, throughput with
// etcd's default batching, point reads, a range, a backup and a defragment.
//
//   npx tsc -p . && node dist/bench/storage/backend.js [--batches=1000] [--batch=100] [--size=256] [--dir=/tmp]
//
// Keys are etcd revision keys (17 bytes), values `--size` bytes. A raw 4 KiB write + fdatasync is
// measured first in the same directory, because every durable commit costs at least one of those:
// compare the backend's numbers with that floor, not across machines.

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { open } from 'lmdb';

import { Backend, encodeRevisionKey, type CommitInfo } from '../../src/storage/backend/index.js';
import { intFlag, stringFlag } from '../flags.js';

const batches = intFlag('batches', 1000);
const batchSize = intFlag('batch', 100);
const valueSize = intFlag('size', 256);
const base = mkdtempSync(join(stringFlag('dir', tmpdir()), 'cairn-bench-backend-'));

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function fmtMs(ms: number): string {
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

function latencyLine(label: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  return `${label}: p50 ${fmtMs(quantile(s, 0.5))}, p99 ${fmtMs(quantile(s, 0.99))}, max ${fmtMs(s[s.length - 1])}`;
}

function fsyncFloor(): number[] {
  const path = join(base, 'fsync.bin');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 1);
  const samples: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t = performance.now();
    writeSync(fd, block);
    fdatasyncSync(fd);
    samples.push(performance.now() - t);
  }
  closeSync(fd);
  rmSync(path);
  return samples;
}

async function main(): Promise<void> {
  console.log(`backend bench: ${batches} batches x ${batchSize} puts, ${valueSize}-byte values, dir ${base}`);
  console.log(latencyLine('raw 4 KiB write + fdatasync (floor)', fsyncFloor()));

  const value = new Uint8Array(valueSize).fill(0x61);
  let rev = 1;

  // 1. One durable commit per batch, awaited: latency of commit().
  const commits: CommitInfo[] = [];
  const be = Backend.open(join(base, 'a', 'member', 'snap', 'db'), { onCommit: (c) => commits.push(c) });
  const latency: number[] = [];
  let t0 = performance.now();
  for (let i = 0; i < batches; i++) {
    const t = performance.now();
    for (let j = 0; j < batchSize; j++) be.batchTx.put('key', encodeRevisionKey(rev++, 0), value);
    be.batchTx.setConsistentIndex(i + 1, 1);
    await be.commit();
    latency.push(performance.now() - t);
  }
  let elapsed = (performance.now() - t0) / 1000;
  const puts = batches * batchSize;
  console.log(
    `awaited commits: ${Math.round(puts / elapsed)} puts/s, ${Math.round(batches / elapsed)} commits/s; ` +
      latencyLine('commit()', latency),
  );
  console.log(
    latencyLine(
      '  of which LMDB write + sync',
      commits.map((c) => c.durationMs),
    ),
  );

  // 1b. The same with lmdb-js directly (same options, no buffer): what the backend adds on top.
  const raw = open<Uint8Array, Uint8Array>({
    path: join(base, 'raw.db'),
    noSubdir: true,
    maxDbs: 16,
    overlappingSync: false,
  });
  const rawKey = raw.openDB<Uint8Array, Uint8Array>('key', { encoding: 'binary', keyEncoding: 'binary' });
  const rawLatency: number[] = [];
  t0 = performance.now();
  let rawRev = 1;
  for (let i = 0; i < batches; i++) {
    const t = performance.now();
    await raw.batch(() => {
      for (let j = 0; j < batchSize; j++) void rawKey.put(encodeRevisionKey(rawRev++, 0), value);
    });
    await raw.flushed;
    rawLatency.push(performance.now() - t);
  }
  elapsed = (performance.now() - t0) / 1000;
  console.log(
    `lmdb-js alone:   ${Math.round(puts / elapsed)} puts/s; ` + latencyLine('batch + flushed', rawLatency),
  );
  await raw.close();

  // 2. etcd's default batching (100 ms / 10,000 ops): the writer never waits for a commit.
  const piped: CommitInfo[] = [];
  const be2 = Backend.open(join(base, 'b', 'member', 'snap', 'db'), { onCommit: (c) => piped.push(c) });
  t0 = performance.now();
  let rev2 = 1;
  for (let i = 0; i < batches; i++) {
    for (let j = 0; j < batchSize; j++) be2.batchTx.put('key', encodeRevisionKey(rev2++, 0), value);
    be2.batchTx.setConsistentIndex(i + 1, 1);
    if (i % 10 === 9) await new Promise((r) => setImmediate(r)); // let timers and commits run
  }
  await be2.commit();
  elapsed = (performance.now() - t0) / 1000;
  const opsPerCommit = piped.reduce((n, c) => n + c.ops, 0) / piped.length;
  console.log(
    `default batching: ${Math.round(puts / elapsed)} puts/s durable, ${piped.length} commits ` +
      `(~${Math.round(opsPerCommit)} ops each); ` +
      latencyLine(
        'LMDB write + sync',
        piped.map((c) => c.durationMs),
      ),
  );
  await be2.close();

  // 3. Reads of committed data.
  const reads = 100_000;
  t0 = performance.now();
  let found = 0;
  for (let i = 0; i < reads; i++) {
    if (be.get('key', encodeRevisionKey(1 + Math.floor(Math.random() * (rev - 1)), 0)) !== undefined) found++;
  }
  elapsed = (performance.now() - t0) / 1000;
  if (found !== reads) throw new Error(`found ${found} of ${reads}`);
  console.log(`random point reads: ${Math.round(reads / elapsed)}/s`);
  const rangeMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const from = 1 + Math.floor(Math.random() * Math.max(1, rev - 1001));
    const t = performance.now();
    const kvs = be.range('key', encodeRevisionKey(from, 0), encodeRevisionKey(from + 1000, 0));
    rangeMs.push(performance.now() - t);
    if (kvs.length !== Math.min(1000, rev - from)) throw new Error(`range returned ${kvs.length}`);
  }
  console.log(latencyLine('range of 1000 keys', rangeMs));

  // 4. Backup and defragment of what section 1 wrote (after deleting 90% for the defragment).
  t0 = performance.now();
  await be.backup(join(base, 'backup.db'));
  console.log(`backup of ${(be.size() / 1e6).toFixed(1)} MB: ${fmtMs(performance.now() - t0)}`);
  for (let r = 1; r < rev; r++) if (r % 10 !== 0) be.batchTx.delete('key', encodeRevisionKey(r, 0));
  await be.commit();
  const inUse = be.sizeInUse();
  const d = await be.defragment();
  console.log(
    `defragment: ${(d.sizeBefore / 1e6).toFixed(1)} MB (${(inUse / 1e6).toFixed(1)} MB in use) -> ` +
      `${(d.sizeAfter / 1e6).toFixed(1)} MB in ${fmtMs(d.durationMs)}`,
  );
  await be.close();
}

try {
  await main();
} finally {
  rmSync(base, { recursive: true, force: true });
}
