import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { existsSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { open as openLmdb } from 'lmdb';

import {
  BUCKETS,
  Backend,
  BackendError,
  ReadTxReleasedError,
  type BackendOptions,
  type Bucket,
  type CommitInfo,
  type ReadTx,
} from '../../../../src/storage/backend/index.js';
import type { Report } from './commit-fail-child.js';

// ---- Helpers ------------------------------------------------------------------------------------

const EMPTY = new Uint8Array(0);
const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const str = (u: Uint8Array | undefined): string | undefined =>
  u === undefined ? undefined : Buffer.from(u).toString();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Ctx {
  readonly dir: string;
  readonly path: string;
  open(options?: BackendOptions, path?: string): Backend;
}

/** A temp data dir; every backend opened through it is closed, and the dir removed, after the test. */
function setup(t: { after: (fn: () => Promise<void>) => void }): Ctx {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-backend-'));
  const opened: Backend[] = [];
  t.after(async () => {
    // close() waits for open ReadTxs; a failed assertion may have left one, so do not wait forever.
    for (const be of opened) await Promise.race([be.close().catch(() => {}), sleep(2000)]);
    rmSync(dir, { recursive: true, force: true });
  });
  const path = join(dir, 'member', 'snap', 'db');
  return {
    dir,
    path,
    open(options = {}, p = path) {
      const be = Backend.open(p, { onCommitError: () => {}, ...options });
      opened.push(be);
      return be;
    },
  };
}

function keyCount(be: Backend): number {
  return be.range('key', EMPTY).length;
}

// ---- Buckets ------------------------------------------------------------------------------------

test('all ten etcd buckets exist after open, as LMDB named databases in a single file', async (t) => {
  const ctx = setup(t);
  const be = ctx.open();
  await be.close();
  assert.deepEqual(readdirSync(join(ctx.dir, 'member', 'snap')).sort(), ['db', 'db-lock']);
  const env = openLmdb({ path: ctx.path, noSubdir: true, maxDbs: 16, readOnly: true });
  try {
    const probe = (name: string): boolean => {
      const options = { name, create: false, encoding: 'binary' as const, keyEncoding: 'binary' as const };
      return env.openDB(options) !== undefined;
    };
    for (const name of BUCKETS) assert.ok(probe(name), `bucket ${name}`);
    assert.equal(probe('no-such-bucket'), false);
  } finally {
    await env.close();
  }
});

// ---- Reads and writes against a model -----------------------------------------------------------

type Model = Map<Bucket, Map<string, string>>; // hex key -> value string

function cloneModel(m: Model): Model {
  return new Map([...m].map(([k, v]) => [k, new Map(v)]));
}

function modelRange(
  m: Model,
  bucket: Bucket,
  start: Buffer,
  end: Buffer | undefined,
  limit: number,
  reverse: boolean,
): string[] {
  const keys = [...(m.get(bucket) ?? new Map<string, string>()).keys()]
    .map((h) => Buffer.from(h, 'hex'))
    .filter((k) => Buffer.compare(k, start) >= 0 && (end === undefined || Buffer.compare(k, end) < 0))
    .sort(Buffer.compare);
  if (reverse) keys.reverse();
  const out = keys.map((k) => `${k.toString('hex')}=${m.get(bucket)?.get(k.toString('hex'))}`);
  return limit > 0 ? out.slice(0, limit) : out;
}

const keyArb = fc
  .array(fc.constantFrom(0x00, 0x01, 0x5f, 0x61, 0xff), { minLength: 1, maxLength: 3 })
  .map((a) => Buffer.from(a));
const bucketArb = fc.constantFrom<Bucket>('key', 'lease');
const opArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ t: fc.constant('put' as const), bucket: bucketArb, key: keyArb, v: fc.nat(999) }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('del' as const), bucket: bucketArb, key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('commit' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('tick' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('open' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('release' as const), which: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('range' as const),
      bucket: bucketArb,
      start: fc.option(keyArb, { nil: undefined }),
      end: fc.option(keyArb, { nil: undefined }),
      limit: fc.nat(4),
      reverse: fc.boolean(),
      which: fc.option(fc.nat(), { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('get' as const),
      bucket: bucketArb,
      key: keyArb,
      which: fc.option(fc.nat(), { nil: undefined }),
    }),
  },
);

test('put/get/delete/range (order, limit, reverse) match a model, with commits and snapshots interleaved', async (t) => {
  const ctx = setup(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 80 }), async (ops) => {
      // Tiny batch limit and interval: automatic commits land during the awaits of 'tick' and 'commit'.
      const be = ctx.open({ batchLimit: 7, batchInterval: 3 }, join(ctx.dir, `run${run++}`, 'db'));
      const model: Model = new Map();
      const readers: { tx: ReadTx; model: Model }[] = [];
      try {
        for (const op of ops) {
          switch (op.t) {
            case 'put': {
              be.batchTx.put(op.bucket, op.key, b(`v${op.v}`));
              const m = model.get(op.bucket) ?? new Map<string, string>();
              m.set(op.key.toString('hex'), `v${op.v}`);
              model.set(op.bucket, m);
              break;
            }
            case 'del':
              be.batchTx.delete(op.bucket, op.key);
              model.get(op.bucket)?.delete(op.key.toString('hex'));
              break;
            case 'commit':
              await be.commit();
              break;
            case 'tick':
              await sleep(4);
              break;
            case 'open':
              readers.push({ tx: be.readTx(), model: cloneModel(model) });
              break;
            case 'release':
              if (readers.length > 0) readers.splice(op.which % readers.length, 1)[0].tx.release();
              break;
            case 'range': {
              const r =
                op.which === undefined || readers.length === 0
                  ? undefined
                  : readers[op.which % readers.length];
              const start = op.start ?? Buffer.alloc(0);
              const got = (r?.tx ?? be)
                .range(op.bucket, start, op.end, { limit: op.limit, reverse: op.reverse })
                .map((kv) => `${Buffer.from(kv.key).toString('hex')}=${str(kv.value)}`);
              assert.deepEqual(
                got,
                modelRange(r?.model ?? model, op.bucket, start, op.end, op.limit, op.reverse),
              );
              break;
            }
            case 'get': {
              const r =
                op.which === undefined || readers.length === 0
                  ? undefined
                  : readers[op.which % readers.length];
              const expected = (r?.model ?? model).get(op.bucket)?.get(op.key.toString('hex'));
              assert.equal(str((r?.tx ?? be).get(op.bucket, op.key)), expected);
              break;
            }
          }
        }
        // Everything survives a commit, a close and a reopen.
        for (const r of readers) r.tx.release();
        await be.close();
        const again = ctx.open({}, join(ctx.dir, `run${run - 1}`, 'db'));
        for (const bucket of ['key', 'lease'] as const) {
          const got = again
            .range(bucket, EMPTY)
            .map((kv) => `${Buffer.from(kv.key).toString('hex')}=${str(kv.value)}`);
          assert.deepEqual(got, modelRange(model, bucket, Buffer.alloc(0), undefined, 0, false));
        }
        await again.close();
      } finally {
        for (const r of readers) r.tx.release();
        await be.close();
      }
    }),
    { numRuns: 30 },
  );
});

