import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32c } from '@node-rs/crc32';

import { encodeSnapshot } from '../../../../src/raft/codec.js';
import type { Snapshot } from '../../../../src/raft/types.js';
import {
  ERR_CRC_MISMATCH,
  ERR_EMPTY_SNAPSHOT,
  ERR_NO_SNAPSHOT,
  SnapError,
  decodeSnapEnvelope,
  listSnaps,
  loadNewest,
  loadNewestAvailable,
  parseSnapFileName,
  purgeSnaps,
  readSnapFile,
  saveSnap,
  snapFileName,
  type SnapLogger,
} from '../../../../src/storage/snap/index.js';

// ---- Helpers ------------------------------------------------------------------------------------

function snap(term: number, index: number, data = `state@${index}`): Snapshot {
  return {
    data: new Uint8Array(Buffer.from(data)),
    metadata: { term, index, confState: { voters: [1n, 0x8e9e05c52164694dn], learners: [3n] } },
  };
}

/** A temp dir removed after the test, and a logger that records warnings. */
async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<{
  dir: string;
  warnings: string[];
  logger: SnapLogger;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-snap-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const warnings: string[] = [];
  return { dir, warnings, logger: { warn: (m) => warnings.push(m) } };
}

async function assertSnapError(
  p: Promise<unknown>,
  code: SnapError['code'],
  message?: string,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SnapError, `expected a SnapError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message !== undefined) assert.equal(e.message, message);
    return true;
  });
}

// ---- Naming and format --------------------------------------------------------------------------

test('file names are %016x-%016x.snap of (term, index), as etcd names them', () => {
  assert.equal(snapFileName(2, 0x21), '0000000000000002-0000000000000021.snap');
  assert.equal(snapFileName(0, 0), '0000000000000000-0000000000000000.snap');
  assert.deepEqual(parseSnapFileName('0000000000000002-0000000000000021.snap'), {
    name: '0000000000000002-0000000000000021.snap',
    term: 2,
    index: 0x21,
  });
  for (const bad of ['2-21.snap', '0000000000000002-0000000000000021.snap.tmp', 'db', 'x.snap']) {
    assert.equal(parseSnapFileName(bad), undefined, bad);
  }
  // Beyond 2^53 the name cannot be represented as a number: not ours.
  assert.equal(parseSnapFileName('ffffffffffffffff-0000000000000001.snap'), undefined);
  assert.throws(() => snapFileName(-1, 0), RangeError);
});

test('a file is snappb.snapshot{crc = CRC-32C(data), data = marshalled raftpb.Snapshot}', async (t) => {
  const { dir } = await setup(t);
  const s = snap(2, 0x21);
  const name = await saveSnap(dir, s);
  assert.equal(name, '0000000000000002-0000000000000021.snap');
  const file = await readFile(join(dir, '0000000000000002-0000000000000021.snap'));
  const data = encodeSnapshot(s);
  const crc = crc32c(data) >>> 0;
  // Hand-built expectation: tag 1 varint (0x08) crc, tag 2 bytes (0x12) len data.
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return out;
  };
  const expected = Buffer.from([0x08, ...varint(crc), 0x12, ...varint(data.byteLength), ...data]);
  assert.deepEqual(file, expected);
  const env = decodeSnapEnvelope(file);
  assert.equal(env.crc, crc);
  assert.deepEqual(Buffer.from(env.data), Buffer.from(data));
});

// ---- Round trip and selection -------------------------------------------------------------------

test('round trip: save then load gives back the same snapshot', async (t) => {
  const { dir, logger } = await setup(t);
  const s = snap(3, 1000, 'x'.repeat(10_000));
  await saveSnap(dir, s);
  const loaded = await loadNewestAvailable(dir, [{ index: 1000, term: 3 }], { logger });
  assert.deepEqual(loaded.metadata, s.metadata);
  assert.deepEqual(Buffer.from(loaded.data), Buffer.from(s.data));
  assert.deepEqual(await readSnapFile(join(dir, snapFileName(3, 1000))), loaded);
});

test('saving an empty snapshot (index 0) writes nothing, as etcd', async (t) => {
  const { dir } = await setup(t);
  assert.equal(await saveSnap(dir, snap(0, 0)), undefined);
  assert.deepEqual(await readdir(dir), []);
});

test('listSnaps orders newest first by term, then index, and ignores other files', async (t) => {
  const { dir, logger, warnings } = await setup(t);
  for (const [term, index] of [
    [1, 0x10],
    [2, 0x5],
    [1, 0x20],
    [2, 0x100],
  ]) {
    await saveSnap(dir, snap(term, index));
  }
  for (const other of ['db', 'db-lock', '0000000000000001-0000000000000030.snap.broken', 'x.snap.tmp']) {
    await writeFile(join(dir, other), 'junk');
  }
  await writeFile(join(dir, 'weird.snap'), 'junk');
  const names = (await listSnaps(dir, { logger })).map((s) => `${s.term}/${s.index.toString(16)}`);
  assert.deepEqual(names, ['2/100', '2/5', '1/20', '1/10']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /weird\.snap/);
});

test('loadNewestAvailable picks the newest snapshot that the WAL also records', async (t) => {
  const { dir, logger } = await setup(t);
  for (const i of [10, 20, 30]) await saveSnap(dir, snap(1, i));
  // The WAL has no record of 30 (e.g. a crash between saving the .snap and the WAL record).
  const got = await loadNewestAvailable(
    dir,
    [
      { index: 0, term: 0 },
      { index: 10, term: 1 },
      { index: 20, term: 1 },
    ],
    { logger },
  );
  assert.equal(got.metadata.index, 20);
  // A matching index with another term does not count.
  const got2 = await loadNewestAvailable(
    dir,
    [
      { index: 30, term: 2 },
      { index: 10, term: 1 },
    ],
    { logger },
  );
  assert.equal(got2.metadata.index, 10);
  assert.equal((await loadNewest(dir, { logger })).metadata.index, 30);
  // Non-matching files are skipped, not quarantined.
  assert.equal((await readdir(dir)).filter((n) => n.endsWith('.broken')).length, 0);
});

test('no snapshot: "snap: no available snapshot"', async (t) => {
  const { dir, logger } = await setup(t);
  await assertSnapError(loadNewestAvailable(dir, [], { logger }), 'no-snapshot', ERR_NO_SNAPSHOT);
  await saveSnap(dir, snap(1, 10));
  await assertSnapError(
    loadNewestAvailable(dir, [{ index: 11, term: 1 }], { logger }),
    'no-snapshot',
    ERR_NO_SNAPSHOT,
  );
});

// ---- Corruption ---------------------------------------------------------------------------------

test('a damaged newest snapshot is renamed .broken and an older one is used, with warnings', async (t) => {
  const { dir, logger, warnings } = await setup(t);
  for (const i of [10, 20, 30, 40]) await saveSnap(dir, snap(1, i));
  const all = [10, 20, 30, 40].map((index) => ({ index, term: 1 }));
  // 40: one bit flipped in the data -> CRC mismatch.
  const p40 = join(dir, snapFileName(1, 40));
  const b = await readFile(p40);
  b[b.length - 3] ^= 0x01;
  await writeFile(p40, b);
  // 30: empty file.
  await writeFile(join(dir, snapFileName(1, 30)), new Uint8Array(0));
  // 20: garbage that is no protobuf.
  await writeFile(join(dir, snapFileName(1, 20)), Buffer.from([0xff, 0xff, 0xff]));

  await assertSnapError(readSnapFile(p40), 'crc-mismatch', ERR_CRC_MISMATCH);
  await assertSnapError(readSnapFile(join(dir, snapFileName(1, 30))), 'empty-snapshot', ERR_EMPTY_SNAPSHOT);
  await assertSnapError(readSnapFile(join(dir, snapFileName(1, 20))), 'malformed');

  const got = await loadNewestAvailable(dir, all, { logger });
  assert.equal(got.metadata.index, 10);
  const files = (await readdir(dir)).sort();
  assert.deepEqual(files, [
    snapFileName(1, 10),
    snapFileName(1, 20) + '.broken',
    snapFileName(1, 30) + '.broken',
    snapFileName(1, 40) + '.broken',
  ]);
  assert.ok(warnings.some((w) => w.includes(ERR_CRC_MISMATCH)));
  assert.ok(warnings.some((w) => w.includes(ERR_EMPTY_SNAPSHOT)));
  assert.ok(warnings.some((w) => w.includes('renamed to a broken snap file')));
});

test('a snap envelope with valid CRC but undecodable raftpb.Snapshot is malformed', async (t) => {
  const { dir, logger } = await setup(t);
  const { encodeSnapEnvelope } = await import('../../../../src/storage/snap/snappb.js');
  const bad = Buffer.from([0x12, 0x05, 0x01]); // raftpb.Snapshot field 2, length 5, only 1 byte
  await writeFile(join(dir, snapFileName(1, 5)), encodeSnapEnvelope(bad));
  await assertSnapError(readSnapFile(join(dir, snapFileName(1, 5))), 'malformed');
  await assertSnapError(loadNewest(dir, { logger }), 'no-snapshot', ERR_NO_SNAPSHOT);
  assert.deepEqual(await readdir(dir), [snapFileName(1, 5) + '.broken']);
});

// ---- Purge --------------------------------------------------------------------------------------

test('purgeSnaps keeps the newest maxSnapshots files (default 5) and deletes the rest', async (t) => {
  const { dir, logger } = await setup(t);
  for (let i = 1; i <= 8; i++) await saveSnap(dir, snap(i < 5 ? 1 : 2, i * 10));
  await writeFile(join(dir, 'db'), 'backend');
  const removed = await purgeSnaps(dir, undefined, { logger });
  assert.deepEqual(
    removed,
    [10, 20, 30].map((i) => snapFileName(1, i)),
  );
  assert.deepEqual(
    (await listSnaps(dir, { logger })).map((s) => s.index),
    [80, 70, 60, 50, 40],
  );
  assert.deepEqual(await purgeSnaps(dir, 2, { logger }), [
    snapFileName(1, 40),
    snapFileName(2, 50),
    snapFileName(2, 60),
  ]);
  assert.deepEqual((await readdir(dir)).sort(), [snapFileName(2, 70), snapFileName(2, 80), 'db']);
  assert.deepEqual(await purgeSnaps(dir, 0, { logger }), []); // 0: unlimited, as etcd
});

// ---- Atomicity ----------------------------------------------------------------------------------

test('saving leaves no temporary files and overwrites the same name atomically', async (t) => {
  const { dir, logger } = await setup(t);
  await saveSnap(dir, snap(1, 10, 'first'));
  await saveSnap(dir, snap(1, 10, 'second'));
  assert.deepEqual(await readdir(dir), [snapFileName(1, 10)]);
  assert.equal(Buffer.from((await loadNewest(dir, { logger })).data).toString(), 'second');
});

test('a crash before the rename leaves the old state; the next load removes the leftover', async (t) => {
  const { dir, logger, warnings } = await setup(t);
  await saveSnap(dir, snap(1, 10));
  const child = fileURLToPath(new URL('./crash-save-child.js', import.meta.url));
  const proc = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
    proc.on('exit', (_c, s) => resolve(s)),
  );
  assert.equal(signal, 'SIGKILL');
  // The new snapshot (term 2, index 20) is only a temp file, fully written but never renamed.
  assert.deepEqual((await readdir(dir)).sort(), [snapFileName(1, 10), snapFileName(2, 20) + '.tmp']);
  assert.deepEqual(
    (await listSnaps(dir, { logger })).map((s) => s.name),
    [snapFileName(1, 10)],
  );
  const got = await loadNewestAvailable(
    dir,
    [
      { index: 10, term: 1 },
      { index: 20, term: 2 },
    ],
    { logger },
  );
  assert.equal(got.metadata.index, 10);
  assert.deepEqual(await readdir(dir), [snapFileName(1, 10)]);
  assert.ok(warnings.some((w) => w.includes('unfinished snapshot write')));
});
