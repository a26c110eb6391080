// The WAL's on-disk records, byte-compatible with etcd 3.4 (wal/encoder.go, wal/decoder.go, walpb).
//
// A segment is a sequence of frames. A frame is an 8-byte little-endian length word, the marshalled
// walpb.Record, and zero padding to the next multiple of 8 bytes. The low 56 bits of the length word
// are the record length; when there is padding (p > 0 bytes) the top byte is 0x80 | p. Frames are
// 8-byte aligned so the length word can never be torn across two disk sectors, and a zero length
// word (preallocated space) ends the data of a file.
//
//   walpb.Record   { 1 type int64; 2 crc uint32; 3 data bytes }       type and crc always written
//   type 1 metadata  etcdserverpb.Metadata { 1 NodeID uint64; 2 ClusterID uint64 }
//   type 2 entry     raftpb.Entry
//   type 3 state     raftpb.HardState
//   type 4 crc       no data; crc = the running CRC so far (starts every segment)
//   type 5 snapshot  walpb.Snapshot { 1 index uint64; 2 term uint64 }
//
// The CRC is CRC-32C chained over the data of every non-crc record: record.crc = crc32c(data, prev),
// continuing across segment files. It covers neither the type nor the length word.

import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { crc32c } from '@node-rs/crc32';
import type { NodeId } from '../../raft/types.js';

export const METADATA_TYPE = 1;
export const ENTRY_TYPE = 2;
export const STATE_TYPE = 3;
export const CRC_TYPE = 4;
export const SNAPSHOT_TYPE = 5;

export const RECORD_TYPE_NAMES: { readonly [type: number]: string } = {
  [METADATA_TYPE]: 'metadata',
  [ENTRY_TYPE]: 'entry',
  [STATE_TYPE]: 'state',
  [CRC_TYPE]: 'crc',
  [SNAPSHOT_TYPE]: 'snapshot',
};

/** Bytes of the length word in front of every record. */
export const FRAME_HEADER_BYTES = 8;

/** etcd's maxWALEntrySizeLimit: a longer record is refused on read ("wal: max entry size limit exceeded"). */
export const MAX_RECORD_BYTES = 10 * 1024 * 1024;

/** etcd's minSectorSize: the granularity at which a torn write is detected. */
export const SECTOR_BYTES = 512;

/** A decoded walpb.Record. `data` is undefined when the field is absent (crc records). */
export interface WalRecord {
  readonly type: number;
  readonly crc: number;
  readonly data: Uint8Array | undefined;
}

/** The WAL's metadata record: which member of which cluster this log belongs to. */
export interface WalMetadata {
  readonly nodeId: NodeId;
  readonly clusterId: bigint;
}

/** A walpb.Snapshot: the raft snapshot position a snapshot record marks. */
export interface WalSnapshot {
  readonly index: number;
  readonly term: number;
}

const VARINT = WireType.Varint;
const LEN = WireType.LengthDelimited;
const UINT64_MAX = (1n << 64n) - 1n;

// ---- Frames -------------------------------------------------------------------------------------

/** The padding etcd puts after a record of `recordBytes` bytes. */
export function padBytesFor(recordBytes: number): number {
  return (8 - (recordBytes % 8)) % 8;
}

/** Writes the length word of a `recordBytes`-byte record at `at` of `view` and returns the padding. */
export function writeLengthWord(view: DataView, at: number, recordBytes: number): number {
  const pad = padBytesFor(recordBytes);
  const hi = Math.floor(recordBytes / 0x1_0000_0000);
  view.setUint32(at, recordBytes >>> 0, true);
  view.setUint32(at + 4, (hi | (pad === 0 ? 0 : (0x80 | pad) << 24)) >>> 0, true);
  return pad;
}

/** The record length and padding of a length word given as its two little-endian 32-bit halves. */
export function decodeLengthWord(lo: number, hi: number): { recordBytes: number; padBytes: number } {
  const recordBytes = lo + (hi & 0x00ff_ffff) * 0x1_0000_0000;
  // etcd: a negative length word (top bit set) carries the padding in the low 3 bits of its top byte.
  const padBytes = (hi & 0x8000_0000) !== 0 ? (hi >>> 24) & 0x7 : 0;
  return { recordBytes, padBytes };
}

