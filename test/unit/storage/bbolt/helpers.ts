// Shared helpers of the bbolt tests: temp dirs, entry comparison, etcd's snapshot hash, and raw page
// surgery (reading page headers, rewriting metas) for the corruption tests.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';

import type { BboltEntry } from '../../../../src/storage/bbolt/index.js';
import {
  BRANCH_PAGE,
  LEAF_PAGE,
  PAGE_HEADER_SIZE,
  branchElement,
  leafElement,
  readBucketValue,
  META_SIZE,
  readMeta,
  readPageHeader,
  writeMetaPage,
  type Meta,
  type PageHeader,
} from '../../../../src/storage/bbolt/format.js';

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
export const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** etcd's ten buckets, in bbolt's (bytewise) order. */
export const ETCD_BUCKETS = [
  'alarm',
  'auth',
  'authRoles',
  'authUsers',
  'cluster',
  'key',
  'lease',
  'members',
  'members_removed',
  'meta',
];

/** A temp dir removed after the test. */
export async function tempDir(
  t: { after: (fn: () => Promise<void>) => void },
  prefix = 'cairn-bbolt-',
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Asserts that two entry lists are equal, naming the first difference (cheaper than deepEqual on MiBs). */
export function assertSameEntries(
  actual: readonly BboltEntry[],
  expected: readonly BboltEntry[],
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: entry count`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Buffer.compare(a.key, e.key) !== 0) assert.fail(`${what}: key ${i}: ${hex(a.key)} != ${hex(e.key)}`);
    if (Buffer.compare(a.value, e.value) !== 0) {
      assert.fail(
        `${what}: value ${i} (key ${hex(e.key)}): ${a.value.byteLength} bytes != ${e.value.byteLength} bytes`,
      );
    }
  }
}

/**
 * etcd's snapshot hash (`etcdctl snapshot status`): CRC-32C over, for each bucket in order, its name
 * and then each key and value.
 */
export function etcdSnapshotHash(
  buckets: Iterable<{ name: Uint8Array; entries: Iterable<BboltEntry> }>,
): number {
  let h = 0;
  for (const b of buckets) {
    h = crc32c(b.name, h);
    for (const e of b.entries) {
      h = crc32c(e.key, h);
      h = crc32c(e.value, h);
    }
  }
  return h;
}

/** Big-endian u64 (< 2^53) of the first 8 bytes: the main revision of a `key` bucket key. */
export function mainRevision(key: Uint8Array): number {
  return Number(Buffer.from(key).readBigUInt64BE(0));
}

// ---- Raw file surgery ----------------------------------------------------------------------------

export function readAt(path: string, position: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(length);
    readSync(fd, b, 0, length, position);
    return b;
  } finally {
    closeSync(fd);
  }
}

export function writeAt(path: string, position: number, data: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.byteLength, position);
  } finally {
    closeSync(fd);
  }
}

export function metaOf(path: string, id: 0 | 1, pageSize = 4096): Meta {
  return readMeta(readAt(path, id * pageSize, PAGE_HEADER_SIZE + META_SIZE));
}

/** Rewrites meta page `id` from `meta` with changes, with a correct checksum. */
export function rewriteMeta(
  path: string,
  id: 0 | 1,
  change: Partial<{ pageSize: number; root: number; freelist: number | null; pgid: number; txid: bigint }>,
  pageSize = 4096,
): void {
  const m = metaOf(path, id, pageSize);
  const page = new Uint8Array(pageSize);
  writeMetaPage(page, id, {
    pageSize: m.pageSize,
    root: m.root,
    freelist: m.freelist,
    pgid: m.pgid,
    txid: m.txid,
    ...change,
  });
  writeAt(path, id * pageSize, page);
}

export interface PageInfo extends PageHeader {
  readonly pgid: number;
}

/** The page headers of pages 2 .. hwm-1 in file order (overflow pages skipped). */
export function pagesOf(path: string, pageSize = 4096): PageInfo[] {
  const hwm = metaOf(path, 0, pageSize).pgid;
  const out: PageInfo[] = [];
  for (let pgid = 2; pgid < hwm;) {
    const h = readPageHeader(readAt(path, pgid * pageSize, PAGE_HEADER_SIZE));
    out.push({ pgid, ...h });
    pgid += h.overflow + 1;
  }
  return out;
}

/** A deterministic pseudo-random generator (mulberry32) for bulk test data. */
export { rng as prng } from '../wal/helpers.js';

/** The page at `pgid` with its overflow pages. */
export function pageAt(path: string, pgid: number, pageSize = 4096): Uint8Array {
  const h = readPageHeader(readAt(path, pgid * pageSize, PAGE_HEADER_SIZE));
  return readAt(path, pgid * pageSize, (h.overflow + 1) * pageSize);
}

/** The depth of each top-level bucket's tree (0 for an inline bucket), from the raw pages. */
export function bucketDepths(path: string, pageSize = 4096): number[] {
  const depths: number[] = [];
  const leaves = (pgid: number): Uint8Array[] => {
    const page = pageAt(path, pgid, pageSize);
    const h = readPageHeader(page);
    if (h.flags === LEAF_PAGE) return [page];
    return Array.from({ length: h.count }, (_, i) => leaves(branchElement(page, i, pgid).pgid)).flat();
  };
  for (const leaf of leaves(metaOf(path, 0, pageSize).root)) {
    for (let i = 0; i < readPageHeader(leaf).count; i++) {
      let pgid = readBucketValue(leafElement(leaf, i, 0).value, 'bucket').root;
      let depth = 0;
      while (pgid !== 0) {
        depth++;
        const page = pageAt(path, pgid, pageSize);
        pgid = readPageHeader(page).flags === BRANCH_PAGE ? branchElement(page, 0, pgid).pgid : 0;
      }
      depths.push(depth);
    }
  }
  return depths;
}
