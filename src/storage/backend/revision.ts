// Keys of the `key` bucket: etcd's revision encoding (server/storage/mvcc/revision.go).
//
//   main (8 bytes, big-endian) '_' (0x5f) sub (8 bytes, big-endian)          17 bytes
//   ... followed by 't' (0x74) for a tombstone (the key was deleted)          18 bytes
//
// Big-endian fixed width makes LMDB's byte order the revision order, so a range scan over the bucket
// walks history in (main, sub) order.
//
// WHY NUMBERS, NOT BIGINT. etcd's revisions are int64. Here main and sub are JS numbers, kept below
// 2^53 by construction: the main revision grows by at most one per applied raft entry (one write txn
// per entry), and raft indexes are numbers that the raft codec already refuses above 2^53 - 1; a
// restored keyspace starts from the revision stored in the file, and --bump-revision adds a
// user-given amount, both checked against the same bound; sub counts the operations of one txn
// (bounded by the request size). Reaching 2^53 at a million writes per second takes 285 years. The
// decoder refuses a key whose main or sub is 2^53 or more (or negative as int64) instead of rounding,
// so foreign data can never be misread silently.

export const REVISION_KEY_LENGTH = 17;
export const TOMBSTONE_KEY_LENGTH = 18;
const SEPARATOR = 0x5f; // '_'
const TOMBSTONE_MARK = 0x74; // 't'
const TWO_32 = 2 ** 32;

export interface RevisionKey {
  readonly main: number;
  readonly sub: number;
  readonly tombstone: boolean;
}

function writeU53(v: DataView, off: number, n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`revision ${what} must be a safe integer >= 0: ${n}`);
  v.setUint32(off, Math.floor(n / TWO_32));
  v.setUint32(off + 4, n >>> 0);
}

function readU53(v: DataView, off: number, what: string): number {
  const hi = v.getUint32(off);
  if (hi >= 0x200000) {
    throw new RangeError(`revision ${what} exceeds Number.MAX_SAFE_INTEGER (2^53 - 1) or is negative`);
  }
  return hi * TWO_32 + v.getUint32(off + 4);
}

/** The 17-byte key of revision (main, sub), or the 18-byte tombstone key. */
export function encodeRevisionKey(main: number, sub: number, tombstone = false): Uint8Array {
  const b = new Uint8Array(tombstone ? TOMBSTONE_KEY_LENGTH : REVISION_KEY_LENGTH);
  const v = new DataView(b.buffer);
  writeU53(v, 0, main, 'main');
  b[8] = SEPARATOR;
  writeU53(v, 9, sub, 'sub');
  if (tombstone) b[17] = TOMBSTONE_MARK;
  return b;
}

/** The inverse of encodeRevisionKey; throws RangeError for anything that is not such a key. */
export function decodeRevisionKey(key: Uint8Array): RevisionKey {
  const n = key.byteLength;
  if (n !== REVISION_KEY_LENGTH && n !== TOMBSTONE_KEY_LENGTH) {
    throw new RangeError(`revision key: expected 17 or 18 bytes, got ${n}`);
  }
  if (key[8] !== SEPARATOR)
    throw new RangeError(`revision key: byte 8 is 0x${key[8].toString(16)}, expected '_'`);
  if (n === TOMBSTONE_KEY_LENGTH && key[17] !== TOMBSTONE_MARK) {
    throw new RangeError(`revision key: byte 17 is 0x${key[17].toString(16)}, expected 't'`);
  }
  const v = new DataView(key.buffer, key.byteOffset, n);
  return { main: readU53(v, 0, 'main'), sub: readU53(v, 9, 'sub'), tombstone: n === TOMBSTONE_KEY_LENGTH };
}

/** Whether a `key` bucket key marks a deletion (etcd's isTombstone). */
export function isTombstoneKey(key: Uint8Array): boolean {
  return key.byteLength === TOMBSTONE_KEY_LENGTH && key[17] === TOMBSTONE_MARK;
}
