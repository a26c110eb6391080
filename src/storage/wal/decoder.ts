// Reading a WAL: decoding the frames of the selected segments, checking the CRC chain, and replaying
// the records into (metadata, hard state, entries), as etcd 3.4's decoder.go and WAL.ReadAll do.
//
// Damage is classified exactly as etcd classifies it:
//   - a zero length word ends a file's data (preallocated space): not damage;
//   - in the LAST segment, a file that ends inside a frame, or a record that fails to decode or fails
//     its CRC and has a 512-byte-sector chunk that is all zeros, is a TORN write (etcd:
//     io.ErrUnexpectedEOF): the caller may repair it by truncating there;
//   - anything else (a bad record in an earlier segment, or a bad record in the last one with no zero
//     chunk, a crc record that contradicts the chain, an unknown record type, conflicting metadata,
//     a record over 10 MB) is corruption: WalCorruptError naming the file and byte offset.
// One deliberate difference: etcd's gogoproto Unmarshal reports a length that runs past the end of
// the record as io.ErrUnexpectedEOF, which etcd then "repairs" even in a complete record with no zero
// sector; here that is corruption like any other undecodable complete record.

import path from 'node:path';
import { decodeEntry, decodeHardState } from '../../raft/codec.js';
import { EMPTY_BYTES, EMPTY_HARD_STATE, type Entry, type HardState } from '../../raft/types.js';
import { WalCorruptError, WalSnapshotMismatchError } from './errors.js';
import type { WalFile, WalFs } from './fs.js';
import {
  CRC_TYPE,
  ENTRY_TYPE,
  FRAME_HEADER_BYTES,
  MAX_RECORD_BYTES,
  METADATA_TYPE,
  SECTOR_BYTES,
  SNAPSHOT_TYPE,
  STATE_TYPE,
  chainCrc,
  decodeLengthWord,
  decodeMetadata,
  decodeRecord,
  decodeWalSnapshot,
  type WalMetadata,
  type WalRecord,
  type WalSnapshot,
} from './record.js';
import type { SegmentName } from './segment.js';

/** Where a torn write was found: the last segment's data ends before `offset`. */
export interface TornTail {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
}

export interface ScanResult {
  /** The marshalled metadata (compared byte for byte between segments, as etcd does). */
  readonly metadataBytes: Uint8Array | undefined;
  readonly metadata: WalMetadata | undefined;
  /** The last hard state recorded (empty if none). */
  readonly hardState: HardState;
  /** Entries after the snapshot index, later records for an index replacing earlier ones. */
  readonly entries: Entry[];
  /** Whether a snapshot record matched the position opened at. */
  readonly matched: boolean;
  /** Every snapshot record read, in log order. */
  readonly snapshots: WalSnapshot[];
  /** The running CRC after the last good record. */
  readonly crc: number;
  /** Index of the last entry record read (0 if none). */
  readonly lastIndex: number;
  /** Offset in the last segment just past its last good record. */
  readonly tailEnd: number;
  /** Set when reading stopped at a torn write in the last segment. */
  readonly torn: TornTail | undefined;
}

/** Bytes read from a segment at a time. */
const CHUNK_BYTES = 1 << 20;

/** Positional reads through a reusable buffer. A returned view is valid until the next get(). */
class ChunkReader {
  private buf = new Uint8Array(0);
  private start = 0;
  private len = 0;

  constructor(
    private readonly file: WalFile,
    private readonly size: number,
  ) {}

  /** Up to `n` bytes at `pos` (fewer only at the end of the file). */
  get(pos: number, n: number): Uint8Array {
    if (pos >= this.start && pos + n <= this.start + this.len) {
      return this.buf.subarray(pos - this.start, pos - this.start + n);
    }
    const want = Math.max(0, Math.min(Math.max(CHUNK_BYTES, n), this.size - pos));
    if (this.buf.byteLength < want) this.buf = new Uint8Array(Math.max(want, CHUNK_BYTES));
    const got = this.file.read(this.buf.subarray(0, want), pos);
    this.start = pos;
    this.len = got;
    return this.buf.subarray(0, Math.min(n, got));
  }
}

/**
 * etcd's isTornEntry: split a record's bytes (as read, padding included) at the disk's sector
 * boundaries; if any piece is all zeros, the record was most likely torn by a crash mid-write.
 */
