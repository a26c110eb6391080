// writeBbolt -> BboltReader gives back exactly what was written, and the file passes check(): random
// buckets (fast-check, fixed seed) from empty and inlined up to thousands of keys over several branch
// levels, values from 0 bytes to several pages; plus the layout choices (inlining, overflow, depth)
// and the writer's input checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';

import { BboltError, BboltReader, writeBbolt, type BboltEntry } from '../../../../src/storage/bbolt/index.js';
import {
  BRANCH_PAGE,
  LEAF_PAGE,
  branchElement,
  leafElement,
  readBucketValue,
  readPageHeader,
} from '../../../../src/storage/bbolt/format.js';
import {
  assertSameEntries,
  bucketDepths,
  bytes,
  hex,
  metaOf,
  pagesOf,
  prng,
  readAt,
  tempDir,
  text,
} from './helpers.js';

interface Bucket {
  readonly name: Uint8Array;
  readonly entries: readonly BboltEntry[];
}

/** Writes `buckets`, reads everything back, and asserts equality and an empty check(). */
async function roundTrip(path: string, buckets: readonly Bucket[], pageSize?: number): Promise<BboltReader> {
  const size = await writeBbolt(path, buckets, pageSize === undefined ? {} : { pageSize });
  assert.equal((await stat(path)).size, size);
  const reader = BboltReader.open(path);
  try {
    assert.equal(reader.size(), size);
    assert.equal(reader.pageSize, pageSize ?? 4096);
    const sorted = [...buckets].sort((a, b) => Buffer.compare(a.name, b.name));
    assert.deepEqual(
      reader.bucketNames().map(hex),
      sorted.map((b) => hex(b.name)),
    );
    for (const b of sorted)
      assertSameEntries([...reader.entries(b.name)], b.entries, `bucket ${hex(b.name)}`);
    assert.deepEqual(reader.check(), []);
    return reader;
  } catch (e) {
    reader.close();
    throw e;
  }
}

function sortedUnique(entries: BboltEntry[]): BboltEntry[] {
  entries.sort((a, b) => Buffer.compare(a.key, b.key));
  return entries.filter((e, i) => i === 0 || Buffer.compare(entries[i - 1].key, e.key) !== 0);
}

/** A value of `n` bytes whose content depends on `seed` (cheap to make, and not all zeros). */
function filled(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

// ---- Property ------------------------------------------------------------------------------------

const valueArb = fc.oneof(
  { weight: 12, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 900, maxLength: 1100 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 3000, max: 12_000 }), fc.nat(255)).map(([n, s]) => filled(n, s)),
  },
);

/** Entries fully drawn by fast-check (a few dozen at most). */
const smallEntriesArb = fc
  .array(fc.record({ key: fc.uint8Array({ minLength: 1, maxLength: 300 }), value: valueArb }), {
    maxLength: 40,
  })
  .map((es) => sortedUnique(es));

/** Many entries from a drawn recipe, generated with a seeded PRNG (fast to draw, thousands of keys). */
const bulkEntriesArb = fc
  .record({
    count: fc.integer({ min: 200, max: 3000 }),
    keyMin: fc.integer({ min: 1, max: 40 }),
    keySpread: fc.integer({ min: 0, max: 260 }),
    bigEvery: fc.integer({ min: 0, max: 400 }),
    seed: fc.integer(),
  })
  .map(({ count, keyMin, keySpread, bigEvery, seed }) => {
    const random = prng(seed);
    const entries: BboltEntry[] = [];
    for (let i = 0; i < count; i++) {
      const key = new Uint8Array(keyMin + Math.floor(random() * (keySpread + 1)));
      for (let j = 0; j < key.length; j++) key[j] = Math.floor(random() * 256);
      const big = bigEvery > 0 && i % bigEvery === 0;
      entries.push({
        key,
        value: filled(big ? 4000 + Math.floor(random() * 6000) : Math.floor(random() * 50), i),
      });
    }
    return sortedUnique(entries);
  });