test('buffered writes are visible to reads before the commit; a ReadTx is a snapshot', async (t) => {
  const ctx = setup(t);
  const be = ctx.open({ batchInterval: 3_600_000 });
  const tx = be.batchTx;
  tx.put('key', b('a'), b('1'));
  tx.put('key', b('b'), b('2'));
  tx.setConsistentIndex(7, 3);
  assert.equal(tx.pending, 4);
  assert.equal(str(be.get('key', b('a'))), '1');
  assert.equal(str(tx.get('key', b('b'))), '2');
  assert.deepEqual(be.consistentIndex(), { index: 7, term: 3 });

  const snap = be.readTx();
  tx.put('key', b('c'), b('3'));
  tx.delete('key', b('a'));
  tx.put('key', b('b'), b('22'));
  assert.deepEqual(
    snap.range('key', EMPTY).map((kv) => str(kv.key)),
    ['a', 'b'],
  );
  assert.deepEqual(
    be.range('key', EMPTY).map((kv) => `${str(kv.key)}=${str(kv.value)}`),
    ['b=22', 'c=3'],
  );
  await tx.commit(); // the snapshot does not move when the buffer lands in LMDB
  assert.equal(tx.pending, 0);
  assert.equal(str(snap.get('key', b('a'))), '1');
  assert.equal(str(snap.get('key', b('b'))), '2');
  assert.equal(snap.get('key', b('c')), undefined);
  snap.release();
  snap.release(); // idempotent
  assert.throws(() => snap.get('key', b('a')), ReadTxReleasedError);
  assert.equal(be.get('key', b('a')), undefined);
  assert.equal(str(be.get('key', b('b'))), '22');
});

