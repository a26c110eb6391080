// The few etcd calls the drivers make outside the load loop (status, single puts and gets, bulk
// loads, lease grants), over the same lean client the load uses, so the benchmark depends on nothing
// but the generated codecs.

import {
  LeaseGrantRequest,
  LeaseGrantResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  StatusRequest,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../../src/proto/etcdserverpb/rpc.js';
import { grpcFrame, type GrpcConnection } from './grpc-h2.js';

export const KV_PUT = '/etcdserverpb.KV/Put';
export const KV_RANGE = '/etcdserverpb.KV/Range';
export const KV_TXN = '/etcdserverpb.KV/Txn';
export const WATCH = '/etcdserverpb.Watch/Watch';
export const LEASE_GRANT = '/etcdserverpb.Lease/LeaseGrant';
export const LEASE_KEEPALIVE = '/etcdserverpb.Lease/LeaseKeepAlive';
export const MAINTENANCE_STATUS = '/etcdserverpb.Maintenance/Status';

export interface MemberStatus {
  readonly memberId: bigint;
  /** 0n while the member knows no leader. */
  readonly leader: bigint;
  readonly raftTerm: bigint;
  readonly raftIndex: bigint;
  readonly revision: bigint;
  readonly dbSize: bigint;
}

export async function memberStatus(conn: GrpcConnection, timeoutMs = 2000): Promise<MemberStatus> {
  const body = await conn.unary(MAINTENANCE_STATUS, grpcFrame(StatusRequest.encode({}).finish()), timeoutMs);
  const s = StatusResponse.decode(body);
  return {
    memberId: s.header?.memberId ?? 0n,
    leader: s.leader,
    raftTerm: s.raftTerm,
    raftIndex: s.raftIndex,
    revision: s.header?.revision ?? 0n,
    dbSize: s.dbSize,
  };
}

/** One put; resolves with the store revision it created. */
export async function putOnce(
  conn: GrpcConnection,
  key: string,
  value: string,
  timeoutMs = 2000,
): Promise<bigint> {
  const req = PutRequest.fromPartial({
    key: Buffer.from(key),
    value: Buffer.from(value),
  });
  const body = await conn.unary(KV_PUT, grpcFrame(PutRequest.encode(req).finish()), timeoutMs);
  return PutResponse.decode(body).header?.revision ?? 0n;
}

/** One single-key get (linearizable unless `serializable`): the number of keys found and the revision. */
export async function getOnce(
  conn: GrpcConnection,
  key: string,
  options: { readonly serializable?: boolean; readonly timeoutMs?: number } = {},
): Promise<{ readonly count: number; readonly revision: bigint }> {
  const req = RangeRequest.fromPartial({
    key: Buffer.from(key),
    serializable: options.serializable ?? false,
  });
  const body = await conn.unary(
    KV_RANGE,
    grpcFrame(RangeRequest.encode(req).finish()),
    options.timeoutMs ?? 2000,
  );
  const r = RangeResponse.decode(body);
  return { count: Number(r.count), revision: r.header?.revision ?? 0n };
}

/** How many keys start with `prefix` (a count-only range, linearizable). */
export async function countKeys(conn: GrpcConnection, prefix: string, timeoutMs = 60_000): Promise<number> {
  const key = Buffer.from(prefix);
  const rangeEnd = Buffer.from(key);
  // The prefix's end: the last byte plus one (our prefixes are ASCII and never end in 0xff).
  rangeEnd[rangeEnd.length - 1]++;
  const req = RangeRequest.fromPartial({ key, rangeEnd, countOnly: true });
  const body = await conn.unary(KV_RANGE, grpcFrame(RangeRequest.encode(req).finish()), timeoutMs);
  return Number(RangeResponse.decode(body).count);
}

/** One txn of unconditional puts (at most 128: etcd's default --max-txn-ops); resolves with its revision. */
export async function putBatch(
  conn: GrpcConnection,
  entries: readonly { readonly key: Buffer; readonly value: Buffer }[],
  timeoutMs = 30_000,
): Promise<bigint> {
  const req = TxnRequest.fromPartial({
    success: entries.map((e) => ({
      request: { $case: 'requestPut', value: PutRequest.fromPartial({ key: e.key, value: e.value }) },
    })),
  });
  const body = await conn.unary(KV_TXN, grpcFrame(TxnRequest.encode(req).finish()), timeoutMs);
  const r = TxnResponse.decode(body);
  if (!r.succeeded) throw new Error('a txn without compares did not succeed');
  return r.header?.revision ?? 0n;
}

/** Grants a lease; resolves with its ID. */
export async function grantLease(
  conn: GrpcConnection,
  ttlSeconds: number,
  timeoutMs = 5000,
): Promise<bigint> {
  const req = LeaseGrantRequest.fromPartial({ TTL: BigInt(ttlSeconds) });
  const body = await conn.unary(LEASE_GRANT, grpcFrame(LeaseGrantRequest.encode(req).finish()), timeoutMs);
  const r = LeaseGrantResponse.decode(body);
  if (r.error !== '') throw new Error(`LeaseGrant: ${r.error}`);
  return r.ID;
}