const bucketsArb = fc.uniqueArray(
  fc.record({
    name: fc.uint8Array({ minLength: 1, maxLength: 30 }),
    entries: fc.oneof({ weight: 3, arbitrary: smallEntriesArb }, { weight: 1, arbitrary: bulkEntriesArb }),
  }),
  { selector: (b) => hex(b.name), maxLength: 6 },
);

test('round trip: random buckets come back exactly, in order, and check() is clean', async (t) => {
  const dir = await tempDir(t);
  let run = 0;
  // What the runs covered, asserted at the end so that the property keeps testing what it claims to.
  const seen = {
    emptyBuckets: 0,
    inline: 0,
    depth3: 0,
    overflowValues: 0,
    maxEntries: 0,
    pageSizes: new Set<number>(),
  };
  await fc.assert(
    fc.asyncProperty(
      bucketsArb,
      fc.constantFrom(4096, 4096, 4096, 1024, 16384),
      async (buckets, pageSize) => {
        const path = join(dir, `db-${run++}`);
        const reader = await roundTrip(path, buckets, pageSize);
        reader.close();
        const depths = bucketDepths(path, pageSize);
        seen.inline += depths.filter((d) => d === 0).length;
        seen.depth3 += depths.filter((d) => d >= 3).length;
        seen.pageSizes.add(pageSize);
        for (const b of buckets) {
          if (b.entries.length === 0) seen.emptyBuckets++;
          seen.maxEntries = Math.max(seen.maxEntries, b.entries.length);
          seen.overflowValues += b.entries.filter((e) => e.value.byteLength > 2 * pageSize).length;
        }
      },
    ),
    { seed: 0x5eed, numRuns: 60 },
  );
  assert.ok(seen.emptyBuckets > 0 && seen.inline > seen.emptyBuckets, JSON.stringify(seen));
  assert.ok(seen.depth3 > 0 && seen.overflowValues > 0 && seen.maxEntries > 2000, JSON.stringify(seen));
  assert.equal(seen.pageSizes.size, 3);
  t.diagnostic(JSON.stringify({ ...seen, pageSizes: [...seen.pageSizes] }));
});

// ---- Layout --------------------------------------------------------------------------------------

test('no buckets: a valid four-page file (metas, empty root leaf, empty freelist)', async (t) => {
  const dir = await tempDir(t);
  const reader = await roundTrip(join(dir, 'db'), []);
  reader.close();
  assert.equal(reader.highWaterMark, 4);
  const pages = pagesOf(join(dir, 'db'));
  assert.deepEqual(
    pages.map((p) => [p.pgid, p.flags, p.count]),
    [
      [2, LEAF_PAGE, 0],
      [3, 0x10, 0],
    ],
  );
});

test("etcd's ten empty buckets are inlined in the root leaf, as bbolt stores them", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db');
  const names = [
    'key',
    'meta',
    'lease',
    'alarm',
    'members',
    'members_removed',
    'cluster',
    'auth',
    'authUsers',
    'authRoles',
  ];
  const reader = await roundTrip(
    path,
    names.map((n) => ({ name: bytes(n), entries: [] })),
  );
  reader.close();
  assert.equal(reader.highWaterMark, 4);
  const root = readAt(path, 2 * 4096, 4096);
  assert.equal(readPageHeader(root).count, 10);
  for (let i = 0; i < 10; i++) {
    const e = leafElement(root, i, 2);
    assert.equal(e.flags, 1);
    assert.equal(e.value.byteLength, 32); // bucket header + empty leaf page header, as bbolt's CreateBucket
    assert.equal(readBucketValue(e.value, 'test').root, 0);
  }
});

test('a bucket inlines up to pageSize/4 bytes of leaf, and gets its own page beyond', async (t) => {
  const dir = await tempDir(t);
  // One element: 16 (page header) + 16 (element) + 1 (key) + v bytes; 1024 = 4096/4 is the limit.
  for (const [valueSize, inline] of [
    [991, true],
    [992, false],
  ] as const) {
    const path = join(dir, `db-${valueSize}`);
    const reader = await roundTrip(path, [
      { name: bytes('b'), entries: [{ key: bytes('k'), value: filled(valueSize, 1) }] },
    ]);
    reader.close();
    const e = leafElement(readAt(path, 2 * 4096, 4096), 0, 2);
    const root = readPageHeader(readAt(path, metaOf(path, 0).root * 4096, 16));
    assert.equal(readBucketValue(e.value, 'test').root === 0, inline, `value of ${valueSize} bytes`);
    assert.equal(root.flags, LEAF_PAGE);
  }
});

