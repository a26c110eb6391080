// Raft snapshot files (`<data-dir>/member/snap/%016x-%016x.snap`). See snapshotter.ts.

export {
  BROKEN_SUFFIX,
  ERR_CRC_MISMATCH,
  ERR_EMPTY_SNAPSHOT,
  ERR_NO_SNAPSHOT,
  SNAP_DB_SUFFIX,
  SNAP_SUFFIX,
  SnapError,
  listSnaps,
  loadNewest,
  loadNewestAvailable,
  parseSnapFileName,
  purgeSnaps,
  readSnapFile,
  saveSnap,
  snapFileName,
  type SnapErrorCode,
  type SnapFile,
  type SnapLogger,
  type SnapOptions,
  type WalSnapshot,
} from './snapshotter.js';
export { decodeSnapEnvelope, encodeSnapEnvelope, snapCrc, type SnapEnvelope } from './snappb.js';
