// The on-disk envelope of a raft snapshot file, etcd's snappb.Snapshot (proto2, gogoproto):
//
//   message snapshot { optional uint32 crc = 1 [(gogoproto.nullable) = false]; optional bytes data = 2; }
//
// `data` is a marshalled raftpb.Snapshot and `crc` its CRC-32C (Castagnoli), computed from a zero
// seed exactly as etcd's `crc32.Update(0, crcTable, data)`. Like gogoproto, the encoder always writes
// crc (even 0) and then data, so a file is byte-for-byte what etcd would write for the same snapshot.

import { crc32c } from '@node-rs/crc32';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

export interface SnapEnvelope {
  readonly crc: number;
  readonly data: Uint8Array;
}

/** CRC-32C of `data`, as etcd computes the snapshot checksum. */
export function snapCrc(data: Uint8Array): number {
  return crc32c(data) >>> 0;
}

/** Marshals snappb.Snapshot{crc = CRC-32C(data), data}. */
export function encodeSnapEnvelope(data: Uint8Array): Uint8Array {
  return new BinaryWriter()
    .tag(1, WireType.Varint)
    .uint32(snapCrc(data))
    .tag(2, WireType.LengthDelimited)
    .bytes(data)
    .finish();
}

/**
 * Unmarshals snappb.Snapshot. Strict: a known field with the wrong wire type, a length running past
 * the input and a truncated varint throw; unknown fields are skipped as protobuf requires. `data` is a
 * subarray of `b` (no copy). The CRC is NOT checked here (see readSnapFile).
 */
export function decodeSnapEnvelope(b: Uint8Array): SnapEnvelope {
  const r = new BinaryReader(b);
  let crc = 0;
  let data: Uint8Array = new Uint8Array(0);
  while (r.pos < b.byteLength) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1:
        if (wt !== WireType.Varint) throw new Error(`field 1 (crc) has wire type ${wt}, expected varint`);
        crc = r.uint32();
        break;
      case 2: {
        if (wt !== WireType.LengthDelimited) {
          throw new Error(`field 2 (data) has wire type ${wt}, expected length-delimited`);
        }
        const n = r.uint32();
        if (n > b.byteLength - r.pos) {
          throw new Error(
            `field 2 (data) length ${n} runs past the end (${b.byteLength - r.pos} bytes left)`,
          );
        }
        data = b.subarray(r.pos, r.pos + n);
        r.pos += n;
        break;
      }
      default:
        r.skip(wt, no);
    }
    if (r.pos > b.byteLength) throw new Error('truncated input');
  }
  return { crc, data };
}
