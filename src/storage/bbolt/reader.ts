// Reads a bbolt file (format.ts) written by etcd or by writer.ts: the top-level buckets, their
// entries in key order, and a consistency check modelled on bbolt's tx.Check.
//
// READS ARE POSITIONAL AND PAGE-SIZED. The file is never loaded whole: every page is read on demand
// with readSync at its offset (header first, then its overflow pages if it has any) into a fresh
// buffer, so the keys and values handed out are views of memory nobody else writes. An iteration
// holds the pages on its path from the root (the tree height) and the current leaf.
//
// OPENING follows bbolt's DB.Open: the page size comes from meta 0 (or, when meta 0 is damaged, from
// whichever common page size has a valid meta 1 at that offset), both metas are validated (magic,
// version, FNV-1a checksum; a checksum of 0 passes, as in bbolt), and the valid one with the higher
// txid wins. Beyond bbolt, a file shorter than the high water mark of the chosen meta is refused
// (bbolt would fault on the mmap later), as are metas that disagree on the page size. `length` lets a
// caller read a snapshot file without its trailing 32-byte SHA-256.
//
// CORRUPTION never loops or recurses without bound: iterations refuse a page they already visited and
// keys that do not ascend, and check() visits each page once (reporting the second reference) with a
// depth limit.
//
// NESTED BUCKETS. etcd never nests buckets, and bucketNames()/entries() only address top-level ones.
// A nested bucket inside a top-level bucket is still reported by entries(), as an entry whose value
// is the raw stored bucket value (16-byte header {root, sequence}, then the inline leaf page when
// root is 0); nothing is skipped. check() descends into nested buckets as bbolt's does.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import {
  BRANCH_PAGE,
  BUCKET_LEAF_FLAG,
  BboltError,
  FREELIST_COUNT_OVERFLOW,
  FREELIST_PAGE,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE,
  META_SIZE,
  PAGE_HEADER_SIZE,
  branchElement,
  compareBytes,
  hexKey,
  isValidPageSize,
  leafElement,
  metaProblem,
  pageType,
  readBucketValue,
  readMeta,
  readPageHeader,
  readU64,
  viewOf,
  type BboltEntry,
  type BucketValue,
  type LeafElement,
  type Meta,
} from './format.js';

export interface BboltOpenOptions {
  /** Read only the first `length` bytes (e.g. the file size minus a trailing 32-byte SHA-256). */
  readonly length?: number;
}

/** Page sizes tried, in this order, when meta 0 is unusable (bbolt falls back to the OS page size). */
const FALLBACK_PAGE_SIZES = [4096, 16384, 65536, 8192, 32768, 2048, 1024];
/** No real tree comes close (bbolt's trees are ~log_100 of the key count deep). */
const MAX_DEPTH = 64;

/** Where a tree's root lives: a page, or the leaf page image of an inline bucket. */
type TreeRoot = { readonly pgid: number } | { readonly inline: Uint8Array };