export function hasZeroSectorChunk(data: Uint8Array, fileOffset: number): boolean {
  let off = fileOffset;
  let cur = 0;
  while (cur < data.byteLength) {
    const chunkLen = Math.min(SECTOR_BYTES - (off % SECTOR_BYTES), data.byteLength - cur);
    let zero = true;
    for (let k = cur; k < cur + chunkLen; k++) {
      if (data[k] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return true;
    off += chunkLen;
    cur += chunkLen;
  }
  return false;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Thrown inside the scan to stop at a torn tail; never escapes scanSegments. */
class Torn {
  constructor(readonly tail: TornTail) {}
}

/**
 * Reads `segments` (from `dir`, oldest first) opened at snapshot `at`. Throws WalCorruptError or
 * WalSnapshotMismatchError; a torn tail in the last segment is reported in `torn`, not thrown.
 */
export function scanSegments(
  fs: WalFs,
  dir: string,
  segments: readonly SegmentName[],
  at: WalSnapshot,
  /**
   * false: entries are decoded (so damage is found) but not assembled into a log, as etcd's
   * ValidSnapshotEntries reads them; a WAL may then begin after index 1 (after a purge, or a WAL
   * written from a snapshot on) without being opened at that snapshot. `entries` stays empty.
   */
  assembleEntries = true,
): ScanResult {
  let crc = 0;
  let metadataBytes: Uint8Array | undefined;
  let metadata: WalMetadata | undefined;
  let hardState: HardState = EMPTY_HARD_STATE;
  const entries: Entry[] = [];
  let matched = false;
  const snapshots: WalSnapshot[] = [];
  let lastIndex = 0;
  let tailEnd = 0;
  let torn: TornTail | undefined;

  for (let i = 0; i < segments.length && torn === undefined; i++) {
    const isLast = i === segments.length - 1;
    const file = path.join(dir, segments[i].name);
    const f = fs.open(file, 'r');
    let pos = 0;
    try {
      const reader = new ChunkReader(f, f.size());

      /** Damage at the frame starting at `pos`: a torn tail if allowed here, else corruption. */
      const damaged = (reason: string, frame: Uint8Array | undefined, cause?: unknown): never => {
        const tornHere =
          isLast && (frame === undefined || hasZeroSectorChunk(frame, pos + FRAME_HEADER_BYTES));
        if (tornHere) throw new Torn({ file, offset: pos, reason });
        throw new WalCorruptError(file, pos, reason, cause === undefined ? undefined : { cause });
      };

      const replay = (rec: WalRecord): void => {
        const data = rec.data ?? EMPTY_BYTES;
        switch (rec.type) {
          case ENTRY_TYPE: {
            let e: Entry;
            try {
              e = decodeEntry(data.slice()); // a copy: the chunk buffer is reused
            } catch (err) {
              throw new WalCorruptError(file, pos, `undecodable raftpb.Entry: ${message(err)}`, {
                cause: err,
              });
            }
            if (assembleEntries && e.index > at.index) {
              const up = e.index - at.index - 1;
              if (up > entries.length) {
                throw new WalCorruptError(
                  file,
                  pos,
                  `wal: slice bounds out of range: entry ${e.index} follows entry ${at.index + entries.length}`,
                );
              }
              entries.length = up; // a later record for an index replaces it and everything after it
              entries.push(e);
            }
            lastIndex = e.index;
            break;
          }
          case STATE_TYPE:
            try {
              hardState = decodeHardState(data);
            } catch (err) {
              throw new WalCorruptError(file, pos, `undecodable raftpb.HardState: ${message(err)}`, {
                cause: err,
              });
            }
            break;
          case METADATA_TYPE:
            if (metadataBytes !== undefined && !bytesEqual(metadataBytes, data)) {
              throw new WalCorruptError(file, pos, 'wal: conflicting metadata found');
            }
            try {
              metadata = decodeMetadata(data);
            } catch (err) {
              throw new WalCorruptError(file, pos, `undecodable metadata: ${message(err)}`, { cause: err });
            }
            metadataBytes = data.slice();
            break;
          case CRC_TYPE:
            // A crc record must carry the running CRC; 0 means reading just started (no chain yet).
            if (crc !== 0 && rec.crc !== crc) {
              throw new WalCorruptError(
                file,
                pos,
                `wal: crc mismatch: the crc record carries ${rec.crc.toString(16)}, the chain is at ${crc.toString(16)}`,
              );
            }
            crc = rec.crc;
            break;
          case SNAPSHOT_TYPE: {
            let s: WalSnapshot;
            try {
              s = decodeWalSnapshot(data);
            } catch (err) {
              throw new WalCorruptError(file, pos, `undecodable walpb.Snapshot: ${message(err)}`, {
                cause: err,
              });
            }
            if (s.index === at.index) {
              if (s.term !== at.term) throw new WalSnapshotMismatchError(file, pos, s.index, at.term, s.term);
              matched = true;
            }
            snapshots.push(s);
            break;
          }
          default:
            throw new WalCorruptError(file, pos, `wal: unexpected block type ${rec.type}`);
        }
      };

      for (;;) {
        const head = reader.get(pos, FRAME_HEADER_BYTES);
        if (head.byteLength === 0) break; // end of file at a frame boundary
        if (head.byteLength < FRAME_HEADER_BYTES) damaged('unexpected EOF inside a length word', undefined);
        const lo = head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24);
        const hi = head[4] | (head[5] << 8) | (head[6] << 16) | (head[7] << 24);
        if (lo === 0 && hi === 0) break; // preallocated space: the end of this file's data
        const { recordBytes, padBytes } = decodeLengthWord(lo >>> 0, hi >>> 0);
        if (recordBytes >= MAX_RECORD_BYTES - padBytes) {
          throw new WalCorruptError(
            file,
            pos,
            `wal: max entry size limit exceeded (a ${recordBytes}-byte record; the limit is ${MAX_RECORD_BYTES})`,
          );
        }
        const frame = reader.get(pos + FRAME_HEADER_BYTES, recordBytes + padBytes);
        if (frame.byteLength < recordBytes + padBytes) damaged('unexpected EOF inside a record', undefined);
        let rec: WalRecord;
        try {
          rec = decodeRecord(frame.subarray(0, recordBytes));
        } catch (err) {
          rec = damaged(message(err), frame, err);
        }
        if (rec.type !== CRC_TYPE) {
          crc = chainCrc(crc, rec.data);
          if (rec.crc !== crc) damaged('walpb: crc mismatch', frame);
        }
        replay(rec);
        pos += FRAME_HEADER_BYTES + recordBytes + padBytes;
      }
    } catch (e) {
      if (!(e instanceof Torn)) throw e;
      torn = e.tail;
    } finally {
      f.close();
    }
    if (isLast) tailEnd = pos;
  }

  return {
    metadataBytes,
    metadata,
    hardState,
    entries,
    matched,
    snapshots,
    crc,
    lastIndex,
    tailEnd,
    torn,
  };
}
