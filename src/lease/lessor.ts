// The lessor: etcd's lease state machine over the backend's `lease` bucket.
//
// Two halves with different rules:
//  - APPLY (grant, revoke, checkpoint, attach, detach): driven by committed raft entries on every
//    member. Their effects on leases, attachments and the bucket, and their results, depend only on
//    the inputs and prior state: no clock, no randomness, and wherever order shows (keys handed to
//    the keyspace, listings) it is lease-ID or key-byte order, never Map insertion order.
//  - LEADER (promote, demote, renew, timeToLive, expiredLeases, dueCheckpoints): expiry times from
//    the injected monotonic clock. They exist only on the primary lessor (the raft leader); the
//    server turns what they hand out into raft proposals (LeaseRevoke, LeaseCheckpoint). Followers
//    keep no expiry at all, so they never act on time.
// The apply methods touch the clock only to keep the leader's own expiry bookkeeping current.

import type { LeaseCheckpoint, LeaseCheckpointRequest } from '../proto/etcdserverpb/rpc.js';
import {
  MAX_CHECKPOINT_BATCHES,
  MAX_LEASE_TTL,
  resolveConfig,
  type LessorConfig,
  type ResolvedLessorConfig,
} from './config.js';
import { DeadlineQueue } from './deadline-queue.js';
import { LeaseError } from './errors.js';
import type { LeaseKeyspace, LeaseStore } from './ports.js';
import { LEASE_BUCKET, assertInt64, decodeLeaseRow, encodeLease, leaseKey } from './record.js';
import { spreadDelays } from './spread.js';

/** etcd's NoLease: a key with lease 0 has none. */
export const NO_LEASE = 0n;

export interface LeaseGrantResult {
  readonly ID: bigint;
  /** The granted TTL in seconds, after raising to the minimum. */
  readonly TTL: bigint;
}

export interface LeaseRenewResult {
  /** The lease's granted TTL, for LeaseKeepAliveResponse. */
  readonly TTL: bigint;
  /**
   * Set when the lease carried a checkpointed remaining TTL: propose it (remaining TTL 0) so that a
   * later leader does not restart the lease from the stale checkpoint.
   */
  readonly clearCheckpoint: LeaseCheckpointRequest | undefined;
}

/** The fields of LeaseTimeToLiveResponse besides the header. */
export interface LeaseTimeToLiveResult {
  readonly ID: bigint;
  /** Whole seconds left (truncated, as etcd), or -1 for an unknown lease. */
  readonly TTL: bigint;
  readonly grantedTTL: bigint;
  /** Attached keys in byte order; empty unless asked for. */
  readonly keys: Uint8Array[];
}

export interface LeaseInfo {
  readonly ID: bigint;
  readonly TTL: bigint;
  /** The last checkpointed remaining TTL in seconds; 0 when none. */
  readonly remainingTTL: bigint;
}

/** A lease with its attachments: the replicated state, for comparisons and diagnostics. */
export interface LeaseRecord extends LeaseInfo {
  readonly keys: readonly Uint8Array[];
}

interface LeaseState {
  readonly id: bigint;
  readonly ttl: bigint;
  remainingTtl: bigint;
  /** Attached keys as latin1 strings (one char per byte, so string order is byte order). */
  readonly keys: Set<string>;
  /** Leader only: when it expires (clock ms). Infinity on followers. */
  expiry: number;
}

const FOREVER = Infinity;
const EMPTY = new Uint8Array(0);

const keyString = (key: Uint8Array): string =>
  Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
const keyBytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const compareIds = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

function checkKeys(keys: readonly Uint8Array[]): void {
  if (!Array.isArray(keys)) throw new TypeError('lease: keys must be an array of Uint8Array');
  for (const k of keys)
    if (!(k instanceof Uint8Array)) throw new TypeError('lease: a key must be a Uint8Array');
}

