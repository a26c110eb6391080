// The on-disk format of bbolt (go.etcd.io/bbolt 1.3.x, etcd's fork of BoltDB), the file behind etcd's
// `member/snap/db` and `etcdctl snapshot save`. Only the facts the writer and the reader share live
// here: constants, the page header, the meta page and its checksum, and bounds-checked decoding of
// page elements. Everything is little-endian.
//
//   page header (16 bytes)    id u64 | flags u16 | count u16 | overflow u32
//                             a page with overflow N spans pages id .. id+N
//   meta (pages 0 and 1)      magic u32 | version u32 | pageSize u32 | flags u32 | root {pgid u64,
//                             sequence u64} | freelist u64 | pgid u64 (high water mark) | txid u64 |
//                             checksum u64 = FNV-1a 64 of the 56 bytes before it
//   leaf element (16 bytes)   flags u32 (1 = bucket) | pos u32 | ksize u32 | vsize u32
//   branch element (16 bytes) pos u32 | ksize u32 | pgid u64
//                             pos counts from the element header itself to its key; value follows key
//   bucket value              root u64 | sequence u64, then (root = 0, "inline") a leaf page image
//   freelist page             count u16 free pgids (count 0xFFFF: the real count is the first u64)
//
// WHY PGIDS ARE NUMBERS. Page ids are u64 on disk, but a file of 2^53 pages of 4 KiB is 32 ZiB: any id
// at or above 2^53 is corrupt by definition. readU64 returns such ids approximately (still far above
// any high water mark), so bounds checks reject them without a BigInt on every element.

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
export const DEFAULT_PAGE_SIZE = 4096;
export const MIN_PAGE_SIZE = 1024;
export const MAX_PAGE_SIZE = 65536;

export const PAGE_HEADER_SIZE = 16;
export const LEAF_ELEMENT_SIZE = 16;
export const BRANCH_ELEMENT_SIZE = 16;
export const BUCKET_HEADER_SIZE = 16;
/** The meta body, from magic to checksum inclusive. */
export const META_SIZE = 64;
const META_CHECKSUM_OFFSET = 56;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;

/** bbolt's MaxKeySize and MaxValueSize (what Bucket.Put accepts). */
export const MAX_KEY_SIZE = 32768;
export const MAX_VALUE_SIZE = 2 ** 31 - 2;

/** A page count at or above 0xFFFF moves the freelist length into the first u64 element. */
export const FREELIST_COUNT_OVERFLOW = 0xffff;

/** A key and its value. Readers hand out fresh arrays; treat them as read-only all the same. */
export interface BboltEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** Raised for a file that is not a usable bbolt database, and for invalid writer input. */
export class BboltError extends Error {
  constructor(message: string) {
    super(`bbolt: ${message}`);
    this.name = 'BboltError';
  }
}

const TWO_32 = 2 ** 32;

/** A u64 as a number: exact below 2^53, approximate (and huge) above. */
export function readU64(v: DataView, off: number): number {
  return v.getUint32(off + 4, true) * TWO_32 + v.getUint32(off, true);
}

export function writeU64(v: DataView, off: number, n: number): void {
  v.setUint32(off, n >>> 0, true);
  v.setUint32(off + 4, Math.floor(n / TWO_32), true);
}

export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Bytewise comparison, as bbolt orders keys (bytes.Compare). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** A key for a message: hex, cut after 64 bytes. */
export function hexKey(b: Uint8Array): string {
  const s = Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 64)).toString('hex');
  return b.byteLength > 64 ? `${s}...` : s;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;

/** FNV-1a, 64 bits (Go's hash/fnv New64a), the meta checksum. */
export function fnv64a(bytes: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const byte of bytes) h = BigInt.asUintN(64, (h ^ BigInt(byte)) * FNV_PRIME);
  return h;
}

// ---- Page header ---------------------------------------------------------------------------------

