// Bulk-builds a compact bbolt file (format.ts) from sorted buckets, the way `bbolt compact` would lay
// it out, so that etcd's tools (`etcdctl snapshot status|restore`) and etcd itself can open what
// Cairn exports.
//
// BOTTOM-UP, STREAMING. Entries arrive in key order, so each bucket's B+tree is built bottom-up in a
// single pass: a level holds one pending node; when the next element would not fit in a page, the
// node is written as the next page and its first key and page id go one level up. Memory is one
// pending node per level (plus the value being added), never the data; the pages reach the file in
// page-id order through 1 MiB batched writes, with an await (so the event loop runs) per batch.
//
// LAYOUT. Pages 0 and 1 are the metas, written last (an interrupted write leaves zeroed metas, which
// no reader accepts); data pages follow from page 2 in the order they are completed; the freelist
// page (empty: nothing is free in a fresh file) is the last page; the high water mark is the page
// count, so the file size is exactly tx.Size(). Nodes are filled up to a whole page (bbolt's own
// fill percent only leaves room for later inserts, which a compact export does not need); an element
// larger than a page gets a node of its own, spanning overflow pages.
//
// BBOLT'S CHOICES, KEPT. A bucket without sub-buckets whose single leaf fits in pageSize/4 bytes is
// stored inline in its parent's element (bbolt's inlineable()), so empty and tiny etcd buckets look
// exactly as in etcd's files. Branch keys are the first key of their child, as bbolt's spill writes
// them. The two metas describe the same tree; meta 0 carries txid 2 and meta 1 txid 1, so bbolt's
// next commit (txid 3, written to meta page 3 % 2) replaces the older one as it expects to.

import { open, type FileHandle } from 'node:fs/promises';

import {
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  BboltError,
  DEFAULT_PAGE_SIZE,
  FREELIST_PAGE,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE,
  MAX_KEY_SIZE,
  MAX_VALUE_SIZE,
  PAGE_HEADER_SIZE,
  compareBytes,
  hexKey,
  isValidPageSize,
  viewOf,
  writeMetaPage,
  writePageHeader,
  writeU64,
  type BboltEntry,
} from './format.js';

/** A top-level bucket to write: its name and its entries, sorted by key (ascending, unique). */
export interface BboltBucketInput {
  readonly name: Uint8Array;
  readonly entries: Iterable<BboltEntry>;
}

export interface BboltWriteOptions {
  /** The page size of the file: a power of two in 1024..65536 (default 4096, etcd's on x86-64). */
  readonly pageSize?: number;
}

const BATCH_SIZE = 1 << 20;
const FIRST_DATA_PAGE = 2;

/**
 * Writes a compact bbolt file at `path` (created or truncated, mode 0o600) holding `buckets` as
 * top-level buckets (in any order; names are sorted here and must be unique and non-empty). Each
 * bucket's entries must be sorted by key, ascending and unique, with bbolt's limits (key 1..32768
 * bytes, value below 2 GiB); a violation rejects with a BboltError. The file is fsynced before the
 * promise resolves with its size in bytes (high water mark * page size).
 */
export async function writeBbolt(
  path: string,
  buckets: Iterable<BboltBucketInput>,
  options: BboltWriteOptions = {},
): Promise<number> {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!isValidPageSize(pageSize)) {
    throw new BboltError(`page size ${pageSize} is not a power of two in 1024..65536`);
  }
  const sorted = sortBuckets(buckets);
  const fh = await open(path, 'w', 0o600);
  try {
    await fh.chmod(0o600);
    const sink = new PageSink(fh, pageSize);
    const root = new TreeBuilder(sink, pageSize);
    for (const bucket of sorted) {
      const tree = new TreeBuilder(sink, pageSize);
      let previous: Uint8Array | undefined;
      for (const entry of bucket.entries) {
        checkEntry(bucket.name, entry, previous);
        previous = entry.key;
        tree.add(entry.key, entry.value, 0);
        if (sink.pending()) await sink.drain();
      }
      const done = tree.finish(true);
      root.add(bucket.name, done.inline ?? bucketHeader(done.root), BUCKET_LEAF_FLAG);
      await sink.drain();
    }
    const rootPgid = root.finish(false).root;

    const freelist = sink.allocate(PAGE_HEADER_SIZE);
    writePageHeader(freelist.page, { id: freelist.pgid, flags: FREELIST_PAGE, count: 0, overflow: 0 });
    const hwm = sink.nextPgid;
    await sink.drain(true);

    for (const [id, txid] of [
      [0, 2n],
      [1, 1n],
    ] as const) {
      const page = new Uint8Array(pageSize);
      writeMetaPage(page, id, { pageSize, root: rootPgid, freelist: freelist.pgid, pgid: hwm, txid });
      await writeFully(fh, page, id * pageSize);
    }
    await fh.sync();
    return hwm * pageSize;
  } finally {
    await fh.close();
  }
}

