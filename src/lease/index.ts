// Leases: etcd's lessor as a deterministic state machine over the backend. See lessor.ts.

export {
  Lessor,
  NO_LEASE,
  type LeaseGrantResult,
  type LeaseInfo,
  type LeaseRecord,
  type LeaseRenewResult,
  type LeaseTimeToLiveResult,
} from './lessor.js';
export {
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_EXPIRED_RETRY_INTERVAL_MS,
  DEFAULT_REVOKE_RATE,
  MAX_CHECKPOINT_BATCHES,
  MAX_CHECKPOINT_BATCH_SIZE,
  MAX_LEASE_TTL,
  minLeaseTtlSeconds,
  type LessorConfig,
} from './config.js';
export {
  LEASE_EXISTS_MESSAGE,
  LEASE_GRPC_STATUS,
  LEASE_NOT_FOUND_MESSAGE,
  LEASE_NOT_PRIMARY_MESSAGE,
  LEASE_TTL_TOO_LARGE_MESSAGE,
  LeaseError,
  isLeaseError,
  type LeaseErrorReason,
  type LeaseGrpcCode,
} from './errors.js';
export type { LeaseKeyspace, LeaseStore } from './ports.js';
export { LEASE_BUCKET, decodeLeaseKey, leaseKey } from './record.js';
