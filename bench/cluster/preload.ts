// Fills a store before a read or memory benchmark: `count` keys of `valueSize` bytes, written as
// txns of 128 puts (etcd's default --max-txn-ops), several txns in flight.

import { putBatch } from './etcd-api.js';
import type { GrpcConnection } from './grpc-h2.js';
import { benchValue, keyName } from './workloads.js';

export const KEYS_PER_TXN = 128;

export interface PreloadResult {
  readonly keys: number;
  readonly txns: number;
  readonly seconds: number;
  /** The store revision after the last txn. */
  readonly revision: bigint;
}

/** Writes `${prefix}${n}` (see keyName) for n < count; rejects on the first failed txn. */
export async function preload(
  conn: GrpcConnection,
  o: {
    readonly prefix: string;
    readonly count: number;
    readonly valueSize: number;
    readonly inFlight?: number;
  },
): Promise<PreloadResult> {
  const value = benchValue(o.valueSize, 1);
  const started = performance.now();
  let next = 0;
  let txns = 0;
  let revision = 0n;
  const worker = async (): Promise<void> => {
    while (next < o.count) {
      const from = next;
      next = Math.min(o.count, next + KEYS_PER_TXN);
      const entries = [];
      for (let n = from; n < next; n++)
        entries.push({ key: Buffer.from(keyName(o.prefix, o.count, n)), value });
      const rev = await putBatch(conn, entries);
      txns++;
      if (rev > revision) revision = rev;
    }
  };
  await Promise.all(Array.from({ length: o.inFlight ?? 8 }, worker));
  return { keys: o.count, txns, seconds: (performance.now() - started) / 1000, revision };
}
