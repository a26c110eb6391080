// Snapshot files (etcd's `snapshot save` format): a bbolt database followed by the SHA-256 of its
// content. Checking the digest, opening the database safely, and `snapshot status`.

import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

import { crc32c } from '@node-rs/crc32';

import { BboltError, BboltReader } from '../storage/bbolt/index.js';
import { decodeRevisionKey } from '../storage/backend/index.js';

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

/**
 * Opens the bbolt image and runs its consistency check first, so that a damaged file is refused with
 * a clear error instead of failing half way (etcd's tools panic on some).
 */
export function openSnapshotFile(path: string, length?: number): BboltReader {
  let reader: BboltReader;
  try {
    reader = BboltReader.open(path, length === undefined ? {} : { length });
  } catch (e) {
    if (e instanceof BboltError)
      throw new RestoreError(`snapshot ${path} is not a valid database: ${e.message}`);
    throw e;
  }
  let problems: string[];
  try {
    problems = reader.check();
  } catch (e) {
    reader.close();
    if (e instanceof BboltError) problems = [e.message];
    else throw e;
  }
  if (problems.length > 0) {
    reader.close();
    const shown = problems.slice(0, 10).join('\n');
    throw new RestoreError(
      `snapshot file integrity check failed. ${problems.length} errors found.\n${shown}`,
    );
  }
  return reader;
}

/** The main revision of the last entry in the `key` bucket (0 for an empty or missing bucket). */
export function latestRevision(reader: BboltReader): number {
  if (!reader.bucketNames().some((n) => Buffer.compare(n, KEY_BUCKET) === 0)) return 0;
  let last: Uint8Array | undefined;
  for (const { key } of reader.entries(KEY_BUCKET)) last = key;
  return last === undefined ? 0 : decodeRevisionKey(last).main;
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

export function snapshotStatus(path: string): SnapshotStatus {
  // A digest, when there is one, is not part of the database (status does not verify it, as etcd's).
  const size = statSync(path).size;
  const reader = openSnapshotFile(path, size % HAS_HASH_MODULO === HASH_BYTES ? size - HASH_BYTES : size);
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
    reader.close();
  }
}
