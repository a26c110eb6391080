// A ServerApi for client-port tests: the real state machines (keyspace, watch, lessor, alarms and the
// applier over a real backend in a temp dir) without raft. Writes are applied directly, as a
// single-member cluster would after commit; headers carry fixed cluster/member IDs and term 2.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Registry, Gauge } from 'prom-client';

import { isLeaseError } from '../../../src/lease/errors.js';
import { validateDeleteRange, validatePut, validateRange, validateTxn } from '../../../src/mvcc/validate.js';
import { WatchStream } from '../../../src/mvcc/watch-stream.js';
import { InternalRaftRequest } from '../../../src/proto/etcdserverpb/raft_internal.js';
import {
  AlarmType,
  alarmTypeToJSON,
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
  type CompactionResponse,
  type DeleteRangeResponse,
  type LeaseGrantResponse,
  type LeaseRevokeResponse,
  type PutResponse,
  type TxnResponse,
  type Member,
  type ResponseHeader,
  type StatusResponse,
} from '../../../src/proto/etcdserverpb/rpc.js';
import type { Health, ServerApi, ServerWatchStream } from '../../../src/server/api.js';
import { takeBackendSnapshot } from '../../../src/server/backend-snapshot.js';
import { ServerError } from '../../../src/server/errors.js';
import { openState, type MemberState } from '../../../src/server/state.js';
import { Backend } from '../../../src/storage/backend/index.js';

export const CLUSTER_ID = 0x1c2a3b4c5d6e7f80n;
export const MEMBER_ID = 0x8e9e05c52164694dn;
export const TERM = 2n;

export interface FakeMember {
  readonly api: ServerApi;
  readonly state: MemberState;
  /** The client URLs member list shows (etcd: the advertised ones). */
  setClientUrls(urls: string[]): void;
  /** Whether the member knows a leader (default true). */
  setLeader(has: boolean): void;
  /** Whether the member is a learner (default false). */
  setLearner(is: boolean): void;
  close(): Promise<void>;
}

interface TestContext {
  after(fn: () => Promise<void>): void;
}