test('many snapshots between writes (layer merging) each keep their own view', async (t) => {
  const ctx = setup(t);
  const be = ctx.open({ batchInterval: 3_600_000 });
  const snaps: ReadTx[] = [];
  for (let i = 0; i < 2000; i++) {
    be.batchTx.put('key', b(`k${i % 300}`), b(`${i}`));
    snaps.push(be.readTx());
    if (i === 1000) await be.commit();
  }
  for (let i = 0; i < snaps.length; i += 97) {
    const s = snaps[i];
    assert.equal(str(s.get('key', b(`k${i % 300}`))), `${i}`);
    assert.equal(s.range('key', EMPTY).length, Math.min(i + 1, 300));
  }
  for (const s of snaps) s.release();
  assert.equal(str(be.get('key', b('k299'))), '1799');
});

test('keys must be 1..1978 bytes; writes after close are refused', async (t) => {
  const ctx = setup(t);
  const be = ctx.open();
  assert.throws(() => be.batchTx.put('key', EMPTY, b('x')), RangeError);
  assert.throws(() => be.batchTx.put('key', new Uint8Array(1979), b('x')), RangeError);
  be.batchTx.put('key', new Uint8Array(1978).fill(1), b('x'));
  be.batchTx.put('alarm', b('member'), EMPTY); // empty values are fine (etcd's alarm bucket)
  await be.commit();
  assert.deepEqual(be.get('alarm', b('member')), Buffer.alloc(0));
  await be.close();
  assert.throws(() => be.batchTx.put('key', b('k'), b('v')), BackendError);
  await assert.rejects(be.commit(), BackendError);
});

// ---- Batching -----------------------------------------------------------------------------------

test('batchLimit commits a synchronous burst as one batch; batchInterval commits what is pending', async (t) => {
  const ctx = setup(t);
  const commits: CommitInfo[] = [];
  const be = ctx.open({ batchLimit: 50, batchInterval: 3_600_000, onCommit: (c) => commits.push(c) });
  for (let i = 0; i < 120; i++) be.batchTx.put('key', b(`k${i}`), b('v'));
  assert.equal(commits.length, 0); // never inside the synchronous stretch
  for (let i = 0; i < 100 && commits.length === 0; i++) await sleep(5);
  assert.deepEqual(
    commits.map((c) => c.ops),
    [120],
  );
  assert.ok(commits[0].durationMs >= 0);

  const ctx2 = setup(t);
  const commits2: CommitInfo[] = [];
  const be2 = ctx2.open({ batchInterval: 10, onCommit: (c) => commits2.push(c) });
  be2.batchTx.put('key', b('k'), b('v'));
  for (let i = 0; i < 100 && commits2.length === 0; i++) await sleep(5);
  assert.deepEqual(
    commits2.map((c) => c.ops),
    [1],
  );
  await be2.close();
  const reopened = ctx2.open();
  assert.equal(str(reopened.get('key', b('k'))), 'v');
});

test('reopen: committed data persists and close() commits what is still buffered', async (t) => {
  const ctx = setup(t);
  const be = ctx.open({ batchInterval: 3_600_000 });
  be.batchTx.put('members', b('8e9e05c52164694d'), b('{"id":1}'));
  be.batchTx.setConsistentIndex(1, 1);
  await be.commit();
  be.batchTx.put('cluster', b('clusterVersion'), b('3.5.0'));
  be.batchTx.setConsistentIndex(2, 1);
  await be.close(); // not committed before: close does it
  const again = ctx.open();
  assert.equal(str(again.get('members', b('8e9e05c52164694d'))), '{"id":1}');
  assert.equal(str(again.get('cluster', b('clusterVersion'))), '3.5.0');
  assert.deepEqual(again.consistentIndex(), { index: 2, term: 1 });
});

// ---- Crash atomicity ----------------------------------------------------------------------------

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const KEYS_PER_ROUND = 2000;

