// The write-ahead log (<data-dir>/member/wal), byte-compatible with etcd 3.4.

export {
  DEFAULT_MAX_WALS,
  DEFAULT_SEGMENT_BYTES,
  Wal,
  type ReadAllResult,
  type RepairReport,
  type WalOptions,
} from './wal.js';
export {
  CORRUPT_ADVICE,
  WalClosedError,
  WalCorruptError,
  WalError,
  WalExistsError,
  WalLockedError,
  WalNotFoundError,
  WalSnapshotMismatchError,
  WalSnapshotNotFoundError,
} from './errors.js';
export {
  DEFAULT_IO_MODE,
  LOCK_FILE_NAME,
  NodeWalFs,
  type IoMode,
  type LockHandle,
  type NodeWalFsOptions,
  type OpenMode,
  type WalFile,
  type WalFs,
} from './fs.js';
export type { WalMetadata, WalSnapshot } from './record.js';
export { parseWalName, walName } from './segment.js';
