// The `fields` format: one `"Name" : value` line per field, strings in Go's %q quoting.

import { permission_TypeToJSON } from '../../proto/authpb/auth.js';
import type {
  AlarmResponse,
  AuthRoleGetResponse,
  AuthRoleListResponse,
  DeleteRangeResponse,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  MemberListResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  TxnResponse,
} from '../../proto/etcdserverpb/rpc.js';
import type { KeyValue } from '../../proto/mvccpb/kv.js';
import { goQuote } from './go-text.js';
import type { Output } from './output.js';
import { alarmTypeName, eventTypeName } from './print-simple.js';
import {
  Printer,
  type EpHashKV,
  type EpHealth,
  type EpStatus,
  type SnapshotStatus,
  type WatchView,
} from './printer.js';

/** The Auth responses whose fields output is the header alone. */
interface WithHeader {
  readonly header: ResponseHeader | undefined;
}

/** etcdctl 3.4 has no fields output for `user get`, `user list` and `auth status` (the base refuses them). */
export class FieldsPrinter extends Printer {
  constructor(o: Output) {
    super(o, 'fields');
  }

  private line(s: string): void {
    this.o.out(`${s}\n`);
  }

  private hdr(h: ResponseHeader | undefined): void {
    // etcdctl dereferences the header unconditionally; an absent one reads as zeros here instead of a panic.
    this.line(`"ClusterID" : ${h?.clusterId ?? 0n}`);
    this.line(`"MemberID" : ${h?.memberId ?? 0n}`);
    this.line(`"Revision" : ${h?.revision ?? 0n}`);
    this.line(`"RaftTerm" : ${h?.raftTerm ?? 0n}`);
  }

  private kv(pfx: string, kv: KeyValue): void {
    this.line(`"${pfx}Key" : ${goQuote(kv.key)}`);
    this.line(`"${pfx}CreateRevision" : ${kv.createRevision}`);
    this.line(`"${pfx}ModRevision" : ${kv.modRevision}`);
    this.line(`"${pfx}Version" : ${kv.version}`);
    this.line(`"${pfx}Value" : ${goQuote(kv.value)}`);
    this.line(`"${pfx}Lease" : ${kv.lease}`);
  }

  override del(r: DeleteRangeResponse): void {
    this.hdr(r.header);
    this.line(`"Deleted" : ${r.deleted}`);
    for (const kv of r.prevKvs) this.kv('Prev', kv);
  }

  override get(r: RangeResponse): void {
    this.hdr(r.header);
    for (const kv of r.kvs) this.kv('', kv);
    this.line(`"More" : ${r.more}`);
    this.line(`"Count" : ${r.count}`);
  }

  override put(r: PutResponse): void {
    this.hdr(r.header);
    if (r.prevKv !== undefined) this.kv('Prev', r.prevKv);
  }

  override txn(r: TxnResponse): void {
    this.hdr(r.header);
    this.line(`"Succeeded" : ${r.succeeded}`);
    for (const op of r.responses) {
      const v = op.response;
      if (v?.$case === 'responseDeleteRange') this.del(v.value);
      else if (v?.$case === 'responsePut') this.put(v.value);
      else if (v?.$case === 'responseRange') this.get(v.value);
      else this.line(`"Unknown" : ${goQuote(JSON.stringify(v ?? null))}`);
    }
  }

  override watch(r: WatchView): void {
    this.hdr(r.header);
    for (const e of r.events) {
      this.line(`"Type" : ${eventTypeName(e.type)}`);
      if (e.prevKv !== undefined) this.kv('Prev', e.prevKv);
      if (e.kv !== undefined) this.kv('', e.kv);
    }
  }