/** Runs the crash child, kills it with SIGKILL when `killWhen` says so; returns its stdout lines. */
async function runAndKill(
  path: string,
  mode: string,
  killWhen: (lines: string[]) => boolean,
): Promise<string[]> {
  const proc = spawn(process.execPath, [CHILD, path, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const timeout = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    buf += chunk;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
    if (killWhen(lines)) proc.kill('SIGKILL');
  });
  await exited;
  clearTimeout(timeout);
  return lines;
}

/** Reopens and checks: round r's keys are there for exactly r <= consistent index. */
async function checkBothOrNeither(ctx: Ctx, path: string): Promise<number> {
  const be = ctx.open({}, path);
  const ci = be.consistentIndex().index;
  assert.equal(keyCount(be), ci * KEYS_PER_ROUND, `consistent index ${ci}`);
  if (ci > 0) assert.notEqual(be.get('key', b(`${ci}/${KEYS_PER_ROUND - 1}`)), undefined);
  assert.equal(be.get('key', b(`${ci + 1}/0`)), undefined);
  await be.close();
  return ci;
}

test('SIGKILL: the consistent index and the data it describes are on disk both or neither', async (t) => {
  const ctx = setup(t);
  // Killed with the round only buffered: neither.
  const p1 = join(ctx.dir, 'buffered', 'db');
  await runAndKill(p1, 'buffered', (l) => l.includes('buffered 1'));
  assert.equal(await checkBothOrNeither(ctx, p1), 0);
  // Killed after the commit resolved: both.
  const p2 = join(ctx.dir, 'committed', 'db');
  await runAndKill(p2, 'committed', (l) => l.includes('committed 1'));
  assert.equal(await checkBothOrNeither(ctx, p2), 1);
  // Killed at random moments while committing round after round: both or neither, and nothing
  // acknowledged is lost.
  for (let i = 0; i < 3; i++) {
    const p = join(ctx.dir, `loop${i}`, 'db');
    const target = 2 + Math.floor(Math.random() * 6);
    const lines = await runAndKill(p, 'loop', (l) => l.length >= target);
    const acked = lines.filter((l) => l.startsWith('committed')).length;
    const ci = await checkBothOrNeither(ctx, p);
    assert.ok(ci >= acked, `acknowledged ${acked} rounds, found ${ci}`);
  }
});

// ---- Backup and defragment ----------------------------------------------------------------------

