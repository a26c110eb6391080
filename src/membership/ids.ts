// Member and cluster IDs, computed exactly as etcd computes them (reference/etcd-v3.md §3.3), so the
// same --initial-cluster and --initial-cluster-token give the same IDs as etcd.

import { createHash } from 'node:crypto';

import { sortStrings } from './urls.js';

const UINT64_MAX = (1n << 64n) - 1n;

function first8BytesBE(data: Uint8Array): bigint {
  const digest = createHash('sha1').update(data).digest();
  return digest.readBigUInt64BE(0);
}

/**
 * A member's ID: the first 8 bytes (big-endian) of SHA-1 over its peer URLs (normalised strings,
 * sorted, concatenated without separator) followed by the cluster token. A runtime MemberAdd passes
 * an empty token and the proposing member's wall clock in whole unix seconds, so re-adding the same URLs
 * later gives a new ID.
 */
export function computeMemberId(peerUrls: readonly string[], token: string, unixSeconds?: number): bigint {
  let text = sortStrings(peerUrls).join('') + token;
  if (unixSeconds !== undefined) {
    if (!Number.isSafeInteger(unixSeconds))
      throw new RangeError(`unix seconds must be an integer: ${unixSeconds}`);
    text += String(unixSeconds);
  }
  return first8BytesBE(Buffer.from(text, 'utf8'));
}

/** Whole unix seconds of a millisecond timestamp, rounded down as Go's Time.Unix() does. */
export function unixSeconds(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}

/** The ID of a member added at runtime (MemberAdd) at time `nowMs`. */
export function computeAddedMemberId(peerUrls: readonly string[], nowMs: number): bigint {
  return computeMemberId(peerUrls, '', unixSeconds(nowMs));
}

/** The cluster ID: first 8 bytes (BE) of SHA-1 over the member IDs, ascending, each 8 bytes BE. */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => buf.writeBigUInt64BE(checkId(id), 8 * i));
  return first8BytesBE(buf);
}

function checkId(id: bigint): bigint {
  if (id < 0n || id > UINT64_MAX) throw new RangeError(`not a uint64 ID: ${id}`);
  return id;
}

/** Lower-case hex without leading zeros (etcd's `%x` / types.ID.String()). */
export function formatId(id: bigint): string {
  return checkId(id).toString(16);
}

/** Hex as etcdctl and etcd accept it (strconv.ParseUint(s, 16, 64)): no prefix, either case. */
export function parseId(text: string): bigint {
  if (!/^[0-9a-fA-F]+$/.test(text)) throw new RangeError(`invalid member ID ${JSON.stringify(text)}`);
  const id = BigInt('0x' + text);
  if (id > UINT64_MAX) throw new RangeError(`member ID ${JSON.stringify(text)} is out of range`);
  return id;
}

/** The backend key of a member in `members` / `members_removed`: its hex ID as ASCII. */
export function memberKey(id: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(formatId(id), 'latin1'));
}

/** The inverse of memberKey. */
export function parseMemberKey(key: Uint8Array): bigint {
  return parseId(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'));
}