export class Lessor {
  private readonly cfg: ResolvedLessorConfig;
  private readonly byId = new Map<bigint, LeaseState>();
  private readonly keyToLease = new Map<string, bigint>();
  /** Leader: when to look at a lease for expiry (its expiry, or a retry after handing it out). */
  private readonly expiryChecks = new DeadlineQueue();
  /** Leader: when to checkpoint a lease. */
  private readonly checkpoints = new DeadlineQueue();
  private primary = false;
  private keyspace: LeaseKeyspace | undefined;
  /** Token bucket limiting revocations handed out (leader). */
  private revokeTokens = 0;
  private revokeRefilledAt: number | undefined;

  /** Restores every lease from the store's `lease` bucket; attachments come from restoreAttachments. */
  constructor(
    private store: LeaseStore,
    config: LessorConfig,
    keyspace?: LeaseKeyspace,
  ) {
    this.cfg = resolveConfig(config);
    this.keyspace = keyspace;
    this.load();
  }

  /** Set once the keyspace exists (it needs the lessor first, as etcd's SetRangeDeleter). */
  setKeyspace(keyspace: LeaseKeyspace): void {
    this.keyspace = keyspace;
  }

  get isPrimary(): boolean {
    return this.primary;
  }

  get minTtlSeconds(): bigint {
    return this.cfg.minTtlSeconds;
  }

  // ---- Apply path ----------------------------------------------------------------------------------

  /** Applies LeaseGrant. The ID is chosen by the proposing server. */
  grant(id: bigint, ttlSeconds: bigint): LeaseGrantResult {
    assertInt64(id, 'lease ID');
    assertInt64(ttlSeconds, 'TTL');
    if (id === NO_LEASE) throw new LeaseError('lease-not-found'); // etcd's answer to ID 0
    if (ttlSeconds > MAX_LEASE_TTL) throw new LeaseError('ttl-too-large');
    // Below the minimum (zero and negative included) is raised, as etcd does, rather than refused.
    const ttl = ttlSeconds < this.cfg.minTtlSeconds ? this.cfg.minTtlSeconds : ttlSeconds;
    if (this.byId.has(id)) throw new LeaseError('lease-exists');
    const l: LeaseState = { id, ttl, remainingTtl: 0n, keys: new Set(), expiry: FOREVER };
    this.byId.set(id, l);
    this.persist(l);
    if (this.primary) {
      const now = this.cfg.now();
      this.refresh(l, 0, now);
      this.scheduleCheckpoint(l, now);
    }
    return { ID: id, TTL: ttl };
  }

  /**
   * Applies LeaseRevoke: deletes the attached keys through the keyspace in one write, in byte order,
   * then the lease. Returns the keys it asked the keyspace to delete.
   */
  revoke(id: bigint): Uint8Array[] {
    assertInt64(id, 'lease ID');
    const l = this.byId.get(id);
    if (l === undefined) throw new LeaseError('lease-not-found');
    const keys = [...l.keys].sort().map(keyBytes);
    if (keys.length > 0) {
      if (this.keyspace === undefined) throw new Error('lessor: revoking a lease with keys needs a keyspace');
      this.keyspace.deleteKeys(keys);
    }
    for (const k of l.keys) if (this.keyToLease.get(k) === id) this.keyToLease.delete(k);
    this.byId.delete(id);
    this.expiryChecks.cancel(id);
    this.checkpoints.cancel(id);
    this.store.delete(LEASE_BUCKET, leaseKey(id));
    return keys;
  }

  /**
   * Applies one LeaseCheckpoint: records (and persists) the lease's remaining TTL, which a future
   * leader uses instead of the full TTL. 0 clears it. Unknown leases are ignored, as in etcd: the
   * lease may have been revoked after the checkpoint was proposed.
   */
  checkpoint(id: bigint, remainingTtlSeconds: bigint): void {
    assertInt64(id, 'lease ID');
    assertInt64(remainingTtlSeconds, 'remaining TTL');
    const l = this.byId.get(id);
    if (l === undefined) return;
    l.remainingTtl = remainingTtlSeconds;
    this.persist(l);
    if (this.primary) this.scheduleCheckpoint(l, this.cfg.now());
  }

