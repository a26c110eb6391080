// BboltReader on damaged files: what open() refuses (and with which message), how it falls back to
// the other meta, and what check() reports for structural damage, in bbolt's wording.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { BboltError, BboltReader, writeBbolt, type BboltEntry } from '../../../../src/storage/bbolt/index.js';
import {
  BRANCH_PAGE,
  LEAF_PAGE,
  leafElement,
  metaChecksum,
  viewOf,
  writeU64,
} from '../../../../src/storage/bbolt/format.js';
import { bytes, metaOf, pageAt, pagesOf, readAt, rewriteMeta, tempDir, text, writeAt } from './helpers.js';

/** Two buckets: `tree` with a branch root over ~60 leaves, `tiny` inlined. */
const ENTRIES: BboltEntry[] = Array.from({ length: 2000 }, (_, i) => ({
  key: bytes(`key-${String(i).padStart(6, '0')}-${'x'.repeat(40)}`),
  value: bytes(`value-${i}-${'y'.repeat(40)}`),
}));

async function validFile(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const path = join(await tempDir(t), 'db');
  await writeBbolt(path, [
    { name: bytes('tree'), entries: ENTRIES },
    { name: bytes('tiny'), entries: [{ key: bytes('a'), value: bytes('b') }] },
  ]);
  return path;
}

function openError(path: string, options?: { length?: number }): string {
  try {
    BboltReader.open(path, options).close();
  } catch (e) {
    assert.ok(e instanceof BboltError, `expected a BboltError, got ${String(e)}`);
    return e.message;
  }
  return assert.fail('open succeeded');
}

function checkOf(path: string): string[] {
  const reader = BboltReader.open(path);
  try {
    return reader.check();
  } finally {
    reader.close();
  }
}

/** The file's branch page (the root of bucket `tree`) and its element pgids. */
function branchOf(path: string): { pgid: number; children: number[] } {
  const branch = pagesOf(path).filter((p) => p.flags === BRANCH_PAGE);
  assert.equal(branch.length, 1);
  const page = pageAt(path, branch[0].pgid);
  const v = viewOf(page);
  const children = Array.from({ length: branch[0].count }, (_, i) =>
    Number(v.getBigUint64(16 + i * 16 + 8, true)),
  );
  return { pgid: branch[0].pgid, children };
}

function setBranchChild(path: string, branch: number, index: number, child: number): void {
  const b = new Uint8Array(8);
  writeU64(viewOf(b), 0, child);
  writeAt(path, branch * 4096 + 16 + index * 16 + 8, b);
}

// ---- open() --------------------------------------------------------------------------------------

test('a file of zeros, a tiny file and a text file are not bbolt files', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'zeros'), new Uint8Array(16384));
  await writeFile(join(dir, 'tiny'), new Uint8Array(10));
  await writeFile(join(dir, 'text'), 'hello world\n'.repeat(1000));
  assert.match(
    openError(join(dir, 'zeros')),
    /not a bbolt file \(meta 0: bad magic 0x00000000; meta 1: bad magic 0x00000000\)/,
  );
  assert.match(openError(join(dir, 'tiny')), /not a bbolt file: only 10 bytes/);
  assert.match(openError(join(dir, 'text')), /not a bbolt file/);
});

test('a truncated file, or a length beyond the file, is refused', async (t) => {
  const path = await validFile(t);
  const size = BboltReader.open(path);
  const bytesTotal = size.size();
  size.close();
  assert.match(openError(path, { length: bytesTotal + 4096 }), /truncated/);
  assert.match(
    openError(path, { length: bytesTotal - 1 }),
    /truncated: \d+ bytes, but the high water mark is/,
  );
  await truncate(path, bytesTotal - 4096);
  assert.match(openError(path), /truncated/);
});

test('a trailing sha256 is ignored with `length`, and harmless without it', async (t) => {
  const path = await validFile(t);
  const reader = BboltReader.open(path);
  const size = reader.size();
  reader.close();
  await appendFile(path, new Uint8Array(32).fill(0xab));
  for (const options of [{ length: size }, {}]) {
    const r = BboltReader.open(path, options);
    assert.equal(r.size(), size);
    assert.deepEqual(r.check(), []);
    r.close();
  }
});