test('thousands of keys build a tree of three levels or more; check() is clean', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db');
  const random = prng(7);
  const entries = sortedUnique(
    Array.from({ length: 20_000 }, (_, i) => ({
      key: bytes(`${String(Math.floor(random() * 1e12)).padStart(12, '0')}-${'k'.repeat(150)}-${i}`),
      value: filled(i % 40, i),
    })),
  );
  const reader = await roundTrip(path, [{ name: bytes('deep'), entries }]);
  reader.close();
  // Walk down the first children from the bucket's root page.
  const rootLeaf = readAt(path, metaOf(path, 0).root * 4096, 4096);
  let pgid = readBucketValue(leafElement(rootLeaf, 0, 0).value, 'test').root;
  let depth = 1;
  for (;;) {
    const page = readAt(path, pgid * 4096, 4096);
    const h = readPageHeader(page);
    if (h.flags !== BRANCH_PAGE) break;
    pgid = branchElement(page, 0, pgid).pgid;
    depth++;
  }
  assert.ok(depth >= 3, `depth ${depth}`);
});

test('a 1.5 MiB value is one element on a leaf page with overflow pages', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db');
  const big = filled(1.5 * 1024 * 1024, 3);
  const entries = [
    { key: bytes('a'), value: filled(10, 1) },
    { key: bytes('b'), value: big },
    { key: bytes('c'), value: filled(5000, 2) },
  ];
  const reader = await roundTrip(path, [{ name: bytes('big'), entries }]);
  reader.close();
  const bigPage = pagesOf(path).find((p) => p.overflow > 0 && p.count === 1 && p.flags === LEAF_PAGE);
  assert.ok(bigPage !== undefined);
  assert.equal(bigPage.overflow, Math.ceil((16 + 16 + 1 + big.byteLength) / 4096) - 1);
});

test('entries are consumed lazily from any iterable; the file is mode 0600', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db');
  function* gen(): Generator<BboltEntry> {
    for (let i = 0; i < 50_000; i++)
      yield { key: bytes(String(i).padStart(8, '0')), value: filled(i % 100, i) };
  }
  await writeBbolt(path, [{ name: bytes('gen'), entries: gen() }]);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const reader = BboltReader.open(path);
  t.after(() => reader.close());
  let n = 0;
  for (const e of reader.entries(bytes('gen'))) {
    assert.equal(text(e.key), String(n).padStart(8, '0'));
    n++;
  }
  assert.equal(n, 50_000);
  assert.deepEqual(reader.check(), []);
});

test('writer input errors are BboltErrors', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db');
  const e = (k: string, v = ''): BboltEntry => ({ key: bytes(k), value: bytes(v) });
  const cases: Array<[string, Parameters<typeof writeBbolt>[1], RegExp, number?]> = [
    ['unsorted', [{ name: bytes('b'), entries: [e('b'), e('a')] }], /not strictly ascending/],
    ['duplicate key', [{ name: bytes('b'), entries: [e('a'), e('a')] }], /not strictly ascending/],
    ['empty key', [{ name: bytes('b'), entries: [e('')] }], /key of 0 bytes/],
    [
      'duplicate bucket',
      [
        { name: bytes('b'), entries: [] },
        { name: bytes('b'), entries: [] },
      ],
      /given twice/,
    ],
    ['empty bucket name', [{ name: bytes(''), entries: [] }], /bucket name of 0 bytes/],
    ['page size', [], /page size 3000/, 3000],
  ];
  for (const [what, buckets, message, pageSize] of cases) {
    await assert.rejects(
      writeBbolt(path, buckets, pageSize === undefined ? {} : { pageSize }),
      (err: unknown) => err instanceof BboltError && message.test(err.message),
      what,
    );
  }
});
