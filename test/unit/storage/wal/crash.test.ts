// Crashes and corruption, through the fault-injecting file layer (mem-fs.ts) and on real files.
//
// The rule under test, from etcd (reference/etcd-dr-observed.md A9): a torn write at the end of the
// last segment is repaired (a .broken copy is kept, the file is cut at the last good record); a bad
// complete record anywhere refuses to open with WalCorruptError naming file and offset. And the
// promise of a WAL: nothing that was synced (a save that resolved and had to sync) is ever lost.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { Entry, HardState } from '../../../../src/raft/types.js';
import { EMPTY_HARD_STATE, isEmptyHardState } from '../../../../src/raft/types.js';
import { WalCorruptError, WalNotFoundError } from '../../../../src/storage/wal/errors.js';
import { decodeLengthWord } from '../../../../src/storage/wal/record.js';
import { walName } from '../../../../src/storage/wal/segment.js';
import { Wal } from '../../../../src/storage/wal/wal.js';
import { METADATA, Model, entries, entry, hs, resultKey, rng, stateKey, withTmpDir } from './helpers.js';
import { MemFs, ProcessDied, crashes, type CrashPolicy, type PendingOp } from './mem-fs.js';

const DIR = '/data/member/wal';
const AT0 = { index: 0, term: 0 };

function memFs(): MemFs {
  const m = new MemFs();
  m.setupDir('/data/member');
  return m;
}

type Step =
  | { readonly kind: 'save'; readonly hs: HardState | undefined; readonly entries: readonly Entry[] }
  | { readonly kind: 'snapshot'; readonly index: number; readonly term: number };

/** A workload with appends, overwrites, commit-only updates (not synced), snapshots and several cuts. */
function workload(seed: number): Step[] {
  const rand = rng(seed);
  const steps: Step[] = [];
  let last = 0;
  let term = 1;
  let commit = 0;
  for (let i = 0; i < 80; i++) {
    const r = rand();
    if (r < 0.15 && commit > 0) {
      commit = Math.min(last, commit + 1);
      steps.push({ kind: 'save', hs: hs(term, 1n, commit), entries: [] }); // commit only: no sync
    } else if (r < 0.25 && last > commit + 2) {
      term++; // a new leader overwrites an uncommitted suffix
      const from = commit + 1 + Math.floor(rand() * (last - commit));
      const n = 1 + Math.floor(rand() * 3);
      steps.push({
        kind: 'save',
        hs: hs(term, 2n, commit),
        entries: entries(from, from + n - 1, term, 50, i),
      });
      last = from + n - 1;
    } else if (r < 0.3 && commit > 0) {
      steps.push({ kind: 'snapshot', index: commit, term });
    } else {
      const n = 1 + Math.floor(rand() * 6);
      commit = Math.max(commit, Math.min(last, commit + n));
      steps.push({
        kind: 'save',
        hs: hs(term, 1n, Math.max(commit, 1)),
        entries: entries(last + 1, last + n, term, 20 + Math.floor(rand() * 120), i),
      });
      last += n;
    }
  }
  return steps;
}

/**
 * Every state a reader may legitimately see after a crash when the first `durable` steps had to
 * survive: the state after any prefix of the record stream (a torn batch keeps a prefix of its
 * entries, then its state record) that contains those steps completely.
 */
function validStates(steps: readonly Step[], durable: number): Set<string> {
  const out = new Set<string>();
  const model = new Model();
  if (durable === 0) out.add(stateKey(model.hardState, model.log));
  steps.forEach((s, j) => {
    if (s.kind === 'save') {
      for (const e of s.entries) {
        model.save(undefined, [e]);
        if (j >= durable) out.add(stateKey(model.hardState, model.log));
      }
      model.save(s.hs, []);
    }
    if (j + 1 >= durable) out.add(stateKey(model.hardState, model.log));
  });
  return out;
}

interface Run {
  /** Steps whose promise resolved. */
  acked: number;
  /** Steps up to the last acknowledged one that had to sync: these must survive. */
  durable: number;
  createAcked: boolean;
}

