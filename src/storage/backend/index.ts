// The backend: applied state in one LMDB file with etcd's buckets. See backend.ts.

export {
  Backend,
  BackendError,
  BatchTx,
  DEFAULT_BATCH_INTERVAL_MS,
  DEFAULT_BATCH_LIMIT,
  MAX_KEY_SIZE,
  type BackendLogger,
  type BackendOptions,
  type CommitInfo,
  type ConsistentIndex,
  type DefragmentResult,
} from './backend.js';
export {
  BUCKETS,
  META_CONSISTENT_INDEX_KEY,
  META_TERM_KEY,
  decodeUint64BE,
  encodeUint64BE,
  type Bucket,
} from './buckets.js';
export { DEFAULT_CHUNK, entriesInChunks, successor, type RangeReader } from './chunks.js';
export { ReadTx, ReadTxReleasedError, type KeyValue, type RangeOptions } from './read-tx.js';
export {
  REVISION_KEY_LENGTH,
  TOMBSTONE_KEY_LENGTH,
  decodeRevisionKey,
  encodeRevisionKey,
  isTombstoneKey,
  type RevisionKey,
} from './revision.js';
