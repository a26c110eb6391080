// The WAL's behaviour: round trips, etcd's overwrite rule, segment cuts, the CRC chain across
// segments, snapshots, purge, sync policy and failure handling.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeHardState } from '../../../../src/raft/codec.js';
import { EMPTY_HARD_STATE } from '../../../../src/raft/types.js';
import {
  WalClosedError,
  WalCorruptError,
  WalExistsError,
  WalLockedError,
  WalNotFoundError,
  WalSnapshotMismatchError,
  WalSnapshotNotFoundError,
} from '../../../../src/storage/wal/errors.js';
import {
  CRC_TYPE,
  METADATA_TYPE,
  STATE_TYPE,
  chainCrc,
  decodeLengthWord,
  decodeMetadata,
  decodeRecord,
  type WalRecord,
} from '../../../../src/storage/wal/record.js';
import { INLINE_WRITE_BYTES, NodeWalFs } from '../../../../src/storage/wal/fs.js';
import { parseWalName, walName } from '../../../../src/storage/wal/segment.js';
import { Wal } from '../../../../src/storage/wal/wal.js';
import { METADATA, Model, entries, entry, hs, plain, withTmpDir } from './helpers.js';
import { MemFs } from './mem-fs.js';

const DIR = '/data/member/wal';

function memFs(): MemFs {
  const m = new MemFs();
  m.setupDir('/data/member');
  return m;
}

/** Every frame of a segment's content: offset and record. */
function frames(content: Uint8Array): { offset: number; rec: WalRecord }[] {
  const out: { offset: number; rec: WalRecord }[] = [];
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  for (let pos = 0; pos + 8 <= content.byteLength;) {
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    if (lo === 0 && hi === 0) break;
    const { recordBytes, padBytes } = decodeLengthWord(lo, hi);
    out.push({ offset: pos, rec: decodeRecord(content.subarray(pos + 8, pos + 8 + recordBytes)) });
    pos += 8 + recordBytes + padBytes;
  }
  return out;
}

function walFiles(m: MemFs, dir = DIR): string[] {
  return m.list(dir).filter((n) => n.endsWith('.wal'));
}

describe('WAL create and open', () => {
  test('a new WAL is one preallocated segment: crc record (0), metadata record, snapshot record {0,0}', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'member', 'wal');
      const wal = await Wal.create(dir, METADATA, { segmentBytes: 65536 });
      await wal.close();
      assert.deepEqual(fs.readdirSync(dir).sort(), ['0000000000000000-0000000000000000.wal']);
      assert.equal(fs.existsSync(`${dir}.tmp`), false);
      const content = fs.readFileSync(path.join(dir, walName(0, 0)));
      assert.equal(content.byteLength, 65536);
      assert.equal(content.subarray(0, 16).toString('hex'), '0400000000000084' + '0804100000000000');
      const recs = frames(content);
      assert.deepEqual(
        recs.map((f) => f.rec.type),
        [CRC_TYPE, METADATA_TYPE, 5],
      );
      assert.deepEqual(decodeMetadata(recs[1].rec.data!), METADATA);
      assert.deepEqual([...recs[2].rec.data!], [8, 0, 16, 0]);

      const again = await Wal.open(dir, { index: 0, term: 0 }, { segmentBytes: 65536 });
      assert.deepEqual(again.readAll(), { metadata: METADATA, hardState: EMPTY_HARD_STATE, entries: [] });
      assert.throws(() => again.readAll(), /only once/);
      await again.close();
    });
  });

  test('segments are preallocated with real zeros to 64,000,000 bytes by default', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'wal');
      const wal = await Wal.create(dir, METADATA);
      const st = fs.statSync(path.join(dir, walName(0, 0)));
      assert.equal(st.size, 64_000_000);
      assert.ok(st.blocks * 512 >= 64_000_000, `allocated ${st.blocks * 512} bytes: the file is sparse`);
      await wal.close();
    });
  });

  test('create refuses a directory that holds segments; open refuses one that does not', async () => {
    const m = memFs();
    await assert.rejects(Wal.open(DIR, { index: 0, term: 0 }, { fs: m }), WalNotFoundError);
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 4096 });
    await wal.close();
    await assert.rejects(Wal.create(DIR, METADATA, { fs: m }), WalExistsError);
    assert.equal(Wal.exists(DIR, { fs: m }), true);
    assert.equal(Wal.exists('/data/elsewhere', { fs: m }), false);
  });

  test('a second open of the same directory in one process is refused while the first is open', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'wal');
      const wal = await Wal.create(dir, METADATA, { segmentBytes: 8192 });
      await assert.rejects(Wal.open(dir, { index: 0, term: 0 }, { segmentBytes: 8192 }), (e: unknown) => {
        assert.ok(e instanceof WalLockedError);
        assert.match(e.message, new RegExp(`locked by another process \\(pid ${process.pid} `));
        return true;
      });
      await wal.close();
      const again = await Wal.open(dir, { index: 0, term: 0 }, { segmentBytes: 8192 });
      await again.close();
      assert.equal(fs.existsSync(path.join(dir, '.lock')), false, 'close removes the lock file');
    });
  });
});

