// Workloads: what one request of a benchmark is. The load generator only needs a gRPC path and the
// next framed request, so new kinds of requests are added here without touching its loop. Where the
// request differs only in its key, it is built from a precomputed template: per call we copy a few
// hundred bytes and write the key's digits, instead of running the protobuf encoder on the client's
// hot path.

import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  LeaseKeepAliveRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
} from '../../src/proto/etcdserverpb/rpc.js';
import { KV_PUT, KV_RANGE, KV_TXN, LEASE_KEEPALIVE } from './etcd-api.js';
import { grpcFrame } from './grpc-h2.js';

export interface Workload {
  /** For reports, e.g. "put, 256-byte values, random keys over a keyspace of 100000". */
  readonly description: string;
  /** What one call is, plural, for reports: "puts", "gets", ... */
  readonly unit: string;
  readonly path: string;
  /** The framed request number `seq` (0, 1, 2, ... in issue order), sent by client `client`. */
  request(seq: number, client: number): Buffer;
  /** By how much each successful call advances the store revision (puts 1, gets 0). */
  readonly revisionsPerCall: number;
}

export type KeyOrder = 'seq' | 'random';

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

/** The name of key `n` of a keyspace: zero-padded, so every request of a workload has one length. */
export function keyName(prefix: string, keyspace: number, n: number): string {
  return prefix + String(n).padStart(String(keyspace - 1).length, '0');
}

/** A value of `size` printable, varied bytes: no backend may profit from a run of zeros. */
export function benchValue(size: number, seed: number): Buffer {
  const value = Buffer.alloc(size);
  const rng = xorshift32(seed ^ 0x5bd1e995);
  for (let i = 0; i < value.length; i++) value[i] = 0x21 + (rng() % 94);
  return value;
}

/**
 * Frames of one message that differ only in the key's digits: `encode(key)` must put the key first
 * (field 1), as PutRequest and RangeRequest do. `check(n, message)` verifies one frame against the
 * real codec once, so a codec change can't silently send garbage.
 */
function keyedFrames(
  prefix: string,
  keyspace: number,
  encode: (key: Buffer) => Uint8Array,
  check: (keyNumber: number, message: Buffer) => boolean,
): (keyNumber: number) => Buffer {
  if (keyspace < 1) throw new Error('keyspace must be at least 1');
  const width = String(keyspace - 1).length;
  const templateKey = Buffer.from(prefix + '0'.repeat(width));
  const template = grpcFrame(encode(templateKey));
  // Field 1 (key) comes first: tag byte, varint length, then the key bytes.
  const keyAt = template.indexOf(templateKey);
  if (keyAt < 0 || keyAt > 5 + 1 + 5) throw new Error('request template: key not where expected');
  const digitsAt = keyAt + prefix.length;
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
  if (!check(keyspace - 1, frameFor(keyspace - 1).subarray(5))) {
    throw new Error('request template does not decode to the intended request');
  }
  return frameFor;
}

/** Picks key numbers: in order, or from a seeded sequence (the same for every target). */
function keyPicker(order: KeyOrder, keyspace: number, seed: number): (seq: number) => number {
  if (order === 'seq') return (seq) => seq % keyspace;
  const rng = xorshift32(seed);
  return () => rng() % keyspace;
}

export interface PutWorkloadOptions {
  readonly keyPrefix: string;
  /** Keys are `${keyPrefix}${n}` with n < keyspace (see keyName). */
  readonly keyspace: number;
  readonly keyOrder: KeyOrder;
  readonly valueSize: number;
  /** Seed of the random key sequence, so every target sees the same keys in the same order. */
  readonly seed: number;
}

export function putWorkload(o: PutWorkloadOptions): Workload {
  const value = benchValue(o.valueSize, o.seed);
  const frameFor = keyedFrames(
    o.keyPrefix,
    o.keyspace,
    (key) => PutRequest.encode(PutRequest.fromPartial({ key, value })).finish(),
    (n, msg) => {
      const probe = PutRequest.decode(msg);
      return (
        Buffer.from(probe.key).toString() === keyName(o.keyPrefix, o.keyspace, n) &&
        Buffer.from(probe.value).equals(value)
      );
    },
  );
  const pick = keyPicker(o.keyOrder, o.keyspace, o.seed);
  return {
    description: `put, ${o.valueSize}-byte values, ${o.keyOrder} keys over a keyspace of ${o.keyspace}`,
    unit: 'puts',
    path: KV_PUT,
    revisionsPerCall: 1,
    request: (seq) => frameFor(pick(seq)),
  };
}

