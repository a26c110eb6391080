// Lessor limits and defaults (etcd 3.5's lease package and embed config).

/** The largest TTL a grant accepts, in seconds (etcd's MaxLeaseTTL). */
export const MAX_LEASE_TTL = 9_000_000_000n;
/** Expired leases handed out for revocation per second (etcd's leaseRevokeRate). */
export const DEFAULT_REVOKE_RATE = 1000;
/** etcd's --lease-checkpoint-interval default: 5 minutes. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60 * 1000;
/** Checkpoints in one LeaseCheckpointRequest (etcd's maxLeaseCheckpointBatchSize). */
export const MAX_CHECKPOINT_BATCH_SIZE = 1000;
/** Batches handed out by one dueCheckpoints() call (etcd: leaseCheckpointRate / 2 per 500 ms loop). */
export const MAX_CHECKPOINT_BATCHES = 500;
/** An expired lease whose revocation has not been applied after this long is handed out again. */
export const DEFAULT_EXPIRED_RETRY_INTERVAL_MS = 3000;

export interface LessorConfig {
  /** Monotonic milliseconds. Consulted only for leader-side timing, never to decide applied state. */
  readonly now: () => number;
  /** Grants below this TTL (seconds) are raised to it. Default 2 (see minLeaseTtlSeconds). */
  readonly minTtlSeconds?: number;
  /**
   * Propose checkpoints of remaining TTLs so a leader change does not restart long leases. Default
   * true. (etcd 3.4/3.5 ship it off behind --experimental-enable-lease-checkpoint; checkpoints that
   * arrive through raft are applied either way.)
   */
  readonly checkpointing?: boolean;
  readonly checkpointIntervalMs?: number;
  /** Expired leases handed out for revocation per second; also the threshold for spreading on promote. */
  readonly revokeRate?: number;
  readonly expiredRetryIntervalMs?: number;
  readonly maxCheckpointBatchSize?: number;
}

export interface ResolvedLessorConfig {
  readonly now: () => number;
  readonly minTtlSeconds: bigint;
  readonly checkpointing: boolean;
  readonly checkpointIntervalMs: number;
  readonly revokeRate: number;
  readonly expiredRetryIntervalMs: number;
  readonly maxCheckpointBatchSize: number;
}

function positive(v: number, what: string): number {
  if (!Number.isFinite(v) || v <= 0)
    throw new RangeError(`lessor: ${what} must be a positive number, got ${v}`);
  return v;
}

function positiveInteger(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v <= 0)
    throw new RangeError(`lessor: ${what} must be a positive integer, got ${v}`);
  return v;
}

export function resolveConfig(c: LessorConfig): ResolvedLessorConfig {
  if (typeof c.now !== 'function') throw new TypeError('lessor: config.now must be a clock function');
  const minTtl = c.minTtlSeconds ?? 2;
  if (!Number.isSafeInteger(minTtl) || minTtl < 1 || BigInt(minTtl) > MAX_LEASE_TTL) {
    throw new RangeError(`lessor: minTtlSeconds must be an integer in 1..${MAX_LEASE_TTL}, got ${minTtl}`);
  }
  return {
    now: c.now,
    minTtlSeconds: BigInt(minTtl),
    checkpointing: c.checkpointing ?? true,
    checkpointIntervalMs: positive(
      c.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
      'checkpointIntervalMs',
    ),
    revokeRate: positiveInteger(c.revokeRate ?? DEFAULT_REVOKE_RATE, 'revokeRate'),
    expiredRetryIntervalMs: positive(
      c.expiredRetryIntervalMs ?? DEFAULT_EXPIRED_RETRY_INTERVAL_MS,
      'expiredRetryIntervalMs',
    ),
    maxCheckpointBatchSize: positiveInteger(
      c.maxCheckpointBatchSize ?? MAX_CHECKPOINT_BATCH_SIZE,
      'maxCheckpointBatchSize',
    ),
  };
}

/**
 * etcd's minimum lease TTL: 1.5 election timeouts, counted in whole heartbeat ticks and rounded up
 * to seconds (the defaults, 1000 ms and 100 ms, give 2 s). Members must agree on it, since grants
 * raise to it in the apply path.
 */
export function minLeaseTtlSeconds(electionTimeoutMs: number, heartbeatIntervalMs = 100): number {
  positive(electionTimeoutMs, 'electionTimeoutMs');
  positive(heartbeatIntervalMs, 'heartbeatIntervalMs');
  const electionTicks = Math.floor(electionTimeoutMs / heartbeatIntervalMs);
  const ms = Math.floor((3 * electionTicks) / 2) * heartbeatIntervalMs;
  return Math.max(1, Math.ceil(ms / 1000));
}
