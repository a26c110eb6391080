// A running member: the raft driver, the replicated state and the request paths of the client API.
// Writes are proposed through raft and answered when this member applies them; linearizable reads
// wait for a ReadIndex round; serializable reads are answered from local state.

import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, renameSync } from 'node:fs';
import { open as openFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { Registry } from 'prom-client';

import { LeaseError } from '../lease/index.js';
import { validateDeleteRange, validatePut, validateRange, validateTxn } from '../mvcc/validate.js';
import { WatchStream } from '../mvcc/watch-stream.js';
import { decodeConfChange } from '../raft/codec.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  MsgSnap,
  ReadState,
  Snapshot,
  SoftState,
} from '../raft/types.js';
import { fsyncDir } from '../storage/snap/atomic-file.js';
import {
  AlarmRequest_AlarmAction,
  AlarmType,
  type AlarmRequest,
  type AlarmResponse,
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
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
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
import { AppliedIndex } from './applied-index.js';
import type { CallContext, Health, ServerWatchStream } from './api.js';
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
  ServerError,
} from './errors.js';
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
  readonly logger: Logger;
}

/** What the member needs from the peer side (the transport), kept abstract for a single member. */
export interface PeerPort {
  send(messages: readonly Message[]): void;
}

type Outcome = ApplyOutcome;

export class Member {
  readonly metrics = new Registry();
  private readonly waits = new WaitRegistry<Outcome>();
  private readonly ids: RequestIdGenerator;
  private readonly applied: AppliedIndex;
  private readonly reads: ReadIndexBatcher;
  private readonly quota: BackendQuota;
  private readonly requestTimeoutMs: number;
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaderId = 0n;
  private snapshotIndex: number;
  private confState: ConfState;
  private stopped = false;
  /** Proposals refused for want of a leader, retried when one appears. */
  private parked: { id: bigint; data: Uint8Array }[] = [];
  private readonly leaderWaiters: (() => void)[] = [];

