// WAL throughput on the real disk: batches/s and records/s at batch sizes 1, 8, 64, 512 with 256-byte
// entries, each batch one save() (one write + one fdatasync). Also the two measurements behind the
// WAL's I/O choices (docs/storage.md, "WAL"):
//
//   node dist/bench/storage/wal.js [--seconds=3] [--io=sync|async] [--dir=/path]   the batch table
//   node dist/bench/storage/wal.js --compare-io [--seconds=3] [--rounds=3] [--no-closed]
//        [--loads=2000x0.02,40000x0.02]                           sync vs thread-pool I/O under load
//   node dist/bench/storage/wal.js --prealloc                   sparse vs zero-filled vs appended file
//
// Files go to a fresh directory under os.tmpdir() (or --dir), removed afterwards.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Entry } from '../../src/raft/types.js';
import { DEFAULT_IO_MODE, NodeWalFs, type IoMode } from '../../src/storage/wal/fs.js';
import { Wal } from '../../src/storage/wal/wal.js';

function flag(name: string): string | undefined {
  const arg = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (arg === undefined) return undefined;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : '';
}

const seconds = Number(flag('seconds') ?? 3);
const baseDir = flag('dir') ?? os.tmpdir();
const ENTRY_BYTES = 256;
const METADATA = { nodeId: 1n, clusterId: 2n };

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(baseDir, 'cairn-wal-bench-'));
  try {
    return await fn(dir);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

const data = new Uint8Array(ENTRY_BYTES).map((_, i) => (i * 31 + 7) & 0xff);

function batchOf(first: number, n: number, term: number): Entry[] {
  const out: Entry[] = new Array<Entry>(n);
  for (let i = 0; i < n; i++) out[i] = { index: first + i, term, type: 'normal', data };
  return out;
}

// ---- the batch table ----------------------------------------------------------------------------

async function batchTable(io: IoMode): Promise<void> {
  console.log(
    `WAL save(): ${ENTRY_BYTES}-byte entries, ${seconds} s per batch size, io=${io}, dir ${baseDir}`,
  );
  console.log('batch | batches/s | entries/s |   MB/s | save p50 ms | p99 ms | segments');
  for (const batch of [1, 8, 64, 512]) {
    await withDir(async (dir) => {
      const walDir = path.join(dir, 'wal');
      const wal = await Wal.create(walDir, METADATA, { fs: new NodeWalFs({ io }) });
      let next = 1;
      const lat: number[] = [];
      // warm up (and let the background preallocation of the next segment start if it will)
      for (let i = 0; i < 20; i++) {
        await wal.save({ term: 1, vote: 1n, commit: next - 1 }, batchOf(next, batch, 1));
        next += batch;
      }
      const t0 = performance.now();
      let batches = 0;
      while (performance.now() - t0 < seconds * 1000) {
        const s = performance.now();
        await wal.save({ term: 1, vote: 1n, commit: next - 1 }, batchOf(next, batch, 1));
        lat.push(performance.now() - s);
        next += batch;
        batches++;
      }
      const el = (performance.now() - t0) / 1000;
      await wal.close();
      const segments = fs.readdirSync(walDir).filter((n) => n.endsWith('.wal')).length;
      lat.sort((a, b) => a - b);
      const entries = batches * batch;
      console.log(
        `${String(batch).padStart(5)} | ${fmt(batches / el).padStart(9)} | ${fmt(entries / el).padStart(9)} | ` +
          `${fmt((entries * ENTRY_BYTES) / el / 1e6, 1).padStart(6)} | ${fmt(quantile(lat, 0.5), 3).padStart(11)} | ` +
          `${fmt(quantile(lat, 0.99), 2).padStart(6)} | ${segments}`,
      );
    });
  }
}

// ---- sync vs async I/O under load ----------------------------------------------------------------

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: a request's CPU work on the event loop
  }
}

/**
 * A server in miniature: requests arrive at `rate`/s (open loop, Poisson) and each costs `cpuMs` of
 * event-loop time, then appends a 256-byte entry to the pending batch. A WAL loop saves whatever is
 * pending as one batch (one write + one fdatasync) and acknowledges it. Reports acknowledged
 * entries/s, batches/s, the request ack latency and the event-loop delay other work would see.
 */
async function groupCommit(io: IoMode, rate: number, cpuMs: number): Promise<string> {
  return withDir(async (dir) => {
    const wal = await Wal.create(path.join(dir, 'wal'), METADATA, { fs: new NodeWalFs({ io }) });
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let stop = false;
    let pending: number[] = [];
    const ackLat: number[] = [];
    let nextArrival = performance.now();
    const serve = (): void => {
      if (stop) return;
      const now = performance.now();
      while (nextArrival <= now) {
        spin(cpuMs);
        pending.push(nextArrival);
        nextArrival += (-Math.log(1 - rand()) * 1000) / rate;
      }
      setImmediate(serve);
    };
    let next = 1;
    let batches = 0;
    let acked = 0;
    const loop = async (): Promise<void> => {
      while (!stop) {
        if (pending.length === 0) {
          await new Promise<void>((r) => setImmediate(r));
          continue;
        }
        const batch = pending;
        pending = [];
        await wal.save({ term: 1, vote: 1n, commit: next - 1 }, batchOf(next, batch.length, 1));
        next += batch.length;
        const now = performance.now();
        for (const a of batch) ackLat.push(now - a);
        batches++;
        acked += batch.length;
        // let requests in between batches (with synchronous I/O nothing else runs during a save)
        await new Promise<void>((r) => setImmediate(r));
      }
    };
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const t0 = performance.now();
    setImmediate(serve);
    const done = loop();
    await new Promise<void>((r) => setTimeout(r, seconds * 1000));
    stop = true;
    await done;
    const el = (performance.now() - t0) / 1000;
    h.disable();
    await wal.close();
    ackLat.sort((a, b) => a - b);
    return (
      `${io.padEnd(6)} | ${fmt(rate).padStart(7)}/s x ${String(cpuMs).padEnd(4)} ms | ${fmt(acked / el).padStart(7)} | ` +
      `${fmt(batches / el).padStart(7)} | ${fmt(acked / Math.max(1, batches), 1).padStart(6)} | ` +
      `${fmt(quantile(ackLat, 0.5), 2).padStart(6)} | ${fmt(quantile(ackLat, 0.99), 2).padStart(7)} | ` +
      `${fmt(h.percentile(99) / 1e6, 2).padStart(6)}`
    );
  });
}

