// Micro-benchmark of the raft wire codec: encode and decode throughput for typical messages.
// Run: npx tsc -p . && node dist/bench/raft/codec.js

import { decodeMessage, encodeMessage } from '../../src/raft/codec.js';
import type { Entry, Message } from '../../src/raft/types.js';

function bench(name: string, m: Message, iterations: number): void {
  const bytes = encodeMessage(m);
  // Warm up so that both paths are optimized before timing.
  for (let i = 0; i < 1000; i++) decodeMessage(encodeMessage(m));

  let start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) encodeMessage(m);
  const encodeNs = Number(process.hrtime.bigint() - start);

  start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) decodeMessage(bytes);
  const decodeNs = Number(process.hrtime.bigint() - start);

  const mbps = (ns: number): string => ((bytes.byteLength * iterations) / (ns / 1e9) / 1e6).toFixed(0);
  const perOp = (ns: number): string => (ns / iterations / 1000).toFixed(2);
  console.log(
    `${name.padEnd(28)} ${String(bytes.byteLength).padStart(7)} B  ` +
      `encode ${perOp(encodeNs).padStart(8)} µs ${mbps(encodeNs).padStart(6)} MB/s  ` +
      `decode ${perOp(decodeNs).padStart(8)} µs ${mbps(decodeNs).padStart(6)} MB/s`,
  );
}

function entries(count: number, size: number, firstIndex: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ term: 7, index: firstIndex + i, type: 'normal', data: new Uint8Array(size).fill(i & 0xff) });
  }
  return out;
}

const envelope = { to: 2n, from: 1n, term: 7 };
bench(
  'MsgHeartbeat',
  { type: 'MsgHeartbeat', ...envelope, commit: 123456, context: new Uint8Array(0) },
  200_000,
);
bench(
  'MsgAppResp',
  { ...envelope, type: 'MsgAppResp', index: 123456, reject: false, rejectHint: 0, logTerm: 0 },
  200_000,
);
for (const [count, size] of [
  [1, 64],
  [64, 256],
  [256, 1024],
] as const) {
  const m: Message = {
    type: 'MsgApp',
    ...envelope,
    index: 2 ** 33,
    logTerm: 7,
    entries: entries(count, size, 2 ** 33 + 1),
    commit: 2 ** 33,
  };
  bench(`MsgApp ${count} x ${size} B`, m, Math.max(200, Math.floor(2_000_000 / (count * 10))));
}