function sortBuckets(buckets: Iterable<BboltBucketInput>): BboltBucketInput[] {
  const list = [...buckets];
  for (const b of list) {
    if (b.name.byteLength === 0 || b.name.byteLength > MAX_KEY_SIZE) {
      throw new BboltError(`bucket name of ${b.name.byteLength} bytes (must be 1..${MAX_KEY_SIZE})`);
    }
  }
  list.sort((a, b) => compareBytes(a.name, b.name));
  for (let i = 1; i < list.length; i++) {
    if (compareBytes(list[i - 1].name, list[i].name) === 0) {
      throw new BboltError(`bucket ${hexKey(list[i].name)} given twice`);
    }
  }
  return list;
}

function checkEntry(bucket: Uint8Array, entry: BboltEntry, previous: Uint8Array | undefined): void {
  const { key, value } = entry;
  if (key.byteLength === 0 || key.byteLength > MAX_KEY_SIZE) {
    throw new BboltError(
      `bucket ${hexKey(bucket)}: key of ${key.byteLength} bytes (must be 1..${MAX_KEY_SIZE})`,
    );
  }
  if (value.byteLength > MAX_VALUE_SIZE) {
    throw new BboltError(`bucket ${hexKey(bucket)}: value of ${value.byteLength} bytes is too large`);
  }
  if (previous !== undefined && compareBytes(previous, key) >= 0) {
    throw new BboltError(
      `bucket ${hexKey(bucket)}: keys not strictly ascending: ${hexKey(key)} after ${hexKey(previous)}`,
    );
  }
}

function bucketHeader(root: number): Uint8Array {
  const b = new Uint8Array(BUCKET_HEADER_SIZE);
  writeU64(viewOf(b), 0, root); // sequence stays 0
  return b;
}

async function writeFully(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await fh.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}

// ---- Pages to the file ---------------------------------------------------------------------------

/**
 * Hands out zeroed page images in page-id order and writes them sequentially. allocate() is
 * synchronous (the tree builders are); filled batches queue up until the writer awaits drain().
 */
class PageSink {
  nextPgid = FIRST_DATA_PAGE;
  private batch = new Uint8Array(BATCH_SIZE);
  private used = 0;
  private readonly ready: Uint8Array[] = [];
  private position: number;

  constructor(
    private readonly fh: FileHandle,
    private readonly pageSize: number,
  ) {
    this.position = FIRST_DATA_PAGE * pageSize;
  }

  /** Room for a node of `bytes` bytes: whole pages, zeroed; the page id is that of the first page. */
  allocate(bytes: number): { readonly pgid: number; readonly page: Uint8Array } {
    const pages = Math.ceil(bytes / this.pageSize);
    const size = pages * this.pageSize;
    const pgid = this.nextPgid;
    this.nextPgid += pages;
    if (size > BATCH_SIZE - this.used) this.seal();
    if (size > BATCH_SIZE) {
      const page = new Uint8Array(size);
      this.ready.push(page);
      return { pgid, page };
    }
    const page = this.batch.subarray(this.used, this.used + size);
    this.used += size;
    return { pgid, page };
  }

  /** Whether a full batch waits to be written. */
  pending(): boolean {
    return this.ready.length > 0;
  }

  /** Writes the queued batches (and, with `all`, the partly filled one too). */
  async drain(all = false): Promise<void> {
    if (all) this.seal();
    while (this.ready.length > 0) {
      const chunk = this.ready.shift() as Uint8Array;
      await writeFully(this.fh, chunk, this.position);
      this.position += chunk.byteLength;
    }
  }

  private seal(): void {
    if (this.used === 0) return;
    this.ready.push(this.batch.subarray(0, this.used));
    this.batch = new Uint8Array(BATCH_SIZE);
    this.used = 0;
  }
}