  constructor(
    private readonly settings: MemberSettings,
    private current: MemberState,
    /** Opens the state over the backend file again (after a leader's snapshot replaced it). */
    private readonly reopenState: () => MemberState,
    private readonly driver: RaftDriver,
    private readonly peers: PeerPort,
    init: { applied: number; snapshotIndex: number; confState: ConfState },
  ) {
    this.ids = new RequestIdGenerator(settings.memberId, Date.now());
    this.applied = new AppliedIndex(init.applied);
    this.snapshotIndex = init.snapshotIndex;
    this.confState = init.confState;
    this.reads = new ReadIndexBatcher(
      {
        requestReadIndex: (context) => {
          const r = this.driver.node.readIndex(context);
          this.driver.wake();
          return r.ok;
        },
      },
      this.applied,
      settings.electionMs,
    );
    const quota = resolveQuota(settings.quotaBackendBytes);
    if (quota.warning !== undefined) settings.logger.warn(quota.warning);
    this.quota = new BackendQuota(() => this.current.backend.size(), quota.limit);
    // etcd's request timeout: 5 s plus two election timeouts.
    this.requestTimeoutMs = 5000 + 2 * settings.electionMs;
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
    send: (messages: readonly Message[]): void => this.peers.send(messages),
    apply: (snapshot: Snapshot | undefined, entries: readonly Entry[]): Promise<void> | void =>
      this.applyCommitted(snapshot, entries),
    softState: (s: SoftState): void => this.onSoftState(s),
    readStates: (states: readonly ReadState[]): void => this.reads.onReadStates(states),
    fatal: (e: unknown): void => {
      this.settings.logger.error(`raft loop failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
      void this.stop();
    },
  };

  start(): void {
    this.driver.start(this.raftHooks);
    this.leaseTimer = setInterval(() => this.leaseLoop(), LEASE_LOOP_MS);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.leaseTimer !== undefined) clearInterval(this.leaseTimer);
    await this.driver.stop();
    this.waits.failAll(errStopped());
    this.reads.failAll(errStopped());
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
    if (isReadOnlyTxn(r)) {
      await this.linearizableRead(ctx);
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

  openWatchStream(): ServerWatchStream {
    const stream = new WatchStream(this.current.watchable);
    // Periodic progress notifications, as etcd sends them every 10 minutes by default.
    const progress = setInterval(() => stream.tickProgress(), 10 * 60 * 1000);
    progress.unref();
    return {
      stream,
      header: (revision) => this.header(BigInt(revision)),
      close: () => {
        clearInterval(progress);
        stream.close();
      },
    };
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
    await this.waitLeaderApplied(ctx);
    try {
      const renewed = this.current.lessor.renew(id);
      if (renewed.clearCheckpoint !== undefined) {
        void this.propose({ leaseCheckpoint: renewed.clearCheckpoint }).catch(() => {});
      }
      return { header: this.header(), ID: id, TTL: renewed.TTL };
    } catch (e) {
      if (e instanceof LeaseError && e.reason === 'lease-not-found')
        return { header: this.header(), ID: id, TTL: 0n };
      throw e;
    }
  }

  async leaseTimeToLive(r: LeaseTimeToLiveRequest, ctx?: CallContext): Promise<LeaseTimeToLiveResponse> {
    await this.waitLeaderApplied(ctx);
    const t = this.current.lessor.timeToLive(r.ID, r.keys);
    return { header: this.header(), ID: t.ID, TTL: t.TTL, grantedTTL: t.grantedTTL, keys: t.keys };
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

  // ---- Maintenance ---------------------------------------------------------------------------------

  async alarm(r: AlarmRequest, ctx?: CallContext): Promise<AlarmResponse> {
    if (r.action === AlarmRequest_AlarmAction.GET) {
      await this.linearizableRead(ctx);
      return { header: this.header(), alarms: this.current.alarms.get(r.alarm) };
    }
    return this.fill((await this.propose({ alarm: r }, ctx)) as AlarmResponse);
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

  async defragment(): Promise<DefragmentResponse> {
    await this.current.backend.defragment();
    return { header: this.header() };
  }

  async hash(): Promise<HashResponse> {
    return { header: this.header(), hash: this.current.store.hashAll() };
  }

  async hashKV(r: HashKVRequest): Promise<HashKVResponse> {
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

  private async proposeOutcome(
    request: Partial<InternalRaftRequest>,
    ctx?: CallContext,
  ): Promise<{ response: object; compacted?: Promise<void> }> {
    if (this.stopped) throw errStopped();
    if (this.driver.commit > this.applied.index + MAX_GAP_BETWEEN_APPLY_AND_COMMIT)
      throw errTooManyRequests();
    const id = this.ids.next();
    const data = InternalRaftRequest.encode(
      InternalRaftRequest.fromPartial({ ...request, header: { ID: id, username: '', authRevision: 0n } }),
    ).finish();
    if (data.byteLength > this.settings.maxRequestBytes) throw errRequestTooLarge();
    const waiting = this.waits.register(id);
    const leaderAtStart = this.leaderId;
    const timer = setTimeout(() => {
      this.waits.fail(id, this.leaderId !== leaderAtStart ? errTimeoutDueToLeaderFail() : errTimeout());
    }, this.requestTimeoutMs);
    const abort = (): void => this.waits.fail(id, new ServerError('Canceled', 'context canceled'));
    ctx?.signal?.addEventListener('abort', abort, { once: true });
    this.submit(id, data);
    try {
      const outcome = await waiting;
      if (!outcome.ok) throw outcome.error;
      return outcome;
    } finally {
      clearTimeout(timer);
      ctx?.signal?.removeEventListener('abort', abort);
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
    const wasLeader = this.leaderId === this.settings.memberId;
    if (s.lead !== this.leaderId) {
      this.settings.logger.info(
        s.lead === 0n
          ? `${hex(this.settings.memberId)} lost leader ${hex(this.leaderId)}`
          : `${hex(this.settings.memberId)} elected leader ${hex(s.lead)} at term ${this.driver.term}`,
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
      if (e.index <= consistent) continue; // already in the backend (a replay after a restart)
      if (e.type === 'confChange') this.applyConfChange(e);
      else if (e.data.byteLength > 0) this.applyRequest(e);
      last = e;
    }
    if (last !== undefined) batchTx.setConsistentIndex(last.index, last.term);
    const lastIndex = entries.length > 0 ? entries[entries.length - 1].index : this.applied.index;
    this.applied.advanceTo(lastIndex);
    if (this.applied.index - this.snapshotIndex > this.settings.snapshotCount) await this.snapshot();
  }

  private applyRequest(e: Entry): void {
    let request: InternalRaftRequest;
    try {
      request = InternalRaftRequest.decode(e.data);
    } catch (err) {
      throw new Error(`entry ${e.index} holds no decodable request: ${String(err)}`);
    }
    const outcome = this.current.applier.apply(request);
    const id = request.header?.ID ?? request.ID;
    this.waits.trigger(id, outcome);
  }

  private applyConfChange(e: Entry): void {
    const cc: ConfChange = decodeConfChange(e.data);
    this.confState = this.driver.node.applyConfChange(cc);
    this.driver.wake();
    if (cc.id !== undefined) {
      this.waits.trigger(cc.id, { ok: true, response: {} });
    }
  }

  // ---- Snapshots between members -------------------------------------------------------------------

  /** The leader's side of MsgSnap: a consistent copy of the backend, streamed, then removed. */
  async *snapshotBody(_message: MsgSnap): AsyncIterable<Uint8Array> {
    const tmp = join(this.settings.snapDir, `send-${randomBytes(6).toString('hex')}.db.tmp`);
    try {
      await this.current.backend.backup(tmp, { compact: true });
      for await (const chunk of createReadStream(tmp, { highWaterMark: 256 * 1024 })) {
        yield chunk as Buffer;
      }
    } finally {
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
    try {
      for await (const chunk of body) await f.write(chunk);
      await f.sync();
    } finally {
      await f.close();
    }
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
    this.current = this.reopenState();
    this.confState = snapshot.metadata.confState;
    this.snapshotIndex = index;
    this.applied.advanceTo(index);
    this.settings.logger.info(`installed the leader's snapshot at index ${index}`);
  }

  /** Takes a raft snapshot at the applied index and compacts the log behind it. */
  private async snapshot(): Promise<void> {
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

function isReadOnlyTxn(r: TxnRequest): boolean {
  const ops = [...r.success, ...r.failure];
  return ops.every((op) => {
    const req = op.request;
    if (req === undefined || req.$case === 'requestRange') return true;
    if (req.$case === 'requestTxn') return isReadOnlyTxn(req.value);
    return false;
  });
}

function hex(id: bigint): string {
  return id.toString(16);
}
