// Maintenance.Snapshot's content: the member's backend as etcd's snapshot file, a bbolt database with
// etcd's ten buckets, so that real etcdctl and etcd read what Cairn saves. The keyspace lives in LMDB,
// so the file is built, not copied: a ReadTx pins one consistent point (writes go on meanwhile), the
// bbolt writer lays every bucket out into a temporary file beside the backend, and the reader of the
// result streams that file. The temporary file is removed when the stream is closed, and leftovers
// of a crash are removed at the next start (removeStaleSnapshotFiles).

import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { writeBbolt } from '../storage/bbolt/index.js';
import { BUCKETS, entriesInChunks, type Backend } from '../storage/backend/index.js';
import { removeStaleTempFiles } from '../storage/snap/atomic-file.js';

/** Temporary snapshot files end with this (then `.tmp`, see removeStaleTempFiles). */
const SNAPSHOT_FILE_SUFFIX = '.bbolt';

export interface BackendSnapshot {
  /** Bytes of the bbolt image (without etcd's SHA-256 trailer, which the API layer adds). */
  readonly size: number;
  /** The image in order, in chunks of at most `chunkBytes`. */
  chunks(chunkBytes: number): AsyncIterable<Uint8Array>;
  /** Removes the temporary file; idempotent. */
  close(): Promise<void>;
}

/** Builds the snapshot of `backend` as of now in `dir` (the member's snap dir). */
export async function takeBackendSnapshot(backend: Backend, dir: string): Promise<BackendSnapshot> {
  const path = join(dir, `snapshot-${randomBytes(8).toString('hex')}${SNAPSHOT_FILE_SUFFIX}.tmp`);
  const tx = backend.readTx();
  let size: number;
  try {
    const buckets = BUCKETS.map((bucket) => ({
      name: new Uint8Array(Buffer.from(bucket, 'latin1')),
      entries: entriesInChunks(tx, bucket),
    }));
    size = await writeBbolt(path, buckets);
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  } finally {
    tx.release();
  }
  let closed = false;
  return {
    size,
    async *chunks(chunkBytes: number): AsyncIterable<Uint8Array> {
      const stream = createReadStream(path, { highWaterMark: chunkBytes });
      for await (const chunk of stream) yield chunk as Buffer;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await rm(path, { force: true });
    },
  };
}

/** Removes snapshot files a crash left behind in `dir`. */
export function removeStaleSnapshotFiles(dir: string): Promise<string[]> {
  return removeStaleTempFiles(dir, SNAPSHOT_FILE_SUFFIX);
}