/** Writes rounds of 100 keys + the consistent index until stopped, yielding between rounds. */
function startWriter(be: Backend, prefix: string, firstRound: number): { stop: () => Promise<number> } {
  let stopped = false;
  let round = firstRound - 1;
  const done = (async () => {
    while (!stopped) {
      round++;
      for (let i = 0; i < 100; i++) be.batchTx.put('key', b(`${prefix}/${round}/${i}`), new Uint8Array(64));
      be.batchTx.setConsistentIndex(round, 1);
      // Backpressure, as an apply loop would have: never more than a few thousand writes buffered.
      if (be.batchTx.pending > 3000) await be.commit();
      else await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return round;
    },
  };
}

test('backup while a writer keeps committing gives consistent copies that open', async (t) => {
  const ctx = setup(t);
  const commits: CommitInfo[] = [];
  const be = ctx.open({ batchInterval: 2, onCommit: (c) => commits.push(c) });
  for (let r = 1; r <= 200; r++) {
    for (let i = 0; i < 100; i++) be.batchTx.put('key', b(`w/${r}/${i}`), new Uint8Array(64));
    be.batchTx.setConsistentIndex(r, 1);
  }
  await be.commit();
  const writer = startWriter(be, 'w', 201);
  const copies: string[] = [];
  const commitsBefore = commits.length;
  for (let i = 0; i < 4; i++) {
    await sleep(15);
    const copy = join(ctx.dir, `copy${i}`);
    await be.backup(copy, { compact: i % 2 === 1 });
    copies.push(copy);
  }
  const last = await writer.stop();
  await be.commit();
  assert.ok(commits.length - commitsBefore >= 4, 'the writer kept committing during the backups');
  let previous = 0;
  for (const copy of copies) {
    const c = ctx.open({}, copy);
    const ci = c.consistentIndex().index;
    assert.equal(keyCount(c), ci * 100, `${copy}: whole rounds only, matching the consistent index`);
    assert.ok(ci >= 200 && ci >= previous && ci <= last, `${copy}: index ${ci}`);
    previous = ci;
    await c.close();
  }
  await assert.rejects(be.backup(copies[0]), /exist/i); // never overwrites
});

test('defragment shrinks the file after deletes, keeps all data, and writes go on during it', async (t) => {
  const ctx = setup(t);
  const commits: CommitInfo[] = [];
  const be = ctx.open({ batchInterval: 2, onCommit: (c) => commits.push(c) });
  const value = (i: number): Uint8Array => new Uint8Array(256).fill(i % 251);
  for (let i = 0; i < 20_000; i++) be.batchTx.put('key', b(`p/${i}`), value(i));
  be.batchTx.setConsistentIndex(1, 1);
  await be.commit();
  for (let i = 0; i < 20_000; i++) if (i % 10 !== 0) be.batchTx.delete('key', b(`p/${i}`));
  await be.commit();
  const inUseBefore = be.sizeInUse();
  assert.ok(inUseBefore < be.size() / 3, 'deleted pages are free but still in the file');

  const writer = startWriter(be, 'w', 2);
  // Readers keep going during the defragment too.
  let reads = 0;
  let readerStop = false;
  const reader = (async () => {
    while (!readerStop) {
      assert.equal(str(be.get('key', b('p/0'))), str(value(0)));
      const tx = be.readTx();
      await new Promise((r) => setImmediate(r));
      assert.equal(tx.get('key', b('p/10'))?.byteLength, 256);
      tx.release();
      reads++;
    }
  })();
  const commitsBefore = commits.length;
  const result = await be.defragment();
  const commitsDuring = commits.length - commitsBefore;
  await sleep(10);
  const last = await writer.stop();
  readerStop = true;
  await reader;
  await be.commit();

  assert.ok(result.sizeAfter < result.sizeBefore / 3, `${result.sizeBefore} -> ${result.sizeAfter}`);
  assert.equal(be.size(), fs.statSync(be.path).size, 'the size follows the new file');
  assert.ok(commitsDuring > 0, 'commits continued while the copy was made');
  assert.ok(reads > 0);
  const check = (x: Backend): void => {
    const kept = x.range('key', b('p/'), b('p0'));
    assert.equal(kept.length, 2000);
    for (const kv of kept) {
      const i = Number(str(kv.key)?.slice(2));
      assert.equal(i % 10, 0);
      assert.deepEqual(Buffer.from(kv.value), Buffer.from(value(i)));
    }
    assert.equal(x.consistentIndex().index, last);
    assert.equal(x.range('key', b('w/'), b('w0')).length, (last - 1) * 100);
  };
  check(be);
  await be.close();
  assert.deepEqual(readdirSync(join(ctx.dir, 'member', 'snap')).sort(), ['db', 'db-lock']);
  const again = ctx.open();
  check(again);
});

test('a ReadTx held across defragment keeps its snapshot and blocks nothing but the old file', async (t) => {
  const ctx = setup(t);
  const be = ctx.open({ batchInterval: 3_600_000 });
  be.batchTx.put('key', b('k'), b('1'));
  await be.commit();
  const held = be.readTx();
  be.batchTx.put('key', b('k'), b('2'));
  await be.commit();
  let finished = false;
  const defrag = be.defragment().then((r) => {
    finished = true;
    return r;
  });
  // Writes, commits and reads go on while the old file waits for `held`.
  be.batchTx.put('key', b('k'), b('3'));
  await be.commit();
  await sleep(20);
  assert.equal(str(be.get('key', b('k'))), '3');
  const fresh = be.readTx();
  assert.equal(str(fresh.get('key', b('k'))), '3');
  fresh.release();
  assert.equal(finished, false, 'the old environment is retired only after its readers');
  assert.equal(str(held.get('key', b('k'))), '1');
  held.release();
  await defrag;
  await be.close();
  const again = ctx.open();
  assert.equal(str(again.get('key', b('k'))), '3');
});

test('size is the file size; sizeInUse counts only pages that hold data', async (t) => {
  const ctx = setup(t);
  const be = ctx.open();
  const empty = be.sizeInUse();
  assert.ok(empty > 0 && empty <= be.size());
  for (let i = 0; i < 5000; i++) be.batchTx.put('lease', b(`l${i}`), new Uint8Array(200));
  await be.commit();
  const full = be.sizeInUse();
  assert.ok(full > empty + 5000 * 200, `${full}`);
  assert.equal(be.size(), fs.statSync(be.path).size, 'the cached size is the file size');
  assert.ok(full <= be.size());
  for (let i = 0; i < 5000; i++) be.batchTx.delete('lease', b(`l${i}`));
  await be.commit();
  assert.ok(be.sizeInUse() < full / 4, `${be.sizeInUse()} after deleting everything`);
  assert.ok(be.size() >= full, 'LMDB keeps the free pages in the file');
  assert.equal(be.size(), fs.statSync(be.path).size);
});

test('an orphaned defragment temp file is removed at open', async (t) => {
  const ctx = setup(t);
  const be = ctx.open();
  await be.close();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${ctx.path}.tmp.abc123`, 'partial copy');
  writeFileSync(`${ctx.path}.tmp.abc123-lock`, '');
  const warnings: string[] = [];
  const again = ctx.open({ logger: { warn: (m) => warnings.push(m) } });
  assert.equal(warnings.length, 2);
  assert.deepEqual(readdirSync(join(ctx.dir, 'member', 'snap')).sort(), ['db', 'db-lock']);
  await again.close();
});

// ---- Durability of names, and failures ------------------------------------------------------------

/**
 * Runs `fn` with node:fs's fsyncSync replaced (for the backend's ES module import too), to see which
 * files and directories are fsynced, or to make one fsync fail. Linux: the path of an fd comes from /proc.
 */
async function withFsyncSync<T>(
  replacement: (fd: number, path: string, original: (fd: number) => void) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const original = fs.fsyncSync;
  fs.fsyncSync = (fd: number): void => replacement(fd, readlinkSync(`/proc/self/fd/${fd}`), original);
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    fs.fsyncSync = original;
    syncBuiltinESMExports();
  }
}

test('open makes a new db file and the directories it creates durable (fsync of their parents)', async (t) => {
  const ctx = setup(t);
  const synced: { path: string; dbExists: boolean }[] = [];
  await withFsyncSync(
    (fd, path, original) => {
      synced.push({ path, dbExists: existsSync(ctx.path) });
      original(fd);
    },
    async () => void ctx.open(),
  );
  const root = realpathSync(ctx.dir);
  const paths = synced.map((x) => x.path);
  assert.ok(paths.includes(root), `the data dir, which got member/: ${paths.join(', ')}`);
  assert.ok(paths.includes(join(root, 'member')), 'member/, which got snap/');
  assert.ok(
    synced.some((x) => x.path === join(root, 'member', 'snap') && x.dbExists),
    'snap/, after db was created in it',
  );
});

test('defragment: if the directory cannot be synced after the swap, writes are refused, never lost', async (t) => {
  const ctx = setup(t);
  const errors: BackendError[] = [];
  const be = ctx.open({ batchInterval: 3_600_000, onCommitError: (e) => errors.push(e) });
  be.batchTx.put('key', b('before'), b('1'));
  be.batchTx.setConsistentIndex(1, 1);
  await be.commit();
  const snapDir = realpathSync(dirname(ctx.path));
  await withFsyncSync(
    (fd, path, original) => {
      if (path !== snapDir) return original(fd);
      const e: NodeJS.ErrnoException = new Error('EIO: i/o error, fsync (simulated)');
      e.code = 'EIO';
      throw e;
    },
    () => assert.rejects(be.defragment(), /EIO/),
  );
  // `db` is now the copy. A write must be refused, or else survive a reopen.
  let acknowledged = false;
  try {
    be.batchTx.put('key', b('after'), b('2'));
    be.batchTx.setConsistentIndex(2, 1);
    await be.commit();
    acknowledged = true;
  } catch (e) {
    assert.ok(e instanceof BackendError, String(e));
  }
  await be.close();
  const again = ctx.open();
  assert.equal(str(again.get('key', b('before'))), '1');
  if (acknowledged) assert.equal(str(again.get('key', b('after'))), '2', 'an acknowledged commit was lost');
  assert.equal(acknowledged, false, 'writes are refused once the swap may not be durable');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /defragment .*EIO/);
  assert.deepEqual(readdirSync(dirname(ctx.path)).sort(), ['db', 'db-lock']);
});

const FAIL_CHILD = fileURLToPath(new URL('./commit-fail-child.js', import.meta.url));

/**
 * Runs commit-fail-child.js under a file size limit of 2048 blocks (1 MiB with dash's 512-byte
 * blocks, 2 MiB with bash's 1 KiB ones; the child reads the real value from /proc/self/limits).
 */
async function runLimited(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(
    '/bin/sh',
    ['-c', 'ulimit -f 2048 && exec "$0" "$@"', process.execPath, FAIL_CHILD, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timeout = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  clearTimeout(timeout);
  return { code, stdout, stderr };
}

function reportOf(run: { code: number | null; stdout: string; stderr: string }): Report {
  assert.equal(run.code, 0, `the child failed (an unhandled rejection ends it with 1):\n${run.stderr}`);
  return JSON.parse(run.stdout) as Report;
}

/** After the failed commit of round 2: round 1 and its index are on disk, nothing of round 2. */
async function checkOnlyRoundOne(ctx: Ctx, path: string): Promise<void> {
  const be = ctx.open({}, path);
  assert.deepEqual(be.consistentIndex(), { index: 1, term: 1 });
  assert.equal(keyCount(be), 10);
  assert.equal(be.get('key', b('2/0')), undefined);
  await be.close();
}

for (const mode of ['awaited', 'timer'] as const) {
  test(`a commit that really fails (file size limit, ${mode}): reported once, every later write and commit refused`, async (t) => {
    const ctx = setup(t);
    const path = join(ctx.dir, mode, 'db');
    const r = reportOf(await runLimited([path, mode]));
    assert.ok(r.limitBytes >= 512 * 1024 && r.limitBytes <= 2 * 1024 * 1024, `limit ${r.limitBytes}`);
    assert.equal(r.reported.length, 1, 'onCommitError is called exactly once');
    assert.match(r.reported[0].message, /^backend: commit failed: /);
    // The real cause, not lmdb-js' "Commit failed (see commitError for details)".
    assert.doesNotMatch(r.reported[0].message, /see commitError/);
    assert.match(r.reported[0].cause, /Input\/output error|File too large/);
    if (mode === 'awaited') {
      assert.equal(r.commitRejected, r.reported[0].message, 'the failing commit() rejects with it');
      assert.equal(r.queuedRejected, r.reported[0].message, 'so does the commit() queued behind it');
    }
    assert.equal(r.sameErrorEverywhere, true, 'one error object, reported and thrown everywhere');
    assert.deepEqual(r.refused, {
      put: true,
      commit: true,
      forceCommit: true,
      defragment: true,
      backup: true,
    });
    assert.equal(r.readAfterFailure, '100', 'reads still work');
    await checkOnlyRoundOne(ctx, path);
  });
}

test('a commit that really fails, with the default onCommitError: the process ends with the error', async (t) => {
  const ctx = setup(t);
  const path = join(ctx.dir, 'default', 'db');
  const run = await runLimited([path, 'default']);
  assert.notEqual(run.code, 0);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /BackendError: backend: commit failed: /);
  assert.doesNotMatch(run.stderr, /survived/);
  await checkOnlyRoundOne(ctx, path);
});

test('a backup that fails half way (file size limit) leaves no file at the target', async (t) => {
  const ctx = setup(t);
  const path = join(ctx.dir, 'big', 'db');
  const be = ctx.open({ batchInterval: 3_600_000 }, path);
  for (let i = 0; i < 1500; i++) be.batchTx.put('key', b(`k${i}`), new Uint8Array(4096).fill(i % 251));
  await be.close();
  const target = join(ctx.dir, 'backup', 'db');
  const r = reportOf(await runLimited([path, 'backup', target]));
  assert.ok(r.backupRejected !== undefined, 'the backup failed');
  assert.ok(statSize(path) > r.limitBytes, 'the db is bigger than the limit');
  assert.equal(existsSync(target), false, 'no partial copy under the target name');
  assert.deepEqual(readdirSync(dirname(target)), [], 'no temporary file either');
});

function statSize(path: string): number {
  return fs.statSync(path).size;
}