export class BboltReader {
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly meta: Meta,
    readonly pageSize: number,
  ) {}

  /** The high water mark of the meta in use: the number of pages of the database. */
  get highWaterMark(): number {
    return this.meta.pgid;
  }

  /** The transaction id of the meta in use. */
  get txid(): bigint {
    return this.meta.txid;
  }

  /**
   * Opens `path` for reading. Throws BboltError when it is not a bbolt file (bad magic), has another
   * format version, has no valid meta, has metas that disagree on the page size, or is shorter than
   * its high water mark.
   */
  static open(path: string, options: BboltOpenOptions = {}): BboltReader {
    const fd = openSync(path, 'r');
    try {
      const fileSize = fstatSync(fd).size;
      const length = options.length ?? fileSize;
      if (!Number.isSafeInteger(length) || length < 0)
        throw new BboltError(`${path}: invalid length ${length}`);
      if (length > fileSize) {
        throw new BboltError(`${path}: truncated: ${fileSize} bytes, expected at least ${length}`);
      }
      const { meta, pageSize } = chooseMeta(fd, length, path);
      if (meta.pgid < 2) throw new BboltError(`${path}: meta high water mark ${meta.pgid} is below 2`);
      const needed = meta.pgid * pageSize;
      if (length < needed) {
        throw new BboltError(
          `${path}: truncated: ${length} bytes, but the high water mark is ${meta.pgid} pages of ` +
            `${pageSize} bytes (${needed} bytes)`,
        );
      }
      return new BboltReader(fd, meta, pageSize);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** The size of the database as bbolt's tx.Size() gives it: high water mark * page size. */
  size(): number {
    return this.meta.pgid * this.pageSize;
  }

  /** The names of the top-level buckets, in bbolt's (bytewise) order. */
  bucketNames(): Uint8Array[] {
    const names: Uint8Array[] = [];
    for (const e of this.walk({ pgid: this.meta.root }, 'root bucket')) {
      if (e.flags & BUCKET_LEAF_FLAG) names.push(e.key);
    }
    return names;
  }

  /**
   * The entries of top-level bucket `bucket`, in key order (lazily: pages are read as the iteration
   * reaches them). Throws BboltError at once when there is no such bucket, and during the iteration
   * when the file turns out to be corrupt. A nested bucket is reported with its raw stored value.
   */
  entries(bucket: Uint8Array): Iterable<BboltEntry> {
    const root = this.bucketRoot(bucket);
    const what = `bucket ${hexKey(bucket)}`;
    const walk = (): Generator<LeafElement> => this.walk(root, what);
    // Iterable more than once: every iteration walks the tree afresh.
    return {
      *[Symbol.iterator](): Iterator<BboltEntry> {
        for (const e of walk()) yield { key: e.key, value: e.value };
      },
    };
  }

  /**
   * A consistency check in the manner of bbolt's tx.Check: every problem found, in bbolt's wording
   * where bbolt reports it ("page N: multiple references", "page N: unreachable unfreed", ...);
   * empty when the file is consistent.
   */
  check(): string[] {
    this.assertOpen();
    return new Checker((pgid) => this.readPage(pgid), this.meta).run();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /** The page `pgid` with its overflow pages; throws BboltError when it lies beyond the high water mark. */
  private readPage(pgid: number): Uint8Array {
    this.assertOpen();
    const hwm = this.meta.pgid;
    if (pgid >= hwm) throw new BboltError(`page ${pgid}: out of bounds: ${hwm}`);
    const first = this.read(pgid * this.pageSize, this.pageSize);
    const { overflow } = readPageHeader(first);
    if (overflow === 0) return first;
    if (pgid + overflow >= hwm) {
      throw new BboltError(`page ${pgid}: overflow ${overflow} reaches beyond the high water mark ${hwm}`);
    }
    const page = new Uint8Array((overflow + 1) * this.pageSize);
    page.set(first);
    readFully(this.fd, page.subarray(this.pageSize), (pgid + 1) * this.pageSize);
    return page;
  }

  private read(position: number, length: number): Uint8Array {
    const b = new Uint8Array(length);
    readFully(this.fd, b, position);
    return b;
  }

  private assertOpen(): void {
    if (this.closed) throw new BboltError('reader is closed');
  }

  private bucketRoot(name: Uint8Array): TreeRoot {
    for (const e of this.walk({ pgid: this.meta.root }, 'root bucket')) {
      const c = compareBytes(e.key, name);
      if (c < 0) continue;
      if (c > 0 || !(e.flags & BUCKET_LEAF_FLAG)) break;
      return treeRoot(readBucketValue(e.value, `bucket ${hexKey(name)}`));
    }
    throw new BboltError(`bucket ${hexKey(name)} not found`);
  }

  /**
   * The leaf elements of a tree in order. Refuses (BboltError) a page reached twice, a tree deeper
   * than MAX_DEPTH, pages other than branch and leaf, and keys that do not strictly ascend.
   */
  private *walk(root: TreeRoot, what: string): Generator<LeafElement> {
    let previous: Uint8Array | undefined;
    const inOrder = (key: Uint8Array): void => {
      if (previous !== undefined && compareBytes(previous, key) >= 0) {
        throw new BboltError(`${what}: key ${hexKey(key)} does not sort after ${hexKey(previous)}`);
      }
      previous = key;
    };
    if ('inline' in root) {
      const page = root.inline;
      const { flags, count } = readPageHeader(page);
      if (!(flags & LEAF_PAGE)) throw new BboltError(`${what}: inline page of type ${pageType(flags)}`);
      for (let i = 0; i < count; i++) {
        const e = leafElement(page, i, 0);
        inOrder(e.key);
        yield e;
      }
      return;
    }
    this.assertOpen();
    const visited = new Bitset(this.meta.pgid);
    interface Frame {
      readonly page: Uint8Array;
      readonly pgid: number;
      readonly branch: boolean;
      readonly count: number;
      next: number;
    }
    const stack: Frame[] = [];
    const enter = (pgid: number): void => {
      if (pgid < 2) throw new BboltError(`${what}: a branch refers to meta page ${pgid}`);
      if (pgid >= this.meta.pgid)
        throw new BboltError(`${what}: page ${pgid}: out of bounds: ${this.meta.pgid}`);
      if (visited.get(pgid)) throw new BboltError(`${what}: page ${pgid}: multiple references`);
      if (stack.length >= MAX_DEPTH)
        throw new BboltError(`${what}: page ${pgid}: tree deeper than ${MAX_DEPTH} levels`);
      visited.set(pgid);
      const page = this.readPage(pgid);
      const { flags, count } = readPageHeader(page);
      if (!(flags & (BRANCH_PAGE | LEAF_PAGE))) {
        throw new BboltError(`${what}: page ${pgid}: invalid type: ${pageType(flags)}`);
      }
      stack.push({ page, pgid, branch: (flags & BRANCH_PAGE) !== 0, count, next: 0 });
    };
    enter(root.pgid);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next >= top.count) {
        stack.pop();
        continue;
      }
      const i = top.next++;
      if (top.branch) {
        enter(branchElement(top.page, i, top.pgid).pgid);
      } else {
        const e = leafElement(top.page, i, top.pgid);
        inOrder(e.key);
        yield e;
      }
    }
  }
}

