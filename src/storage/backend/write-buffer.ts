// The in-memory side of the backend: writes applied but not yet committed to LMDB.
//
// etcd's backend buffers the puts of its batch tx and merges them into a read buffer when the write
// txn ends, so reads see every applied write at once, long before the periodic commit makes it
// durable. Here the same idea is a stack of LAYERS:
//
//   inFlight   layers handed to LMDB by the running commit (visible to reads until the commit lands)
//   frozen     layers no longer written to, waiting for the next commit (oldest first)
//   tail       the one mutable layer; writes go here
//
// A read sees LMDB's committed state overlaid by inFlight, frozen and tail, newest winning. A layer
// maps key -> the key's newest value in that layer, or null for a delete (a "tombstone" that hides the
// committed value).
//
// SNAPSHOTS WITHOUT COPIES. A ReadTx must keep seeing the state of the moment it began while writes go
// on. pin() hands out the current layers; frozen and inFlight layers never change again, and pinning
// the tail marks it so that the next write freezes it and starts a new tail instead of changing it.
// So taking a snapshot costs O(1) and writes never copy a layer because of a reader. Pins that are
// released before the next write (every synchronous read) freeze nothing. Freezing can leave many
// small layers (write, readTx, write, readTx, ...), so adjacent frozen layers are merged like a binary
// counter: while the newest is at least half the size of the one below, the two become one new layer
// (old readers keep the old objects). That keeps O(log n) layers for n buffered keys, at amortized
// O(log n) copies per key.
//
// KEYS are held as latin1 strings (one char per byte): JavaScript compares strings by UTF-16 code
// unit, which for chars 0..255 is exactly LMDB's default key order (memcmp, shorter prefix first).
//
// OWNERSHIP. The buffer keeps the caller's key and value arrays, not copies (LMDB reads them again
// when the commit runs): do not modify them after the write. Values handed out by reads may be those
// same arrays: treat them as read-only.

import type { Bucket } from './buckets.js';

export interface BufferedWrite {
  readonly key: Uint8Array;
  /** The new value, or null when the key was deleted. */
  readonly value: Uint8Array | null;
}

/** The latin1 string of a key's bytes: a Map key that sorts as LMDB sorts the bytes. */
export function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/** Index of the first element >= `k` in the ascending array `keys`. */
function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Layer {
  private readonly buckets = new Map<Bucket, Map<string, BufferedWrite>>();
  private sorted: Map<Bucket, readonly string[]> | undefined;
  /** Distinct keys over all buckets. */
  size = 0;
  /** ReadTxs holding this layer as their newest; while > 0 the layer must not change. */
  pins = 0;

  set(bucket: Bucket, k: string, w: BufferedWrite): void {
    let m = this.buckets.get(bucket);
    if (m === undefined) {
      m = new Map();
      this.buckets.set(bucket, m);
    }
    const before = m.size;
    m.set(k, w);
    this.size += m.size - before;
    this.sorted = undefined;
  }

  get(bucket: Bucket, k: string): BufferedWrite | undefined {
    return this.buckets.get(bucket)?.get(k);
  }

  /** The bucket's keys in ascending order (cached until the next set). */
  sortedKeys(bucket: Bucket): readonly string[] {
    const m = this.buckets.get(bucket);
    if (m === undefined) return [];
    this.sorted ??= new Map();
    let keys = this.sorted.get(bucket);
    if (keys === undefined) {
      keys = [...m.keys()].sort();
      this.sorted.set(bucket, keys);
    }
    return keys;
  }

  /** Every write of the layer, bucket by bucket. */
  *entries(): IterableIterator<[Bucket, BufferedWrite]> {
    for (const [bucket, m] of this.buckets) {
      for (const w of m.values()) yield [bucket, w];
    }
  }

  /** A new layer holding `older` overwritten by `newer`. */
  static merge(older: Layer, newer: Layer): Layer {
    const out = new Layer();
    for (const [bucket, m] of older.buckets) {
      out.buckets.set(bucket, new Map(m));
      out.size += m.size;
    }
    for (const [bucket, m] of newer.buckets) {
      for (const [k, w] of m) out.set(bucket, k, w);
    }
    return out;
  }
}

