// Reads through the backend: LMDB's committed state overlaid by the buffered writes (write-buffer.ts).
//
// A ReadTx from Backend.readTx() is a consistent snapshot: an LMDB read transaction pinned at its
// creation plus the buffer layers of that moment (pinned, so later writes do not show). It stays valid
// across awaits until release(). Between the two halves nothing can be missed or doubled: a layer
// leaves the buffer only after LMDB has made its commit visible (and lmdb-js has reset its shared read
// transaction), so a write is in the pinned layers, in the pinned LMDB snapshot, or in both (the
// overlay then repeats what LMDB has, which changes nothing).
//
// Results: keys and values are Uint8Arrays (Buffers when they come from LMDB, the caller's own arrays
// when they come from the buffer): treat them as read-only.

import type { Database, Transaction } from 'lmdb';

import type { Bucket } from './buckets.js';
import { keyString, lookup, overlayRange, type Layer } from './write-buffer.js';

export type BucketDbs = { readonly [B in Bucket]: Database<Uint8Array, Uint8Array> };

export interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface RangeOptions {
  /** At most this many results; 0 or absent: no limit (etcd's limit <= 0). */
  readonly limit?: number;
  /** Walk from the end of the range down to its start. */
  readonly reverse?: boolean;
}

/** Raised when a read is attempted on a released ReadTx. */
export class ReadTxReleasedError extends Error {
  constructor() {
    super('backend: read on a released ReadTx');
    this.name = 'ReadTxReleasedError';
  }
}

const LOWEST_KEY = Buffer.from([0]); // LMDB keys are never empty, so [0x00] is the smallest possible

interface LmdbRangeOptions {
  start?: Uint8Array;
  end?: Uint8Array;
  reverse?: boolean;
  exclusiveStart?: boolean;
  inclusiveEnd?: boolean;
  transaction?: Transaction;
}

export class ReadTx {
  private released = false;

  /** @internal Built by Backend; `txn` undefined reads LMDB's current state (synchronous use only). */
  constructor(
    private readonly dbs: BucketDbs,
    private readonly layers: readonly Layer[],
    private readonly txn: Transaction | undefined,
    private readonly onRelease: (() => void) | undefined,
  ) {}

  /** The value of `key` in `bucket`, or undefined. */
  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined {
    this.check();
    if (key.byteLength === 0) return undefined;
    if (this.layers.length > 0) {
      const w = lookup(this.layers, bucket, keyString(key));
      if (w !== undefined) return w.value ?? undefined;
    }
    const db = this.dbs[bucket];
    return this.txn === undefined ? db.get(key) : db.get(key, { transaction: this.txn });
  }

  /**
   * The entries of `bucket` with start <= key < end, in key order (descending with `reverse`). `end`
   * undefined means no upper bound; an empty `start` means no lower bound.
   */
  range(bucket: Bucket, start: Uint8Array, end?: Uint8Array, options: RangeOptions = {}): KeyValue[] {
    this.check();
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
    const reverse = options.reverse === true;
    const startS = keyString(start);
    const endS = end === undefined ? undefined : keyString(end);
    const out: KeyValue[] = [];
    if (endS !== undefined && endS <= startS) return out;

    const overlay = overlayRange(this.layers, bucket, startS, endS);
    const oKeys = overlay.keys;
    if (oKeys.length === 0) {
      // Nothing buffered in the range: LMDB's entries as they come.
      for (const kv of this.dbs[bucket].getRange(this.lmdbRange(start, end, reverse))) {
        out.push(kv);
        if (out.length >= limit) break;
      }
      return out;
    }
    const step = reverse ? -1 : 1;
    let oi = reverse ? oKeys.length - 1 : 0;
    const overlayLeft = (): boolean => oi >= 0 && oi < oKeys.length;
    const comesFirst = (a: string, b: string): boolean => (reverse ? a > b : a < b);
    // Emits the overlay's write at oi (unless it is a delete) and advances; true when the limit is hit.
    const emitOverlay = (): boolean => {
      const w = overlay.writes.get(oKeys[oi]);
      oi += step;
      if (w !== undefined && w.value !== null) out.push({ key: w.key, value: w.value });
      return out.length >= limit;
    };

    let full = false;
    for (const { key, value } of this.dbs[bucket].getRange(this.lmdbRange(start, end, reverse))) {
      const ks = keyString(key);
      while (overlayLeft() && comesFirst(oKeys[oi], ks)) {
        if ((full = emitOverlay())) break;
      }
      if (full) break;
      if (overlayLeft() && oKeys[oi] === ks) {
        full = emitOverlay(); // the buffer's newer value (or delete) replaces the committed one
      } else {
        out.push({ key, value });
        full = out.length >= limit;
      }
      if (full) break;
    }
    while (!full && overlayLeft()) full = emitOverlay();
    return out;
  }

  /** Ends the transaction: its LMDB snapshot and buffer layers are let go. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.txn?.done();
    this.onRelease?.();
  }

  private check(): void {
    if (this.released) throw new ReadTxReleasedError();
  }

  private lmdbRange(start: Uint8Array, end: Uint8Array | undefined, reverse: boolean): LmdbRangeOptions {
    const o: LmdbRangeOptions = {};
    if (this.txn !== undefined) o.transaction = this.txn;
    if (!reverse) {
      if (start.byteLength > 0) o.start = start;
      if (end !== undefined) o.end = end; // exclusive by default
      return o;
    }
    // Reverse: lmdb-js starts at `start` and walks down to `end`.
    o.reverse = true;
    if (end !== undefined) {
      o.start = end;
      o.exclusiveStart = true;
    }
    o.end = start.byteLength > 0 ? start : LOWEST_KEY;
    o.inclusiveEnd = true;
    return o;
  }
}