  /** Applies a whole LeaseCheckpointRequest. */
  applyCheckpoints(request: LeaseCheckpointRequest): void {
    for (const c of request.checkpoints) this.checkpoint(c.ID, c.remainingTTL);
  }

  /**
   * Attaches keys to a lease (a put with this lease). A key attached to another lease moves. Throws
   * NotFound, changing nothing, when the lease does not exist.
   */
  attach(id: bigint, keys: readonly Uint8Array[]): void {
    assertInt64(id, 'lease ID');
    checkKeys(keys);
    const l = this.byId.get(id);
    if (l === undefined) throw new LeaseError('lease-not-found');
    for (const key of keys) {
      const k = keyString(key);
      const previous = this.keyToLease.get(k);
      if (previous !== undefined && previous !== id) this.byId.get(previous)?.keys.delete(k);
      l.keys.add(k);
      this.keyToLease.set(k, id);
    }
  }

  /** Detaches keys from a lease (their lease changed or they were deleted). Throws NotFound likewise. */
  detach(id: bigint, keys: readonly Uint8Array[]): void {
    assertInt64(id, 'lease ID');
    checkKeys(keys);
    const l = this.byId.get(id);
    if (l === undefined) throw new LeaseError('lease-not-found');
    for (const key of keys) {
      const k = keyString(key);
      l.keys.delete(k);
      if (this.keyToLease.get(k) === id) this.keyToLease.delete(k);
    }
  }

  // ---- Recovery ------------------------------------------------------------------------------------

  /**
   * For the keyspace rebuilding its index at start-up (or after a snapshot): attaches each key to the
   * lease its latest revision names. Returns the keys whose lease does not exist, for it to report.
   */
  restoreAttachments(items: Iterable<readonly [key: Uint8Array, lease: bigint]>): Uint8Array[] {
    const orphans: Uint8Array[] = [];
    for (const [key, id] of items) {
      if (id === NO_LEASE) continue;
      if (this.byId.has(id)) this.attach(id, [key]);
      else orphans.push(key);
    }
    return orphans;
  }

  /**
   * Drops all state and reloads the leases from `store` (a backend replaced by a raft snapshot);
   * attachments must then be restored again. A primary keeps its role and restarts every lease.
   */
  recover(store: LeaseStore = this.store): void {
    this.store = store;
    this.byId.clear();
    this.keyToLease.clear();
    this.expiryChecks.clear();
    this.checkpoints.clear();
    this.load();
    if (this.primary) this.promote(0);
  }

  private load(): void {
    for (const { key, value } of this.store.range(LEASE_BUCKET, EMPTY)) {
      const p = decodeLeaseRow(key, value);
      // A lower minimum than when it was granted (changed election timeout) raises it in memory only.
      const ttl = p.TTL < this.cfg.minTtlSeconds ? this.cfg.minTtlSeconds : p.TTL;
      this.byId.set(p.ID, {
        id: p.ID,
        ttl,
        remainingTtl: p.remainingTTL,
        keys: new Set(),
        expiry: FOREVER,
      });
    }
  }

  // ---- Reads (any member) --------------------------------------------------------------------------

  has(id: bigint): boolean {
    return this.byId.has(id);
  }

  lookup(id: bigint): LeaseInfo | undefined {
    const l = this.byId.get(id);
    return l === undefined ? undefined : { ID: l.id, TTL: l.ttl, remainingTTL: l.remainingTtl };
  }

  /** The keys attached to lease `id` (none for an unknown lease), in no particular order. */
  keysOf(id: bigint): Uint8Array[] {
    const l = this.byId.get(id);
    return l === undefined ? [] : [...l.keys].map(keyBytes);
  }

  /** The lease a key is attached to, or NO_LEASE. */
  leaseOf(key: Uint8Array): bigint {
    return this.keyToLease.get(keyString(key)) ?? NO_LEASE;
  }

  /** Every lease ID in ascending (signed) order. */
  leases(): bigint[] {
    return [...this.byId.keys()].sort(compareIds);
  }