export interface PageHeader {
  readonly id: number;
  readonly flags: number;
  readonly count: number;
  readonly overflow: number;
}

export function readPageHeader(page: Uint8Array): PageHeader {
  const v = viewOf(page);
  return {
    id: readU64(v, 0),
    flags: v.getUint16(8, true),
    count: v.getUint16(10, true),
    overflow: v.getUint32(12, true),
  };
}

export function writePageHeader(page: Uint8Array, h: PageHeader): void {
  const v = viewOf(page);
  writeU64(v, 0, h.id);
  v.setUint16(8, h.flags, true);
  v.setUint16(10, h.count, true);
  v.setUint32(12, h.overflow, true);
}

/** bbolt's page.typ(): the name of a page type, as its error messages print it. */
export function pageType(flags: number): string {
  if (flags & BRANCH_PAGE) return 'branch';
  if (flags & LEAF_PAGE) return 'leaf';
  if (flags & META_PAGE) return 'meta';
  if (flags & FREELIST_PAGE) return 'freelist';
  return `unknown<${flags.toString(16).padStart(2, '0')}>`;
}

// ---- Meta ----------------------------------------------------------------------------------------

export interface Meta {
  readonly magic: number;
  readonly version: number;
  readonly pageSize: number;
  readonly flags: number;
  /** The root bucket: the tree whose leaf elements are the top-level buckets. */
  readonly root: number;
  readonly sequence: bigint;
  /** The freelist page, or null for bbolt's pgidNoFreelist (NoFreelistSync: free pages not stored). */
  readonly freelist: number | null;
  /** The high water mark: the number of pages in use. */
  readonly pgid: number;
  readonly txid: bigint;
  readonly checksum: bigint;
}

/** Decodes the meta of a page image (at least PAGE_HEADER_SIZE + META_SIZE bytes). */
export function readMeta(page: Uint8Array): Meta {
  const v = viewOf(page);
  const m = PAGE_HEADER_SIZE;
  const noFreelist = v.getUint32(m + 32, true) === 0xffffffff && v.getUint32(m + 36, true) === 0xffffffff;
  return {
    magic: v.getUint32(m, true),
    version: v.getUint32(m + 4, true),
    pageSize: v.getUint32(m + 8, true),
    flags: v.getUint32(m + 12, true),
    root: readU64(v, m + 16),
    sequence: v.getBigUint64(m + 24, true),
    freelist: noFreelist ? null : readU64(v, m + 32),
    pgid: readU64(v, m + 40),
    txid: v.getBigUint64(m + 48, true),
    checksum: v.getBigUint64(m + META_CHECKSUM_OFFSET, true),
  };
}

/** The checksum the meta in `page` should carry. */
export function metaChecksum(page: Uint8Array): bigint {
  return fnv64a(page.subarray(PAGE_HEADER_SIZE, PAGE_HEADER_SIZE + META_CHECKSUM_OFFSET));
}

/**
 * bbolt's meta.validate(): why the meta in `page` is unusable, or undefined when it is valid. Like
 * bbolt, a checksum of 0 is accepted (files from before bbolt had checksums).
 */
export function metaProblem(page: Uint8Array): string | undefined {
  const meta = readMeta(page);
  if (meta.magic !== MAGIC) return `bad magic 0x${meta.magic.toString(16).padStart(8, '0')}`;
  if (meta.version !== VERSION) return `unsupported version ${meta.version} (expected ${VERSION})`;
  if (meta.checksum !== 0n && meta.checksum !== metaChecksum(page)) return 'checksum mismatch';
  return undefined;
}

export interface MetaInput {
  readonly pageSize: number;
  readonly root: number;
  readonly freelist: number | null;
  readonly pgid: number;
  readonly txid: bigint;
}

