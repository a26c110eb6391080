// Every unary RPC of the client port in one table: which service and method it is, which
// gateway paths reach it, its message codecs, and the ServerApi call that answers it. The gRPC server
// and the JSON gateway are both built from this table, so the two can never disagree on behaviour.

import {
  AlarmRequest,
  AlarmResponse,
  AuthDisableRequest,
  AuthDisableResponse,
  AuthEnableRequest,
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
  AuthRoleListRequest,
  AuthRoleListResponse,
  AuthRoleRevokePermissionRequest,
  AuthRoleRevokePermissionResponse,
  AuthStatusRequest,
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
  AuthUserListRequest,
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  AuthUserRevokeRoleResponse,
  CompactionRequest,
  CompactionResponse,
  DefragmentRequest,
  DefragmentResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  DowngradeRequest,
  DowngradeResponse,
  HashKVRequest,
  HashKVResponse,
  HashRequest,
  HashResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseLeasesRequest,
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
  StatusRequest,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  type MessageFns,
} from '../proto/etcdserverpb/rpc.js';
import { encoded } from '../proto/reused-writer.js';
import type { CallContext, ServerApi } from '../server/api.js';
import { NOT_SUPPORTED_FOR_LEARNER } from './status.js';

export type ServiceName = 'KV' | 'Lease' | 'Cluster' | 'Maintenance' | 'Auth';

export interface UnaryMethod {
  readonly service: ServiceName;
  /** The method's key in the generated service definition, e.g. 'range' (its path is there). */
  readonly handler: string;
  /** Gateway paths below the version prefix, e.g. '/kv/range' (for POST /v3/kv/range). */
  readonly gatewayPaths: readonly string[];
  /** The request from gateway JSON (either field-name style, as grpc-gateway accepts). */
  fromJson(json: unknown): unknown;
  /** The response as ts-proto JSON (camelCase names; the gateway renames them). */
  toJson(response: unknown): unknown;
  /** Encoded size of a request, to apply the gRPC receive limit to gateway requests. */
  encodedSize(request: unknown): number;
  /** The request from its protobuf bytes (the gRPC wire). */
  decode(bytes: Uint8Array): unknown;
  /** The response's protobuf bytes (the gRPC wire). */
  encode(response: unknown): Uint8Array;
  invoke(api: ServerApi, request: unknown, ctx: CallContext): Promise<unknown>;
}

function unary<Req, Res>(
  service: ServiceName,
  handler: string,
  gatewayPaths: readonly string[],
  req: MessageFns<Req>,
  res: MessageFns<Res>,
  invoke: (api: ServerApi, r: Req, ctx: CallContext) => Promise<Res> | Res,
  learnerMay: (r: Req) => boolean = () => false,
): UnaryMethod {
  return {
    service,
    handler,
    gatewayPaths,
    fromJson: (json) => req.fromJSON(json),
    toJson: (r) => res.toJSON(r as Res),
    encodedSize: (r) => req.encode(r as Req).finish().byteLength,
    decode: (bytes) => req.decode(bytes),
    encode: (r) => encoded(res, r as Res),
    // Synchronous throws (the auth answers) become rejections like the member's.
    invoke: async (api, r, ctx) => {
      // etcd serves a learner's clients only what a learner can answer alone (v3rpc's interceptor).
      if (api.isLearner() && !learnerMay(r as Req)) throw new LearnerRefusal();
      return invoke(api, r as Req, ctx);
    },
  };
}

/** A request a learner does not serve, with etcd's code and text. */
class LearnerRefusal extends Error {
  readonly grpc = { code: 'Unavailable', message: NOT_SUPPORTED_FOR_LEARNER.message };
  constructor() {
    super(NOT_SUPPORTED_FOR_LEARNER.message);
  }
}

/** An RPC this member does not serve (gRPC code Unimplemented). */
class Unimplemented extends Error {
  readonly code = 'Unimplemented';
}

const unimplemented = (what: string): never => {
  throw new Unimplemented(`cairn: ${what} is not implemented yet`);
};