  /** Every lease with its keys, by ID, keys in byte order. */
  records(): LeaseRecord[] {
    return this.leases().map((id) => {
      const l = this.byId.get(id) as LeaseState;
      return { ID: l.id, TTL: l.ttl, remainingTTL: l.remainingTtl, keys: [...l.keys].sort().map(keyBytes) };
    });
  }

  get size(): number {
    return this.byId.size;
  }

  // ---- Leader side ---------------------------------------------------------------------------------

  /**
   * This member became leader: every lease restarts at now + extendMs + its checkpointed remaining
   * TTL (or full TTL), so none expires for the time without a leader, then bunched expiries are spread.
   */
  promote(extendMs: number): void {
    if (!Number.isFinite(extendMs) || extendMs < 0) {
      throw new RangeError(`lessor: promote needs a non-negative extension, got ${extendMs}`);
    }
    this.primary = true;
    this.expiryChecks.clear();
    this.checkpoints.clear();
    this.revokeRefilledAt = undefined;
    const now = this.cfg.now();
    const all = this.sortedLeases();
    for (const l of all) {
      this.refresh(l, extendMs, now);
      this.scheduleCheckpoint(l, now);
    }
    if (all.length < this.cfg.revokeRate) return; // a full second of revocations cannot pile up
    all.sort((a, b) => a.expiry - b.expiry || compareIds(a.id, b.id));
    const delays = spreadDelays(
      all.map((l) => l.expiry - now),
      this.cfg.revokeRate,
    );
    all.forEach((l, i) => {
      if (delays[i] > 0) this.refresh(l, extendMs + delays[i], now);
    });
  }

  /** This member is no longer leader: no lease expires here until it is promoted again. */
  demote(): void {
    this.primary = false;
    for (const l of this.byId.values()) l.expiry = FOREVER;
    this.expiryChecks.clear();
    this.checkpoints.clear();
  }

  /**
   * A keepalive (leader only): the lease now expires a full TTL from now. Throws NotFound for an
   * unknown or already expired lease (its revocation is on its way), not-primary on a follower.
   */
  renew(id: bigint): LeaseRenewResult {
    assertInt64(id, 'lease ID');
    if (!this.primary) throw new LeaseError('not-primary');
    const l = this.byId.get(id);
    if (l === undefined) throw new LeaseError('lease-not-found');
    const now = this.cfg.now();
    if (l.expiry <= now) throw new LeaseError('lease-not-found');
    const clearCheckpoint =
      this.cfg.checkpointing && l.remainingTtl > 0n
        ? { checkpoints: [{ ID: id, remainingTTL: 0n }] }
        : undefined;
    // Full TTL, not the checkpointed remainder: the clearing checkpoint above is what the lease will
    // carry once applied.
    l.expiry = now + Number(l.ttl) * 1000;
    this.expiryChecks.schedule(id, l.expiry);
    return { TTL: l.ttl, clearCheckpoint };
  }

  /**
   * LeaseTimeToLive (answered by the leader; followers forward). An unknown lease gives TTL -1 with
   * nothing else set, as etcd's response does.
   */
  timeToLive(id: bigint, withKeys = false): LeaseTimeToLiveResult {
    assertInt64(id, 'lease ID');
    if (!this.primary) throw new LeaseError('not-primary');
    const l = this.byId.get(id);
    if (l === undefined) return { ID: id, TTL: -1n, grantedTTL: 0n, keys: [] };
    const remainingMs = l.expiry - this.cfg.now();
    return {
      ID: id,
      TTL: BigInt(Math.trunc(remainingMs / 1000)),
      grantedTTL: l.ttl,
      keys: withKeys ? [...l.keys].sort().map(keyBytes) : [],
    };
  }