describe('WAL save and read back', () => {
  test('entries and hard state survive close and reopen (real files)', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'wal');
      const wal = await Wal.create(dir, METADATA, { segmentBytes: 1 << 20 });
      const model = new Model();
      for (let i = 0; i < 20; i++) {
        const batch = entries(i * 5 + 1, i * 5 + 5, 1 + (i >> 3), 100);
        const state = hs(1 + (i >> 3), 1n, i * 5);
        await wal.save(state, batch);
        model.save(state, batch);
      }
      await wal.close();
      const again = await Wal.open(dir, { index: 0, term: 0 }, { segmentBytes: 1 << 20 });
      const got = again.readAll();
      assert.deepEqual(got.metadata, METADATA);
      assert.deepEqual(got.hardState, model.hardState);
      assert.deepEqual(plain(got.entries), plain(model.log));
      assert.equal(again.lastIndex, 100);
      await again.close();
    });
  });

  test('a later record for index i replaces i and everything after it', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m });
    await wal.save(hs(1, 1n, 3), entries(1, 10, 1));
    await wal.save(hs(2, 2n, 3), entries(6, 8, 2));
    await wal.save(undefined, [entry(9, 2)]);
    await wal.close();
    const got = (await Wal.open(DIR, { index: 0, term: 0 }, { fs: m })).readAll();
    assert.deepEqual(
      got.entries.map((e) => `${e.index}/${e.term}`),
      ['1/1', '2/1', '3/1', '4/1', '5/1', '6/2', '7/2', '8/2', '9/2'],
    );
    assert.deepEqual(got.hardState, hs(2, 2n, 3));
  });

  test('an entry that leaves a gap after the snapshot is corruption (etcd: slice bounds out of range)', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m });
    await wal.save(undefined, entries(1, 3, 1));
    await wal.save(undefined, [entry(7, 1)]);
    await wal.close();
    await assert.rejects(Wal.open(DIR, { index: 0, term: 0 }, { fs: m }), /slice bounds out of range/);
  });

  test('saves issued without waiting are written in call order, each resolved after its own write', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m });
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4].map((i) => wal.save(hs(1, 1n, i - 1), [entry(i, 1)]).then(() => order.push(i))),
    );
    assert.deepEqual(order, [1, 2, 3, 4]);
    await wal.close();
    const got = (await Wal.open(DIR, { index: 0, term: 0 }, { fs: m })).readAll();
    assert.deepEqual(
      got.entries.map((e) => e.index),
      [1, 2, 3, 4],
    );
    assert.deepEqual(got.hardState, hs(1, 1n, 3));
  });

  test('one write and one fdatasync per batch; no sync when only the commit index changed', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 1 << 20 });
    const before = { ...m.counters };
    await wal.save(hs(1, 1n, 0), entries(1, 100, 1));
    assert.equal(m.counters.writes - before.writes, 1, 'writes for a batch of 100');
    assert.equal(m.counters.syncs - before.syncs, 1, 'syncs for a batch of 100');

    const s1 = m.counters.syncs;
    await wal.save(hs(1, 1n, 50), []); // commit only
    assert.equal(m.counters.syncs, s1, 'a commit-only hard state is not synced');
    await wal.save(hs(2, 1n, 50), []); // term changed
    assert.equal(m.counters.syncs, s1 + 1);
    await wal.save(hs(2, 3n, 50), []); // vote changed
    assert.equal(m.counters.syncs, s1 + 2);
    const w = m.counters.writes;
    await wal.save(undefined, []);
    await wal.save(EMPTY_HARD_STATE, []);
    assert.equal(m.counters.writes, w, 'nothing to save: nothing written');
    await wal.close();
  });

  test('an entry that cannot be encoded is refused and the WAL stays usable', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m });
    await wal.save(undefined, [entry(1, 1)]);
    await assert.rejects(wal.save(undefined, [entry(2, 1), { ...entry(3, 1), term: -1 }]), /Entry.term/);
    await wal.save(undefined, [entry(2, 1)]);
    await wal.close();
    const got = (await Wal.open(DIR, { index: 0, term: 0 }, { fs: m })).readAll();
    assert.deepEqual(
      got.entries.map((e) => e.index),
      [1, 2],
    );
  });

  test('a failed sync poisons the WAL: later operations are refused, close still releases it', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m });
    await wal.save(hs(1, 1n, 0), [entry(1, 1)]);
    m.faults.failSyncs = true;
    await assert.rejects(wal.save(undefined, [entry(2, 1)]), /EIO/);
    m.faults.failSyncs = false;
    await assert.rejects(wal.save(undefined, [entry(3, 1)]), (e: unknown) => {
      assert.ok(e instanceof WalClosedError);
      assert.match(e.message, /a previous write failed .*EIO.*reopen the WAL/);
      return true;
    });
    await assert.rejects(wal.saveSnapshot({ index: 1, term: 1 }), WalClosedError);
    await wal.close();
    await assert.rejects(wal.save(undefined, [entry(3, 1)]), /closed/);
    const again = await Wal.open(DIR, { index: 0, term: 0 }, { fs: m });
    assert.ok(again.readAll().entries.length >= 1);
    await again.close();
  });
});