/** One frame: the length word, the record and its padding. */
export function encodeFrame(record: Uint8Array): Uint8Array {
  const pad = padBytesFor(record.byteLength);
  const out = new Uint8Array(FRAME_HEADER_BYTES + record.byteLength + pad);
  writeLengthWord(new DataView(out.buffer), 0, record.byteLength);
  out.set(record, FRAME_HEADER_BYTES);
  return out;
}

// ---- walpb.Record -------------------------------------------------------------------------------

const recordWriter = new BinaryWriter();

/**
 * The walpb.Record fields before the data bytes: type, crc and, when there is data, its tag and
 * length. The data bytes follow these verbatim, so the framer copies them once, straight from the
 * caller's buffer into the batch.
 */
function encodeRecordHeader(type: number, crc: number, dataBytes: number | undefined): Uint8Array {
  const w = recordWriter;
  w.uint32((1 << 3) | VARINT).int64(type);
  w.uint32((2 << 3) | VARINT).uint32(crc >>> 0);
  if (dataBytes !== undefined) w.uint32((3 << 3) | LEN).uint32(dataBytes);
  return w.finish();
}

/** Marshals a walpb.Record like gogoproto: type and crc always, data only when present (non-nil). */
export function encodeRecord(type: number, crc: number, data: Uint8Array | undefined): Uint8Array {
  const header = encodeRecordHeader(type, crc, data?.byteLength);
  if (data === undefined) return header;
  const out = new Uint8Array(header.byteLength + data.byteLength);
  out.set(header);
  out.set(data, header.byteLength);
  return out;
}

/**
 * Unmarshals a walpb.Record with gogoproto's rules: fields in any order, the last occurrence wins,
 * unknown fields skipped, a known field with the wrong wire type or a truncated input is an error
 * (a plain Error whose message says what is wrong). One check gogo lacks: a crc varint with bits past
 * 32 is an error (etcd never writes one; a flipped bit there would otherwise go unnoticed).
 * `data` is a subarray of `b`.
 */
export function decodeRecord(b: Uint8Array): WalRecord {
  const r = new BinaryReader(b);
  let type = 0;
  let crc = 0;
  let data: Uint8Array | undefined;
  try {
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      switch (no) {
        case 1: {
          expectWireType('type', wt, VARINT);
          const v = r.int64();
          // Only 1..5 mean anything; keep anything else recognisably unknown.
          type = typeof v === 'bigint' && v >= 0n && v <= 0x7fff_ffffn ? Number(v) : -1;
          break;
        }
        case 2: {
          expectWireType('crc', wt, VARINT);
          const start = r.pos;
          crc = r.uint32();
          // gogo silently drops bits past 32; etcd never writes them, so they can only be damage.
          const n = r.pos - start;
          if (n > 5 || (n === 5 && b[r.pos - 1] > 0x0f)) throw new Error('crc varint overflows 32 bits');
          break;
        }
        case 3:
          expectWireType('data', wt, LEN);
          data = r.bytes();
          break;
        default:
          r.skip(wt, no);
      }
    }
  } catch (e) {
    if (e instanceof RangeError) throw new Error('walpb: record is truncated (unexpected EOF)', { cause: e });
    if (e instanceof Error) throw new Error(`walpb: ${e.message}`, { cause: e });
    throw e;
  }
  return { type, crc, data };
}

function expectWireType(field: string, got: WireType, want: WireType): void {
  if (got !== want) throw new Error(`wrong wire type ${got} for field ${field}`);
}

/** etcd's walpb.Record.Validate. */
export function crcMatches(record: WalRecord, runningCrc: number): boolean {
  return record.crc === runningCrc >>> 0;
}

/** The running CRC after a record's data. */
export function chainCrc(prev: number, data: Uint8Array | undefined): number {
  return data === undefined || data.byteLength === 0 ? prev : crc32c(data, prev);
}

// ---- Metadata and walpb.Snapshot ----------------------------------------------------------------

function checkU64(what: string, v: bigint): void {
  if (typeof v !== 'bigint' || v < 0n || v > UINT64_MAX)
    throw new RangeError(`${what} must be a uint64 bigint`);
}