/** Closed loop, batch of 1: the fsync-bound rate, and how long other work on the event loop waits. */
async function closedLoop(io: IoMode): Promise<string> {
  return withDir(async (dir) => {
    const wal = await Wal.create(path.join(dir, 'wal'), METADATA, { fs: new NodeWalFs({ io }) });
    const lat: number[] = [];
    let next = 1;
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const s = performance.now();
      await wal.save({ term: 1, vote: 1n, commit: next - 1 }, batchOf(next, 1, 1));
      lat.push(performance.now() - s);
      next++;
      if (io === 'sync') await new Promise<void>((r) => setImmediate(r)); // let timers run between saves
    }
    const el = (performance.now() - t0) / 1000;
    const elu = performance.eventLoopUtilization(elu0);
    h.disable();
    await wal.close();
    lat.sort((a, b) => a - b);
    return (
      `${io.padEnd(6)} | ${fmt(lat.length / el).padStart(7)} | ${fmt(quantile(lat, 0.5), 3).padStart(7)} | ` +
      `${fmt(quantile(lat, 0.99), 2).padStart(6)} | ${fmt(elu.utilization * 100).padStart(8)}% | ` +
      `${fmt(h.percentile(99) / 1e6, 2).padStart(13)}`
    );
  });
}

const ROUNDS = Number(flag('rounds') ?? 3);

async function compareIo(): Promise<void> {
  const modes: IoMode[] = ['sync', 'async'];
  const closed = flag('no-closed') === undefined;
  console.log(
    `closed loop, one 256-byte entry per save, ${seconds} s each (modes alternate, ${ROUNDS} rounds)`,
  );
  console.log('io     | saves/s | p50 ms  | p99 ms | loop busy | timer lag p99 ms');
  if (closed)
    for (let round = 0; round < ROUNDS; round++) for (const io of modes) console.log(await closedLoop(io));
  console.log();
  console.log('group commit under load: open-loop requests, each costing CPU on the event loop');
  console.log(
    'io     | offered / CPU each    | acked/s | batch/s | avg batch | ack p50 | ack p99 | loop delay p99 ms',
  );
  const loads: (readonly [number, number])[] =
    flag('loads') !== undefined
      ? flag('loads')!
          .split(',')
          .map((x) => x.split('x').map(Number) as [number, number])
      : [
          [2000, 0.02],
          [10000, 0.02],
          [20000, 0.03],
          [40000, 0.02],
        ];
  for (const [rate, cpu] of loads) {
    for (let round = 0; round < ROUNDS; round++) {
      for (const io of modes) console.log(await groupCommit(io, rate, cpu));
    }
  }
}

// ---- preallocation ------------------------------------------------------------------------------

async function prealloc(): Promise<void> {
  const SIZE = 64_000_000;
  const N = 3000;
  console.log(`write 4 KiB + fdatasync, ${N} times, into a file prepared three ways`);
  console.log('file                     | prepare ms | ops/s | p50 ms | p99 ms | allocated MB');
  for (let round = 0; round < 2; round++) {
    for (const kind of ['append (no preallocation)', 'ftruncate (sparse)', 'zero-filled']) {
      await withDir(async (dir) => {
        const file = path.join(dir, 'f');
        const t = performance.now();
        const fd = fs.openSync(file, 'w+');
        if (kind.startsWith('ftruncate')) fs.ftruncateSync(fd, SIZE);
        if (kind === 'zero-filled') {
          const z = new Uint8Array(1 << 20);
          for (let off = 0; off < SIZE; off += z.byteLength)
            fs.writeSync(fd, z, 0, Math.min(z.byteLength, SIZE - off), off);
        }
        fs.fsyncSync(fd);
        const prep = performance.now() - t;
        const buf = new Uint8Array(4096).fill(7);
        const lat: number[] = [];
        const t0 = performance.now();
        for (let i = 0; i < N; i++) {
          const s = performance.now();
          fs.writeSync(fd, buf, 0, buf.byteLength, i * buf.byteLength);
          fs.fdatasyncSync(fd);
          lat.push(performance.now() - s);
        }
        const el = (performance.now() - t0) / 1000;
        const st = fs.fstatSync(fd);
        fs.closeSync(fd);
        lat.sort((a, b) => a - b);
        console.log(
          `${kind.padEnd(24)} | ${fmt(prep, 1).padStart(10)} | ${fmt(N / el).padStart(5)} | ` +
            `${fmt(quantile(lat, 0.5), 3).padStart(6)} | ${fmt(quantile(lat, 0.99), 2).padStart(6)} | ${fmt((st.blocks * 512) / 1e6, 1).padStart(12)}`,
        );
      });
    }
  }
}

async function main(): Promise<void> {
  if (flag('compare-io') !== undefined) await compareIo();
  else if (flag('prealloc') !== undefined) await prealloc();
  else {
    const io = flag('io') ?? DEFAULT_IO_MODE;
    if (io !== 'sync' && io !== 'async') throw new Error('--io must be sync or async');
    await batchTable(io);
  }
}

await main();