/** Writes meta page `id` (header and checksummed meta) into `page`, which must be zeroed. */
export function writeMetaPage(page: Uint8Array, id: number, meta: MetaInput): void {
  writePageHeader(page, { id, flags: META_PAGE, count: 0, overflow: 0 });
  const v = viewOf(page);
  const m = PAGE_HEADER_SIZE;
  v.setUint32(m, MAGIC, true);
  v.setUint32(m + 4, VERSION, true);
  v.setUint32(m + 8, meta.pageSize, true);
  v.setUint32(m + 12, 0, true);
  writeU64(v, m + 16, meta.root);
  v.setBigUint64(m + 24, 0n, true);
  if (meta.freelist === null) v.setBigUint64(m + 32, 0xffffffffffffffffn, true);
  else writeU64(v, m + 32, meta.freelist);
  writeU64(v, m + 40, meta.pgid);
  v.setBigUint64(m + 48, meta.txid, true);
  v.setBigUint64(m + META_CHECKSUM_OFFSET, metaChecksum(page), true);
}

// ---- Elements ------------------------------------------------------------------------------------

export interface LeafElement {
  readonly flags: number;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface BranchElement {
  readonly key: Uint8Array;
  readonly pgid: number;
}

/**
 * Element `i` of a leaf page image, as subarrays of `page`; throws BboltError (naming page `pgid`)
 * when the element or its key/value lies outside the image.
 */
export function leafElement(page: Uint8Array, i: number, pgid: number): LeafElement {
  const v = viewOf(page);
  const at = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
  if (at + LEAF_ELEMENT_SIZE > page.byteLength)
    throw new BboltError(`page ${pgid}: element ${i} out of bounds`);
  const flags = v.getUint32(at, true);
  const start = at + v.getUint32(at + 4, true);
  const ksize = v.getUint32(at + 8, true);
  const vsize = v.getUint32(at + 12, true);
  if (start + ksize + vsize > page.byteLength) {
    throw new BboltError(`page ${pgid}: key/value of element ${i} out of bounds`);
  }
  return {
    flags,
    key: page.subarray(start, start + ksize),
    value: page.subarray(start + ksize, start + ksize + vsize),
  };
}

/** Element `i` of a branch page image; throws BboltError like leafElement. */
export function branchElement(page: Uint8Array, i: number, pgid: number): BranchElement {
  const v = viewOf(page);
  const at = PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
  if (at + BRANCH_ELEMENT_SIZE > page.byteLength) {
    throw new BboltError(`page ${pgid}: element ${i} out of bounds`);
  }
  const start = at + v.getUint32(at, true);
  const ksize = v.getUint32(at + 4, true);
  if (start + ksize > page.byteLength)
    throw new BboltError(`page ${pgid}: key of element ${i} out of bounds`);
  return { key: page.subarray(start, start + ksize), pgid: readU64(v, at + 8) };
}

export interface BucketValue {
  /** The bucket's root page, or 0 for an inline bucket. */
  readonly root: number;
  readonly sequence: bigint;
  /** The leaf page image of an inline bucket (a subarray of the value). */
  readonly inline: Uint8Array | undefined;
}

/** Decodes a bucket element's value; throws BboltError when it is too short. */
export function readBucketValue(value: Uint8Array, what: string): BucketValue {
  if (value.byteLength < BUCKET_HEADER_SIZE) {
    throw new BboltError(`${what}: bucket value of ${value.byteLength} bytes is shorter than its header`);
  }
  const v = viewOf(value);
  const root = readU64(v, 0);
  if (root !== 0) return { root, sequence: v.getBigUint64(8, true), inline: undefined };
  const inline = value.subarray(BUCKET_HEADER_SIZE);
  if (inline.byteLength < PAGE_HEADER_SIZE) {
    throw new BboltError(
      `${what}: inline bucket of ${inline.byteLength} bytes is shorter than a page header`,
    );
  }
  return { root, sequence: v.getBigUint64(8, true), inline };
}

export function isValidPageSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PAGE_SIZE && n <= MAX_PAGE_SIZE && (n & (n - 1)) === 0;
}
