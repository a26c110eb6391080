// The `protobuf` format: the response message's wire encoding, written raw (no newline). Only the
// messages etcdctl can marshal are supported; the clientv3 lease wrappers and endpoint lists are not.

import {
  AlarmResponse,
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
}