async function runUntilDeath(m: MemFs, steps: readonly Step[], segmentBytes: number): Promise<Run> {
  const run: Run = { acked: 0, durable: 0, createAcked: false };
  let lastState: HardState = EMPTY_HARD_STATE;
  try {
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes });
    run.createAcked = true;
    for (const s of steps) {
      let synced: boolean;
      if (s.kind === 'save') {
        synced =
          s.entries.length > 0 ||
          (s.hs !== undefined && (s.hs.term !== lastState.term || s.hs.vote !== lastState.vote));
        await wal.save(s.hs, s.entries);
        if (s.hs !== undefined && !isEmptyHardState(s.hs)) lastState = s.hs;
      } else {
        synced = true;
        await wal.saveSnapshot({ index: s.index, term: s.term });
      }
      run.acked++;
      if (synced) run.durable = run.acked;
    }
    await wal.close();
    run.durable = run.acked;
  } catch (e) {
    if (!(e instanceof ProcessDied)) throw e;
  }
  return run;
}

/** Opens a crashed image and checks it against what was acknowledged. Returns whether it repaired. */
async function checkImage(
  image: MemFs,
  run: Run,
  valid: Set<string>,
  label: string,
  segmentBytes: number,
  checkAppend: boolean,
): Promise<boolean> {
  let wal: Wal;
  try {
    wal = await Wal.open(DIR, AT0, { fs: image, segmentBytes });
  } catch (e) {
    if (!run.createAcked && e instanceof WalNotFoundError) return false;
    throw new Error(`${label}: open failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const got = wal.readAll();
  assert.ok(valid.has(resultKey(got)), `${label}: state read back is not one the saves could leave`);
  if (wal.repaired !== undefined) {
    assert.ok(image.exists(wal.repaired.broken), `${label}: no .broken copy`);
  }
  if (!checkAppend && wal.repaired === undefined) {
    await wal.close();
    return false;
  }
  // The (repaired) WAL is usable: one more save survives a reopen.
  const next = (got.entries.at(-1)?.index ?? 0) + 1;
  await wal.save(hs(Math.max(1, got.hardState.term), 1n, got.hardState.commit), [entry(next, 99)]);
  await wal.close();
  const again = (await Wal.open(DIR, AT0, { fs: image, segmentBytes })).readAll();
  assert.equal(again.entries.at(-1)?.index, next, `${label}: append after reopen`);
  return wal.repaired !== undefined;
}

function lastPendingWrite(m: MemFs): { file: string; op: Extract<PendingOp, { kind: 'write' }> } | undefined {
  const writes = m.pending().filter((x) => x.op.kind === 'write');
  const last = writes.at(-1);
  if (last === undefined || last.op.kind !== 'write') return undefined;
  return { file: last.file, op: last.op };
}

describe('WAL crash at every operation (fault-injecting file layer)', () => {
  for (const variant of [
    { name: 'preallocated segments', noPreallocate: false, seed: 7 },
    { name: 'segments that grow by appending', noPreallocate: true, seed: 8 },
  ]) {
    test(`${variant.name}: every crash point, losing, keeping or tearing unsynced writes, loses nothing synced`, async () => {
      const segmentBytes = 3000;
      const steps = workload(variant.seed);
      // Count the operations of a complete run.
      const full = memFs();
      full.faults.noPreallocate = variant.noPreallocate;
      await runUntilDeath(full, steps, segmentBytes);
      const totalOps = full.counters.ops;
      assert.ok(totalOps > 200, `${totalOps} operations`);
      assert.ok(full.list(DIR).filter((n) => n.endsWith('.wal')).length >= 4, 'several cuts');

      let images = 0;
      let repairs = 0;
      const rand = rng(variant.seed * 101);
      for (let die = 0; die <= totalOps; die += 1) {
        const m = memFs();
        m.faults.noPreallocate = variant.noPreallocate;
        m.faults.dieAfterOps = die;
        const run = await runUntilDeath(m, steps, segmentBytes);
        const valid = validStates(steps, run.durable);
        const policies: [string, CrashPolicy][] = [
          ['lose unsynced', crashes.loseUnsynced()],
          ['keep all', crashes.keepAll()],
        ];
        const last = lastPendingWrite(m);
        if (last !== undefined) {
          const { op } = last;
          const end = op.pos + op.data.byteLength;
          // torn at a sector boundary inside the write (or anywhere, when the file ends there)
          const cuts: number[] = [];
          for (let t = op.pos + 1; t < end; t++) {
            if (variant.noPreallocate ? rand() < 0.04 : t % 512 === 0) cuts.push(t - op.pos);
          }
          for (const k of cuts) policies.push([`tear at +${k}`, crashes.tearWrite(op.seq, k)]);
          // a random subset of its sectors
          const sectors = new Set<number>();
          for (let s = Math.floor(op.pos / 512); s * 512 < end; s++) if (rand() < 0.5) sectors.add(s);
          if (!variant.noPreallocate)
            policies.push(['sector subset', crashes.sectorsOfWrite(op.seq, sectors)]);
        }
        for (const [name, policy] of policies) {
          const image = m.crash(policy);
          images++;
          const label = `die after ${die} ops, ${name}`;
          if (await checkImage(image, run, valid, label, segmentBytes, images % 4 === 0)) repairs++;
        }
      }
      assert.ok(images > 500, `${images} crash images`);
      assert.ok(repairs > 10, `${repairs} repairs: torn tails were exercised`);
    });
  }
});

describe('WAL torn last write (every tear point)', () => {
  for (const variant of [
    { name: 'preallocated segment, torn at every byte', noPreallocate: false },
    { name: 'appended segment, torn at every byte', noPreallocate: true },
  ]) {
    test(variant.name, async (t) => {
      const m = memFs();
      m.faults.noPreallocate = variant.noPreallocate;
      const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 1 << 20 });
      const model = new Model();
      for (let i = 0; i < 10; i++) {
        const batch = entries(i * 3 + 1, i * 3 + 3, 1, 40);
        await wal.save(hs(1, 1n, i * 3 + 1), batch);
        model.save(hs(1, 1n, i * 3 + 1), batch);
      }
      m.faults.dropSyncs = true; // the process dies before the next sync happens
      const last = entries(31, 40, 1, 150);
      await wal.save(hs(1, 1n, 31), last);
      const w = lastPendingWrite(m)!;
      const file = path.posix.join(DIR, walName(0, 0));
      assert.equal(w.file, file);

      // frame boundaries of the torn write: [start, end of record, end of padding]
      const frames: { start: number; recEnd: number; end: number }[] = [];
      for (let off = 0; off < w.op.data.byteLength;) {
        const v = new DataView(w.op.data.buffer, w.op.data.byteOffset + off, 8);
        const { recordBytes, padBytes } = decodeLengthWord(v.getUint32(0, true), v.getUint32(4, true));
        frames.push({ start: off, recEnd: off + 8 + recordBytes, end: off + 8 + recordBytes + padBytes });
        off += 8 + recordBytes + padBytes;
      }
      assert.equal(frames.length, 11); // 10 entries and the state

      let checked = 0;
      let repaired = 0;
      let refused = 0;
      for (let k = 0; k <= w.op.data.byteLength; k++) {
        const image = m.crash(crashes.tearWrite(w.op.seq, k));
        const tornSize = image.read(file).byteLength;
        const insideFrame = frames.some((f) => k > f.start && k < (variant.noPreallocate ? f.end : f.recEnd));
        const sectorAligned = variant.noPreallocate || (w.op.pos + k) % 512 === 0;
        const before = Buffer.from(image.read(file)).toString('hex');
        let opened: Wal;
        try {
          opened = await Wal.open(DIR, AT0, { fs: image, segmentBytes: 1 << 20 });
        } catch (e) {
          // A preallocated file torn inside a 512-byte sector (disks write whole sectors, which etcd's
          // torn-write rule relies on) may leave a record with a zero tail but no all-zero sector piece:
          // that is indistinguishable from a damaged complete record, and refusing is the answer.
          assert.ok(!sectorAligned && insideFrame, `tear at +${k}: refused: ${String(e)}`);
          assert.ok(e instanceof WalCorruptError, `tear at +${k}: ${String(e)}`);
          assert.equal(e.file, file);
          const torn = frames.find((f) => k > f.start && k < f.recEnd)!;
          assert.equal(e.offset, w.op.pos + torn.start, `tear at +${k}: offset`);
          assert.equal(
            Buffer.from(image.read(file)).toString('hex'),
            before,
            'a refused open changes nothing',
          );
          assert.equal(image.exists(`${file}.broken`), false);
          refused++;
          checked++;
          continue;
        }
        const got = opened.readAll();
        // records complete before the tear survive; where a file ends, padding must be complete too
        const complete = frames.filter((f) => (variant.noPreallocate ? f.end : f.recEnd) <= k);
        const expect = model.clone();
        for (const f of complete) {
          const idx = frames.indexOf(f);
          if (idx < 10) expect.save(undefined, [last[idx]]);
          else expect.save(hs(1, 1n, 31), []);
        }
        assert.equal(resultKey(got), stateKey(expect.hardState, expect.log), `tear at +${k}`);
        assert.equal(opened.repaired !== undefined, insideFrame, `repair iff torn inside a frame (+${k})`);
        if (insideFrame) {
          assert.ok(image.exists(`${file}.broken`));
          assert.equal(image.read(`${file}.broken`).byteLength, tornSize);
          repaired++;
        }
        await opened.close();
        checked++;
      }
      assert.equal(checked, w.op.data.byteLength + 1, 'every byte offset');
      assert.ok(checked > 1000, `${checked} tear points`);
      assert.ok(repaired > 0);
      if (variant.noPreallocate) assert.equal(refused, 0, 'a file that ends inside a frame is always torn');
      t.diagnostic(`${checked} tear points: ${repaired} repaired, ${refused} refused as corrupt`);
    });
  }

  test('dropping everything written after the last fsync reads back exactly what was synced', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 2048 });
    const model = new Model();
    for (let i = 1; i <= 60; i++) {
      await wal.save(hs(1, 1n, i), [entry(i, 1, 30)]);
      model.save(hs(1, 1n, i), [entry(i, 1, 30)]);
    }
    const synced = stateKey(model.hardState, model.log);
    m.faults.dropSyncs = true;
    for (let i = 61; i <= 70; i++) await wal.save(hs(1, 1n, i), [entry(i, 1, 30)]); // crosses a cut
    const image = m.crash(crashes.loseUnsynced());
    const got = (await Wal.open(DIR, AT0, { fs: image, segmentBytes: 2048 })).readAll();
    assert.equal(resultKey(got), synced);
  });
});

describe('WAL directories and repairs survive a crash', () => {
  test('a WAL created where <data-dir>/member does not exist yet keeps its first synced save after a crash', async () => {
    const m = new MemFs();
    m.setupDir('/data'); // only the data dir exists (durably); member/ and member/wal are created now
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 8192 });
    await wal.save(hs(1, 1n, 1), [entry(1, 1)]); // synced: acknowledged
    const image = m.crash(crashes.loseUnsynced());
    assert.deepEqual(image.list('/data'), ['member'], 'the new member/ directory is durable');
    const got = (await Wal.open(DIR, AT0, { fs: image, segmentBytes: 8192 })).readAll();
    assert.deepEqual(
      got.entries.map((e) => e.index),
      [1],
    );
  });

  test('a create that fails before its rename removes the half-built <dir>.tmp', async () => {
    const m = memFs();
    m.faults.failSyncs = true;
    await assert.rejects(Wal.create(DIR, METADATA, { fs: m, segmentBytes: 8192 }), /EIO/);
    assert.deepEqual(m.list('/data/member'), []);
    m.faults.failSyncs = false;
    await (await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 8192 })).close();
  });

  test('a crash at any point of a repair leaves the torn bytes in the segment or in a durable .broken copy', async () => {
    const segmentBytes = 8192;
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes });
    for (let i = 1; i <= 5; i++) await wal.save(hs(1, 1n, i), [entry(i, 1, 40)]);
    await wal.close();
    const file = path.posix.join(DIR, walName(0, 0));
    const synced = m.read(file);
    // Tear the last record (the hard state of the last save): keep its length word, zero the rest.
    let last = 0;
    for (let pos = 0; ;) {
      const v = new DataView(synced.buffer, synced.byteOffset + pos, 8);
      const { recordBytes, padBytes } = decodeLengthWord(v.getUint32(0, true), v.getUint32(4, true));
      if (recordBytes === 0) break;
      last = pos;
      pos += 8 + recordBytes + padBytes;
    }
    const torn = m.clone();
    torn.overwrite(file, last + 8, new Uint8Array(32));
    const original = Buffer.from(torn.read(file)).toString('hex');

    let completed = false;
    for (let die = 0; !completed; die++) {
      const image = torn.clone();
      image.faults.dieAfterOps = die;
      try {
        await Wal.open(DIR, AT0, { fs: image, segmentBytes });
        completed = true;
      } catch (e) {
        if (!(e instanceof ProcessDied)) throw e;
      }
      const after = image.crash(crashes.loseUnsynced());
      const segment = Buffer.from(after.read(file)).toString('hex');
      const broken = after.exists(`${file}.broken`)
        ? Buffer.from(after.read(`${file}.broken`)).toString('hex')
        : undefined;
      assert.ok(
        segment === original || broken === original,
        `crash after ${die} operations: the segment was cut but no durable .broken copy holds the original`,
      );
      // And the crashed image still opens, with the torn record repaired away.
      const reopened = await Wal.open(DIR, AT0, { fs: after, segmentBytes });
      const got = reopened.readAll();
      assert.deepEqual(
        got.entries.map((e) => e.index),
        [1, 2, 3, 4, 5],
      );
      assert.deepEqual(got.hardState, hs(1, 1n, 4));
      await reopened.close();
    }
  });
});

describe('WAL corruption in complete records is refused', () => {
  test('a flipped bit in any checksummed byte of any complete record: WalCorruptError naming file and offset', async () => {
    const m = memFs();
    const segmentBytes = 2048;
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes });
    for (let i = 1; i <= 80; i++)
      await wal.save(hs(1 + (i >> 5), 1n, i), [entry(i, 1 + (i >> 5), 20 + (i % 50))]);
    await wal.saveSnapshot({ index: 40, term: 2 });
    await wal.close();

    // every frame of every segment
    const records: { file: string; start: number; recordBytes: number; first: boolean }[] = [];
    const names = m.list(DIR).filter((n) => n.endsWith('.wal'));
    assert.ok(names.length >= 3);
    for (const name of names) {
      const file = path.posix.join(DIR, name);
      const c = m.read(file);
      const v = new DataView(c.buffer);
      for (let pos = 0; pos + 8 <= c.byteLength;) {
        const { recordBytes, padBytes } = decodeLengthWord(
          v.getUint32(pos, true),
          v.getUint32(pos + 4, true),
        );
        if (recordBytes === 0) break;
        records.push({ file, start: pos, recordBytes, first: name === names[0] && pos === 0 });
        pos += 8 + recordBytes + padBytes;
      }
    }
    const rand = rng(2024);
    const snapshotOf = (x: MemFs): Map<string, string> =>
      new Map(x.list(DIR).map((n) => [n, Buffer.from(x.read(path.posix.join(DIR, n))).toString('hex')]));
    // The leading crc record of the first segment read carries 0 and seeds the chain unchecked (as in
    // etcd): a flip in its value shows at the next record. (A flip of its crc tag to an unknown field
    // number decodes to the same crc 0 and changes nothing.)
    {
      const image = m.clone();
      image.flipBit(records[0].file, 11, 3);
      await assert.rejects(Wal.open(DIR, AT0, { fs: image, segmentBytes }), (e: unknown) => {
        assert.ok(e instanceof WalCorruptError);
        assert.equal(e.offset, 16);
        return true;
      });
    }
    const candidates = records.filter((r) => !r.first);
    for (let trial = 0; trial < 300; trial++) {
      const r = candidates[Math.floor(rand() * candidates.length)];
      // bytes 0-1 are the type field, which etcd's CRC does not cover (nor the length word)
      const at = r.start + 8 + 2 + Math.floor(rand() * (r.recordBytes - 2));
      const bit = Math.floor(rand() * 8);
      const image = m.clone();
      image.flipBit(r.file, at, bit);
      const before = snapshotOf(image);
      await assert.rejects(
        Wal.open(DIR, AT0, { fs: image, segmentBytes }),
        (e: unknown) => {
          assert.ok(e instanceof WalCorruptError, `trial ${trial}: ${String(e)}`);
          assert.equal(e.file, r.file);
          assert.equal(e.offset, r.start, `trial ${trial}: byte ${at} bit ${bit}`);
          assert.match(e.message, /remove this member .* add it back|restore/);
          return true;
        },
        `trial ${trial}: byte ${at} of ${r.file} bit ${bit}`,
      );
      assert.deepEqual(snapshotOf(image), before, 'a refused open changes no file');
    }
  });
});

describe("etcd's A9 cases on real files", () => {
  // Like the lab's base: 500 entries, each followed by a state record, one segment. Built once, copied.
  let template: { dir: string; ends: number[] } | undefined;
  let templateRoot: string | undefined;
  before(async () => {
    templateRoot = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'cairn-wal-a9-'));
    const dir = path.join(templateRoot, 'wal');
    const wal = await Wal.create(dir, METADATA, { segmentBytes: 1 << 20 });
    const ends: number[] = [];
    for (let i = 1; i <= 500; i++) {
      await wal.save(undefined, [entry(i, 2, 40)]);
      ends.push(wal.position.offset); // end of the entry record
      await wal.save(hs(2, 1n, i), []); // commit only: written, not synced
      ends.push(wal.position.offset); // end of the state record
    }
    await wal.close();
    template = { dir, ends };
  });
  after(async () => {
    if (templateRoot !== undefined) await fs.promises.rm(templateRoot, { recursive: true, force: true });
  });

  async function base(tmp: string): Promise<{ dir: string; file: string; ends: number[] }> {
    const t = template!;
    const dir = path.join(tmp, 'member', 'wal');
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.cpSync(t.dir, dir, { recursive: true });
    return { dir, file: path.join(dir, walName(0, 0)), ends: t.ends };
  }

  async function open(dir: string): Promise<{ wal: Wal; entries: number; commit: number }> {
    const wal = await Wal.open(dir, AT0, { segmentBytes: 1 << 20 });
    const r = wal.readAll();
    return { wal, entries: r.entries.length, commit: r.hardState.commit };
  }

  test('last record cut short by 3 bytes (file truncated): repaired, .broken kept, the state record lost', async () => {
    await withTmpDir(async (tmp) => {
      const { dir, file, ends } = await base(tmp);
      const end = ends.at(-1)!;
      fs.truncateSync(file, end - 3);
      const { wal, entries: n, commit } = await open(dir);
      assert.equal(n, 500);
      assert.equal(commit, 499);
      assert.equal(wal.repaired?.offset, ends.at(-2));
      assert.equal(fs.statSync(`${file}.broken`).size, end - 3);
      assert.equal(fs.statSync(file).size, ends.at(-2));
      await wal.close();
    });
  });

  test('cut into the last entry: repaired without it', async () => {
    await withTmpDir(async (tmp) => {
      const { dir, file, ends } = await base(tmp);
      fs.truncateSync(file, ends.at(-2)! - 20); // entry 500 spans ends[-3]..ends[-2]
      const { wal, entries: n, commit } = await open(dir);
      assert.equal(n, 499);
      assert.equal(commit, 499);
      assert.ok(wal.repaired);
      await wal.close();
    });
  });

  test('payload of the last entry zeroed (torn sector): repaired', async () => {
    await withTmpDir(async (tmp) => {
      const { dir, file, ends } = await base(tmp);
      // The last entry record spans ends[-3]..ends[-2]: zero everything after its length word, so
      // every sector piece of it is zeros, as if its sector(s) never reached the disk.
      const start = ends.at(-3)!;
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(ends.at(-2)! - start - 8), 0, undefined, start + 8);
      fs.closeSync(fd);
      const { wal, entries: n } = await open(dir);
      assert.equal(n, 499);
      assert.equal(wal.repaired?.offset, start);
      await wal.close();
    });
  });

  test('3 zero bytes cut from the end of the preallocated file: opens normally, nothing repaired', async () => {
    await withTmpDir(async (tmp) => {
      const { dir, file } = await base(tmp);
      fs.truncateSync(file, fs.statSync(file).size - 3);
      const { wal, entries: n, commit } = await open(dir);
      assert.equal(n, 500);
      assert.equal(commit, 500);
      assert.equal(wal.repaired, undefined);
      assert.equal(fs.existsSync(`${file}.broken`), false);
      await wal.close();
    });
  });

  for (const where of ['a middle record', 'the last entry']) {
    test(`a byte flipped in ${where}: refused with a crc mismatch, nothing changed`, async () => {
      await withTmpDir(async (tmp) => {
        const { dir, file, ends } = await base(tmp);
        const start = where === 'the last entry' ? ends.at(-3)! : ends[499];
        const at = start + 8 + 20;
        const content = fs.readFileSync(file);
        content[at] ^= 0xff;
        fs.writeFileSync(file, content);
        await assert.rejects(open(dir), (e: unknown) => {
          assert.ok(e instanceof WalCorruptError);
          assert.equal(e.file, file);
          assert.equal(e.offset, start);
          assert.match(e.message, /walpb: crc mismatch/);
          assert.match(
            e.message,
            new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt at byte offset ${start}`),
          );
          return true;
        });
        assert.deepEqual(fs.readFileSync(file), content, 'the file is untouched');
        assert.deepEqual(
          fs.readdirSync(dir).filter((n) => n.endsWith('.broken')),
          [],
        );
      });
    });
  }

  test('a byte flipped in the zero tail past the last record is ignored (and zeroed when opened)', async () => {
    await withTmpDir(async (tmp) => {
      const { dir, file } = await base(tmp);
      const size = fs.statSync(file).size;
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.from([0xff]), 0, 1, Math.floor(size / 2));
      fs.closeSync(fd);
      const { wal, entries: n } = await open(dir);
      assert.equal(n, 500);
      await wal.close();
      const b = Buffer.alloc(1);
      const fd2 = fs.openSync(file, 'r');
      fs.readSync(fd2, b, 0, 1, Math.floor(size / 2));
      fs.closeSync(fd2);
      assert.equal(b[0], 0);
    });
  });

  test('a torn record in a segment that is not the last is corruption, not a torn tail', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 2048 });
    for (let i = 1; i <= 60; i++) await wal.save(hs(1, 1n, i), [entry(i, 1, 30)]);
    await wal.close();
    const names = m.list(DIR).filter((n) => n.endsWith('.wal'));
    assert.ok(names.length >= 2);
    const first = path.posix.join(DIR, names[0]);
    const size = m.read(first).byteLength;
    m.truncateAtRest(first, size - 5); // ends inside its last record
    await assert.rejects(Wal.open(DIR, AT0, { fs: m, segmentBytes: 2048 }), (e: unknown) => {
      assert.ok(e instanceof WalCorruptError);
      assert.equal(e.file, first);
      assert.match(e.reason, /unexpected EOF/);
      return true;
    });
  });
});
