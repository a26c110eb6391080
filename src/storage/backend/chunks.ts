// Walking a whole bucket (or a long key range) in bounded steps: one range read of `chunk` entries at
// a time, so no single read holds the whole bucket in memory.

import type { Bucket } from './buckets.js';
import type { KeyValue, RangeOptions } from './read-tx.js';

/** Anything that reads ranges: a Backend (live state) or a ReadTx (one pinned point). */
export interface RangeReader {
  range(bucket: Bucket, start: Uint8Array, end?: Uint8Array, options?: RangeOptions): KeyValue[];
}

export const DEFAULT_CHUNK = 1024;

/** The smallest key after `key` in byte order. */
export function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.byteLength + 1);
  next.set(key);
  return next;
}

/** The entries of `bucket` with start <= key < end (no bound when undefined), in key order. */
export function* entriesInChunks(
  reader: RangeReader,
  bucket: Bucket,
  start: Uint8Array = new Uint8Array(0),
  end?: Uint8Array,
  chunk = DEFAULT_CHUNK,
): Generator<KeyValue> {
  let from = start;
  for (;;) {
    const kvs = reader.range(bucket, from, end, { limit: chunk });
    yield* kvs;
    if (kvs.length < chunk) return;
    from = successor(kvs[kvs.length - 1].key);
  }
}