// ---- One B+tree, bottom-up -----------------------------------------------------------------------

interface Item {
  readonly key: Uint8Array;
  /** Leaf level: the value; branch levels: unused (empty). */
  readonly value: Uint8Array;
  readonly flags: number;
  /** Branch levels: the child page. */
  readonly pgid: number;
}

interface Level {
  items: Item[];
  /** The node's size as bbolt's node.size() counts it: header plus elements, keys and values. */
  size: number;
  /** Whether a node of this level has been written (then this level is not the root). */
  flushed: boolean;
}

const EMPTY = new Uint8Array(0);

class TreeBuilder {
  private readonly levels: Level[] = [];

  constructor(
    private readonly sink: PageSink,
    private readonly pageSize: number,
  ) {
    this.levels.push(newLevel());
  }

  add(key: Uint8Array, value: Uint8Array, flags: number): void {
    this.push(0, { key, value, flags, pgid: 0 });
  }

  /**
   * Writes what is pending; returns the root page, or (with `allowInline`, for a bucket whose one
   * leaf fits in pageSize/4) the bucket value holding the leaf inline.
   */
  finish(allowInline: boolean): { readonly root: number; readonly inline?: Uint8Array } {
    for (let i = 0; ; i++) {
      const level = this.levels[i];
      if (i === this.levels.length - 1 && !level.flushed) {
        if (i === 0 && allowInline && level.size <= this.pageSize / 4) {
          const value = new Uint8Array(BUCKET_HEADER_SIZE + level.size);
          writeNode(value.subarray(BUCKET_HEADER_SIZE), 0, 0, true, level.items);
          return { root: 0, inline: value };
        }
        return { root: this.write(i) };
      }
      if (level.items.length > 0) this.flush(i);
    }
  }

  private push(depth: number, item: Item): void {
    const level = this.levels[depth];
    const elementSize =
      depth === 0
        ? LEAF_ELEMENT_SIZE + item.key.byteLength + item.value.byteLength
        : BRANCH_ELEMENT_SIZE + item.key.byteLength;
    if (level.items.length > 0 && level.size + elementSize > this.pageSize) this.flush(depth);
    level.items.push(item);
    level.size += elementSize;
  }

  /** Writes the pending node of `depth` and passes it up as an element of the level above. */
  private flush(depth: number): void {
    const key = this.levels[depth].items[0].key;
    const pgid = this.write(depth);
    this.levels[depth].flushed = true;
    if (depth + 1 === this.levels.length) this.levels.push(newLevel());
    this.push(depth + 1, { key, value: EMPTY, flags: 0, pgid });
  }

  private write(depth: number): number {
    const level = this.levels[depth];
    const { pgid, page } = this.sink.allocate(level.size);
    writeNode(page, pgid, page.byteLength / this.pageSize - 1, depth === 0, level.items);
    level.items = [];
    level.size = PAGE_HEADER_SIZE;
    return pgid;
  }
}

function newLevel(): Level {
  return { items: [], size: PAGE_HEADER_SIZE, flushed: false };
}

/** Serializes a node into `page` (zeroed, large enough) as bbolt's node.write() does. */
function writeNode(
  page: Uint8Array,
  pgid: number,
  overflow: number,
  leaf: boolean,
  items: readonly Item[],
): void {
  if (items.length >= 0xffff) throw new BboltError(`node of ${items.length} elements`); // unreachable with pages <= 64 KiB
  const v = viewOf(page);
  writePageHeader(page, {
    id: pgid,
    flags: leaf ? LEAF_PAGE : BRANCH_PAGE,
    count: items.length,
    overflow,
  });
  let data = PAGE_HEADER_SIZE + items.length * LEAF_ELEMENT_SIZE; // branch elements are 16 bytes too
  items.forEach((item, i) => {
    const at = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
    if (leaf) {
      v.setUint32(at, item.flags, true);
      v.setUint32(at + 4, data - at, true);
      v.setUint32(at + 8, item.key.byteLength, true);
      v.setUint32(at + 12, item.value.byteLength, true);
    } else {
      v.setUint32(at, data - at, true);
      v.setUint32(at + 4, item.key.byteLength, true);
      writeU64(v, at + 8, item.pgid);
    }
    page.set(item.key, data);
    data += item.key.byteLength;
    if (leaf) {
      page.set(item.value, data);
      data += item.value.byteLength;
    }
  });
}
