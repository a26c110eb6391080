// A running member: the raft driver, the replicated state and the request paths of the client API.
// Writes are proposed through raft and answered when this member applies them; linearizable reads
// wait for a ReadIndex round; serializable reads are answered from local state.

import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, renameSync } from 'node:fs';
import { open as openFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { Registry } from 'prom-client';

import {
  AuthError,
  errAuthFailed,
  errInvalidAuthToken,
  errUserEmpty,
  hashPassword,
  passwordMatches,
  BCRYPT_DEFAULT_COST,
  type AuthInfo,
} from '../auth/index.js';
import { LeaseError } from '../lease/index.js';
import { errCompacted, KeyspaceError } from '../mvcc/errors.js';
import { isReadOnly } from '../mvcc/kv-apply.js';
import { validateDeleteRange, validatePut, validateRange, validateTxn } from '../mvcc/validate.js';
import { WatchStream } from '../mvcc/watch-stream.js';
import { decodeConfChange } from '../raft/codec.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  LogLoss,
  Message,
  MsgSnap,
  ReadState,
  Snapshot,
  SnapshotStatus,
  SoftState,
} from '../raft/types.js';
import { fsyncDir } from '../storage/snap/atomic-file.js';
import { purgeSnaps } from '../storage/snap/index.js';
import {
  AlarmRequest_AlarmAction,
  AlarmType,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  type AlarmRequest,
  type AlarmResponse,
  type AuthDisableResponse,
  type AuthEnableResponse,
  type AuthenticateRequest,
  type AuthenticateResponse,
  type AuthRoleAddRequest,
  type AuthRoleAddResponse,
  type AuthRoleDeleteRequest,
  type AuthRoleDeleteResponse,
  type AuthRoleGetRequest,
  type AuthRoleGetResponse,
  type AuthRoleGrantPermissionRequest,
  type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse,
  type AuthRoleRevokePermissionRequest,
  type AuthRoleRevokePermissionResponse,
  type AuthStatusResponse,
  type AuthUserAddRequest,
  type AuthUserAddResponse,
  type AuthUserChangePasswordRequest,
  type AuthUserChangePasswordResponse,
  type AuthUserDeleteRequest,
  type AuthUserDeleteResponse,
  type AuthUserGetRequest,
  type AuthUserGetResponse,
  type AuthUserGrantRoleRequest,
  type AuthUserGrantRoleResponse,
  type AuthUserListResponse,
  type AuthUserRevokeRoleRequest,
  type AuthUserRevokeRoleResponse,
  type CompactionRequest,
  type CompactionResponse,
  type DefragmentResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKVRequest,
  type HashKVResponse,
  type HashResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type MoveLeaderRequest,
  type MoveLeaderResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
} from '../proto/etcdserverpb/rpc.js';
import { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import { encoded } from '../proto/reused-writer.js';
import {
  MembershipError,
  computeAddedMemberId,
  formatId,
  encodeAddContext,
  encodePromoteContext,
  encodeUpdateContext,
  normalizeUrls,
  type Member as ClusterMember,
} from '../membership/index.js';
import {
  MemberPromoteRequest,
  MemberPromoteResponse,
  type Member as MemberMessage,
  type MemberAddRequest,
  type MemberAddResponse,
  type MemberListRequest,
  type MemberListResponse,
  type MemberRemoveRequest,
  type MemberRemoveResponse,
  type MemberUpdateRequest,
  type MemberUpdateResponse,
} from '../proto/etcdserverpb/rpc.js';
import { AppliedIndex } from './applied-index.js';
import { AutoCompactor, type CompactionPolicy } from './compactor.js';
import { CorruptionMonitor, type PeerHashSource } from './corrupt-check.js';
import { takeBackendSnapshot, type BackendSnapshot } from './backend-snapshot.js';
import type { CallContext, Health, ServerWatchStream } from './api.js';
import { checkTxn } from './apply-auth.js';
import type { ApplyOutcome } from './apply.js';
import {
  errBadLeaderTransferee,
  errNoLeader,
  errNoSpace,
  errNotLeader,
  errRequestTooLarge,
  errStopped,
  errTimeout,
  errTimeoutDueToLeaderFail,
  errTooManyRequests,
  errUnhealthyCluster,
  ServerError,
  isGrpcCodeName,
} from './errors.js';
import type { ServerMetrics } from './metrics.js';
import { BackendQuota, requestCost, resolveQuota, type CostedRequest } from './quota.js';
import type { RaftDriver } from './raft-driver.js';
import { ReadIndexBatcher } from './read-index.js';
import { RequestIdGenerator } from './request-id.js';
import type { MemberState } from './state.js';
import { WaitRegistry } from './wait.js';

/** The version this member reports: the etcd API level it implements. */
export const SERVER_VERSION = '3.4.23';
export const CLUSTER_VERSION = '3.4.0';

/** Applied entries may trail committed ones by this much before new requests are refused. */
const MAX_GAP_BETWEEN_APPLY_AND_COMMIT = 5000;
/** Entries kept in the log behind a snapshot, so slow followers catch up without a snapshot. */
const SNAPSHOT_CATCH_UP_ENTRIES = 5000;
/** How often old snapshot and WAL files are purged (etcd: 30 s). */
const PURGE_INTERVAL_MS = 30_000;
const LEASE_LOOP_MS = 500;

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface MemberSettings {
  readonly name: string;
  /** member/snap: raft snapshots, and the databases received from a leader (`%016x.snap.db`). */
  readonly snapDir: string;
  readonly backendPath: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly snapshotCount: number;
  readonly quotaBackendBytes: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly strictReconfigCheck: boolean;
  /** --auto-compaction-mode/-retention (undefined or retention 0: off). */
  readonly autoCompaction?: CompactionPolicy;
  /** --max-snapshots / --max-wals: files kept by the purge every 30 s (0: keep all). */
  readonly maxSnapshots?: number;
  readonly maxWals?: number;
  /** How often the purge runs (etcd: every 30 s; tests go faster). */
  readonly purgeIntervalMs?: number;
  /** --experimental-corrupt-check-time in ms: the leader's periodic corruption check (0/absent: off). */
  readonly corruptCheckTimeMs?: number;
  /** Asks a peer URL for its keyspace hash (the peer port's HashKV call); the periodic check needs it. */
  readonly fetchPeerHashKV?: PeerHashSource['fetch'];
  /** This member's advertised client URLs, published to the cluster once it runs. */
  readonly clientUrls: readonly string[];
  readonly logger: Logger;
  /** This member was removed from the cluster: the process should stop (etcd exits 0). */
  readonly onRemoved?: () => void;
  /** Called when the member must stop because of a failure (exit code 1); default: stop the member. */
  readonly onFatal?: () => void;
  /** --bcrypt-cost (default 10). */
  readonly bcryptCost?: number;
}

/** What the member needs from the peer side (the transport), kept abstract for a single member. */
export interface PeerPort {
  send(messages: readonly Message[]): void;
  addPeer(id: bigint, peerUrls: readonly string[]): void;
  updatePeer(id: bigint, peerUrls: readonly string[]): void;
  removePeer(id: bigint): void;
  /** Since when (Date.now milliseconds) a connection to `id` has been up; undefined if down. */
  activeSince(id: bigint): number | undefined;
}

type Outcome = ApplyOutcome;

export class Member {
  /** For GET /metrics: `telemetry`'s registry. */
  readonly metrics: Registry;
  private readonly waits: WaitRegistry<Outcome>;
  private readonly ids: RequestIdGenerator;
  private readonly applied: AppliedIndex;
  private readonly reads: ReadIndexBatcher;
  private readonly quota: BackendQuota;
  private readonly requestTimeoutMs: number;
  private leaseTimer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private compactor: AutoCompactor | undefined;
  private corruption: CorruptionMonitor | undefined;
  private leaderId = 0n;
  private snapshotIndex: number;
  private confState: ConfState;
  private readonly notDialled: ReadonlySet<bigint>;
  private stopped = false;
  private removedFromCluster = false;
  private removalScheduled = false;
  private publishTimer: NodeJS.Timeout | undefined;
  /** Proposals refused for want of a leader, retried when one appears. */
  private parked: { id: bigint; data: Uint8Array }[] = [];
  private readonly leaderWaiters: (() => void)[] = [];

  constructor(
    private readonly settings: MemberSettings,
    private current: MemberState,
    /** Opens the state over the backend file again (after a leader's snapshot replaced it). */
    private readonly reopenState: (replaced: MemberState) => MemberState,
    private readonly driver: RaftDriver,
    private readonly peers: PeerPort,
    init: {
      applied: number;
      snapshotIndex: number;
      confState: ConfState;
      /** Members not to dial at start (those --force-new-cluster is removing). */
      notDialled?: ReadonlySet<bigint>;
    },
    private readonly telemetry: ServerMetrics,
  ) {
    this.metrics = telemetry.registry;
    this.ids = new RequestIdGenerator(settings.memberId, Date.now());
    this.applied = new AppliedIndex(init.applied);
    this.snapshotIndex = init.snapshotIndex;
    this.confState = init.confState;
    this.notDialled = init.notDialled ?? new Set();
    this.reads = new ReadIndexBatcher(
      {
        requestReadIndex: (context) => {
          const r = this.driver.node.readIndex(context);
          this.driver.wake();
          return r.ok;
        },
      },
      this.applied,
      // etcd asks again every 500 ms when a round goes unanswered.
      Math.min(500, settings.electionMs),
    );
    const quota = resolveQuota(settings.quotaBackendBytes);
    if (quota.warning !== undefined) settings.logger.warn(quota.warning);
    this.quota = new BackendQuota(() => this.current.backend.size(), quota.limit);
    // etcd's request timeout: 5 s plus two election timeouts.
    this.requestTimeoutMs = 5000 + 2 * settings.electionMs;
    this.waits = new WaitRegistry<Outcome>({ timeoutMs: this.requestTimeoutMs });
    const identity = {
      memberId: settings.memberId,
      serverVersion: SERVER_VERSION,
      clusterVersion: CLUSTER_VERSION,
      quotaBackendBytes: quota.limit ?? settings.quotaBackendBytes,
      heartbeatMs: settings.heartbeatMs,
    };
    // Read at scrape time; `this.current` changes when a leader's snapshot is installed.
    telemetry.attach(identity, {
      hasLeader: () => this.hasLeader(),
      isLeader: () => this.driver.isLeader,
      isLearner: () => this.isLearner(),
      committedIndex: () => this.driver.commit,
      appliedIndex: () => this.applied.index,
      dbSize: () => this.current.backend.size(),
      dbSizeInUse: () => this.current.backend.sizeInUse(),
      keys: () => this.current.store.liveKeys,
      currentRevision: () => this.current.store.revision,
      compactRevision: () => this.current.store.compactRevision,
      peers: () =>
        this.current.cluster
          .members()
          .filter((m) => m.id !== settings.memberId)
          .map((m) => ({ id: m.id, active: this.peers.activeSince(m.id) !== undefined })),
    });
  }

  get state(): MemberState {
    return this.current;
  }

  get memberId(): bigint {
    return this.settings.memberId;
  }

  get clusterId(): bigint {
    return this.settings.clusterId;
  }

  get leader(): bigint {
    return this.leaderId;
  }

  get appliedIndex(): number {
    return this.applied.index;
  }

  /** Hooks for the raft driver. */
  readonly raftHooks = {
    send: (messages: readonly Message[]): void => {
      this.telemetry.messagesSent(messages);
      this.peers.send(messages);
    },
    apply: (snapshot: Snapshot | undefined, entries: readonly Entry[]): Promise<void> | void =>
      this.applyCommitted(snapshot, entries),
    softState: (s: SoftState): void => this.onSoftState(s),
    readStates: (states: readonly ReadState[]): void => this.reads.onReadStates(states),
    fatal: (e: unknown): void => {
      this.settings.logger.error(`raft loop failed: ${e instanceof Error ? e.message : String(e)}`);
      this.failed();
    },
    logLoss: (loss: LogLoss): void => {
      const id = this.settings.memberId.toString(16);
      const dataDir = dirname(dirname(this.settings.snapDir));
      this.settings.logger.error(
        `member ${id} has lost log entries it had acknowledged: leader ${loss.leader.toString(16)} ` +
          `counts on entries up to index ${loss.acknowledged}, but this data dir ends at ${loss.lastIndex}. ` +
          `The data dir is an out-of-date copy (or the disk lost synced writes), so this member must not ` +
          `rejoin with it. Refusing to run. To recover: \`cairnctl member remove ${id}\`, delete ${dataDir}, ` +
          `\`cairnctl member add <name> --peer-urls=<urls>\`, and start the member empty with ` +
          `--initial-cluster-state existing.`,
      );
      this.failed();
    },
  };

  /** The member cannot go on: the process stops with a failure code. */
  private failed(): void {
    process.exitCode = 1;
    if (this.settings.onFatal !== undefined) this.settings.onFatal();
    else void this.stop();
  }

  start(): void {
    for (const m of this.current.cluster.members()) {
      if (m.id !== this.settings.memberId && !this.notDialled.has(m.id)) this.peers.addPeer(m.id, m.peerUrls);
    }
    this.driver.start(this.raftHooks);
    this.leaseTimer = setInterval(() => this.leaseLoop(), LEASE_LOOP_MS);
    this.purgeTimer = setInterval(
      () => void this.purgeFiles(),
      this.settings.purgeIntervalMs ?? PURGE_INTERVAL_MS,
    );
    this.purgeTimer.unref();
    if (this.settings.autoCompaction !== undefined) {
      this.compactor = AutoCompactor.start({
        policy: this.settings.autoCompaction,
        revision: () => this.current.store.revision,
        compact: async (revision) =>
          void (await this.compact({ revision: BigInt(revision), physical: false })),
        isLeader: () => this.driver.isLeader,
        isCompacted: (e) => e instanceof KeyspaceError && e.message === errCompacted().message,
        logger: this.settings.logger,
      });
    }
    const { corruptCheckTimeMs = 0, fetchPeerHashKV } = this.settings;
    if (corruptCheckTimeMs > 0 && fetchPeerHashKV !== undefined) {
      this.corruption = CorruptionMonitor.start({
        memberId: this.settings.memberId,
        peers: () => this.current.cluster.members(),
        fetch: fetchPeerHashKV,
        timeoutMs: this.requestTimeoutMs,
        logger: this.settings.logger,
        intervalMs: corruptCheckTimeMs,
        isLeader: () => this.driver.isLeader,
        localHash: () => this.current.store.hashByRev(0),
        confirmApplied: () => this.linearizableRead(),
        raiseAlarm: (memberID) =>
          this.alarm({ action: AlarmRequest_AlarmAction.ACTIVATE, memberID, alarm: AlarmType.CORRUPT }),
      });
    }
    this.publish();
  }

  /** Deletes the oldest snapshot and WAL files beyond --max-snapshots / --max-wals (etcd's purge). */
  private async purgeFiles(): Promise<void> {
    const { snapDir, maxSnapshots = 5, maxWals = 5, logger } = this.settings;
    try {
      const snaps = await purgeSnaps(snapDir, maxSnapshots);
      const wals = maxWals > 0 ? await this.driver.wal.purge(maxWals) : [];
      for (const name of [...snaps, ...wals]) logger.info(`purged file ${name}`);
    } catch (e) {
      logger.warn(`failed to purge old snapshot or WAL files: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Publishes this member's name and client URLs through raft (etcd's publish), retrying until it is
   * applied, so `member list` shows it started. Runs again at every start: the URLs may have changed.
   */
  private publish(): void {
    const attempt = (): void => {
      this.publishTimer = undefined;
      if (this.stopped) return;
      const request = {
        clusterMemberAttrSet: {
          memberID: this.settings.memberId,
          memberAttributes: { name: this.settings.name, clientUrls: [...this.settings.clientUrls] },
        },
      };
      this.propose(request).then(
        () => this.settings.logger.info(`published local member to cluster through raft`),
        () => {
          if (!this.stopped) this.publishTimer = setTimeout(attempt, 500);
        },
      );
    };
    attempt();
  }

  get removed(): boolean {
    return this.removedFromCluster || this.current.cluster.isRemoved(this.settings.memberId);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.leaseTimer !== undefined) clearInterval(this.leaseTimer);
    if (this.purgeTimer !== undefined) clearInterval(this.purgeTimer);
    this.compactor?.stop();
    this.corruption?.stop();
    if (this.publishTimer !== undefined) clearTimeout(this.publishTimer);
    await this.driver.stop();
    this.waits.failAll(errStopped());
    this.reads.failAll(errStopped());
    this.current.watchable.close();
    await this.current.close();
    await this.current.backend.commit().catch(() => {});
    await this.current.backend.close();
    await this.driver.wal.close();
  }

  // ---- Headers -------------------------------------------------------------------------------------

  header(revision?: bigint): ResponseHeader {
    return {
      clusterId: this.settings.clusterId,
      memberId: this.settings.memberId,
      revision: revision ?? BigInt(this.current.store.revision),
      raftTerm: BigInt(this.driver.term),
    };
  }

  private fill<T extends { header?: ResponseHeader }>(response: T): T {
    response.header = this.header(response.header?.revision);
    return response;
  }

  // ---- KV ------------------------------------------------------------------------------------------

  async range(r: RangeRequest, ctx?: CallContext): Promise<RangeResponse> {
    validateRange(r);
    if (!r.serializable) await this.linearizableRead(ctx);
    if (this.current.auth.isEnabled) this.current.auth.checkRead(await this.caller(ctx), r.key, r.rangeEnd);
    return this.fill(this.current.kv.range(r));
  }

  async put(r: PutRequest, ctx?: CallContext): Promise<PutResponse> {
    validatePut(r);
    this.checkQuota({ put: r });
    return this.fill((await this.propose({ put: r }, ctx)) as PutResponse);
  }

  async deleteRange(r: DeleteRangeRequest, ctx?: CallContext): Promise<DeleteRangeResponse> {
    validateDeleteRange(r);
    return this.fill((await this.propose({ deleteRange: r }, ctx)) as DeleteRangeResponse);
  }

  async txn(r: TxnRequest, ctx?: CallContext): Promise<TxnResponse> {
    validateTxn(r, this.settings.maxTxnOps);
    if (isReadOnly(r)) {
      await this.linearizableRead(ctx);
      const { auth, lessor } = this.current;
      if (auth.isEnabled) checkTxn(auth, lessor, await this.caller(ctx), r);
      return this.fill(this.current.kv.txn(r).response);
    }
    this.checkQuota({ txn: r });
    return this.fill((await this.propose({ txn: r }, ctx)) as TxnResponse);
  }

  async compact(r: CompactionRequest, ctx?: CallContext): Promise<CompactionResponse> {
    const outcome = await this.proposeOutcome({ compaction: r }, ctx);
    // etcd answers at once unless asked to wait for the physical removal.
    if (r.physical && outcome.compacted !== undefined) await outcome.compacted;
    return this.fill(outcome.response as CompactionResponse);
  }

  // ---- Watch ---------------------------------------------------------------------------------------

  openWatchStream(ctx?: CallContext): ServerWatchStream {
    const stream = new WatchStream(this.current.watchable);
    // etcd sends the status's full text as the cancel reason. The checks below throw only "user name
    // is empty", "revision of auth store is old", "invalid auth token" and "permission denied".
    const refusalOf = (e: unknown): string => {
      if (!(e instanceof AuthError)) throw e;
      return `rpc error: code = ${e.code} desc = ${e.message}`;
    };
    const refusal = (
      key: Uint8Array,
      rangeEnd: Uint8Array,
    ): string | undefined | Promise<string | undefined> => {
      const auth = this.current.auth;
      if (!auth.isEnabled) return undefined;
      const check = (info: AuthInfo | undefined): string | undefined => {
        try {
          auth.checkRead(info, key, rangeEnd);
          return undefined;
        } catch (e) {
          return refusalOf(e);
        }
      };
      try {
        const info = this.callerNow(ctx);
        return info instanceof Promise ? info.then(check, refusalOf) : check(info);
      } catch (e) {
        return refusalOf(e);
      }
    };
    // Periodic progress notifications, as etcd sends them every 10 minutes by default.
    const progress = setInterval(() => stream.tickProgress(), 10 * 60 * 1000);
    progress.unref();
    return {
      stream,
      refusal,
      header: (revision) => this.header(BigInt(revision)),
      close: () => {
        clearInterval(progress);
        stream.close();
      },
    };
  }

  isLearner(): boolean {
    return this.current.cluster.member(this.settings.memberId)?.isLearner ?? false;
  }

  hasLeader(): boolean {
    return this.leaderId !== 0n;
  }

  // ---- Leases --------------------------------------------------------------------------------------

  async leaseGrant(r: LeaseGrantRequest, ctx?: CallContext): Promise<LeaseGrantResponse> {
    // etcd picks a positive ID from its request ID generator when the client leaves it 0.
    const ID = r.ID !== 0n ? r.ID : this.ids.next() & ((1n << 63n) - 1n);
    const request = { ...r, ID };
    this.checkQuota({ leaseGrant: request });
    return this.fill((await this.propose({ leaseGrant: request }, ctx)) as LeaseGrantResponse);
  }

  async leaseRevoke(r: LeaseRevokeRequest, ctx?: CallContext): Promise<LeaseRevokeResponse> {
    return this.fill((await this.propose({ leaseRevoke: r }, ctx)) as LeaseRevokeResponse);
  }

  async leaseRenew(
    id: bigint,
    ctx?: CallContext,
  ): Promise<{ header: ResponseHeader; ID: bigint; TTL: bigint }> {
    if (!this.driver.isLeader) {
      const body = await this.forwardToLeader(
        '/leases',
        LeaseKeepAliveRequest.encode({ ID: id }).finish(),
        ctx,
      );
      const r = LeaseKeepAliveResponse.decode(body);
      return { header: this.header(), ID: r.ID, TTL: r.TTL };
    }
    await this.waitLeaderApplied(ctx);
    try {
      const renewed = this.current.lessor.renew(id);
      if (renewed.clearCheckpoint !== undefined) {
        void this.propose({ leaseCheckpoint: renewed.clearCheckpoint }).catch(() => {});
      }
      return { header: this.header(), ID: id, TTL: renewed.TTL };
    } catch (e) {
      if (e instanceof LeaseError && e.reason === 'lease-not-found') {
        return { header: this.header(), ID: id, TTL: 0n };
      }
      throw e;
    }
  }

  async leaseTimeToLive(r: LeaseTimeToLiveRequest, ctx?: CallContext): Promise<LeaseTimeToLiveResponse> {
    if (!this.driver.isLeader) {
      const body = await this.forwardToLeader(
        '/leases/internal',
        LeaseTimeToLiveRequest.encode(r).finish(),
        ctx,
      );
      return { ...LeaseTimeToLiveResponse.decode(body), header: this.header() };
    }
    await this.waitLeaderApplied(ctx);
    const t = this.current.lessor.timeToLive(r.ID, r.keys);
    return { header: this.header(), ID: t.ID, TTL: t.TTL, grantedTTL: t.grantedTTL, keys: t.keys };
  }

  /** The peer calls this member answers (as the leader) for followers; see forwardToLeader. */
  peerCalls(): Record<string, (body: Uint8Array) => Promise<Uint8Array>> {
    const calls: Record<string, (body: Uint8Array) => Promise<Uint8Array>> = {
      '/leases': async (body) => {
        const r = await this.leaseRenew(LeaseKeepAliveRequest.decode(body).ID);
        return LeaseKeepAliveResponse.encode({ header: r.header, ID: r.ID, TTL: r.TTL }).finish();
      },
      '/leases/internal': async (body) => {
        const r = await this.leaseTimeToLive(LeaseTimeToLiveRequest.decode(body));
        return LeaseTimeToLiveResponse.encode(r).finish();
      },
      '/members/promote': async (body) =>
        MemberPromoteResponse.encode(await this.memberPromote(MemberPromoteRequest.decode(body))).finish(),
    };
    for (const [path, call] of Object.entries(calls)) calls[path] = answeringRefusals(call);
    return calls;
  }

  /**
   * Keepalives, time-to-live and learner promotion are answered by the leader, which alone knows
   * when leases expire and how far a learner has come (etcd forwards them over the peer port too).
   */
  private async forwardToLeader(path: string, body: Uint8Array, ctx?: CallContext): Promise<Uint8Array> {
    const leader = this.current.cluster.member(this.leaderId);
    if (this.leaderId === 0n || leader === undefined) throw errNoLeader();
    const signals = [AbortSignal.timeout(this.requestTimeoutMs)];
    if (ctx?.signal !== undefined) signals.push(ctx.signal);
    const signal = AbortSignal.any(signals);
    let lastError: unknown;
    for (const url of leader.peerUrls) {
      try {
        const res = await fetch(new URL(path, url), { method: 'POST', body, signal });
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (res.status === 200) return bytes;
        throw refusalFromLeader(new TextDecoder().decode(bytes));
      } catch (e) {
        if (e instanceof ServerError) throw e;
        lastError = e;
      }
    }
    throw signal.aborted ? errTimeout() : new ServerError('Unavailable', `etcdserver: ${String(lastError)}`);
  }

  async leaseLeases(ctx?: CallContext): Promise<LeaseLeasesResponse> {
    await this.linearizableRead(ctx);
    return { header: this.header(), leases: this.current.lessor.leases().map((ID) => ({ ID })) };
  }

  /**
   * Keepalives and time-to-live are answered by the leader, which alone knows when leases expire; it
   * first applies everything committed, so a lease granted just before is known.
   */
  private async waitLeaderApplied(ctx?: CallContext): Promise<void> {
    if (!this.driver.isLeader) {
      throw this.hasLeader() ? errNotLeader() : errNoLeader();
    }
    await this.withTimeout(this.applied.wait(this.driver.commit), ctx);
  }

  private leaseLoop(): void {
    if (this.stopped || !this.driver.isLeader) return;
    const lessor = this.current.lessor;
    for (const ID of lessor.expiredLeases()) {
      void this.propose({ leaseRevoke: { ID } }).catch(() => {});
    }
    for (const checkpoint of lessor.dueCheckpoints()) {
      void this.propose({ leaseCheckpoint: checkpoint }).catch(() => {});
    }
  }

  // ---- Cluster -------------------------------------------------------------------------------------

  async memberAdd(r: MemberAddRequest, ctx?: CallContext): Promise<MemberAddResponse> {
    await this.checkAdmin(ctx);
    const peerUrls = parsePeerUrls(r.peerURLs);
    if (this.settings.strictReconfigCheck && !r.isLearner) {
      if (!this.current.cluster.isReadyToAddVotingMember()) throw notEnoughStarted();
      this.checkConnectedToVoters();
    }
    const member: ClusterMember = {
      id: computeAddedMemberId(peerUrls, Date.now()),
      name: '',
      peerUrls,
      clientUrls: [],
      isLearner: r.isLearner,
    };
    const type = r.isLearner ? 'addLearnerNode' : 'addNode';
    await this.proposeConfChange({ type, nodeId: member.id, context: encodeAddContext(member) }, ctx);
    return { header: this.header(), member: toMemberMessage(member), members: this.memberMessages() };
  }

  async memberRemove(r: MemberRemoveRequest, ctx?: CallContext): Promise<MemberRemoveResponse> {
    await this.checkAdmin(ctx);
    const cluster = this.current.cluster;
    if (this.settings.strictReconfigCheck) {
      const target = cluster.member(r.ID);
      if (target !== undefined && !target.isLearner && !cluster.isReadyToRemoveVotingMember(r.ID)) {
        throw notEnoughStarted();
      }
    }
    await this.proposeConfChange({ type: 'removeNode', nodeId: r.ID, context: new Uint8Array(0) }, ctx);
    return { header: this.header(), members: this.memberMessages() };
  }

  async memberUpdate(r: MemberUpdateRequest, ctx?: CallContext): Promise<MemberUpdateResponse> {
    await this.checkAdmin(ctx);
    const peerUrls = parsePeerUrls(r.peerURLs);
    const context = encodeUpdateContext(r.ID, peerUrls);
    await this.proposeConfChange({ type: 'updateNode', nodeId: r.ID, context }, ctx);
    return { header: this.header(), members: this.memberMessages() };
  }

  async memberPromote(r: MemberPromoteRequest, ctx?: CallContext): Promise<MemberPromoteResponse> {
    await this.checkAdmin(ctx);
    const cluster = this.current.cluster;
    const target = cluster.member(r.ID);
    if (target === undefined) throw new MembershipErrorAsServer('id-not-found');
    if (!target.isLearner) throw new MembershipErrorAsServer('member-not-learner');
    if (!this.driver.isLeader) {
      // Only the leader knows how far the learner has come; etcd forwards promotion to it.
      const body = await this.forwardToLeader(
        '/members/promote',
        MemberPromoteRequest.encode(r).finish(),
        ctx,
      );
      return { ...MemberPromoteResponse.decode(body), header: this.header() };
    }
    // The learner must have caught up: its match within 90% of the leader's (etcd's isLearnerReady).
    const progress = this.driver.node.status().progress;
    const leaderMatch = progress.get(this.settings.memberId)?.match ?? 0;
    const learnerMatch = progress.get(r.ID)?.match ?? 0;
    if (learnerMatch < leaderMatch * 0.9) throw new MembershipErrorAsServer('learner-not-ready');
    await this.proposeConfChange({ type: 'addNode', nodeId: r.ID, context: encodePromoteContext(r.ID) }, ctx);
    return { header: this.header(), members: this.memberMessages() };
  }

  async memberList(_r: MemberListRequest, _ctx?: CallContext): Promise<MemberListResponse> {
    return { header: this.header(), members: this.memberMessages() };
  }

  private memberMessages(): MemberMessage[] {
    return this.current.cluster.members().map(toMemberMessage);
  }

  /** etcd's strict reconfiguration check: the leader has heard from every voter for 5 s. */
  private checkConnectedToVoters(): void {
    const now = Date.now();
    for (const m of this.current.cluster.voters()) {
      if (m.id === this.settings.memberId) continue;
      const since = this.peers.activeSince(m.id);
      if (since === undefined || now - since < 5000) throw errUnhealthyCluster();
    }
  }

  private async proposeConfChange(cc: Omit<ConfChange, 'id'>, ctx?: CallContext): Promise<object> {
    if (this.stopped) throw errStopped();
    const id = this.ids.next();
    const leaderAtStart = this.leaderId;
    return (
      await this.awaitApplied(id, leaderAtStart, ctx, () => {
        const result = this.driver.node.proposeConfChange({ ...cc, id });
        this.driver.wake();
        if (!result.ok) {
          this.waits.fail(
            id,
            result.reason === 'no-leader'
              ? errNoLeader()
              : new ServerError('Unknown', `raft proposal dropped (${result.reason})`),
          );
        }
      })
    ).response;
  }

  // ---- Maintenance ---------------------------------------------------------------------------------

  async alarm(r: AlarmRequest, ctx?: CallContext): Promise<AlarmResponse> {
    if (r.action === AlarmRequest_AlarmAction.GET) {
      await this.linearizableRead(ctx);
      return { header: undefined, alarms: this.current.alarms.get(r.alarm) };
    }
    // etcd 3.4 answers Alarm and Defragment without a header.
    const response = (await this.propose({ alarm: r }, ctx)) as AlarmResponse;
    return { header: undefined, alarms: response.alarms };
  }

  async status(): Promise<StatusResponse> {
    const errors = this.current.alarms
      .get()
      .map((a) => `memberID:${a.memberID} alarm:${AlarmType[a.alarm]} `);
    if (!this.hasLeader()) errors.unshift('etcdserver: no leader');
    return {
      header: this.header(),
      version: SERVER_VERSION,
      dbSize: BigInt(this.current.backend.size()),
      leader: this.leaderId,
      raftIndex: BigInt(this.driver.commit),
      raftTerm: BigInt(this.driver.term),
      raftAppliedIndex: BigInt(this.applied.index),
      errors,
      dbSizeInUse: BigInt(this.current.backend.sizeInUse()),
      isLearner: false,
    };
  }

  async defragment(ctx?: CallContext): Promise<DefragmentResponse> {
    await this.checkMaintenanceAdmin(ctx);
    const done = await this.current.backend.defragment();
    this.telemetry.defrag(done.durationMs / 1000);
    return { header: undefined };
  }

  async snapshot(ctx?: CallContext): Promise<BackendSnapshot> {
    await this.checkMaintenanceAdmin(ctx);
    return takeBackendSnapshot(this.current.backend, this.settings.snapDir);
  }

  async hash(ctx?: CallContext): Promise<HashResponse> {
    await this.checkMaintenanceAdmin(ctx);
    return { header: this.header(), hash: this.current.store.hashAll() };
  }

  async hashKV(r: HashKVRequest, ctx?: CallContext): Promise<HashKVResponse> {
    await this.checkMaintenanceAdmin(ctx);
    const h = this.current.store.hashByRev(Number(r.revision));
    return {
      header: this.header(BigInt(h.revision)),
      hash: h.hash,
      compactRevision: BigInt(h.compactRevision),
      hashRevision: BigInt(h.hashRevision),
    };
  }

  async moveLeader(r: MoveLeaderRequest, ctx?: CallContext): Promise<MoveLeaderResponse> {
    if (!this.driver.isLeader) throw errNotLeader();
    if (!this.confState.voters.includes(r.targetID)) throw errBadLeaderTransferee();
    const result = this.driver.node.transferLeadership(r.targetID);
    this.driver.wake();
    if (!result.ok) throw errBadLeaderTransferee();
    await this.withTimeout(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.leaderId === r.targetID) resolve();
          else this.leaderWaiters.push(check);
        };
        check();
      }),
      ctx,
    );
    return { header: this.header() };
  }

  async health(): Promise<Health> {
    const h = await this.checkHealth();
    // etcd counts its HTTP /health checks; the gRPC health service asks here too, so it counts as well.
    this.telemetry.healthChecked(h.health);
    return h;
  }

  private async checkHealth(): Promise<Health> {
    if (!this.hasLeader()) return { health: false, reason: 'no leader' };
    const alarms = this.current.alarms.get();
    if (alarms.length > 0) return { health: false, reason: AlarmType[alarms[0].alarm] };
    try {
      await this.linearizableRead();
    } catch (e) {
      return { health: false, reason: e instanceof Error ? e.message : String(e) };
    }
    return { health: true, reason: '' };
  }

  version(): { server: string; cluster: string } {
    return { server: SERVER_VERSION, cluster: CLUSTER_VERSION };
  }

  // ---- Auth ----------------------------------------------------------------------------------------

  /**
   * The caller while auth is on: from its token, else from the client certificate the client port
   * verified; undefined without either (and always while auth is off). An unknown or lapsed token is
   * refused ("invalid auth token").
   */
  private callerNow(ctx?: CallContext): AuthInfo | undefined | Promise<AuthInfo | undefined> {
    const auth = this.current.auth;
    if (!auth.isEnabled) return undefined;
    const c = ctx?.credentials;
    if (c?.token !== undefined && c.token !== '') {
      const info = this.current.tokens.info(c.token, auth.revision);
      const known = (i: AuthInfo | undefined): AuthInfo => {
        if (i === undefined) throw errInvalidAuthToken();
        return i;
      };
      return info instanceof Promise ? info.then(known) : known(info);
    }
    if (c?.commonName !== undefined && c.commonName !== '') {
      return { username: c.commonName, revision: auth.revision };
    }
    return undefined;
  }

  private async caller(ctx?: CallContext): Promise<AuthInfo | undefined> {
    return this.callerNow(ctx);
  }

  /** Cluster changes need root while auth is on. */
  private async checkAdmin(ctx?: CallContext): Promise<void> {
    if (this.current.auth.isEnabled) this.current.auth.checkAdmin(await this.caller(ctx));
  }

  /**
   * Defragment, Snapshot, Hash and HashKV need root too; etcd 3.4 answers those refusals with its
   * internal error (code Unknown, "auth: ..."), which etcdctl prints as such.
   */
  private async checkMaintenanceAdmin(ctx?: CallContext): Promise<void> {
    try {
      await this.checkAdmin(ctx);
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      throw new ServerError('Unknown', e.message.replace(/^etcdserver: /, 'auth: '));
    }
  }

  async authEnable(ctx?: CallContext): Promise<AuthEnableResponse> {
    return this.fill((await this.propose({ authEnable: {} }, ctx)) as AuthEnableResponse);
  }

  async authDisable(ctx?: CallContext): Promise<AuthDisableResponse> {
    return this.fill((await this.propose({ authDisable: {} }, ctx)) as AuthDisableResponse);
  }

  async authStatus(): Promise<AuthStatusResponse> {
    const auth = this.current.auth;
    return { header: this.header(), enabled: auth.isEnabled, authRevision: BigInt(auth.revision) };
  }

  /**
   * Checks the password here (bcrypt is slow: never while applying), then proposes the session so
   * that every member learns a simple token. If the auth store changed while the password was being
   * checked, it checks again against the new state (etcd's loop).
   */
  async authenticate(r: AuthenticateRequest, ctx?: CallContext): Promise<AuthenticateResponse> {
    await this.linearizableRead(ctx);
    for (let attempt = 0; ; attempt++) {
      const { hash, revision } = this.current.auth.passwordOf(r.name);
      if (!(await passwordMatches(r.password, hash))) throw errAuthFailed();
      const authenticate = { name: r.name, password: '', simpleToken: this.current.tokens.prefix() };
      const outcome = await this.proposeOutcome({ authenticate }, ctx, false);
      if (revision !== this.current.auth.revision && attempt < 3) continue;
      const response = outcome.response as AuthenticateResponse;
      if (outcome.toSign !== undefined) {
        response.token = await this.current.tokens.sign(outcome.toSign.username, outcome.toSign.revision);
      }
      return this.fill(response);
    }
  }

  async userAdd(r: AuthUserAddRequest, ctx?: CallContext): Promise<AuthUserAddResponse> {
    if (r.name === '') throw errUserEmpty();
    const noPassword = r.options?.noPassword === true;
    const hashedPassword = noPassword ? '' : await this.hashed(r.password, r.hashedPassword);
    const authUserAdd = { ...r, password: '', hashedPassword };
    return this.fill((await this.propose({ authUserAdd }, ctx)) as AuthUserAddResponse);
  }

  async userChangePassword(
    r: AuthUserChangePasswordRequest,
    ctx?: CallContext,
  ): Promise<AuthUserChangePasswordResponse> {
    const authUserChangePassword = {
      ...r,
      password: '',
      hashedPassword: await this.hashed(r.password, r.hashedPassword),
    };
    return this.fill((await this.propose({ authUserChangePassword }, ctx)) as AuthUserChangePasswordResponse);
  }

  /** The base64 bcrypt hash the raft entry carries (a client may send one already made, as 3.5 allows). */
  private hashed(password: string, given: string): Promise<string> {
    if (given !== '') return Promise.resolve(given);
    return hashPassword(password, this.settings.bcryptCost ?? BCRYPT_DEFAULT_COST);
  }

  async userGet(r: AuthUserGetRequest, ctx?: CallContext): Promise<AuthUserGetResponse> {
    return this.fill((await this.propose({ authUserGet: r }, ctx)) as AuthUserGetResponse);
  }

  async userList(ctx?: CallContext): Promise<AuthUserListResponse> {
    return this.fill((await this.propose({ authUserList: {} }, ctx)) as AuthUserListResponse);
  }

  async userDelete(r: AuthUserDeleteRequest, ctx?: CallContext): Promise<AuthUserDeleteResponse> {
    return this.fill((await this.propose({ authUserDelete: r }, ctx)) as AuthUserDeleteResponse);
  }

  async userGrantRole(r: AuthUserGrantRoleRequest, ctx?: CallContext): Promise<AuthUserGrantRoleResponse> {
    return this.fill((await this.propose({ authUserGrantRole: r }, ctx)) as AuthUserGrantRoleResponse);
  }

  async userRevokeRole(r: AuthUserRevokeRoleRequest, ctx?: CallContext): Promise<AuthUserRevokeRoleResponse> {
    return this.fill((await this.propose({ authUserRevokeRole: r }, ctx)) as AuthUserRevokeRoleResponse);
  }

  async roleAdd(r: AuthRoleAddRequest, ctx?: CallContext): Promise<AuthRoleAddResponse> {
    return this.fill((await this.propose({ authRoleAdd: r }, ctx)) as AuthRoleAddResponse);
  }

  async roleGet(r: AuthRoleGetRequest, ctx?: CallContext): Promise<AuthRoleGetResponse> {
    return this.fill((await this.propose({ authRoleGet: r }, ctx)) as AuthRoleGetResponse);
  }

  async roleList(ctx?: CallContext): Promise<AuthRoleListResponse> {
    return this.fill((await this.propose({ authRoleList: {} }, ctx)) as AuthRoleListResponse);
  }

  async roleDelete(r: AuthRoleDeleteRequest, ctx?: CallContext): Promise<AuthRoleDeleteResponse> {
    return this.fill((await this.propose({ authRoleDelete: r }, ctx)) as AuthRoleDeleteResponse);
  }

  async roleGrantPermission(
    r: AuthRoleGrantPermissionRequest,
    ctx?: CallContext,
  ): Promise<AuthRoleGrantPermissionResponse> {
    return this.fill(
      (await this.propose({ authRoleGrantPermission: r }, ctx)) as AuthRoleGrantPermissionResponse,
    );
  }

  async roleRevokePermission(
    r: AuthRoleRevokePermissionRequest,
    ctx?: CallContext,
  ): Promise<AuthRoleRevokePermissionResponse> {
    return this.fill(
      (await this.propose({ authRoleRevokePermission: r }, ctx)) as AuthRoleRevokePermissionResponse,
    );
  }

  // ---- Proposals -----------------------------------------------------------------------------------

  private checkQuota(r: CostedRequest): void {
    if (this.quota.available(requestCost(r))) return;
    // Raise the alarm for the whole cluster, then refuse, as etcd does.
    const alarm = {
      action: AlarmRequest_AlarmAction.ACTIVATE,
      memberID: this.settings.memberId,
      alarm: AlarmType.NOSPACE,
    };
    void this.propose({ alarm }).catch(() => {});
    throw errNoSpace();
  }

  private async propose(request: Partial<InternalRaftRequest>, ctx?: CallContext): Promise<object> {
    return (await this.proposeOutcome(request, ctx)).response;
  }

  /**
   * Proposes `request` and waits for its outcome. `withCaller`: the entry carries the caller's user
   * name and auth revision (while auth is on), which the apply checks permissions against.
   */
  private async proposeOutcome(
    request: Partial<InternalRaftRequest>,
    ctx?: CallContext,
    withCaller = true,
  ): Promise<Extract<ApplyOutcome, { ok: true }>> {
    if (this.stopped) throw errStopped();
    if (this.driver.commit > this.applied.index + MAX_GAP_BETWEEN_APPLY_AND_COMMIT)
      throw errTooManyRequests();
    const info = withCaller && this.current.auth.isEnabled ? await this.caller(ctx) : undefined;
    const id = this.ids.next();
    const header = { ID: id, username: info?.username ?? '', authRevision: BigInt(info?.revision ?? 0) };
    // Only the top level is partial (nested messages are whole: their types require every field), and
    // the encoder reads each absent top-level field as `undefined`, except ID: so no deep copy here.
    const message = { ID: 0n, ...request, header } as InternalRaftRequest;
    const data = encoded(InternalRaftRequest, message);
    if (data.byteLength > this.settings.maxRequestBytes) throw errRequestTooLarge();
    return this.awaitApplied(id, this.leaderId, ctx, () => this.submit(id, data), true);
  }

  /**
   * Registers the wait for request `id`, runs `propose`, and resolves with the applied outcome; fails
   * on the request timeout (naming a leader change if one happened) or when the caller cancels.
   * `metered`: a client request, counted in etcd_server_proposals_* (etcd leaves conf changes out).
   */
  private async awaitApplied(
    id: bigint,
    leaderAtStart: bigint,
    ctx: CallContext | undefined,
    propose: () => void,
    metered = false,
  ): Promise<Extract<Outcome, { ok: true }>> {
    const waiting = this.waits.register(id, () => {
      if (metered) this.telemetry.proposalFailed();
      return this.leaderId !== leaderAtStart ? errTimeoutDueToLeaderFail() : errTimeout();
    });
    const signal = ctx?.signal;
    const abort = (): void => {
      if (metered) this.telemetry.proposalFailed();
      this.waits.fail(id, new ServerError('Canceled', 'context canceled'));
    };
    signal?.addEventListener('abort', abort, { once: true });
    propose();
    if (metered) this.telemetry.proposalPending(1);
    try {
      const outcome = await waiting;
      if (!outcome.ok) throw outcome.error;
      return outcome;
    } finally {
      signal?.removeEventListener('abort', abort);
      if (metered) this.telemetry.proposalPending(-1);
    }
  }

  private submit(id: bigint, data: Uint8Array): void {
    const result = this.driver.node.propose(data);
    this.driver.wake();
    if (result.ok) return;
    if (result.reason === 'no-leader' || result.reason === 'leader-transfer-in-progress') {
      this.parked.push({ id, data });
      return;
    }
    this.telemetry.proposalFailed();
    this.waits.fail(id, new ServerError('Unknown', `raft proposal dropped (${result.reason})`));
  }

  private async linearizableRead(ctx?: CallContext): Promise<void> {
    if (this.stopped) throw errStopped();
    await this.withTimeout(this.reads.wait(), ctx);
  }

  private withTimeout<T>(p: Promise<T>, ctx?: CallContext): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(errTimeout()), this.requestTimeoutMs);
      const abort = (): void => reject(new ServerError('Canceled', 'context canceled'));
      ctx?.signal?.addEventListener('abort', abort, { once: true });
      p.then(resolve, reject).finally(() => {
        clearTimeout(timer);
        ctx?.signal?.removeEventListener('abort', abort);
      });
    });
  }

  // ---- Raft events ---------------------------------------------------------------------------------

  private onSoftState(s: SoftState): void {
    this.telemetry.softState(this.leaderId, s.lead);
    const wasLeader = this.leaderId === this.settings.memberId;
    if (s.lead !== this.leaderId) {
      this.settings.logger.info(
        s.lead === 0n
          ? `${formatId(this.settings.memberId)} lost leader ${formatId(this.leaderId)}`
          : `${formatId(this.settings.memberId)} elected leader ${formatId(s.lead)} at term ${this.driver.term}`,
      );
    }
    this.leaderId = s.lead;
    const isLeader = s.role === 'leader';
    if (isLeader && !wasLeader) this.current.lessor.promote(this.settings.electionMs);
    if (!isLeader && wasLeader) this.current.lessor.demote();
    if (s.lead !== 0n && this.parked.length > 0) {
      const parked = this.parked;
      this.parked = [];
      for (const p of parked) this.submit(p.id, p.data);
    }
    const waiters = this.leaderWaiters.splice(0);
    for (const w of waiters) w();
  }

  private async applyCommitted(snapshot: Snapshot | undefined, entries: readonly Entry[]): Promise<void> {
    if (snapshot !== undefined) await this.installSnapshot(snapshot);
    const batchTx = this.current.backend.batchTx;
    const consistent = this.current.backend.consistentIndex().index;
    let last: Entry | undefined;
    for (const e of entries) {
      if (e.index <= consistent) {
        // Already in the backend. This happens after installing a leader's snapshot: its database is
        // newer than the raft snapshot sent with it, so the membership already holds the conf changes
        // in between, while raft's configuration (the raft snapshot's) still needs them, as a restart
        // replays them (RawNode's `applied`).
        if (e.type === 'confChange')
          this.confState = this.driver.node.applyConfChange(decodeConfChange(e.data));
        continue;
      }
      if (e.type === 'confChange') this.applyConfChange(e);
      else if (e.data.byteLength > 0) this.applyRequest(e);
      last = e;
    }
    if (last !== undefined) batchTx.setConsistentIndex(last.index, last.term);
    const lastIndex = entries.length > 0 ? entries[entries.length - 1].index : this.applied.index;
    this.applied.advanceTo(lastIndex);
    if (this.applied.index - this.snapshotIndex > this.settings.snapshotCount) await this.takeRaftSnapshot();
    if (this.removedFromCluster) this.onRemovedFromCluster();
  }

  private onRemovedFromCluster(): void {
    if (this.stopped || this.removalScheduled) return;
    this.removalScheduled = true;
    this.settings.logger.warn('the member has been permanently removed from the cluster; shutting down');
    // Like etcd, after ten ticks: the request that removed this member may be waiting for its answer here.
    const timer = setTimeout(() => this.settings.onRemoved?.(), 10 * this.settings.heartbeatMs);
    timer.unref();
  }

  private applyRequest(e: Entry): void {
    let request: InternalRaftRequest;
    try {
      request = InternalRaftRequest.decode(e.data);
    } catch (err) {
      throw new Error(`entry ${e.index} holds no decodable request: ${String(err)}`);
    }
    const started = performance.now();
    const outcome = this.current.applier.apply(request, e.index);
    this.telemetry.applied(performance.now() - started);
    const id = request.header?.ID ?? request.ID;
    this.waits.trigger(id, outcome);
  }

  private applyConfChange(e: Entry): void {
    const cc: ConfChange = decodeConfChange(e.data);
    const cluster = this.current.cluster;
    let outcome: Outcome;
    try {
      const result = cluster.applyConfChange(cc);
      this.confState = this.driver.node.applyConfChange(cc);
      const o = result.outcome;
      if (o.kind === 'removed') {
        if (o.id !== this.settings.memberId) this.peers.removePeer(o.id);
      } else if (o.member.id !== this.settings.memberId) {
        if (o.kind === 'added') this.peers.addPeer(o.member.id, o.member.peerUrls);
        else this.peers.updatePeer(o.member.id, o.member.peerUrls);
      }
      outcome = { ok: true, response: o.kind === 'removed' ? {} : { member: toMemberMessage(o.member) } };
      this.settings.logger.info(
        `applied membership change: ${o.kind} ${formatId(o.kind === 'removed' ? o.id : o.member.id)}`,
      );
      if (result.removedSelf) this.removedFromCluster = true;
    } catch (err) {
      if (!(err instanceof MembershipError)) throw err;
      // A refused change still leaves the log: raft sees it as a no-op (etcd's convention).
      this.confState = this.driver.node.applyConfChange({ ...cc, nodeId: 0n });
      outcome = { ok: false, error: new ServerError(err.grpc.code, err.grpc.message) };
    }
    this.driver.wake();
    if (cc.id !== undefined) this.waits.trigger(cc.id, outcome);
  }

  // ---- Peer traffic ---------------------------------------------------------------------------------

  receiveMessages(messages: readonly Message[]): void {
    if (this.stopped) return;
    const node = this.driver.node;
    for (const msg of messages) node.step(msg);
    this.driver.wake();
  }

  reportUnreachable(id: bigint): void {
    this.driver.node.reportUnreachable(id);
  }

  reportSnapshot(id: bigint, status: SnapshotStatus): void {
    this.driver.node.reportSnapshot(id, status);
    this.driver.wake();
  }

  // ---- Snapshots between members -------------------------------------------------------------------

  /** The leader's side of MsgSnap: a consistent copy of the backend, streamed, then removed. */
  async *snapshotBody(message: MsgSnap): AsyncIterable<Uint8Array> {
    const tmp = join(this.settings.snapDir, `send-${randomBytes(6).toString('hex')}.db.tmp`);
    const started = performance.now();
    let sent = 0;
    try {
      await this.current.backend.backup(tmp, { compact: true });
      for await (const chunk of createReadStream(tmp, { highWaterMark: 256 * 1024 })) {
        yield chunk as Buffer;
        sent += (chunk as Buffer).byteLength;
      }
      // Like etcd, the database counts as sent bytes once all of it went out.
      this.telemetry.peerSent(message.to, sent);
    } finally {
      // etcd times its backend snapshot from taking it to closing it, the transfer included.
      this.telemetry.backendSnapshot((performance.now() - started) / 1000);
      await rm(tmp, { force: true });
    }
  }

  /**
   * A follower's side of MsgSnap: stores the database durably as `%016x.snap.db` (etcd's name), then
   * hands the message to raft, which will return the snapshot in a Ready to install.
   */
  async receiveSnapshot(message: MsgSnap, body: AsyncIterable<Uint8Array>): Promise<void> {
    const path = this.snapshotDbPath(message.snapshot.metadata.index);
    const tmp = `${path}.tmp`;
    const f = await openFile(tmp, 'w', 0o600);
    let received = 0;
    try {
      for await (const chunk of body) {
        await f.write(chunk);
        received += chunk.byteLength;
      }
      await f.sync();
    } finally {
      await f.close();
    }
    this.telemetry.peerReceived(message.from, received);
    renameSync(tmp, path);
    await fsyncDir(this.settings.snapDir);
    this.driver.node.step(message);
    this.driver.wake();
  }

  private snapshotDbPath(index: number): string {
    return join(this.settings.snapDir, `${index.toString(16).padStart(16, '0')}.snap.db`);
  }

  /** Replaces the state with the leader's database received for `snapshot`. */
  private async installSnapshot(snapshot: Snapshot): Promise<void> {
    const { index } = snapshot.metadata;
    const db = this.snapshotDbPath(index);
    if (!existsSync(db)) throw new Error(`the database for snapshot ${index} is missing: ${db}`);
    const old = this.current;
    await old.close();
    await old.backend.commit().catch(() => {});
    await old.backend.close();
    renameSync(db, this.settings.backendPath);
    await fsyncDir(this.settings.snapDir);
    this.current = this.reopenState(old);
    // The database may list members this member has not heard of yet, or no longer list some.
    const self = this.settings.memberId;
    for (const m of this.current.cluster.members()) if (m.id !== self) this.peers.addPeer(m.id, m.peerUrls);
    for (const m of old.cluster.members()) {
      if (m.id !== self && this.current.cluster.member(m.id) === undefined) this.peers.removePeer(m.id);
    }
    this.confState = snapshot.metadata.confState;
    this.snapshotIndex = index;
    this.applied.advanceTo(index);
    this.settings.logger.info(`installed the leader's snapshot at index ${index}`);
  }

  /** Takes a raft snapshot at the applied index and compacts the log behind it. */
  private async takeRaftSnapshot(): Promise<void> {
    const index = this.applied.index;
    await this.current.backend.forceCommit();
    const storage = this.driver.storage;
    const snap = storage.createSnapshot(index, this.confState, new Uint8Array(0));
    await this.driver.persistSnapshot(snap);
    this.snapshotIndex = index;
    const compactTo = index - SNAPSHOT_CATCH_UP_ENTRIES;
    if (compactTo > storage.firstIndex()) storage.compact(compactTo);
    this.settings.logger.info(`saved snapshot at index ${index}`);
  }
}

function toMemberMessage(m: ClusterMember): MemberMessage {
  return {
    ID: m.id,
    name: m.name,
    peerURLs: [...m.peerUrls],
    clientURLs: [...m.clientUrls],
    isLearner: m.isLearner,
  };
}

/** A membership refusal in the form clients see: etcd's wire text and gRPC code. */
class MembershipErrorAsServer extends ServerError {
  constructor(reason: ConstructorParameters<typeof MembershipError>[0]) {
    const status = new MembershipError(reason).grpc;
    super(status.code, status.message);
  }
}

/**
 * A peer call answered for a follower: a refusal with a gRPC code (the member's, the keyspace's, the
 * lessor's, membership's) travels as `<code name> <etcd text>`, so the follower can rebuild it.
 */
function answeringRefusals(
  call: (body: Uint8Array) => Promise<Uint8Array>,
): (body: Uint8Array) => Promise<Uint8Array> {
  return async (body) => {
    try {
      return await call(body);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (e instanceof Error && isGrpcCodeName(code)) throw new Error(`${code} ${e.message}`);
      throw e;
    }
  };
}

/** The refusal a leader answered a forwarded call with (see answeringRefusals), or its bare text. */
function refusalFromLeader(text: string): ServerError {
  const space = text.indexOf(' ');
  const code = text.slice(0, space);
  if (space > 0 && isGrpcCodeName(code)) return new ServerError(code, text.slice(space + 1));
  return new ServerError('Unavailable', text);
}

function notEnoughStarted(): ServerError {
  return new MembershipErrorAsServer('not-enough-started');
}

function parsePeerUrls(urls: readonly string[]): string[] {
  try {
    const parsed = normalizeUrls(urls);
    if (parsed.length === 0) throw new Error('no URLs');
    return parsed;
  } catch {
    throw new MembershipErrorAsServer('bad-urls');
  }
}
