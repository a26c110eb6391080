// The few etcd calls the driver makes outside the load loop (status, a single put), over the same
// lean client the load uses, so the benchmark depends on nothing but the generated codecs.

import { PutRequest, PutResponse, StatusRequest, StatusResponse } from '../../src/proto/etcdserverpb/rpc.js';
import { grpcFrame, type GrpcConnection } from './grpc-h2.js';

export const KV_PUT = '/etcdserverpb.KV/Put';
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
