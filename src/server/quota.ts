// The backend quota (--quota-backend-bytes): a request that would add data is refused once the
// backend file plus the request's estimated cost reaches the quota, and the member then raises the
// NOSPACE alarm through raft. The costs are etcd's estimates, so clusters fill up at the same point.

import type { LeaseGrantRequest, PutRequest, RequestOp, TxnRequest } from '../proto/etcdserverpb/rpc.js';

/** etcd's default quota when the flag is 0 (2 GiB), and the largest it recommends (8 GiB). */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;

/** Estimated bytes a key-value pair costs beyond its key and value (revision keys, index, pages). */
const KV_OVERHEAD = 256;
/** Estimated bytes a lease record costs. */
const LEASE_OVERHEAD = 64;

export type CostedRequest =
  { readonly put: PutRequest } | { readonly txn: TxnRequest } | { readonly leaseGrant: LeaseGrantRequest };

export function putCost(r: PutRequest): number {
  return KV_OVERHEAD + r.key.byteLength + r.value.byteLength;
}

/**
 * A txn costs its costlier branch. Unlike etcd, puts inside nested txns count too: etcd ignores them,
 * which lets a nested put slip past a full backend.
 */
export function txnCost(r: TxnRequest): number {
  return Math.max(branchCost(r.success), branchCost(r.failure));
}

function branchCost(ops: readonly RequestOp[]): number {
  let cost = 0;
  for (const op of ops) {
    const req = op.request;
    if (req?.$case === 'requestPut') cost += putCost(req.value);
    else if (req?.$case === 'requestTxn') cost += txnCost(req.value);
  }
  return cost;
}

export function requestCost(r: CostedRequest): number {
  if ('put' in r) return putCost(r.put);
  if ('txn' in r) return txnCost(r.txn);
  return LEASE_OVERHEAD;
}

export interface QuotaSettings {
  /** Bytes; undefined when the quota is disabled (a negative flag value). */
  readonly limit: number | undefined;
  /** Why the flag value was adjusted, for the log (etcd warns in these cases too). */
  readonly warning?: string;
}

/** The effective quota for a --quota-backend-bytes value, as etcd resolves it. */
export function resolveQuota(flagBytes: number): QuotaSettings {
  if (flagBytes < 0) return { limit: undefined, warning: 'disabled backend quota' };
  if (flagBytes === 0) return { limit: DEFAULT_QUOTA_BYTES };
  if (flagBytes > MAX_QUOTA_BYTES) {
    return {
      limit: flagBytes,
      warning: `quota exceeds the maximum value: quota-size ${flagBytes} exceeds ${MAX_QUOTA_BYTES}`,
    };
  }
  return { limit: flagBytes };
}

export class BackendQuota {
  constructor(
    private readonly backendSize: () => number,
    private readonly limit: number | undefined,
  ) {}

  /** Whether a request of this cost may be proposed; requests that add nothing always may. */
  available(cost: number): boolean {
    if (cost === 0 || this.limit === undefined) return true;
    return this.backendSize() + cost < this.limit;
  }
}
