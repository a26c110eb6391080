// The `lease` bucket's rows, as etcd lays them out: key = the lease ID as 8 bytes big-endian (the
// int64's two's complement, etcd's int64ToBytes), value = leasepb.Lease{ID, TTL, RemainingTTL}.

import { Lease as LeasePb } from '../proto/leasepb/lease.js';

export const LEASE_BUCKET = 'lease';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Throws unless `v` is a bigint in the int64 range (what protobuf decoding always gives). */
export function assertInt64(v: unknown, what: string): asserts v is bigint {
  if (typeof v !== 'bigint') throw new TypeError(`lease: ${what} must be a bigint, got ${typeof v}`);
  if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`lease: ${what} ${v} is outside the int64 range`);
}

/** The persisted part of a lease. */
export interface PersistedLease {
  readonly ID: bigint;
  readonly TTL: bigint;
  readonly remainingTTL: bigint;
}

export function leaseKey(id: bigint): Uint8Array {
  const key = new Uint8Array(8);
  new DataView(key.buffer).setBigInt64(0, id);
  return key;
}

export function decodeLeaseKey(key: Uint8Array): bigint {
  if (key.byteLength !== 8) throw new RangeError(`lease: bucket key of ${key.byteLength} bytes, expected 8`);
  return new DataView(key.buffer, key.byteOffset, 8).getBigInt64(0);
}

export function encodeLease(l: PersistedLease): Uint8Array {
  return LeasePb.encode({ ID: l.ID, TTL: l.TTL, RemainingTTL: l.remainingTTL }).finish();
}

/** Decodes one row; a value that does not match its key means a damaged bucket, so it throws. */
export function decodeLeaseRow(key: Uint8Array, value: Uint8Array): PersistedLease {
  const id = decodeLeaseKey(key);
  let pb: LeasePb;
  try {
    pb = LeasePb.decode(value);
  } catch (e) {
    throw new Error(`lease: undecodable lease ${id} in the lease bucket: ${String(e)}`, { cause: e });
  }
  if (pb.ID !== id) throw new Error(`lease: the lease bucket row for ${id} holds lease ${pb.ID}`);
  return { ID: pb.ID, TTL: pb.TTL, remainingTTL: pb.RemainingTTL };
}