export interface GetWorkloadOptions {
  /** The keys read: `${keyPrefix}${n}`, n < keyspace, loaded beforehand (see preload.ts). */
  readonly keyPrefix: string;
  readonly keyspace: number;
  /** Serializable: the member answers from its own state. Otherwise linearizable (ReadIndex). */
  readonly serializable: boolean;
  readonly seed: number;
}

/** Single-key gets (Range without range_end) of random keys. */
export function getWorkload(o: GetWorkloadOptions): Workload {
  const frameFor = keyedFrames(
    o.keyPrefix,
    o.keyspace,
    (key) => RangeRequest.encode(RangeRequest.fromPartial({ key, serializable: o.serializable })).finish(),
    (n, msg) => {
      const probe = RangeRequest.decode(msg);
      return (
        Buffer.from(probe.key).toString() === keyName(o.keyPrefix, o.keyspace, n) &&
        probe.serializable === o.serializable &&
        probe.rangeEnd.length === 0
      );
    },
  );
  const pick = keyPicker('random', o.keyspace, o.seed);
  return {
    description: `${o.serializable ? 'serializable' : 'linearizable'} single-key get, random keys over ${o.keyspace}`,
    unit: 'gets',
    path: KV_RANGE,
    revisionsPerCall: 0,
    request: (seq) => frameFor(pick(seq)),
  };
}

export interface TxnPutWorkloadOptions {
  /** Client c owns the key `${keyPrefix}${c}`; use a fresh prefix per round (versions start at 0). */
  readonly keyPrefix: string;
  readonly clients: number;
  readonly valueSize: number;
  readonly seed: number;
}

/**
 * Compare-and-set: each client owns one key and sends Txn(if version(key) == v then put(key)), with v
 * the number of its earlier requests. Every txn must take the success branch, so the store revision
 * advances by one per acknowledged txn; a failed compare shows as a revision mismatch (no response
 * body needs reading). Requests carry a growing version, so they are encoded per call.
 */
export function txnPutWorkload(o: TxnPutWorkloadOptions): Workload {
  const value = benchValue(o.valueSize, o.seed);
  const keys = Array.from({ length: o.clients }, (_, c) => Buffer.from(keyName(o.keyPrefix, o.clients, c)));
  const versions = new Array<number>(o.clients).fill(0);
  return {
    description: `txn: if version(key) = v then put ${o.valueSize}-byte value; one key per client`,
    unit: 'txns',
    path: KV_TXN,
    revisionsPerCall: 1,
    request: (_seq, client) => {
      const key = keys[client];
      const req = TxnRequest.fromPartial({
        compare: [
          Compare.fromPartial({
            result: Compare_CompareResult.EQUAL,
            target: Compare_CompareTarget.VERSION,
            key,
            targetUnion: { $case: 'version', value: BigInt(versions[client]++) },
          }),
        ],
        success: [{ request: { $case: 'requestPut', value: PutRequest.fromPartial({ key, value }) } }],
      });
      return grpcFrame(TxnRequest.encode(req).finish());
    },
  };
}

/** Keepalives of already granted leases: client c renews lease c (modulo the number of leases). */
export function keepAliveWorkload(leases: readonly bigint[]): Workload {
  if (leases.length === 0) throw new Error('keepalive workload: no leases');
  const frames = leases.map((id) => grpcFrame(LeaseKeepAliveRequest.encode({ ID: id }).finish()));
  return {
    description: `lease keepalive over LeaseKeepAlive streams, ${leases.length} leases`,
    unit: 'keepalives',
    path: LEASE_KEEPALIVE,
    revisionsPerCall: 0,
    request: (_seq, client) => frames[client % frames.length],
  };
}