export function startFakeMember(t: TestContext): FakeMember {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-api-'));
  const backend = Backend.open(join(dir, 'db'), { logger: { warn: () => {} } });
  const state = openState(backend, {
    identity: { clusterId: CLUSTER_ID, localId: MEMBER_ID },
    lessor: { now: () => performance.now() },
    logger: { warn: () => {} },
  });
  state.lessor.promote(0);
  let leader = true;
  let learner = false;
  let raftIndex = 4n;
  let nextLease = 0x694d7a1b2c3d0000n;
  const members: Member[] = [
    {
      ID: MEMBER_ID,
      name: 'default',
      peerURLs: ['http://127.0.0.1:2380'],
      clientURLs: [],
      isLearner: false,
    },
  ];

  const header = (revision?: bigint): ResponseHeader => ({
    clusterId: CLUSTER_ID,
    memberId: MEMBER_ID,
    revision: revision ?? BigInt(state.store.revision),
    raftTerm: TERM,
  });
  const withHeader = <T extends { header: ResponseHeader | undefined }>(r: T): T => {
    r.header = header(r.header?.revision);
    return r;
  };
  /** Applies a request as the member would after raft committed it. */
  const apply = async <T>(r: Partial<InternalRaftRequest>): Promise<T> => {
    raftIndex++;
    const outcome = state.applier.apply(InternalRaftRequest.fromPartial(r));
    if (!outcome.ok) throw outcome.error;
    if (outcome.compacted !== undefined) await outcome.compacted;
    return outcome.response as T;
  };
  const alarmText = (): string[] =>
    state.alarms.get().map((a) => `memberID:${a.memberID} alarm:${alarmTypeToJSON(a.alarm)} `);
  const registry = new Registry();
  new Gauge({
    name: 'etcd_server_has_leader',
    help: 'Whether or not a leader exists.',
    registers: [registry],
  }).set(1);

  /** Auth as the member answers it (without credentials: these tests run with auth off). */
  const via =
    <T>(key: keyof InternalRaftRequest) =>
    async (r: object = {}): Promise<T> =>
      withHeader(
        (await apply<T & { header: ResponseHeader | undefined }>({ [key]: r })) as T & {
          header: ResponseHeader | undefined;
        },
      );
  const authApi = {
    authEnable: () => via<AuthEnableResponse>('authEnable')(),
    authDisable: () => via<AuthDisableResponse>('authDisable')(),
    authStatus: async () => ({
      header: header(),
      enabled: state.auth.isEnabled,
      authRevision: BigInt(state.auth.revision),
    }),
    authenticate: async (r: AuthenticateRequest) => {
      state.auth.passwordOf(r.name);
      return via<AuthenticateResponse>('authenticate')({ name: r.name, password: '', simpleToken: 'fake' });
    },
    userAdd: (r: AuthUserAddRequest) => via<AuthUserAddResponse>('authUserAdd')(r),
    userGet: (r: AuthUserGetRequest) => via<AuthUserGetResponse>('authUserGet')(r),
    userList: () => via<AuthUserListResponse>('authUserList')(),
    userDelete: (r: AuthUserDeleteRequest) => via<AuthUserDeleteResponse>('authUserDelete')(r),
    userChangePassword: (r: AuthUserChangePasswordRequest) =>
      via<AuthUserChangePasswordResponse>('authUserChangePassword')(r),
    userGrantRole: (r: AuthUserGrantRoleRequest) => via<AuthUserGrantRoleResponse>('authUserGrantRole')(r),
    userRevokeRole: (r: AuthUserRevokeRoleRequest) =>
      via<AuthUserRevokeRoleResponse>('authUserRevokeRole')(r),
    roleAdd: (r: AuthRoleAddRequest) => via<AuthRoleAddResponse>('authRoleAdd')(r),
    roleGet: (r: AuthRoleGetRequest) => via<AuthRoleGetResponse>('authRoleGet')(r),
    roleList: () => via<AuthRoleListResponse>('authRoleList')(),
    roleDelete: (r: AuthRoleDeleteRequest) => via<AuthRoleDeleteResponse>('authRoleDelete')(r),
    roleGrantPermission: (r: AuthRoleGrantPermissionRequest) =>
      via<AuthRoleGrantPermissionResponse>('authRoleGrantPermission')(r),
    roleRevokePermission: (r: AuthRoleRevokePermissionRequest) =>
      via<AuthRoleRevokePermissionResponse>('authRoleRevokePermission')(r),
  };

  const api: ServerApi = {
    header: (revision) => header(revision),
    range: async (r) => {
      validateRange(r);
      return withHeader(state.kv.range(r));
    },
    put: async (r) => {
      validatePut(r);
      return withHeader(await apply<PutResponse>({ put: r }));
    },
    deleteRange: async (r) => {
      validateDeleteRange(r);
      return withHeader(await apply<DeleteRangeResponse>({ deleteRange: r }));
    },
    txn: async (r) => {
      validateTxn(r);
      return withHeader(await apply<TxnResponse>({ txn: r }));
    },
    compact: async (r) => withHeader(await apply<CompactionResponse>({ compaction: r })),
    openWatchStream: (): ServerWatchStream => {
      const stream = new WatchStream(state.watchable);
      return {
        stream,
        refusal: () => undefined,
        // A compaction notice has no revision (etcd leaves it out of the header).
        header: (revision) => header(BigInt(revision)),
        close: () => stream.close(),
      };
    },
    hasLeader: () => leader,
    ...authApi,
    isLearner: () => learner,
    leaseGrant: async (r) => {
      const ID = r.ID === 0n ? nextLease++ : r.ID;
      return withHeader(await apply<LeaseGrantResponse>({ leaseGrant: { ...r, ID } }));
    },
    leaseRevoke: async (r) => withHeader(await apply<LeaseRevokeResponse>({ leaseRevoke: r })),
    leaseRenew: async (id) => {
      try {
        const { TTL } = state.lessor.renew(id);
        return { header: header(), ID: id, TTL };
      } catch (e) {
        if (isLeaseError(e, 'lease-not-found')) return { header: header(), ID: id, TTL: 0n };
        throw e;
      }
    },
    leaseTimeToLive: async (r) => {
      const t = state.lessor.timeToLive(r.ID, r.keys);
      return { header: header(), ...t };
    },
    leaseLeases: async () => ({ header: header(), leases: state.lessor.leases().map((ID) => ({ ID })) }),
    memberAdd: async () => {
      throw new ServerError('Unavailable', 'etcdserver: unhealthy cluster');
    },
    memberRemove: async (r) => {
      if (r.ID !== MEMBER_ID)
        throw Object.assign(new Error('etcdserver: member not found'), { code: 'NotFound' });
      throw new ServerError('FailedPrecondition', 'etcdserver: not leader');
    },
    memberUpdate: async () => {
      throw Object.assign(new Error('etcdserver: member not found'), { code: 'NotFound' });
    },
    // Cluster responses carry no revision (etcd builds their header itself).
    memberList: async () => ({ header: header(0n), members }),
    memberPromote: async () => {
      throw Object.assign(new Error('etcdserver: can only promote a learner member'), {
        code: 'FailedPrecondition',
      });
    },
    // etcd 3.4 answers Alarm and Defragment without a header.
    alarm: async (r: AlarmRequest) => {
      const res = await apply<AlarmResponse>({ alarm: r });
      return { header: undefined, alarms: res.alarms };
    },
    status: async (): Promise<StatusResponse> => ({
      header: header(),
      version: '3.4.23',
      dbSize: BigInt(backend.size()),
      leader: leader ? MEMBER_ID : 0n,
      raftIndex,
      raftTerm: TERM,
      raftAppliedIndex: raftIndex,
      errors: [...(leader ? [] : ['etcdserver: no leader']), ...alarmText()],
      dbSizeInUse: BigInt(backend.sizeInUse()),
      isLearner: false,
    }),
    defragment: async () => {
      await backend.defragment();
      return { header: undefined };
    },
    hash: async () => ({ header: header(), hash: state.store.hashAll() }),
    hashKV: async (r) => {
      const h = state.store.hashByRev(Number(r.revision));
      return {
        header: header(BigInt(h.revision)),
        hash: h.hash,
        compactRevision: BigInt(h.compactRevision),
        hashRevision: BigInt(h.hashRevision),
      };
    },
    moveLeader: async () => {
      throw new ServerError('FailedPrecondition', 'etcdserver: bad leader transferee');
    },
    snapshot: () => takeBackendSnapshot(backend, dir),
    health: async (): Promise<Health> => {
      if (!leader) return { health: false, reason: 'RAFT NO LEADER' };
      if (state.alarms.has(AlarmType.NOSPACE) || state.alarms.has(AlarmType.CORRUPT)) {
        return { health: false, reason: 'ALARM' };
      }
      return { health: true, reason: '' };
    },
    version: () => ({ server: '3.4.23', cluster: '3.4.0' }),
    metrics: registry,
  };

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      await state.close();
      await backend.commit();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    })());
  t.after(close);
  return {
    api,
    state,
    setClientUrls: (urls) => void (members[0].clientURLs = urls),
    setLeader: (has) => void (leader = has),
    setLearner: (is) => void (learner = is),
    close,
  };
}