  override grant(r: LeaseGrantResponse): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
  }

  override revoke(_id: bigint, r: LeaseRevokeResponse): void {
    this.hdr(r.header);
  }

  override keepAlive(r: LeaseKeepAliveResponse): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
  }

  override timeToLive(r: LeaseTimeToLiveResponse): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
    this.line(`"GrantedTTL" : ${r.grantedTTL}`);
    for (const k of r.keys) this.line(`"Key" : ${goQuote(k)}`);
  }

  override leases(r: LeaseLeasesResponse): void {
    this.hdr(r.header);
    for (const l of r.leases) this.line(`"ID" : ${l.ID}`);
  }

  override memberList(r: MemberListResponse): void {
    this.hdr(r.header);
    for (const m of r.members) {
      this.line(`"ID" : ${m.ID}`);
      this.line(`"Name" : ${goQuote(m.name)}`);
      for (const u of m.peerURLs) this.line(`"PeerURL" : ${goQuote(u)}`);
      for (const u of m.clientURLs) this.line(`"ClientURL" : ${goQuote(u)}`);
      this.line(`"IsLearner" : ${m.isLearner}`);
      this.line('');
    }
  }

  override endpointHealth(list: readonly EpHealth[]): void {
    for (const h of list) {
      this.line(`"Endpoint" : ${goQuote(h.ep)}`);
      this.line(`"Health" : ${h.health}`);
      this.line(`"Took" : ${h.took}`);
      this.line(`"Error" : ${h.error}`);
      this.line('');
    }
  }

  override endpointStatus(list: readonly EpStatus[]): void {
    for (const { ep, resp } of list) {
      this.hdr(resp.header);
      this.line(`"Version" : ${goQuote(resp.version)}`);
      this.line(`"DBSize" : ${resp.dbSize}`);
      this.line(`"Leader" : ${resp.leader}`);
      this.line(`"IsLearner" : ${resp.isLearner}`);
      this.line(`"RaftIndex" : ${resp.raftIndex}`);
      this.line(`"RaftTerm" : ${resp.raftTerm}`);
      this.line(`"RaftAppliedIndex" : ${resp.raftAppliedIndex}`);
      this.line(`"Errors" : [${resp.errors.join(' ')}]`);
      this.line(`"Endpoint" : ${goQuote(ep)}`);
      this.line('');
    }
  }

  override dbStatus(s: SnapshotStatus): void {
    this.line(`"Hash" : ${s.hash}`);
    this.line(`"Revision" : ${s.revision}`);
    this.line(`"Keys" : ${s.totalKey}`);
    this.line(`"Size" : ${s.totalSize}`);
  }

  override endpointHashKV(list: readonly EpHashKV[]): void {
    for (const { ep, resp } of list) {
      this.hdr(resp.header);
      this.line(`"Endpoint" : ${goQuote(ep)}`);
      this.line(`"Hash" : ${resp.hash}`);
      this.line('');
    }
  }

  override roleAdd(_role: string, r: WithHeader): void {
    this.hdr(r.header);
  }
  override roleGet(_role: string, r: AuthRoleGetResponse): void {
    this.hdr(r.header);
    for (const p of r.perm) {
      // etcdctl prints this one with Println, which puts a second space before the value.
      this.line(`"PermType" :  ${permission_TypeToJSON(p.permType)}`);
      this.line(`"Key" : ${goQuote(p.key)}`);
      this.line(`"RangeEnd" : ${goQuote(p.rangeEnd)}`);
    }
  }
  override roleDelete(_role: string, r: WithHeader): void {
    this.hdr(r.header);
  }
  override roleList(r: AuthRoleListResponse): void {
    this.hdr(r.header);
    this.line(`"Roles" :${r.roles.map((role) => ` ${goQuote(role)}`).join('')}`);
  }
  override roleGrantPermission(_role: string, r: WithHeader): void {
    this.hdr(r.header);
  }
  override roleRevokePermission(_role: string, _key: string, _end: Uint8Array, r: WithHeader): void {
    this.hdr(r.header);
  }
  override userAdd(_user: string, r: WithHeader): void {
    this.hdr(r.header);
  }
  override userChangePassword(r: WithHeader): void {
    this.hdr(r.header);
  }
  override userGrantRole(_user: string, _role: string, r: WithHeader): void {
    this.hdr(r.header);
  }
  override userRevokeRole(_user: string, _role: string, r: WithHeader): void {
    this.hdr(r.header);
  }
  override userDelete(_user: string, r: WithHeader): void {
    this.hdr(r.header);
  }

  override alarm(r: AlarmResponse): void {
    this.hdr(r.header);
    for (const a of r.alarms) {
      this.line(`"MemberID" : ${a.memberID}`);
      this.line(`"AlarmType" : ${alarmTypeName(a.alarm)}`);
      this.line('');
    }
  }
}