test('one corrupt meta: the other is used; both corrupt: refused', async (t) => {
  const path = await validFile(t);
  const good = BboltReader.open(path);
  assert.equal(good.txid, 2n); // meta 0 (txid 2) beats meta 1 (txid 1)
  good.close();

  const flip = (id: 0 | 1): void => {
    const at = id * 4096 + 16 + 56; // the checksum
    const b = readAt(path, at, 1);
    b[0] ^= 0xff;
    writeAt(path, at, b);
  };
  flip(0);
  let r = BboltReader.open(path);
  assert.equal(r.txid, 1n);
  assert.equal([...r.entries(bytes('tree'))].length, ENTRIES.length);
  assert.deepEqual(r.check(), []);
  r.close();

  flip(0);
  flip(1);
  r = BboltReader.open(path);
  assert.equal(r.txid, 2n);
  r.close();

  flip(0);
  assert.match(
    openError(path),
    /both meta pages are invalid \(meta 0: checksum mismatch; meta 1: checksum mismatch\)/,
  );
});

test('meta 0 unreadable: the page size and meta come from meta 1, as bbolt falls back', async (t) => {
  const path = await validFile(t);
  writeAt(path, 0, new Uint8Array(4096));
  const r = BboltReader.open(path);
  assert.equal(r.pageSize, 4096);
  assert.equal(r.txid, 1n);
  assert.deepEqual(r.check(), []);
  r.close();
});

test('another format version, and metas that disagree on the page size, are refused', async (t) => {
  const path = await validFile(t);
  rewriteMeta(path, 1, { pageSize: 8192 });
  assert.match(openError(path), /page size mismatch: meta 0 says 4096 bytes, meta 1 says 8192/);

  const path2 = await validFile(t);
  for (const id of [0, 1] as const) {
    const page = readAt(path2, id * 4096, 4096);
    viewOf(page).setUint32(16 + 4, 3, true); // version
    viewOf(page).setBigUint64(16 + 56, metaChecksum(page), true);
    writeAt(path2, id * 4096, page);
  }
  assert.match(openError(path2), /unsupported version 3 \(expected 2\)/);
});

test('entries() of a missing bucket, and any use after close(), throw BboltError', async (t) => {
  const path = await validFile(t);
  const r = BboltReader.open(path);
  assert.deepEqual(r.bucketNames().map(text), ['tiny', 'tree']);
  assert.throws(() => r.entries(bytes('nope')), /bucket 6e6f7065 not found/);
  r.close();
  assert.throws(() => r.bucketNames(), BboltError);
  assert.throws(() => r.check(), BboltError);
});

// ---- check() -------------------------------------------------------------------------------------

test('check(): a page referenced twice, and the page nobody references any more', async (t) => {
  const path = await validFile(t);
  const { pgid, children } = branchOf(path);
  setBranchChild(path, pgid, 1, children[0]);
  const errors = checkOf(path);
  assert.equal(errors.length, 3, errors.join('\n'));
  assert.equal(errors[0], `page ${children[0]}: multiple references (stack: [${pgid} ${children[0]}])`);
  // The keys of the page now under element 1 sort before that element's key.
  assert.match(
    errors[1],
    new RegExp(
      `^the first key\\[0\\]=\\(hex\\)[0-9a-f]+ on leaf page\\(${children[0]}\\) needs to be >= ` +
        `the key in the ancestor \\([0-9a-f]+\\)\\. Stack: \\[${pgid} ${children[0]}\\]$`,
    ),
  );
  assert.equal(errors[2], `page ${children[1]}: unreachable unfreed`);
  // Iterating refuses the second visit instead of repeating keys.
  const r = BboltReader.open(path);
  assert.throws(() => [...r.entries(bytes('tree'))], /multiple references/);
  r.close();
});

test('check(): a page beyond the high water mark, and an unreachable page below it', async (t) => {
  const path = await validFile(t);
  const hwm = metaOf(path, 0).pgid;
  const { pgid, children } = branchOf(path);
  setBranchChild(path, pgid, 2, hwm + 5);
  assert.deepEqual(checkOf(path), [
    `page ${hwm + 5}: out of bounds: ${hwm} (stack: [${pgid} ${hwm + 5}])`,
    `page ${children[2]}: unreachable unfreed`,
  ]);

  const path2 = await validFile(t);
  const hwm2 = metaOf(path2, 0).pgid;
  await appendFile(path2, new Uint8Array(4096));
  rewriteMeta(path2, 0, { pgid: hwm2 + 1 });
  rewriteMeta(path2, 1, { pgid: hwm2 + 1 });
  assert.deepEqual(checkOf(path2), [`page ${hwm2}: unreachable unfreed`]);

  // Freeing it makes the file consistent again; here in the long form of the freelist (count 0xFFFF,
  // the real count in the first u64), then freed twice.
  const freelist = metaOf(path2, 0).freelist as number;
  const page = pageAt(path2, freelist);
  const v = viewOf(page);
  v.setUint16(10, 0xffff, true);
  writeU64(v, 16, 1);
  writeU64(v, 24, hwm2);
  writeAt(path2, freelist * 4096, page);
  assert.deepEqual(checkOf(path2), []);
  writeU64(v, 16, 2);
  writeU64(v, 32, hwm2);
  writeAt(path2, freelist * 4096, page);
  assert.deepEqual(checkOf(path2), [`page ${hwm2}: already freed`]);

  // Without a stored freelist (etcd's NoFreelistSync), unreachable pages count as free.
  rewriteMeta(path2, 0, { freelist: null });
  rewriteMeta(path2, 1, { freelist: null });
  assert.deepEqual(checkOf(path2), []);
});

