// The printer interface of etcdctl's output formats, and the base that refuses a format for a response
// ("<format> not supported as output format", exit 4), which each format overrides where it applies.

import type {
  AlarmResponse,
  AuthRoleAddResponse,
  AuthRoleDeleteResponse,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionResponse,
  AuthRoleListResponse,
  AuthRoleRevokePermissionResponse,
  AuthStatusResponse,
  AuthUserAddResponse,
  AuthUserChangePasswordResponse,
  AuthUserDeleteResponse,
  AuthUserGetResponse,
  AuthUserGrantRoleResponse,
  AuthUserListResponse,
  AuthUserRevokeRoleResponse,
  DeleteRangeResponse,
  HashKVResponse,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateResponse,
  MoveLeaderResponse,
  PutResponse,
  RangeResponse,
  StatusResponse,
  TxnResponse,
} from '../../proto/etcdserverpb/rpc.js';
import type { SnapshotStatus } from '../../server/snapshot-file.js';
import { ExitCode, fail } from './exit.js';

export type { SnapshotStatus };
import type { WatchView } from './json.js';
import type { Output } from './output.js';

export type { WatchView };

export interface EpHealth {
  readonly ep: string;
  readonly health: boolean;
  readonly took: string;
  readonly error: string;
}

export interface EpStatus {
  readonly ep: string;
  readonly resp: StatusResponse;
}

export interface EpHashKV {
  readonly ep: string;
  readonly resp: HashKVResponse;
}

export type OutputFormat = 'simple' | 'fields' | 'json' | 'protobuf' | 'table';

export class Printer {
  constructor(
    protected readonly o: Output,
    readonly format: OutputFormat,
  ) {}

  protected unsupported(): never {
    fail(ExitCode.BadFeature, `${this.format} not supported as output format`);
  }

  del(_r: DeleteRangeResponse): void {
    this.unsupported();
  }
  get(_r: RangeResponse): void {
    this.unsupported();
  }
  put(_r: PutResponse): void {
    this.unsupported();
  }
  txn(_r: TxnResponse): void {
    this.unsupported();
  }
  watch(_r: WatchView): void {
    this.unsupported();
  }
  grant(_r: LeaseGrantResponse): void {
    this.unsupported();
  }
  revoke(_id: bigint, _r: LeaseRevokeResponse): void {
    this.unsupported();
  }
  keepAlive(_r: LeaseKeepAliveResponse): void {
    this.unsupported();
  }
  timeToLive(_r: LeaseTimeToLiveResponse, _keys: boolean): void {
    this.unsupported();
  }
  leases(_r: LeaseLeasesResponse): void {
    this.unsupported();
  }
  memberAdd(_r: MemberAddResponse): void {
    this.unsupported();
  }
  memberRemove(_id: bigint, _r: MemberRemoveResponse): void {
    this.unsupported();
  }
  memberUpdate(_id: bigint, _r: MemberUpdateResponse): void {
    this.unsupported();
  }
  memberPromote(_id: bigint, _r: MemberPromoteResponse): void {
    this.unsupported();
  }
  memberList(_r: MemberListResponse): void {
    this.unsupported();
  }
  endpointHealth(_list: readonly EpHealth[]): void {
    this.unsupported();
  }
  endpointStatus(_list: readonly EpStatus[]): void {
    this.unsupported();
  }
  endpointHashKV(_list: readonly EpHashKV[]): void {
    this.unsupported();
  }
  moveLeader(_leader: bigint, _target: bigint, _r: MoveLeaderResponse): void {
    this.unsupported();
  }
  alarm(_r: AlarmResponse): void {
    this.unsupported();
  }
  dbStatus(_s: SnapshotStatus): void {
    this.unsupported();
  }
  roleAdd(_role: string, _r: AuthRoleAddResponse): void {
    this.unsupported();
  }
  roleGet(_role: string, _r: AuthRoleGetResponse): void {
    this.unsupported();
  }
  roleDelete(_role: string, _r: AuthRoleDeleteResponse): void {
    this.unsupported();
  }
  roleList(_r: AuthRoleListResponse): void {
    this.unsupported();
  }
  roleGrantPermission(_role: string, _r: AuthRoleGrantPermissionResponse): void {
    this.unsupported();
  }
  /** `key` as the command line gave it; `rangeEnd` as sent (empty for a single key, "\0" for open). */
  roleRevokePermission(
    _role: string,
    _key: string,
    _rangeEnd: Uint8Array,
    _r: AuthRoleRevokePermissionResponse,
  ): void {
    this.unsupported();
  }
  userAdd(_user: string, _r: AuthUserAddResponse): void {
    this.unsupported();
  }
  userGet(_user: string, _r: AuthUserGetResponse): void {
    this.unsupported();
  }
  userList(_r: AuthUserListResponse): void {
    this.unsupported();
  }
  userChangePassword(_r: AuthUserChangePasswordResponse): void {
    this.unsupported();
  }
  userGrantRole(_user: string, _role: string, _r: AuthUserGrantRoleResponse): void {
    this.unsupported();
  }
  userRevokeRole(_user: string, _role: string, _r: AuthUserRevokeRoleResponse): void {
    this.unsupported();
  }
  userDelete(_user: string, _r: AuthUserDeleteResponse): void {
    this.unsupported();
  }
  /** etcdctl 3.5's `auth status`. */
  authStatus(_r: AuthStatusResponse): void {
    this.unsupported();
  }
}