  /**
   * Leader: leases past their expiry, in ID order, for the server to propose LeaseRevoke. At most
   * revokeRate per second over time (a token bucket holding half a second's worth, which is what
   * etcd hands out per 500 ms check). A lease handed out is offered again after the retry interval if
   * its revocation has not been applied by then.
   */
  expiredLeases(now: number = this.cfg.now()): bigint[] {
    if (!this.primary) return [];
    this.refillRevokeTokens(now);
    const out: bigint[] = [];
    while (out.length < Math.floor(this.revokeTokens)) {
      const due = this.expiryChecks.popDue(now);
      if (due === undefined) break;
      const l = this.byId.get(due.id);
      if (l === undefined) continue;
      if (l.expiry > now) {
        this.expiryChecks.schedule(l.id, l.expiry);
        continue;
      }
      out.push(l.id);
      this.expiryChecks.schedule(l.id, now + this.cfg.expiredRetryIntervalMs);
    }
    this.revokeTokens -= out.length;
    return out.sort(compareIds);
  }

  /**
   * Leader: checkpoints that are due, in batches of at most maxCheckpointBatchSize, for the server to
   * propose (one LeaseCheckpointRequest each). Empty when checkpointing is off.
   */
  dueCheckpoints(now: number = this.cfg.now()): LeaseCheckpointRequest[] {
    if (!this.primary || !this.cfg.checkpointing) return [];
    const max = this.cfg.maxCheckpointBatchSize;
    const batches: LeaseCheckpointRequest[] = [];
    let batch: LeaseCheckpoint[] = [];
    while (batches.length < MAX_CHECKPOINT_BATCHES) {
      const due = this.checkpoints.popDue(now);
      if (due === undefined) break;
      const l = this.byId.get(due.id);
      if (l === undefined || l.expiry <= now) continue; // gone, or about to be revoked
      // Stay scheduled even if this proposal is lost; applying it reschedules anyway.
      this.checkpoints.schedule(l.id, now + this.cfg.checkpointIntervalMs);
      const remaining = BigInt(Math.ceil((l.expiry - now) / 1000));
      if (remaining >= l.ttl) continue; // just renewed: nothing worth recording
      batch.push({ ID: l.id, remainingTTL: remaining });
      if (batch.length === max) {
        batches.push({ checkpoints: batch });
        batch = [];
      }
    }
    if (batch.length > 0) batches.push({ checkpoints: batch });
    return batches;
  }

  /** Leader: when a lease expires (clock ms), for diagnostics and tests. Infinity on followers. */
  expiryOf(id: bigint): number | undefined {
    return this.byId.get(id)?.expiry;
  }

  // ---- Internals -----------------------------------------------------------------------------------

  private sortedLeases(): LeaseState[] {
    return this.leases().map((id) => this.byId.get(id) as LeaseState);
  }

  private persist(l: LeaseState): void {
    this.store.put(
      LEASE_BUCKET,
      leaseKey(l.id),
      encodeLease({ ID: l.id, TTL: l.ttl, remainingTTL: l.remainingTtl }),
    );
  }

  /** The seconds a (re)started lease runs: the checkpointed remainder if any, else the full TTL. */
  private startTtl(l: LeaseState): bigint {
    return l.remainingTtl > 0n ? l.remainingTtl : l.ttl;
  }

  private refresh(l: LeaseState, extendMs: number, now: number): void {
    l.expiry = now + extendMs + Number(this.startTtl(l)) * 1000;
    this.expiryChecks.schedule(l.id, l.expiry);
  }

  /** Only leases that outlive a checkpoint interval need checkpoints. */
  private scheduleCheckpoint(l: LeaseState, now: number): void {
    if (!this.cfg.checkpointing) return;
    if (Number(this.startTtl(l)) * 1000 > this.cfg.checkpointIntervalMs) {
      this.checkpoints.schedule(l.id, now + this.cfg.checkpointIntervalMs);
    } else {
      this.checkpoints.cancel(l.id);
    }
  }

  private refillRevokeTokens(now: number): void {
    const capacity = Math.max(1, this.cfg.revokeRate / 2);
    if (this.revokeRefilledAt === undefined) {
      this.revokeTokens = capacity;
    } else if (now > this.revokeRefilledAt) {
      const refill = ((now - this.revokeRefilledAt) * this.cfg.revokeRate) / 1000;
      this.revokeTokens = Math.min(capacity, this.revokeTokens + refill);
    }
    if (this.revokeRefilledAt === undefined || now > this.revokeRefilledAt) this.revokeRefilledAt = now;
  }
}