test('check(): a reachable page on the freelist, and a page of the wrong type', async (t) => {
  const path = await validFile(t);
  const freelist = metaOf(path, 0).freelist as number;
  const { children } = branchOf(path);
  const page = pageAt(path, freelist);
  const v = viewOf(page);
  v.setUint16(10, 1, true); // count
  writeU64(v, 16, children[3]);
  writeAt(path, freelist * 4096, page);
  assert.deepEqual(checkOf(path), [`page ${children[3]}: reachable freed`]);

  const path2 = await validFile(t);
  const { pgid, children: children2 } = branchOf(path2);
  const leaf = pageAt(path2, children2[4]);
  assert.equal(viewOf(leaf).getUint16(8, true), LEAF_PAGE);
  viewOf(leaf).setUint16(8, 0x10, true);
  writeAt(path2, children2[4] * 4096, leaf);
  assert.deepEqual(checkOf(path2), [
    `page ${children2[4]}: invalid type: freelist (stack: [${pgid} ${children2[4]}])`,
  ]);
});

test('check(): keys out of order within a leaf, in bbolt wording; entries() refuses them', async (t) => {
  const path = await validFile(t);
  const { pgid, children } = branchOf(path);
  const leaf = pageAt(path, children[1]);
  const v = viewOf(leaf);
  // Make the first byte of the leaf's second key 'a' (< 'k' of every key): below the first key.
  const keyAt = 16 + 16 + v.getUint32(16 + 16 + 4, true);
  leaf[keyAt] = 0x61;
  writeAt(path, children[1] * 4096, leaf);
  const errors = checkOf(path);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(
    errors[0],
    new RegExp(
      `^key\\[1\\]=\\(hex\\)61.* on leaf page\\(${children[1]}\\) needs to be > \\(found <\\) than previous element \\(hex\\).*\\. Stack: \\[${pgid} ${children[1]}\\]$`,
    ),
  );
  const r = BboltReader.open(path);
  assert.throws(() => [...r.entries(bytes('tree'))], /does not sort after/);
  r.close();
});

test('nested buckets: entries() reports them raw; check() descends into them', async (t) => {
  const dir = await tempDir(t);
  // An inline bucket image {a, b}, taken from a file of ours, with 'b' turned into 0x00 (out of order).
  const imagePath = join(dir, 'image');
  await writeBbolt(imagePath, [
    { name: bytes('inner'), entries: [bytes('a'), bytes('b')].map((key) => ({ key, value: bytes('v') })) },
  ]);
  const image = new Uint8Array(leafElement(pageAt(imagePath, 2), 0, 2).value);
  image[image.lastIndexOf(0x62)] = 0x00;

  // Store it as a plain value, then flag that element as a bucket in the raw file.
  const path = join(dir, 'db');
  await writeBbolt(path, [{ name: bytes('outer'), entries: [{ key: bytes('inner'), value: image }] }]);
  const root = pageAt(path, 2);
  const outer = leafElement(root, 0, 2).value; // the inline page of bucket 'outer'
  const flagsAt = outer.byteOffset - root.byteOffset + 16 + 16; // its element 0
  viewOf(root).setUint32(flagsAt, 1, true);
  writeAt(path, 2 * 4096, root);

  const r = BboltReader.open(path);
  t.after(() => r.close());
  const entries = [...r.entries(bytes('outer'))];
  assert.deepEqual(
    entries.map((e) => [text(e.key), Buffer.from(e.value).toString('hex')]),
    [['inner', Buffer.from(image).toString('hex')]],
  );
  assert.deepEqual(r.check(), [
    'key[1]=(hex)00 on leaf page(0) needs to be > (found <) than previous element (hex)61. Stack: []',
  ]);
});
