// The `json` format: one JSON document per response.

import type {
  AlarmResponse,
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthStatusResponse,
  AuthUserGetResponse,
  AuthUserListResponse,
  DeleteRangeResponse,
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
  TxnResponse,
} from '../../proto/etcdserverpb/rpc.js';
import { goJsonString } from './go-text.js';
import * as J from './json.js';
import * as JA from './json-auth.js';
import type { Output } from './output.js';
import {
  Printer,
  type EpHashKV,
  type EpHealth,
  type EpStatus,
  type SnapshotStatus,
  type WatchView,
} from './printer.js';

/** The Auth responses that carry only a header. */
type HeaderOnly = Parameters<typeof J.headerOnly>[0];

export class JsonPrinter extends Printer {
  constructor(o: Output) {
    super(o, 'json');
  }

  private print(json: string): void {
    this.o.out(`${json}\n`);
  }

  override del(r: DeleteRangeResponse): void {
    this.print(J.deleteResponse(r));
  }
  override get(r: RangeResponse): void {
    this.print(J.rangeResponse(r));
  }
  override put(r: PutResponse): void {
    this.print(J.putResponse(r));
  }
  override txn(r: TxnResponse): void {
    this.print(J.txnResponse(r));
  }
  override watch(r: WatchView): void {
    this.print(J.watchResponse(r));
  }
  override grant(r: LeaseGrantResponse): void {
    this.print(J.leaseGrant(r));
  }
  override revoke(_id: bigint, r: LeaseRevokeResponse): void {
    this.print(J.headerOnly(r));
  }
  override keepAlive(r: LeaseKeepAliveResponse): void {
    this.print(J.leaseKeepAlive(r));
  }
  override timeToLive(r: LeaseTimeToLiveResponse): void {
    this.print(J.leaseTimeToLive(r));
  }
  override leases(r: LeaseLeasesResponse): void {
    this.print(J.leaseLeases(r));
  }
  override memberAdd(r: MemberAddResponse): void {
    this.print(J.membersResponse(r));
  }
  override memberRemove(_id: bigint, r: MemberRemoveResponse): void {
    this.print(J.membersResponse(r));
  }
  override memberUpdate(_id: bigint, r: MemberUpdateResponse): void {
    this.print(J.membersResponse(r));
  }
  override memberPromote(_id: bigint, r: MemberPromoteResponse): void {
    this.print(J.membersResponse(r));
  }
  override memberList(r: MemberListResponse): void {
    this.print(J.membersResponse(r));
  }
  override endpointHealth(list: readonly EpHealth[]): void {
    const items = list.map((h) =>
      new J.JsonObject()
        .str('endpoint', h.ep, true)
        .bool('health', h.health, true)
        .str('took', h.took, true)
        .str('error', h.error)
        .toString(),
    );
    this.print(`[${items.join(',')}]`);
  }
  override endpointStatus(list: readonly EpStatus[]): void {
    const items = list.map((s) => `{"Endpoint":${goJsonString(s.ep)},"Status":${J.statusResponse(s.resp)}}`);
    this.print(`[${items.join(',')}]`);
  }
  override endpointHashKV(list: readonly EpHashKV[]): void {
    const items = list.map((s) => `{"Endpoint":${goJsonString(s.ep)},"HashKV":${J.hashKVResponse(s.resp)}}`);
    this.print(`[${items.join(',')}]`);
  }
  override moveLeader(_leader: bigint, _target: bigint, r: MoveLeaderResponse): void {
    this.print(J.headerOnly(r));
  }
  override alarm(r: AlarmResponse): void {
    this.print(J.alarmResponse(r));
  }
  override roleAdd(_role: string, r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override roleGet(_role: string, r: AuthRoleGetResponse): void {
    this.print(JA.roleGetResponse(r));
  }
  override roleDelete(_role: string, r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override roleList(r: AuthRoleListResponse): void {
    this.print(JA.roleListResponse(r));
  }
  override roleGrantPermission(_role: string, r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override roleRevokePermission(_role: string, _key: string, _end: Uint8Array, r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override userAdd(_user: string, r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override userGet(_user: string, r: AuthUserGetResponse): void {
    this.print(JA.userGetResponse(r));
  }
  override userList(r: AuthUserListResponse): void {
    this.print(JA.userListResponse(r));
  }
  override userChangePassword(r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override userGrantRole(_user: string, _role: string, r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override userRevokeRole(_user: string, _role: string, r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override userDelete(_user: string, r: HeaderOnly): void {
    this.print(J.headerOnly(r));
  }
  override authStatus(r: AuthStatusResponse): void {
    this.print(JA.authStatusResponse(r));
  }
  override dbStatus(s: SnapshotStatus): void {
    this.print(
      `{"hash":${s.hash},"revision":${s.revision},"totalKey":${s.totalKey},"totalSize":${s.totalSize}}`,
    );
  }
}