describe('WAL segments', () => {
  test('a segment is cut once it passes the segment size; reopening reads across all of them', async () => {
    const m = memFs();
    const segmentBytes = 4096;
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes });
    const model = new Model();
    const lastIndexBeforeCut: number[] = [];
    for (let i = 1; i <= 200; i++) {
      const before = wal.position.segment;
      const state = hs(1 + Math.floor(i / 50), 1n, i - 1);
      await wal.save(state, [entry(i, state.term, 60)]);
      model.save(state, [entry(i, state.term, 60)]);
      if (wal.position.segment !== before) lastIndexBeforeCut.push(i);
    }
    await wal.close();

    const names = walFiles(m);
    assert.ok(names.length >= 5, `${names.length} segments`);
    assert.equal(names.length, lastIndexBeforeCut.length + 1);
    names.forEach((name, k) => {
      const s = parseWalName(name)!;
      assert.equal(s.seq, k);
      assert.equal(s.index, k === 0 ? 0 : lastIndexBeforeCut[k - 1] + 1, name);
      const content = m.read(path.posix.join(DIR, name));
      const recs = frames(content);
      if (k < names.length - 1) {
        // a full segment is truncated at its last record
        const last = recs[recs.length - 1];
        assert.equal(content.byteLength, last.offset + 8 + encodedLength(content, last.offset));
        assert.ok(content.byteLength >= segmentBytes);
      }
      if (k > 0) {
        // a new segment starts with crc, metadata and the current hard state
        assert.deepEqual(
          recs.slice(0, 3).map((f) => f.rec.type),
          [CRC_TYPE, METADATA_TYPE, STATE_TYPE],
        );
        assert.deepEqual(decodeHardState(recs[2].rec.data!).commit, lastIndexBeforeCut[k - 1] - 1);
      }
    });

    const got = (await Wal.open(DIR, { index: 0, term: 0 }, { fs: m, segmentBytes })).readAll();
    assert.deepEqual(plain(got.entries), plain(model.log));
    assert.deepEqual(got.hardState, model.hardState);
  });

  test('the CRC chain continues across segments: each crc record carries the previous segment last CRC', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 2048 });
    for (let i = 1; i <= 100; i++) await wal.save(hs(1, 1n, i - 1), [entry(i, 1, 40)]);
    await wal.close();
    const names = walFiles(m);
    assert.ok(names.length >= 3);
    let running = 0;
    for (const [k, name] of names.entries()) {
      const recs = frames(m.read(path.posix.join(DIR, name)));
      assert.equal(recs[0].rec.type, CRC_TYPE);
      assert.equal(recs[0].rec.crc, running, `crc record of segment ${k}`);
      for (const { rec } of recs) {
        if (rec.type === CRC_TYPE) continue;
        running = chainCrc(running, rec.data);
        assert.equal(rec.crc, running);
      }
    }
    // Flipping the crc record of a later segment breaks the chain: refused.
    const second = path.posix.join(DIR, names[1]);
    m.flipBit(second, 8 + 3, 0); // inside the crc varint of its first record
    await assert.rejects(Wal.open(DIR, { index: 0, term: 0 }, { fs: m }), (e: unknown) => {
      assert.ok(e instanceof WalCorruptError);
      assert.equal(e.file, second);
      assert.equal(e.offset, 0);
      assert.match(e.reason, /crc mismatch/);
      return true;
    });
  });

  test('snapshots: open at a recorded snapshot reads what follows; unknown snapshots are refused', async () => {
    const m = memFs();
    const segmentBytes = 2048;
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes });
    for (let i = 1; i <= 60; i++) await wal.save(hs(2, 1n, i - 1), [entry(i, 2, 40)]);
    await wal.saveSnapshot({ index: 40, term: 2 });
    for (let i = 61; i <= 80; i++) await wal.save(hs(2, 1n, i - 1), [entry(i, 2, 40)]);
    await wal.close();

    const at40 = await Wal.open(DIR, { index: 40, term: 2 }, { fs: m, segmentBytes });
    const got = at40.readAll();
    assert.deepEqual(
      got.entries.map((e) => e.index),
      Array.from({ length: 40 }, (_, k) => 41 + k),
    );
    assert.deepEqual(got.hardState, hs(2, 1n, 79));
    await at40.close();

    await assert.rejects(Wal.open(DIR, { index: 41, term: 2 }, { fs: m }), (e: unknown) => {
      assert.ok(e instanceof WalSnapshotNotFoundError);
      assert.match(e.message, /^wal: snapshot not found/);
      return true;
    });
    await assert.rejects(Wal.open(DIR, { index: 40, term: 3 }, { fs: m }), WalSnapshotMismatchError);
    // Read-only access (tools) sees the same and changes nothing.
    assert.equal(Wal.read(DIR, { index: 40, term: 2 }, { fs: m }).entries.length, 40);
  });

  test('validSnapshots lists the snapshot records a restart may use: at or below the last commit', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 2048 });
    for (let i = 1; i <= 30; i++) await wal.save(hs(2, 1n, i - 1), [entry(i, 2, 40)]);
    await wal.saveSnapshot({ index: 20, term: 2 });
    // A snapshot record beyond the commit index (29) cannot be trusted for a restart.
    await wal.saveSnapshot({ index: 30, term: 2 });
    await wal.close();
    assert.deepEqual(Wal.validSnapshots(DIR, { fs: m }), [
      { index: 0, term: 0 },
      { index: 20, term: 2 },
    ]);
    assert.throws(() => Wal.validSnapshots('/data/member/none', { fs: m }), WalNotFoundError);
  });

  test('validSnapshots reads a WAL whose entries begin after a snapshot (as a backup writes one)', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m });
    // Entries 21.. only: the log before them is in the snapshot at 20.
    await wal.save(
      hs(2, 0n, 25),
      Array.from({ length: 5 }, (_, k) => entry(21 + k, 2, 40)),
    );
    await wal.saveSnapshot({ index: 20, term: 2 });
    await wal.close();
    assert.deepEqual(Wal.validSnapshots(DIR, { fs: m }), [
      { index: 0, term: 0 },
      { index: 20, term: 2 },
    ]);
    const at20 = await Wal.open(DIR, { index: 20, term: 2 }, { fs: m });
    assert.deepEqual(
      at20.readAll().entries.map((e) => e.index),
      [21, 22, 23, 24, 25],
    );
    await at20.close();
  });

  test('purge deletes the oldest segments the WAL no longer holds, keeping at least maxWals', async () => {
    const m = memFs();
    const segmentBytes = 2048;
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes });
    for (let i = 1; i <= 150; i++) await wal.save(hs(1, 1n, i - 1), [entry(i, 1, 40)]);
    const all = walFiles(m);
    assert.ok(all.length >= 6, `${all.length} segments`);
    assert.deepEqual(await wal.purge(2), [], 'everything is held before releaseLockTo');

    const snapIndex = 120;
    await wal.saveSnapshot({ index: snapIndex, term: 1 });
    await wal.releaseLockTo(snapIndex);
    const held = wal.heldSegments;
    // etcd keeps the last segment starting before the index (it may contain it) and all after it
    const firstHeld = parseWalName(held[0])!;
    assert.ok(firstHeld.index <= snapIndex);
    assert.ok(held.length === 1 || parseWalName(held[1])!.index > snapIndex - 1);

    const deleted = await wal.purge(2);
    const left = walFiles(m);
    assert.deepEqual([...deleted, ...left], all, 'the oldest are deleted, in order');
    assert.ok(deleted.length > 0);
    assert.ok(left.length >= 2);
    assert.ok(
      held.every((h) => left.includes(h)),
      'held segments are never deleted',
    );
    await wal.close();

    const again = await Wal.open(DIR, { index: snapIndex, term: 1 }, { fs: m, segmentBytes });
    assert.deepEqual(
      again.readAll().entries.map((e) => e.index),
      Array.from({ length: 30 }, (_, k) => 121 + k),
    );
    await again.close();
    await assert.rejects(Wal.open(DIR, { index: 0, term: 0 }, { fs: m }), WalNotFoundError);
  });

  test('purge with the default maxWals (5) keeps five segments', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 1024 });
    for (let i = 1; i <= 200; i++) await wal.save(hs(1, 1n, i - 1), [entry(i, 1, 40)]);
    await wal.saveSnapshot({ index: 200, term: 1 });
    await wal.releaseLockTo(200);
    await wal.purge();
    assert.equal(walFiles(m).length, 5);
    await wal.close();
  });
});

