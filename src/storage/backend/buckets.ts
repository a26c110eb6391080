// etcd's bucket schema (server/storage/schema/bucket.go; reference/etcd-v3.md §4.3). Every bucket
// is a named LMDB sub-database created when the backend opens, so all ten exist from the start as in
// an etcd data dir. Keys and values are raw bytes; the layers above encode them as etcd does.

export const BUCKETS = [
  'key',
  'meta',
  'lease',
  'alarm',
  'members',
  'members_removed',
  'cluster',
  'auth',
  'authUsers',
  'authRoles',
] as const;

export type Bucket = (typeof BUCKETS)[number];

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** meta bucket: the index of the last raft entry applied to this backend (8-byte big-endian). */
export const META_CONSISTENT_INDEX_KEY: Uint8Array = ascii('consistent_index');
/** meta bucket: the term of that entry (8-byte big-endian; etcd 3.5 adds it). */
export const META_TERM_KEY: Uint8Array = ascii('term');

const TWO_32 = 2 ** 32;

/** An unsigned integer below 2^53 as 8 bytes, big-endian (etcd's binary.BigEndian.PutUint64). */
export function encodeUint64BE(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not an unsigned safe integer: ${n}`);
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, Math.floor(n / TWO_32));
  v.setUint32(4, n >>> 0);
  return b;
}

/** The inverse of encodeUint64BE; throws for a length other than 8 or a value of 2^53 or more. */
export function decodeUint64BE(b: Uint8Array, what = 'uint64'): number {
  if (b.byteLength !== 8) throw new RangeError(`${what}: expected 8 bytes, got ${b.byteLength}`);
  const v = new DataView(b.buffer, b.byteOffset, 8);
  const hi = v.getUint32(0);
  if (hi >= 0x200000) throw new RangeError(`${what}: value exceeds Number.MAX_SAFE_INTEGER (2^53 - 1)`);
  return hi * TWO_32 + v.getUint32(4);
}
