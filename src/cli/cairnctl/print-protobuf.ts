// The `protobuf` format: the response message's wire encoding, written raw (no newline). Only the
// messages etcdctl can marshal are supported; the clientv3 lease wrappers and endpoint lists are not.

import {
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
  LeaseRevokeResponse,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateResponse,
  MoveLeaderResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
  WatchResponse,
} from '../../proto/etcdserverpb/rpc.js';
import { ExitCode, fail } from './exit.js';
import type { Output } from './output.js';
import { Printer, type WatchView } from './printer.js';

interface Encoder<T> {
  encode(message: T): { finish(): Uint8Array };
}

export class ProtobufPrinter extends Printer {
  constructor(o: Output) {
    super(o, 'protobuf');
  }

  private print<T>(codec: Encoder<T>, message: T): void {
    this.o.out(codec.encode(message).finish());
  }

  private notMarshalable(type: string): never {
    fail(ExitCode.BadFeature, `marshal unsupported for type ${type}`);
  }

  override del(r: DeleteRangeResponse): void {
    this.print(DeleteRangeResponse, r);
  }
  override get(r: RangeResponse): void {
    this.print(RangeResponse, r);
  }
  override put(r: PutResponse): void {
    this.print(PutResponse, r);
  }
  override txn(r: TxnResponse): void {
    this.print(TxnResponse, r);
  }
  override watch(r: WatchView): void {
    this.print(
      WatchResponse,
      WatchResponse.fromPartial({
        header: r.header,
        events: [...r.events],
        compactRevision: r.compactRevision,
        canceled: r.canceled,
        created: r.created,
      }),
    );
  }
  override grant(): void {
    this.notMarshalable('clientv3.LeaseGrantResponse');
  }
  override revoke(_id: bigint, r: LeaseRevokeResponse): void {
    this.print(LeaseRevokeResponse, r);
  }
  override keepAlive(): void {
    this.notMarshalable('clientv3.LeaseKeepAliveResponse');
  }
  override timeToLive(): void {
    this.notMarshalable('*clientv3.LeaseTimeToLiveResponse');
  }
  override leases(): void {
    this.notMarshalable('*clientv3.LeaseLeasesResponse');
  }
  override memberAdd(r: MemberAddResponse): void {
    this.print(MemberAddResponse, r);
  }
  override memberRemove(_id: bigint, r: MemberRemoveResponse): void {
    this.print(MemberRemoveResponse, r);
  }
  override memberUpdate(_id: bigint, r: MemberUpdateResponse): void {
    this.print(MemberUpdateResponse, r);
  }
  override memberPromote(_id: bigint, r: MemberPromoteResponse): void {
    this.print(MemberPromoteResponse, r);
  }
  override memberList(r: MemberListResponse): void {
    this.print(MemberListResponse, r);
  }
  override alarm(r: AlarmResponse): void {
    this.print(AlarmResponse, r);
  }
  override moveLeader(_leader: bigint, _target: bigint, r: MoveLeaderResponse): void {
    this.print(MoveLeaderResponse, r);
  }
  override roleAdd(_role: string, r: AuthRoleAddResponse): void {
    this.print(AuthRoleAddResponse, r);
  }
  override roleGet(_role: string, r: AuthRoleGetResponse): void {
    this.print(AuthRoleGetResponse, r);
  }
  override roleDelete(_role: string, r: AuthRoleDeleteResponse): void {
    this.print(AuthRoleDeleteResponse, r);
  }
  override roleList(r: AuthRoleListResponse): void {
    this.print(AuthRoleListResponse, r);
  }
  override roleGrantPermission(_role: string, r: AuthRoleGrantPermissionResponse): void {
    this.print(AuthRoleGrantPermissionResponse, r);
  }
  override roleRevokePermission(
    _role: string,
    _key: string,
    _end: Uint8Array,
    r: AuthRoleRevokePermissionResponse,
  ): void {
    this.print(AuthRoleRevokePermissionResponse, r);
  }
  override userAdd(_user: string, r: AuthUserAddResponse): void {
    this.print(AuthUserAddResponse, r);
  }
  override userGet(_user: string, r: AuthUserGetResponse): void {
    this.print(AuthUserGetResponse, r);
  }
  override userList(r: AuthUserListResponse): void {
    this.print(AuthUserListResponse, r);
  }
  override userChangePassword(r: AuthUserChangePasswordResponse): void {
    this.print(AuthUserChangePasswordResponse, r);
  }
  override userGrantRole(_user: string, _role: string, r: AuthUserGrantRoleResponse): void {
    this.print(AuthUserGrantRoleResponse, r);
  }
  override userRevokeRole(_user: string, _role: string, r: AuthUserRevokeRoleResponse): void {
    this.print(AuthUserRevokeRoleResponse, r);
  }
  override userDelete(_user: string, r: AuthUserDeleteResponse): void {
    this.print(AuthUserDeleteResponse, r);
  }
  override authStatus(r: AuthStatusResponse): void {
    this.print(AuthStatusResponse, r);
  }
}