/**
 * Records node:fs's blocking calls `names` while installed, each as its name, or for writeSync as
 * `writeSync:<length>` (the length argument, else the buffer's); returns the uninstaller.
 */
function recordCalls(names: readonly string[], calls: string[]): () => void {
  const mutable = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = names.map((name) => [name, mutable[name]] as const);
  for (const [name, original] of originals) {
    mutable[name] = function (this: unknown, ...args: unknown[]): unknown {
      if (name !== 'writeSync') calls.push(name);
      else {
        const length = typeof args[3] === 'number' ? args[3] : (args[1] as Uint8Array).byteLength;
        calls.push(`writeSync:${length}`);
      }
      return original.apply(this, args);
    };
  }
  return () => {
    for (const [name, original] of originals) mutable[name] = original;
  };
}

describe('WAL I/O mode', () => {
  test('with thread-pool I/O no sync blocks the event loop, and only small writes go straight to the page cache', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'wal');
      const segmentBytes = 512 * 1024;
      const wal = await Wal.create(dir, METADATA, { fs: new NodeWalFs({ io: 'async' }), segmentBytes });
      const blocking: string[] = [];
      const uninstall = recordCalls(['fsyncSync', 'fdatasyncSync', 'writeSync'], blocking);
      let deleted: string[];
      try {
        for (let i = 1; i <= 200; i++) await wal.save(hs(1, 1n, i - 1), [entry(i, 1, 16 * 1024)]);
        // One save larger than INLINE_WRITE_BYTES: its write goes to the thread pool.
        await wal.save(hs(1, 1n, 200), [entry(201, 1, INLINE_WRITE_BYTES + 1)]);
        await wal.saveSnapshot({ index: 201, term: 1 });
        await wal.releaseLockTo(201);
        deleted = await wal.purge(2);
      } finally {
        uninstall();
      }
      assert.ok(parseWalName(wal.position.segment)!.seq >= 4, `cut ${wal.position.segment}`);
      assert.ok(deleted.length >= 2, `purged ${deleted.join(', ')}`);
      const syncs = blocking.filter((c) => !c.startsWith('writeSync:'));
      assert.deepEqual(syncs, [], 'blocking syncs on the event loop');
      const writes = blocking.filter((c) => c.startsWith('writeSync:')).map((c) => Number(c.slice(10)));
      assert.ok(writes.length >= 200, `the saves' writes went to the page cache (${writes.length})`);
      assert.ok(
        writes.every((n) => n <= INLINE_WRITE_BYTES),
        `no blocking write above ${INLINE_WRITE_BYTES} bytes: ${writes.filter((n) => n > INLINE_WRITE_BYTES).join(', ')}`,
      );
      await wal.close();
      const again = await Wal.open(dir, { index: 201, term: 1 }, { segmentBytes });
      assert.deepEqual(again.readAll().hardState, hs(1, 1n, 200));
      await again.close();
    });
  });
});

