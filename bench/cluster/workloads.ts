// Workloads: what one request of a benchmark is. The load generator only needs a gRPC path and the
// next framed request, so range, txn and the rest can be added here without touching the driver's
// loop. Requests are built from a precomputed template: per call we copy ~300 bytes and write the
// key's digits, instead of running the protobuf encoder on the client's hot path.

import { PutRequest } from '../../src/proto/etcdserverpb/rpc.js';
import { KV_PUT } from './etcd-api.js';
import { grpcFrame } from './grpc-h2.js';

export interface Workload {
  /** For reports, e.g. "put 256 B, random keys over 100000". */
  readonly description: string;
  readonly path: string;
  /** The framed request number `seq` (0, 1, 2, ... in issue order). */
  request(seq: number): Buffer;
  /** How many successful calls change the store revision by one each (puts: all). */
  readonly revisionsPerCall: number;
}

export type KeyOrder = 'seq' | 'random';

export interface PutWorkloadOptions {
  readonly keyPrefix: string;
  /** Keys are `${keyPrefix}${n}` with n < keyspace, zero-padded so every request has one length. */
  readonly keyspace: number;
  readonly keyOrder: KeyOrder;
  readonly valueSize: number;
  /** Seed of the random key sequence, so every target sees the same keys in the same order. */
  readonly seed: number;
}

/** xorshift32: cheap and seeded; the load needs spread, not cryptographic quality. */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function putWorkload(o: PutWorkloadOptions): Workload {
  if (o.keyspace < 1) throw new Error('keyspace must be at least 1');
  const width = String(o.keyspace - 1).length;
  const templateKey = Buffer.from(o.keyPrefix + '0'.repeat(width));
  const value = Buffer.alloc(o.valueSize);
  const valueRng = xorshift32(o.seed ^ 0x5bd1e995);
  // Printable, varied bytes: no backend may profit from a run of zeros.
  for (let i = 0; i < value.length; i++) value[i] = 0x21 + (valueRng() % 94);
  const template = grpcFrame(PutRequest.encode(PutRequest.fromPartial({ key: templateKey, value })).finish());
  // Field 1 (key) comes first: tag byte, varint length, then the key bytes.
  const keyAt = template.indexOf(templateKey);
  if (keyAt < 0 || keyAt > 5 + 1 + 5) throw new Error('put template: key not where expected');
  const digitsAt = keyAt + o.keyPrefix.length;

  const frameFor = (keyNumber: number): Buffer => {
    const frame = Buffer.allocUnsafe(template.length);
    template.copy(frame);
    let n = keyNumber;
    for (let i = digitsAt + width - 1; i >= digitsAt; i--) {
      frame[i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    return frame;
  };

  // Check the template against the real codec once, so a codec change can't silently send garbage.
  const last = o.keyspace - 1;
  const probe = PutRequest.decode(frameFor(last).subarray(5));
  if (
    Buffer.from(probe.key).toString() !== `${o.keyPrefix}${String(last).padStart(width, '0')}` ||
    !Buffer.from(probe.value).equals(value)
  ) {
    throw new Error('put template does not decode to the intended request');
  }

  const rng = xorshift32(o.seed);
  return {
    description: `put, ${o.valueSize}-byte values, ${o.keyOrder} keys over a keyspace of ${o.keyspace}`,
    path: KV_PUT,
    revisionsPerCall: 1,
    request: o.keyOrder === 'seq' ? (seq) => frameFor(seq % o.keyspace) : () => frameFor(rng() % o.keyspace),
  };
}