/** The newest buffered write of `k` in `layers` (oldest first), or undefined if none has one. */
export function lookup(layers: readonly Layer[], bucket: Bucket, k: string): BufferedWrite | undefined {
  for (let i = layers.length - 1; i >= 0; i--) {
    const w = layers[i].get(bucket, k);
    if (w !== undefined) return w;
  }
  return undefined;
}

/**
 * The buffered writes of keys in [start, end) (end undefined: no upper bound), newest per key, as
 * ascending keys and a map from key to write.
 */
export function overlayRange(
  layers: readonly Layer[],
  bucket: Bucket,
  start: string,
  end: string | undefined,
): { keys: readonly string[]; writes: Map<string, BufferedWrite> } {
  const writes = new Map<string, BufferedWrite>();
  let keys: string[] = [];
  let sources = 0;
  for (const layer of layers) {
    const sorted = layer.sortedKeys(bucket);
    const from = lowerBound(sorted, start);
    const to = end === undefined ? sorted.length : lowerBound(sorted, end);
    if (from >= to) continue;
    sources++;
    for (let i = from; i < to; i++) {
      const k = sorted[i];
      const w = layer.get(bucket, k);
      if (w !== undefined) writes.set(k, w);
    }
    if (sources === 1) keys = sorted.slice(from, to);
  }
  if (sources > 1) keys = [...writes.keys()].sort();
  return { keys, writes };
}

const NO_OP = (): void => {};

export interface Pinned {
  /** Oldest first. */
  readonly layers: readonly Layer[];
  readonly unpin: () => void;
}

export class WriteBuffer {
  private tail = new Layer();
  private frozen: Layer[] = [];
  private inFlight: Layer[] = [];
  /** Puts and deletes since the last takePending() (what batchLimit counts, as etcd's `pending`). */
  pendingOps = 0;

  write(bucket: Bucket, key: Uint8Array, value: Uint8Array | null): void {
    if (this.tail.pins > 0) this.freezeTail();
    this.tail.set(bucket, keyString(key), { key, value });
    this.pendingOps++;
  }

  private freezeTail(): void {
    const f = this.frozen;
    f.push(this.tail);
    this.tail = new Layer();
    while (f.length >= 2 && f[f.length - 1].size * 2 >= f[f.length - 2].size) {
      const newer = f.pop() as Layer;
      const older = f.pop() as Layer;
      f.push(Layer.merge(older, newer));
    }
  }

  /** The layers of every write not yet landed in LMDB, oldest first, without pinning (sync use only). */
  live(): readonly Layer[] {
    const out: Layer[] = this.inFlight.length === 0 ? [] : [...this.inFlight];
    for (const l of this.frozen) out.push(l);
    if (this.tail.size > 0) out.push(this.tail);
    return out;
  }

  /** Like live(), but the layers stay unchanged until unpin() (which must be called exactly once). */
  pin(): Pinned {
    const layers = this.live();
    const tail = this.tail;
    if (tail.size === 0) return { layers, unpin: NO_OP };
    tail.pins++;
    return { layers, unpin: () => void tail.pins-- };
  }

  /**
   * Moves all pending writes in flight and returns them (oldest first, to be applied in order) with
   * their operation count, or undefined when nothing is pending. They stay visible to reads until
   * landed().
   */
  takePending(): { layers: readonly Layer[]; ops: number } | undefined {
    if (this.pendingOps === 0) return undefined;
    if (this.inFlight.length > 0) throw new Error('write buffer: a commit is already in flight');
    const layers = this.tail.size > 0 ? [...this.frozen, this.tail] : this.frozen;
    const ops = this.pendingOps;
    this.frozen = [];
    this.tail = new Layer();
    this.pendingOps = 0;
    this.inFlight = layers;
    return { layers, ops };
  }

  /** The in-flight writes are committed in LMDB and visible to its new read transactions. */
  landed(): void {
    this.inFlight = [];
  }

  /** Distinct buffered keys (pending and in flight), for stats. */
  bufferedKeys(): number {
    let n = this.tail.size;
    for (const l of this.frozen) n += l.size;
    for (const l of this.inFlight) n += l.size;
    return n;
  }
}