export const UNARY_METHODS: readonly UnaryMethod[] = [
  // KV
  unary(
    'KV',
    'range',
    ['/kv/range'],
    RangeRequest,
    RangeResponse,
    (a, r, c) => a.range(r, c),
    (r) => r.serializable,
  ),
  unary('KV', 'put', ['/kv/put'], PutRequest, PutResponse, (a, r, c) => a.put(r, c)),
  unary('KV', 'deleteRange', ['/kv/deleterange'], DeleteRangeRequest, DeleteRangeResponse, (a, r, c) =>
    a.deleteRange(r, c),
  ),
  unary('KV', 'txn', ['/kv/txn'], TxnRequest, TxnResponse, (a, r, c) => a.txn(r, c)),
  unary('KV', 'compact', ['/kv/compaction'], CompactionRequest, CompactionResponse, (a, r, c) =>
    a.compact(r, c),
  ),

  // Lease (keepalive is a stream, elsewhere). 3.4 also serves three of them under /v3/kv/lease/.
  unary('Lease', 'leaseGrant', ['/lease/grant'], LeaseGrantRequest, LeaseGrantResponse, (a, r, c) =>
    a.leaseGrant(r, c),
  ),
  unary(
    'Lease',
    'leaseRevoke',
    ['/lease/revoke', '/kv/lease/revoke'],
    LeaseRevokeRequest,
    LeaseRevokeResponse,
    (a, r, c) => a.leaseRevoke(r, c),
  ),
  unary(
    'Lease',
    'leaseTimeToLive',
    ['/lease/timetolive', '/kv/lease/timetolive'],
    LeaseTimeToLiveRequest,
    LeaseTimeToLiveResponse,
    (a, r, c) => a.leaseTimeToLive(r, c),
  ),
  unary(
    'Lease',
    'leaseLeases',
    ['/lease/leases', '/kv/lease/leases'],
    LeaseLeasesRequest,
    LeaseLeasesResponse,
    (a, _r, c) => a.leaseLeases(c),
  ),

  // Cluster
  unary('Cluster', 'memberAdd', ['/cluster/member/add'], MemberAddRequest, MemberAddResponse, (a, r, c) =>
    a.memberAdd(r, c),
  ),
  unary(
    'Cluster',
    'memberRemove',
    ['/cluster/member/remove'],
    MemberRemoveRequest,
    MemberRemoveResponse,
    (a, r, c) => a.memberRemove(r, c),
  ),
  unary(
    'Cluster',
    'memberUpdate',
    ['/cluster/member/update'],
    MemberUpdateRequest,
    MemberUpdateResponse,
    (a, r, c) => a.memberUpdate(r, c),
  ),
  unary('Cluster', 'memberList', ['/cluster/member/list'], MemberListRequest, MemberListResponse, (a, r, c) =>
    a.memberList(r, c),
  ),
  unary(
    'Cluster',
    'memberPromote',
    ['/cluster/member/promote'],
    MemberPromoteRequest,
    MemberPromoteResponse,
    (a, r, c) => a.memberPromote(r, c),
  ),

  // Maintenance. 3.4 maps both Hash and HashKV to /v3/maintenance/hash and serves Hash there; 3.5
  // moved HashKV to /v3/maintenance/hashkv, which we serve too.
  unary('Maintenance', 'alarm', ['/maintenance/alarm'], AlarmRequest, AlarmResponse, (a, r, c) =>
    a.alarm(r, c),
  ),
  unary(
    'Maintenance',
    'status',
    ['/maintenance/status'],
    StatusRequest,
    StatusResponse,
    (a, _r, c) => a.status(c),
    () => true,
  ),
  unary(
    'Maintenance',
    'defragment',
    ['/maintenance/defragment'],
    DefragmentRequest,
    DefragmentResponse,
    (a, _r, c) => a.defragment(c),
  ),
  unary('Maintenance', 'hash', ['/maintenance/hash'], HashRequest, HashResponse, (a, _r, c) => a.hash(c)),
  unary('Maintenance', 'hashKv', ['/maintenance/hashkv'], HashKVRequest, HashKVResponse, (a, r, c) =>
    a.hashKV(r, c),
  ),
  unary(
    'Maintenance',
    'moveLeader',
    ['/maintenance/transfer-leadership'],
    MoveLeaderRequest,
    MoveLeaderResponse,
    (a, r, c) => a.moveLeader(r, c),
  ),
  unary('Maintenance', 'downgrade', ['/maintenance/downgrade'], DowngradeRequest, DowngradeResponse, () =>
    unimplemented('Downgrade'),
  ),

  // Auth
  unary('Auth', 'authEnable', ['/auth/enable'], AuthEnableRequest, AuthEnableResponse, (a, _r, c) =>
    a.authEnable(c),
  ),
  unary('Auth', 'authDisable', ['/auth/disable'], AuthDisableRequest, AuthDisableResponse, (a, _r, c) =>
    a.authDisable(c),
  ),
  unary('Auth', 'authStatus', ['/auth/status'], AuthStatusRequest, AuthStatusResponse, (a, _r, c) =>
    a.authStatus(c),
  ),
  unary(
    'Auth',
    'authenticate',
    ['/auth/authenticate'],
    AuthenticateRequest,
    AuthenticateResponse,
    (a, r, c) => a.authenticate(r, c),
  ),
  unary('Auth', 'userAdd', ['/auth/user/add'], AuthUserAddRequest, AuthUserAddResponse, (a, r, c) =>
    a.userAdd(r, c),
  ),
  unary('Auth', 'userGet', ['/auth/user/get'], AuthUserGetRequest, AuthUserGetResponse, (a, r, c) =>
    a.userGet(r, c),
  ),
  unary('Auth', 'userList', ['/auth/user/list'], AuthUserListRequest, AuthUserListResponse, (a, _r, c) =>
    a.userList(c),
  ),
  unary(
    'Auth',
    'userDelete',
    ['/auth/user/delete'],
    AuthUserDeleteRequest,
    AuthUserDeleteResponse,
    (a, r, c) => a.userDelete(r, c),
  ),
  unary(
    'Auth',
    'userChangePassword',
    ['/auth/user/changepw'],
    AuthUserChangePasswordRequest,
    AuthUserChangePasswordResponse,
    (a, r, c) => a.userChangePassword(r, c),
  ),
  unary(
    'Auth',
    'userGrantRole',
    ['/auth/user/grant'],
    AuthUserGrantRoleRequest,
    AuthUserGrantRoleResponse,
    (a, r, c) => a.userGrantRole(r, c),
  ),
  unary(
    'Auth',
    'userRevokeRole',
    ['/auth/user/revoke'],
    AuthUserRevokeRoleRequest,
    AuthUserRevokeRoleResponse,
    (a, r, c) => a.userRevokeRole(r, c),
  ),
  unary('Auth', 'roleAdd', ['/auth/role/add'], AuthRoleAddRequest, AuthRoleAddResponse, (a, r, c) =>
    a.roleAdd(r, c),
  ),
  unary('Auth', 'roleGet', ['/auth/role/get'], AuthRoleGetRequest, AuthRoleGetResponse, (a, r, c) =>
    a.roleGet(r, c),
  ),
  unary('Auth', 'roleList', ['/auth/role/list'], AuthRoleListRequest, AuthRoleListResponse, (a, _r, c) =>
    a.roleList(c),
  ),
  unary(
    'Auth',
    'roleDelete',
    ['/auth/role/delete'],
    AuthRoleDeleteRequest,
    AuthRoleDeleteResponse,
    (a, r, c) => a.roleDelete(r, c),
  ),
  unary(
    'Auth',
    'roleGrantPermission',
    ['/auth/role/grant'],
    AuthRoleGrantPermissionRequest,
    AuthRoleGrantPermissionResponse,
    (a, r, c) => a.roleGrantPermission(r, c),
  ),
  unary(
    'Auth',
    'roleRevokePermission',
    ['/auth/role/revoke'],
    AuthRoleRevokePermissionRequest,
    AuthRoleRevokePermissionResponse,
    (a, r, c) => a.roleRevokePermission(r, c),
  ),
];
