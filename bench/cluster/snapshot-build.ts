// A snapshot file (etcd's `snapshot save` format: a bbolt database with etcd's buckets, then the
// SHA-256 of the database) holding `keys` keys, built directly with Cairn's bbolt writer. It is the
// fastest way to give both stores a million keys: each target restores the same file with its own
// `snapshot restore`, instead of absorbing a million puts.

import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream } from 'node:fs';

import { KeyValue } from '../../src/proto/mvccpb/kv.js';
import { writeBbolt, type BboltEntry } from '../../src/storage/bbolt/index.js';
// The two leaf modules, not the backend's index: that one loads LMDB into the load generator.
import { BUCKETS } from '../../src/storage/backend/buckets.js';
import { encodeRevisionKey } from '../../src/storage/backend/revision.js';
import { benchValue, keyName } from './workloads.js';

export interface SnapshotSpec {
  readonly prefix: string;
  readonly keys: number;
  readonly valueSize: number;
}

/** Key n was written by the put at revision n + 2 (revision 1 is the empty store, as in etcd). */
export const revisionOfKey = (n: number): number => n + 2;

/** The `key` bucket: revision -> KeyValue, one put per key, in revision (= byte) order. */
function* keyBucket(spec: SnapshotSpec): Generator<BboltEntry> {
  const value = benchValue(spec.valueSize, 7);
  for (let n = 0; n < spec.keys; n++) {
    const rev = BigInt(revisionOfKey(n));
    const kv = KeyValue.encode({
      key: Buffer.from(keyName(spec.prefix, spec.keys, n)),
      createRevision: rev,
      modRevision: rev,
      version: 1n,
      value,
      lease: 0n,
    }).finish();
    yield { key: encodeRevisionKey(revisionOfKey(n), 0), value: kv };
  }
}

/** Writes the file; resolves with its size in bytes (the database and the 32-byte digest). */
export async function buildSnapshot(path: string, spec: SnapshotSpec): Promise<number> {
  // Every bucket etcd has, most of them empty; the members are replaced by each restore anyway.
  const buckets = BUCKETS.map((name) => ({
    name: new Uint8Array(Buffer.from(name, 'latin1')),
    entries: name === 'key' ? keyBucket(spec) : [],
  }));
  const size = await writeBbolt(path, buckets);
  const digest = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    digest.update(chunk as Buffer);
  appendFileSync(path, digest.digest());
  return size + 32;
}