function treeRoot(b: BucketValue): TreeRoot {
  return b.inline !== undefined ? { inline: b.inline } : { pgid: b.root };
}

function readFully(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.byteLength) {
    const n = readSync(fd, into, done, into.byteLength - done, position + done);
    if (n === 0) throw new BboltError(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

/** Finds the page size and the meta in use, as bbolt's Open does (see the header). */
function chooseMeta(fd: number, length: number, path: string): { meta: Meta; pageSize: number } {
  const metaBytes = PAGE_HEADER_SIZE + META_SIZE;
  if (length < metaBytes) throw new BboltError(`${path}: not a bbolt file: only ${length} bytes`);
  const readMetaAt = (offset: number): Uint8Array | undefined => {
    if (offset + metaBytes > length) return undefined;
    const b = new Uint8Array(metaBytes);
    readFully(fd, b, offset);
    return b;
  };
  const page0 = readMetaAt(0) as Uint8Array;
  const problem0 = metaProblem(page0);
  const meta0 = readMeta(page0);

  let pageSize: number | undefined;
  let page1: Uint8Array | undefined;
  let problem1: string | undefined;
  if (problem0 === undefined) {
    if (!isValidPageSize(meta0.pageSize)) {
      throw new BboltError(`${path}: meta 0 has an invalid page size ${meta0.pageSize}`);
    }
    pageSize = meta0.pageSize;
    page1 = readMetaAt(pageSize);
    problem1 = page1 === undefined ? 'missing (file too short)' : metaProblem(page1);
  } else {
    pageSize = FALLBACK_PAGE_SIZES.find((candidate) => {
      const p = readMetaAt(candidate);
      return p !== undefined && metaProblem(p) === undefined && readMeta(p).pageSize === candidate;
    });
    if (pageSize === undefined) {
      // Explain with the meta where bbolt would look for it: one OS page (4 KiB) in.
      const at = readMetaAt(FALLBACK_PAGE_SIZES[0]);
      const why =
        at === undefined
          ? 'missing (file too short)'
          : (metaProblem(at) ?? `page size mismatch: at offset 4096, it says ${readMeta(at).pageSize}`);
      if (problem0.startsWith('bad magic') && (at === undefined || why.startsWith('bad magic'))) {
        throw new BboltError(`${path}: not a bbolt file (meta 0: ${problem0}; meta 1: ${why})`);
      }
      throw new BboltError(`${path}: both meta pages are invalid (meta 0: ${problem0}; meta 1: ${why})`);
    }
    page1 = readMetaAt(pageSize);
  }
  if (page1 === undefined) throw new BboltError(`${path}: no meta 1`); // unreachable: found above
  if (problem0 !== undefined) return { meta: readMeta(page1), pageSize };
  if (problem1 !== undefined) return { meta: meta0, pageSize };
  const meta1 = readMeta(page1);
  if (meta1.pageSize !== meta0.pageSize) {
    throw new BboltError(
      `${path}: page size mismatch: meta 0 says ${meta0.pageSize} bytes, meta 1 says ${meta1.pageSize}`,
    );
  }
  // bbolt's DB.meta(): the higher txid wins, meta 0 on a tie.
  return { meta: meta1.txid > meta0.txid ? meta1 : meta0, pageSize };
}

/** One bit per page id below the high water mark. */
class Bitset {
  private readonly bits: Uint8Array;

  constructor(readonly size: number) {
    this.bits = new Uint8Array(Math.ceil(size / 8));
  }

  get(i: number): boolean {
    return (this.bits[i >>> 3] & (1 << (i & 7))) !== 0;
  }

  set(i: number): void {
    this.bits[i >>> 3] |= 1 << (i & 7);
  }
}

// ---- check() -------------------------------------------------------------------------------------

/** One run of check(): bbolt's tx.check, checkBucket and recursivelyCheckPages in one pass per tree. */
class Checker {
  private readonly errors: string[] = [];
  private readonly hwm: number;
  private readonly reachable: Bitset;
  private readonly freed: Bitset;

  constructor(
    private readonly readPage: (pgid: number) => Uint8Array,
    private readonly meta: Meta,
  ) {
    this.hwm = meta.pgid;
    this.reachable = new Bitset(this.hwm);
    this.freed = new Bitset(this.hwm);
  }

  run(): string[] {
    this.reachable.set(0);
    this.reachable.set(1);
    if (this.meta.freelist !== null) this.checkFreelist(this.meta.freelist);
    this.checkTree({ pgid: this.meta.root }, [], 0);
    // Without a stored freelist bbolt counts every unreachable page as free (DB.freepages()).
    if (this.meta.freelist !== null) {
      for (let i = 0; i < this.hwm; i++) {
        if (!this.reachable.get(i) && !this.freed.get(i)) this.errors.push(`page ${i}: unreachable unfreed`);
      }
    }
    return this.errors;
  }

  private checkFreelist(pgid: number): void {
    let page: Uint8Array;
    try {
      page = this.readPage(pgid);
    } catch (e) {
      this.errors.push(`freelist ${messageOf(e)}`);
      return;
    }
    const { flags, count: headerCount, overflow } = readPageHeader(page);
    for (let i = 0; i <= overflow; i++) this.reachable.set(pgid + i);
    if (!(flags & FREELIST_PAGE)) {
      this.errors.push(`invalid freelist page: ${pgid}, page type is ${pageType(flags)}`);
      return;
    }
    const v = viewOf(page);
    let first = PAGE_HEADER_SIZE;
    let count = headerCount;
    if (headerCount === FREELIST_COUNT_OVERFLOW) {
      count = readU64(v, PAGE_HEADER_SIZE);
      first += 8;
    }
    if (first + count * 8 > page.byteLength) {
      this.errors.push(`freelist page ${pgid}: ${count} ids do not fit in ${overflow + 1} pages`);
      return;
    }
    for (let i = 0; i < count; i++) {
      const id = readU64(v, first + i * 8);
      if (id >= this.hwm) {
        this.errors.push(`page ${id}: freed, but out of bounds: ${this.hwm}`);
      } else if (this.freed.get(id)) {
        this.errors.push(`page ${id}: already freed`);
      } else {
        this.freed.set(id);
      }
    }
  }

  /** Checks a bucket's tree (page-based or inline) and, through its leaves, its nested buckets. */
  private checkTree(root: TreeRoot, stack: readonly number[], depth: number): void {
    if ('inline' in root) {
      // bbolt skips inline buckets; their keys are checked here all the same.
      const { flags, count } = readPageHeader(root.inline);
      if (!(flags & LEAF_PAGE)) {
        this.errors.push(`inline bucket (stack: ${fmtStack(stack)}): invalid type: ${pageType(flags)}`);
        return;
      }
      this.checkLeaf(root.inline, 0, count, undefined, undefined, stack, depth, true);
      return;
    }
    this.checkPage(root.pgid, undefined, undefined, stack, depth);
  }

  /**
   * Checks page `pgid` and its subtree: bounds, single reference, not freed, type, and that its keys
   * lie in [minKeyClosed, maxKeyOpen). Returns the largest key of the subtree (bbolt's maxKeyInSubtree).
   */
  private checkPage(
    pgid: number,
    minKeyClosed: Uint8Array | undefined,
    maxKeyOpen: Uint8Array | undefined,
    parentStack: readonly number[],
    depth: number,
  ): Uint8Array | undefined {
    const stack = [...parentStack, pgid];
    if (depth > MAX_DEPTH) {
      this.errors.push(`page ${pgid}: nested deeper than ${MAX_DEPTH} levels (stack: ${fmtStack(stack)})`);
      return undefined;
    }
    if (pgid >= this.hwm) {
      this.errors.push(`page ${pgid}: out of bounds: ${this.hwm} (stack: ${fmtStack(stack)})`);
      return undefined;
    }
    let page: Uint8Array;
    try {
      page = this.readPage(pgid);
    } catch (e) {
      this.errors.push(`${messageOf(e)} (stack: ${fmtStack(stack)})`);
      return undefined;
    }
    const header = readPageHeader(page);
    if (header.id !== pgid) this.errors.push(`page ${pgid}: header says page ${header.id}`);
    const seen = this.reachable.get(pgid);
    for (let i = 0; i <= header.overflow; i++) {
      const id = pgid + i;
      if (this.reachable.get(id)) {
        this.errors.push(`page ${id}: multiple references (stack: ${fmtStack(stack)})`);
      }
      this.reachable.set(id);
    }
    // A page reached a second time was checked the first time. Its keys are checked against this
    // place in the tree (as bbolt does), but nothing below it is visited again: that could loop.
    if (seen) {
      if (!(header.flags & LEAF_PAGE)) return undefined;
      return this.checkLeaf(page, pgid, header.count, minKeyClosed, maxKeyOpen, stack, depth, false);
    }
    if (this.freed.get(pgid)) {
      this.errors.push(`page ${pgid}: reachable freed`);
      return undefined;
    }
    if (header.flags & BRANCH_PAGE)
      return this.checkBranch(page, pgid, header.count, minKeyClosed, maxKeyOpen, stack, depth);
    if (header.flags & LEAF_PAGE) {
      return this.checkLeaf(page, pgid, header.count, minKeyClosed, maxKeyOpen, stack, depth, true);
    }
    this.errors.push(`page ${pgid}: invalid type: ${pageType(header.flags)} (stack: ${fmtStack(stack)})`);
    return undefined;
  }

  private checkBranch(
    page: Uint8Array,
    pgid: number,
    count: number,
    minKeyClosed: Uint8Array | undefined,
    maxKeyOpen: Uint8Array | undefined,
    stack: readonly number[],
    depth: number,
  ): Uint8Array | undefined {
    const elements = this.elements(page, pgid, count, (i) => branchElement(page, i, pgid), stack);
    let runningMin = minKeyClosed;
    let maxKeyInSubtree: Uint8Array | undefined;
    elements.forEach((e, i) => {
      this.verifyKeyOrder(pgid, 'branch', i, e.key, runningMin, maxKeyOpen, stack);
      const maxKey = i < elements.length - 1 ? elements[i + 1].key : maxKeyOpen;
      maxKeyInSubtree = this.checkPage(e.pgid, e.key, maxKey, stack, depth + 1);
      runningMin = maxKeyInSubtree;
    });
    return maxKeyInSubtree;
  }

  private checkLeaf(
    page: Uint8Array,
    pgid: number,
    count: number,
    minKeyClosed: Uint8Array | undefined,
    maxKeyOpen: Uint8Array | undefined,
    stack: readonly number[],
    depth: number,
    nested: boolean,
  ): Uint8Array | undefined {
    const elements = this.elements(page, pgid, count, (i) => leafElement(page, i, pgid), stack);
    let runningMin = minKeyClosed;
    elements.forEach((e, i) => {
      this.verifyKeyOrder(pgid, 'leaf', i, e.key, runningMin, maxKeyOpen, stack);
      runningMin = e.key;
    });
    for (const e of nested ? elements : []) {
      if (!(e.flags & BUCKET_LEAF_FLAG)) continue;
      let bucket: BucketValue;
      try {
        bucket = readBucketValue(e.value, `page ${pgid}: bucket ${hexKey(e.key)}`);
      } catch (err) {
        this.errors.push(messageOf(err));
        continue;
      }
      // As in bbolt, a nested bucket's page stacks start at its own root.
      this.checkTree(treeRoot(bucket), [], depth + 1);
    }
    return elements.length > 0 ? elements[elements.length - 1].key : undefined;
  }

  /** The decodable elements of a page (a page whose element array overruns it stops there). */
  private elements<E>(
    page: Uint8Array,
    pgid: number,
    count: number,
    decode: (i: number) => E,
    stack: readonly number[],
  ): E[] {
    const out: E[] = [];
    if (PAGE_HEADER_SIZE + count * LEAF_ELEMENT_SIZE > page.byteLength) {
      this.errors.push(`page ${pgid}: ${count} elements do not fit in the page (stack: ${fmtStack(stack)})`);
    }
    for (let i = 0; i < count; i++) {
      try {
        out.push(decode(i));
      } catch (e) {
        this.errors.push(`${messageOf(e)} (stack: ${fmtStack(stack)})`);
        break;
      }
    }
    return out;
  }

  /** bbolt's verifyKeyOrder, with its messages. */
  private verifyKeyOrder(
    pgid: number,
    pageType: 'branch' | 'leaf',
    index: number,
    key: Uint8Array,
    previousKey: Uint8Array | undefined,
    maxKeyOpen: Uint8Array | undefined,
    stack: readonly number[],
  ): void {
    const k = hexKey(key);
    if (index === 0 && previousKey !== undefined && compareBytes(previousKey, key) > 0) {
      this.errors.push(
        `the first key[${index}]=(hex)${k} on ${pageType} page(${pgid}) needs to be >= the key in the ` +
          `ancestor (${hexKey(previousKey)}). Stack: ${fmtStack(stack)}`,
      );
    }
    if (index > 0 && previousKey !== undefined) {
      const c = compareBytes(previousKey, key);
      if (c >= 0) {
        this.errors.push(
          `key[${index}]=(hex)${k} on ${pageType} page(${pgid}) needs to be > (found ${c > 0 ? '<' : '='}) ` +
            `than previous element (hex)${hexKey(previousKey)}. Stack: ${fmtStack(stack)}`,
        );
      }
    }
    if (maxKeyOpen !== undefined && compareBytes(key, maxKeyOpen) >= 0) {
      this.errors.push(
        `key[${index}]=(hex)${k} on ${pageType} page(${pgid}) needs to be < than key of the next element ` +
          `in ancestor (hex)${hexKey(maxKeyOpen)}. Pages stack: ${fmtStack(stack)}`,
      );
    }
  }
}

function fmtStack(stack: readonly number[]): string {
  return `[${stack.join(' ')}]`;
}

function messageOf(e: unknown): string {
  if (e instanceof BboltError) return e.message.replace(/^bbolt: /, '');
  throw e;
}
