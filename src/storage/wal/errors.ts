// Errors raised by the WAL. Their messages start with etcd's wording ("wal: ...") where etcd has one,
// so operators can search for either.

/** Base class of every error the WAL raises on purpose. */
export class WalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WalError';
  }
}

/** What an operator can do about a WAL that cannot be repaired automatically. */
export const CORRUPT_ADVICE =
  'the WAL cannot be repaired automatically: remove this member from the cluster and add it back with an ' +
  'empty data directory (etcdctl member remove / member add), or restore the data directory from a snapshot ' +
  '(cairnutl snapshot restore); keep a copy of the damaged directory for diagnosis';

/**
 * A complete record that fails its CRC or cannot be decoded (anywhere but a torn tail), or a log whose
 * records contradict each other. Opening refuses: nothing is repaired and no file is changed.
 */
export class WalCorruptError extends WalError {
  constructor(
    /** The segment file holding the bad record. */
    readonly file: string,
    /** Byte offset in `file` of the bad record's frame (its length word). */
    readonly offset: number,
    /** What is wrong, e.g. "walpb: crc mismatch". */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`wal: ${file} is corrupt at byte offset ${offset} (${reason}); ${CORRUPT_ADVICE}`, options);
    this.name = 'WalCorruptError';
  }
}

/** Another process (or another Wal in this process) holds the WAL directory. */
export class WalLockedError extends WalError {
  constructor(
    readonly dir: string,
    /** Who holds it, as recorded in the lock file, e.g. "pid 1234 on host x since 2024-...". */
    readonly holder: string,
  ) {
    super(
      `wal: ${dir} is locked by another process (${holder}); is another member running on this data directory?`,
    );
    this.name = 'WalLockedError';
  }
}

/** Opening at a snapshot that no WAL snapshot record matches (etcd: "wal: snapshot not found"). */
export class WalSnapshotNotFoundError extends WalError {
  constructor(dir: string, index: number, term: number) {
    super(`wal: snapshot not found: no snapshot record {index: ${index}, term: ${term}} in ${dir}`);
    this.name = 'WalSnapshotNotFoundError';
  }
}

/** A snapshot record with the index opened at but another term (etcd: "wal: snapshot mismatch"). */
export class WalSnapshotMismatchError extends WalError {
  constructor(file: string, offset: number, index: number, want: number, got: number) {
    super(
      `wal: snapshot mismatch: the record at byte offset ${offset} of ${file} has index ${index} with term ${got}, expected term ${want}`,
    );
    this.name = 'WalSnapshotMismatchError';
  }
}

/** No segment can hold the requested index, or the segment sequence has a gap (etcd: "wal: file not found"). */
export class WalNotFoundError extends WalError {
  constructor(message: string) {
    super(`wal: file not found: ${message}`);
    this.name = 'WalNotFoundError';
  }
}

/** Creating a WAL where one already exists. */
export class WalExistsError extends WalError {
  constructor(dir: string) {
    super(`wal: ${dir} already holds a WAL (*.wal files)`);
    this.name = 'WalExistsError';
  }
}

/** Using a WAL after close() or after a failed write left it in an unknown state. */
export class WalClosedError extends WalError {
  constructor(why: string, options?: ErrorOptions) {
    super(`wal: ${why}`, options);
    this.name = 'WalClosedError';
  }
}
