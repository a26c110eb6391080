// What the client port (src/api/) may ask of a member. The API layer translates the wire (gRPC,
// the JSON gateway, /health, /version, /metrics) into these calls and nothing else; every answer or
// error (ServerError, KeyspaceError, LeaseError, MembershipError: all carry a gRPC code name and
// etcd's exact text) comes from here.

import type { Registry } from 'prom-client';

import type { WatchStream } from '../mvcc/watch-stream.js';
import type { BackendSnapshot } from './backend-snapshot.js';
import type {
  AlarmRequest,
  AlarmResponse,
  AuthDisableResponse,
  AuthEnableResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  AuthRoleAddRequest,
  AuthRoleAddResponse,
  AuthRoleDeleteRequest,
  AuthRoleDeleteResponse,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest,
  AuthRoleGrantPermissionResponse,
  AuthRoleListResponse,
  AuthRoleRevokePermissionRequest,
  AuthRoleRevokePermissionResponse,
  AuthStatusResponse,
  AuthUserAddRequest,
  AuthUserAddResponse,
  AuthUserChangePasswordRequest,
  AuthUserChangePasswordResponse,
  AuthUserDeleteRequest,
  AuthUserDeleteResponse,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserGrantRoleRequest,
  AuthUserGrantRoleResponse,
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  AuthUserRevokeRoleResponse,
  CompactionRequest,
  CompactionResponse,
  DefragmentResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKVRequest,
  HashKVResponse,
  HashResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  MemberAddRequest,
  MemberAddResponse,
  MemberListRequest,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from '../proto/etcdserverpb/rpc.js';

/** Who the caller says it is (checked only while auth is on). */
export interface Credentials {
  /** The `token` gRPC metadata, or the gateway's Authorization header. */
  readonly token?: string;
  /** The common name of a client certificate the client port verified (gRPC only, as etcd). */
  readonly commonName?: string;
}

/** Per-call context: the client's deadline and cancellation (a closed call aborts the signal). */
export interface CallContext {
  readonly signal?: AbortSignal;
  readonly credentials?: Credentials;
}

/** A watch stream bound to this member's watchable store, with the header filled per response. */
export interface ServerWatchStream {
  readonly stream: WatchStream;
  /**
   * Why the stream's caller may not watch [key, rangeEnd): the cancel reason etcd sends, or undefined
   * when it may. Synchronous unless a token has to be verified.
   */
  refusal(key: Uint8Array, rangeEnd: Uint8Array): string | undefined | Promise<string | undefined>;
  /** The header of a watch response with this revision (etcd fills cluster, member, term). */
  header(revision: number): ResponseHeader;
  /** Stops the stream's watchers and its periodic progress. */
  close(): void;
}

export interface Health {
  readonly health: boolean;
  /** Why not healthy (e.g. 'NOSPACE', 'no leader'), for logs and the JSON body. */
  readonly reason: string;
}

export interface ServerApi {
  /** The header for a response at `revision` (the current one if omitted). */
  header(revision?: bigint): ResponseHeader;

  range(r: RangeRequest, ctx?: CallContext): Promise<RangeResponse>;
  put(r: PutRequest, ctx?: CallContext): Promise<PutResponse>;
  deleteRange(r: DeleteRangeRequest, ctx?: CallContext): Promise<DeleteRangeResponse>;
  txn(r: TxnRequest, ctx?: CallContext): Promise<TxnResponse>;
  compact(r: CompactionRequest, ctx?: CallContext): Promise<CompactionResponse>;

  /** A new watch stream; the caller feeds it WatchCreate/cancel/progress and drains responses(). */
  openWatchStream(ctx?: CallContext): ServerWatchStream;
  /** Whether the member currently knows a leader (watch streams with `hasleader` metadata need it). */
  hasLeader(): boolean;
  /** Whether this member is a learner (it then serves only status and serializable ranges). */
  isLearner(): boolean;

  leaseGrant(r: LeaseGrantRequest, ctx?: CallContext): Promise<LeaseGrantResponse>;
  leaseRevoke(r: LeaseRevokeRequest, ctx?: CallContext): Promise<LeaseRevokeResponse>;
  /** One keepalive: the lease's granted TTL, or 0 for an unknown lease (etcd's answer). */
  leaseRenew(id: bigint, ctx?: CallContext): Promise<{ header: ResponseHeader; ID: bigint; TTL: bigint }>;
  leaseTimeToLive(r: LeaseTimeToLiveRequest, ctx?: CallContext): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(ctx?: CallContext): Promise<LeaseLeasesResponse>;

  memberAdd(r: MemberAddRequest, ctx?: CallContext): Promise<MemberAddResponse>;
  memberRemove(r: MemberRemoveRequest, ctx?: CallContext): Promise<MemberRemoveResponse>;
  memberUpdate(r: MemberUpdateRequest, ctx?: CallContext): Promise<MemberUpdateResponse>;
  memberList(r: MemberListRequest, ctx?: CallContext): Promise<MemberListResponse>;
  memberPromote(r: MemberPromoteRequest, ctx?: CallContext): Promise<MemberPromoteResponse>;

  alarm(r: AlarmRequest, ctx?: CallContext): Promise<AlarmResponse>;
  status(ctx?: CallContext): Promise<StatusResponse>;
  defragment(ctx?: CallContext): Promise<DefragmentResponse>;
  hash(ctx?: CallContext): Promise<HashResponse>;
  hashKV(r: HashKVRequest, ctx?: CallContext): Promise<HashKVResponse>;
  moveLeader(r: MoveLeaderRequest, ctx?: CallContext): Promise<MoveLeaderResponse>;
  /**
   * The backend as etcd's snapshot file (a bbolt image without the SHA-256 trailer), taken at one
   * point while writes go on; served without quorum, as etcd does. The caller must close it.
   */
  snapshot(ctx?: CallContext): Promise<BackendSnapshot>;

  authEnable(ctx?: CallContext): Promise<AuthEnableResponse>;
  authDisable(ctx?: CallContext): Promise<AuthDisableResponse>;
  authStatus(ctx?: CallContext): Promise<AuthStatusResponse>;
  authenticate(r: AuthenticateRequest, ctx?: CallContext): Promise<AuthenticateResponse>;
  userAdd(r: AuthUserAddRequest, ctx?: CallContext): Promise<AuthUserAddResponse>;
  userGet(r: AuthUserGetRequest, ctx?: CallContext): Promise<AuthUserGetResponse>;
  userList(ctx?: CallContext): Promise<AuthUserListResponse>;
  userDelete(r: AuthUserDeleteRequest, ctx?: CallContext): Promise<AuthUserDeleteResponse>;
  userChangePassword(
    r: AuthUserChangePasswordRequest,
    ctx?: CallContext,
  ): Promise<AuthUserChangePasswordResponse>;
  userGrantRole(r: AuthUserGrantRoleRequest, ctx?: CallContext): Promise<AuthUserGrantRoleResponse>;
  userRevokeRole(r: AuthUserRevokeRoleRequest, ctx?: CallContext): Promise<AuthUserRevokeRoleResponse>;
  roleAdd(r: AuthRoleAddRequest, ctx?: CallContext): Promise<AuthRoleAddResponse>;
  roleGet(r: AuthRoleGetRequest, ctx?: CallContext): Promise<AuthRoleGetResponse>;
  roleList(ctx?: CallContext): Promise<AuthRoleListResponse>;
  roleDelete(r: AuthRoleDeleteRequest, ctx?: CallContext): Promise<AuthRoleDeleteResponse>;
  roleGrantPermission(
    r: AuthRoleGrantPermissionRequest,
    ctx?: CallContext,
  ): Promise<AuthRoleGrantPermissionResponse>;
  roleRevokePermission(
    r: AuthRoleRevokePermissionRequest,
    ctx?: CallContext,
  ): Promise<AuthRoleRevokePermissionResponse>;

  /** For GET /health (false on no leader or any alarm, as etcd 3.4 does). */
  health(): Promise<Health>;
  /** For GET /version: {"etcdserver":"3.4.x","etcdcluster":"3.4.0"}. */
  version(): { readonly server: string; readonly cluster: string };
  /** Prometheus metrics of this member, for GET /metrics. */
  readonly metrics: Registry;
}
