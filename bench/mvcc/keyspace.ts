// The keyspace's own cost, without raft or the network: puts/s and ranges/s through the request
// layer (KvApplier) over a real backend, and watch fan-out (events/s delivered to many watchers).
//
//   node dist/bench/mvcc/keyspace.js [--puts=100000] [--keys=10000] [--watchers=1000] [--writes=2000]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { KvApplier } from '../../src/mvcc/kv-apply.js';
import { KeyspaceStore } from '../../src/mvcc/kv-store.js';
import { WatchableStore } from '../../src/mvcc/watchable-store.js';
import { WatchStream } from '../../src/mvcc/watch-stream.js';
import { PutRequest, RangeRequest } from '../../src/proto/etcdserverpb/rpc.js';
import { Backend } from '../../src/storage/backend/index.js';
import { intFlag } from '../flags.js';

const puts = intFlag('puts', 100_000);
const keys = intFlag('keys', 10_000);
const watchers = intFlag('watchers', 1000);
const writes = intFlag('writes', 2000);

const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-mvcc-'));
try {
  const backend = Backend.open(join(dir, 'db'));
  const store = KeyspaceStore.open(backend);
  const applier = new KvApplier(store, () => false);
  const value = new Uint8Array(256);
  const keyOf = (i: number): Uint8Array =>
    new TextEncoder().encode(`key-${String(i % keys).padStart(8, '0')}`);

  let t0 = performance.now();
  for (let i = 0; i < puts; i++) applier.put(PutRequest.fromPartial({ key: keyOf(i), value }));
  await backend.commit();
  let s = (performance.now() - t0) / 1000;
  console.log(
    `put (256-byte values, ${keys} keys): ${Math.round(puts / s)} puts/s (${((s / puts) * 1e6).toFixed(1)} µs each, backend commit included)`,
  );

  t0 = performance.now();
  const reads = puts;
  for (let i = 0; i < reads; i++) applier.range(RangeRequest.fromPartial({ key: keyOf(i * 7919) }));
  s = (performance.now() - t0) / 1000;
  console.log(`range (single key): ${Math.round(reads / s)} ranges/s`);

  t0 = performance.now();
  const scans = 200;
  for (let i = 0; i < scans; i++) {
    applier.range(RangeRequest.fromPartial({ key: keyOf(0), rangeEnd: new Uint8Array([0]), limit: 100n }));
  }
  s = (performance.now() - t0) / 1000;
  console.log(`range (100 keys of ${keys}, limit): ${Math.round(scans / s)} ranges/s`);

  const ws = new WatchableStore(store, backend);
  const streams: WatchStream[] = [];
  for (let i = 0; i < watchers; i++) {
    const stream = new WatchStream(ws, { maxQueued: writes + 10 });
    stream.watch({
      watchId: 0n,
      key: new TextEncoder().encode('watched'),
      rangeEnd: new Uint8Array(0),
      startRevision: 0n,
      filters: [],
      prevKv: false,
      progressNotify: false,
      fragment: false,
    });
    stream.take();
    streams.push(stream);
  }
  t0 = performance.now();
  for (let i = 0; i < writes; i++)
    applier.put(PutRequest.fromPartial({ key: new TextEncoder().encode('watched'), value }));
  let delivered = 0;
  for (const stream of streams) for (const r of stream.take()) delivered += r.events.length;
  s = (performance.now() - t0) / 1000;
  console.log(
    `watch fan-out: ${watchers} watchers x ${writes} writes = ${delivered} events in ${s.toFixed(2)} s: ${Math.round(delivered / s)} events/s`,
  );
  ws.close();
  await store.close();
  await backend.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