function checkU53(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative safe integer`);
}

/** etcdserverpb.Metadata, both fields always written (gogoproto nullable=false). */
export function encodeMetadata(md: WalMetadata): Uint8Array {
  checkU64('nodeId', md.nodeId);
  checkU64('clusterId', md.clusterId);
  return new BinaryWriter()
    .uint32((1 << 3) | VARINT)
    .uint64(md.nodeId)
    .uint32((2 << 3) | VARINT)
    .uint64(md.clusterId)
    .finish();
}

export function decodeMetadata(b: Uint8Array): WalMetadata {
  const r = new BinaryReader(b);
  let nodeId = 0n;
  let clusterId = 0n;
  try {
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      if (no === 1 || no === 2) {
        expectWireType(no === 1 ? 'NodeID' : 'ClusterID', wt, VARINT);
        const v = BigInt(r.uint64());
        if (no === 1) nodeId = v;
        else clusterId = v;
      } else r.skip(wt, no);
    }
  } catch (e) {
    throw new Error(`etcdserverpb.Metadata: ${e instanceof RangeError ? 'truncated' : String(e)}`, {
      cause: e,
    });
  }
  return { nodeId, clusterId };
}

/** walpb.Snapshot { index, term }, both always written. */
export function encodeWalSnapshot(s: WalSnapshot): Uint8Array {
  checkU53('snapshot index', s.index);
  checkU53('snapshot term', s.term);
  return new BinaryWriter()
    .uint32((1 << 3) | VARINT)
    .uint64(s.index)
    .uint32((2 << 3) | VARINT)
    .uint64(s.term)
    .finish();
}

/** Decodes a walpb.Snapshot; etcd 3.5's conf_state (field 3) is skipped. */
export function decodeWalSnapshot(b: Uint8Array): WalSnapshot {
  const r = new BinaryReader(b);
  let index = 0;
  let term = 0;
  try {
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      if (no === 1 || no === 2) {
        expectWireType(no === 1 ? 'index' : 'term', wt, VARINT);
        const v = BigInt(r.uint64());
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${v} exceeds Number.MAX_SAFE_INTEGER`);
        if (no === 1) index = Number(v);
        else term = Number(v);
      } else r.skip(wt, no);
    }
  } catch (e) {
    throw new Error(`walpb.Snapshot: ${e instanceof RangeError ? 'truncated' : String(e)}`, { cause: e });
  }
  return { index, term };
}

// ---- Batches ------------------------------------------------------------------------------------

/** A batch buffer grown beyond this is dropped once written, so one huge batch does not pin memory. */
const RETAIN_BYTES = 4 * 1024 * 1024;

/**
 * Frames records into one contiguous buffer (one write per batch) while keeping the running CRC.
 * The buffer is reused between batches; take() returns a view that is valid until the next add().
 */
export class FrameBuilder {
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  constructor(
    /** The running CRC: the crc of the last non-crc record framed (or the chain's seed). */
    public crc: number,
  ) {}

  get byteLength(): number {
    return this.len;
  }

  /** Frames a record of `type`. Non-crc records chain the CRC over `data`; crc records carry it. */
  add(type: number, data: Uint8Array | undefined): void {
    if (this.len === 0 && this.buf.byteLength > RETAIN_BYTES) this.resetBuffer();
    if (type !== CRC_TYPE) this.crc = chainCrc(this.crc, data);
    const header = encodeRecordHeader(type, this.crc, data?.byteLength);
    const recordBytes = header.byteLength + (data?.byteLength ?? 0);
    if (recordBytes >= MAX_RECORD_BYTES - padBytesFor(recordBytes)) {
      // It could be written but never read back (etcd would refuse it on read): refuse it now.
      throw new RangeError(
        `wal: a ${RECORD_TYPE_NAMES[type] ?? type} record of ${recordBytes} bytes exceeds the ${MAX_RECORD_BYTES}-byte limit`,
      );
    }
    const frameBytes = FRAME_HEADER_BYTES + recordBytes + padBytesFor(recordBytes);
    this.reserve(frameBytes);
    const at = this.len;
    writeLengthWord(this.view, at, recordBytes);
    this.buf.set(header, at + FRAME_HEADER_BYTES);
    if (data !== undefined) this.buf.set(data, at + FRAME_HEADER_BYTES + header.byteLength);
    this.buf.fill(0, at + FRAME_HEADER_BYTES + recordBytes, at + frameBytes);
    this.len += frameBytes;
  }

  /** The framed bytes so far; the builder is empty afterwards. */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.len);
    this.len = 0;
    return out;
  }

  /** Drops framed bytes without writing them, restoring the CRC the caller saved. */
  discard(crc: number): void {
    this.len = 0;
    this.crc = crc;
  }

  private resetBuffer(): void {
    this.buf = new Uint8Array(64 * 1024);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}