describe('WAL reading limits', () => {
  test('a record longer than 10 MB is refused on read (etcd: max entry size limit exceeded)', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 4096 });
    await wal.save(hs(1, 1n, 0), [entry(1, 1)]);
    const at = wal.position.offset;
    await wal.save(hs(1, 1n, 1), [entry(2, 1)]);
    await wal.close();
    const file = path.posix.join(DIR, walName(0, 0));
    const word = new Uint8Array(8);
    new DataView(word.buffer).setUint32(0, 10 * 1024 * 1024, true);
    m.overwrite(file, at, word);
    await assert.rejects(Wal.open(DIR, { index: 0, term: 0 }, { fs: m }), (e: unknown) => {
      assert.ok(e instanceof WalCorruptError);
      assert.equal(e.offset, at);
      assert.match(e.message, /wal: max entry size limit exceeded/);
      return true;
    });
  });

  test('opening zeroes leftovers after the end of the data, so later appends cannot be followed by them', async () => {
    const m = memFs();
    const wal = await Wal.create(DIR, METADATA, { fs: m, segmentBytes: 8192 });
    await wal.save(hs(1, 1n, 0), entries(1, 3, 1));
    const end = wal.position.offset;
    await wal.close();
    const file = path.posix.join(DIR, walName(0, 0));
    // A zero length word, then debris of a torn write further on.
    m.overwrite(file, end + 200, new Uint8Array(64).fill(0xab));
    const again = await Wal.open(DIR, { index: 0, term: 0 }, { fs: m, segmentBytes: 8192 });
    assert.equal(again.readAll().entries.length, 3);
    assert.equal(again.repaired, undefined);
    assert.ok(
      m
        .read(file)
        .subarray(end)
        .every((b) => b === 0),
    );
    await again.close();
  });
});

/** The record length in the length word at `offset`, plus padding. */
function encodedLength(content: Uint8Array, offset: number): number {
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  const { recordBytes, padBytes } = decodeLengthWord(
    view.getUint32(offset, true),
    view.getUint32(offset + 4, true),
  );
  return recordBytes + padBytes;
}
