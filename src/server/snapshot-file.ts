// Snapshot files (etcd's `snapshot save` format): a bbolt database followed by the SHA-256 of its
// content. Checking the digest, opening the database safely (a Cairn member's raw db too), and
// `snapshot status`.

import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { crc32c } from '@node-rs/crc32';

import { BboltError, BboltReader, type BboltEntry } from '../storage/bbolt/index.js';
import {
  BUCKETS,
  Backend,
  decodeRevisionKey,
  entriesInChunks,
  type Bucket,
} from '../storage/backend/index.js';

/** etcd's test for a trailing SHA-256: bbolt files are whole pages, so 32 extra bytes stand out. */
const HASH_BYTES = 32;
const HAS_HASH_MODULO = 512;
const KEY_BUCKET = new Uint8Array(Buffer.from('key', 'latin1'));

/** A snapshot file refused, with etcd's wording where etcd has one. */
export class RestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreError';
  }
}

/** Go's fmt of a byte slice, `[1 2 3]`, as etcd prints the digests it compares. */
function goBytes(b: Uint8Array): string {
  return `[${Array.from(b).join(' ')}]`;
}

/**
 * Checks the trailing SHA-256, or its absence (a raw `member/snap/db` copy, accepted only with
 * skipHashCheck); returns the length of the bbolt image before the digest.
 */
export function verifySnapshotHash(path: string, skipHashCheck: boolean): number {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size % HAS_HASH_MODULO !== HASH_BYTES) {
      if (!skipHashCheck) throw new RestoreError('snapshot missing hash but --skip-hash-check=false');
      return size;
    }
    const length = size - HASH_BYTES;
    if (skipHashCheck) return length;
    const digest = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; pos < length;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - pos), pos);
      if (n === 0) throw new RestoreError(`snapshot ${path}: unexpected end of file at ${pos}`);
      digest.update(buf.subarray(0, n));
      pos += n;
    }
    const expected = Buffer.alloc(HASH_BYTES);
    readSync(fd, expected, 0, HASH_BYTES, length);
    const got = digest.digest();
    if (!got.equals(expected))
      throw new RestoreError(`expected sha256 ${goBytes(expected)}, got ${goBytes(got)}`);
    return length;
  } finally {
    closeSync(fd);
  }
}

/** The buckets of a snapshot file, whichever format it has. */
export interface SnapshotSource {
  /** `bbolt`: etcd's format (a saved snapshot or etcd's own db); `cairn`: a Cairn member's raw db. */
  readonly format: 'bbolt' | 'cairn';
  /** Bucket names in byte order. */
  bucketNames(): Uint8Array[];
  /** A bucket's entries in key order. */
  entries(bucket: Uint8Array): Iterable<BboltEntry>;
  /** The database's size in bytes (for bbolt, pages in use times page size, as etcd reports). */
  size(): number;
  close(): Promise<void>;
}

const BBOLT_MAGIC = 0xed0cdaed;
const LMDB_MAGIC = 0xbeefc0de;

/** The file's format by its first meta page (bbolt's magic at 16, LMDB's at 16 or 24). */
function formatOf(path: string): 'bbolt' | 'cairn' | undefined {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(32);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < 32) return undefined;
    if (head.readUInt32LE(16) === BBOLT_MAGIC) return 'bbolt';
    if (head.readUInt32LE(16) === LMDB_MAGIC || head.readUInt32LE(24) === LMDB_MAGIC) return 'cairn';
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a snapshot file of `length` bytes (the digest excluded). A bbolt file gets its consistency
 * check first, so a damaged file is refused with a clear error instead of failing half way (etcd's
 * tools panic on some). A Cairn member's raw db (LMDB) is read from a private copy, because opening
 * LMDB writes to the file it opens, and the file given must stay as it is.
 */
export async function openSnapshotSource(path: string, length: number): Promise<SnapshotSource> {
  const format = formatOf(path);
  if (format === 'cairn') return openCairnDb(path);
  if (format === undefined)
    throw new RestoreError(`snapshot ${path} is not a valid database: unknown file format`);
  let reader: BboltReader;
  try {
    reader = BboltReader.open(path, { length });
  } catch (e) {
    if (e instanceof BboltError)
      throw new RestoreError(`snapshot ${path} is not a valid database: ${e.message}`);
    throw e;
  }
  let problems: string[];
  try {
    problems = reader.check();
  } catch (e) {
    if (!(e instanceof BboltError)) {
      reader.close();
      throw e;
    }
    problems = [e.message];
  }
  if (problems.length > 0) {
    reader.close();
    const shown = problems.slice(0, 10).join('\n');
    throw new RestoreError(
      `snapshot file integrity check failed. ${problems.length} errors found.\n${shown}`,
    );
  }
  return {
    format: 'bbolt',
    bucketNames: () => reader.bucketNames(),
    entries: (bucket) => reader.entries(bucket),
    size: () => reader.size(),
    close: async () => reader.close(),
  };
}

function openCairnDb(path: string): SnapshotSource {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-snapshot-'));
  let backend: Backend;
  try {
    copyFileSync(path, join(dir, 'db'));
    backend = Backend.open(join(dir, 'db'), { logger: { warn: () => {} } });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new RestoreError(
      `snapshot ${path} is not a valid database: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const names = [...BUCKETS].sort((a, b) =>
    Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')),
  );
  const size = statSync(path).size;
  return {
    format: 'cairn',
    bucketNames: () => names.map((n) => new Uint8Array(Buffer.from(n, 'latin1'))),
    entries: (bucket) => {
      const name = Buffer.from(bucket).toString('latin1');
      if (!(BUCKETS as readonly string[]).includes(name)) throw new RestoreError(`no bucket named ${name}`);
      return entriesInChunks(backend, name as Bucket);
    },
    size: () => size,
    close: async () => {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What `snapshot status` prints. */
export interface SnapshotStatus {
  /** CRC-32C over every bucket name, then its keys and values, buckets in name order (etcd's). */
  readonly hash: number;
  readonly revision: number;
  /** Entries in all buckets, not only keys of the keyspace. */
  readonly totalKey: number;
  /** The database's size (pages in use times page size), without the digest. */
  readonly totalSize: number;
}

export async function snapshotStatus(path: string): Promise<SnapshotStatus> {
  // A digest, when there is one, is not part of the database (status does not verify it, as etcd's).
  const size = statSync(path).size;
  const reader = await openSnapshotSource(
    path,
    size % HAS_HASH_MODULO === HASH_BYTES ? size - HASH_BYTES : size,
  );
  try {
    let hash = 0;
    let totalKey = 0;
    let revision = 0;
    for (const name of reader.bucketNames()) {
      hash = crc32c(name, hash);
      const isKey = Buffer.compare(name, KEY_BUCKET) === 0;
      for (const { key, value } of reader.entries(name)) {
        hash = crc32c(value, crc32c(key, hash));
        totalKey++;
        if (isKey) revision = decodeRevisionKey(key).main;
      }
    }
    return { hash, revision, totalKey, totalSize: reader.size() };
  } finally {
    await reader.close();
  }
}
