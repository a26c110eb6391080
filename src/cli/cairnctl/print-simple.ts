// The default `simple` format.

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
import { AlarmType } from '../../proto/etcdserverpb/rpc.js';
import { Event_EventType, type KeyValue } from '../../proto/mvccpb/kv.js';
import { revokedText, roleText, userText } from './auth-text.js';
import { hex16, hexEscaped, hexPadded } from './go-text.js';
import {
  Printer,
  type EpHashKV,
  type EpHealth,
  type EpStatus,
  type SnapshotStatus,
  type WatchView,
} from './printer.js';
import { dbStatusRows, hashKVRows, memberRows, statusRows, type Rows } from './rows.js';
import type { Output } from './output.js';

const NL = Buffer.from('\n');

export function eventTypeName(t: Event_EventType): string {
  return t === Event_EventType.PUT ? 'PUT' : t === Event_EventType.DELETE ? 'DELETE' : String(t);
}

export function alarmTypeName(t: AlarmType): string {
  return AlarmType[t] ?? String(t);
}

/** gogo's text form of an AlarmMember (what `%+v` prints): zero fields left out, trailing space. */
export function alarmText(a: { memberID: bigint; alarm: AlarmType }): string {
  let s = '';
  if (a.memberID !== 0n) s += `memberID:${a.memberID} `;
  if (a.alarm !== AlarmType.NONE) s += `alarm:${alarmTypeName(a.alarm)} `;
  return s;
}

export class SimplePrinter extends Printer {
  /** `get --print-value-only` */
  valueOnly = false;

  constructor(
    o: Output,
    private readonly isHex: boolean,
  ) {
    super(o, 'simple');
  }

  private line(s: string): void {
    this.o.out(`${s}\n`);
  }

  private kv(kv: KeyValue): void {
    if (this.isHex) {
      if (!this.valueOnly) this.line(hexEscaped(kv.key));
      this.line(hexEscaped(kv.value));
      return;
    }
    if (!this.valueOnly) this.o.out(Buffer.concat([kv.key, NL]));
    this.o.out(Buffer.concat([kv.value, NL]));
  }

  private rows({ rows }: Rows): void {
    for (const row of rows) this.line(row.join(', '));
  }

  override del(r: DeleteRangeResponse): void {
    this.line(String(r.deleted));
    for (const kv of r.prevKvs) this.kv(kv);
  }

  override get(r: RangeResponse): void {
    for (const kv of r.kvs) this.kv(kv);
  }

  override put(r: PutResponse): void {
    this.line('OK');
    if (r.prevKv !== undefined) this.kv(r.prevKv);
  }

  override txn(r: TxnResponse): void {
    this.line(r.succeeded ? 'SUCCESS' : 'FAILURE');
    for (const op of r.responses) {
      this.line('');
      const v = op.response;
      if (v?.$case === 'responseDeleteRange') this.del(v.value);
      else if (v?.$case === 'responsePut') this.put(v.value);
      else if (v?.$case === 'responseRange') this.get(v.value);
      else this.line(`unexpected response ${JSON.stringify(op)}`);
    }
  }

  override watch(r: WatchView): void {
    for (const e of r.events) {
      this.line(eventTypeName(e.type));
      if (e.prevKv !== undefined) this.kv(e.prevKv);
      if (e.kv !== undefined) this.kv(e.kv);
    }
  }

  override grant(r: LeaseGrantResponse): void {
    this.line(`lease ${hex16(r.ID)} granted with TTL(${r.TTL}s)`);
  }

  override revoke(id: bigint, _r: LeaseRevokeResponse): void {
    this.line(`lease ${hex16(id)} revoked`);
  }

  override keepAlive(r: LeaseKeepAliveResponse): void {
    this.line(`lease ${hex16(r.ID)} keepalived with TTL(${r.TTL})`);
  }

  override timeToLive(r: LeaseTimeToLiveResponse, keys: boolean): void {
    if (r.grantedTTL === 0n && r.TTL === -1n) {
      this.line(`lease ${hex16(r.ID)} already expired`);
      return;
    }
    const text = `lease ${hex16(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
    if (!keys) {
      this.line(text);
      return;
    }
    // Go prints the raw key bytes (`%v` of []string); join them as bytes to keep any key intact.
    const joined: Buffer[] = [];
    r.keys.forEach((k, i) => joined.push(...(i > 0 ? [Buffer.from(' ')] : []), Buffer.from(k)));
    this.o.out(Buffer.concat([Buffer.from(`${text}, attached keys([`), ...joined, Buffer.from('])\n')]));
  }

  override leases(r: LeaseLeasesResponse): void {
    this.line(`found ${r.leases.length} leases`);
    for (const l of r.leases) this.line(hex16(l.ID));
  }

  override alarm(r: AlarmResponse): void {
    for (const a of r.alarms) this.line(alarmText(a));
  }

  override memberAdd(r: MemberAddResponse): void {
    this.line(
      `Member ${hexPadded(r.member?.ID ?? 0n)} added to cluster ${hexPadded(r.header?.clusterId ?? 0n)}`,
    );
  }

  override memberRemove(id: bigint, r: MemberRemoveResponse): void {
    this.line(`Member ${hexPadded(id)} removed from cluster ${hexPadded(r.header?.clusterId ?? 0n)}`);
  }

  override memberUpdate(id: bigint, r: MemberUpdateResponse): void {
    this.line(`Member ${hexPadded(id)} updated in cluster ${hexPadded(r.header?.clusterId ?? 0n)}`);
  }

  override memberPromote(id: bigint, r: MemberPromoteResponse): void {
    this.line(`Member ${hexPadded(id)} promoted in cluster ${hexPadded(r.header?.clusterId ?? 0n)}`);
  }

  override memberList(r: MemberListResponse): void {
    this.rows(memberRows(r));
  }

  override endpointHealth(list: readonly EpHealth[]): void {
    for (const h of list) {
      if (h.error === '')
        this.o.err(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}\n`);
      else this.o.err(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}\n`);
    }
  }

  override endpointStatus(list: readonly EpStatus[]): void {
    this.rows(statusRows(list));
  }

  override endpointHashKV(list: readonly EpHashKV[]): void {
    this.rows(hashKVRows(list));
  }
  override dbStatus(s: SnapshotStatus): void {
    this.rows(dbStatusRows(s));
  }

  override moveLeader(leader: bigint, target: bigint, _r: MoveLeaderResponse): void {
    this.line(`Leadership transferred from ${leader.toString(16)} to ${target.toString(16)}`);
  }

  override roleAdd(role: string): void {
    this.line(`Role ${role} created`);
  }
  override roleGet(role: string, r: AuthRoleGetResponse): void {
    this.o.out(roleText(role, r.perm));
  }
  override roleDelete(role: string): void {
    this.line(`Role ${role} deleted`);
  }
  override roleList(r: AuthRoleListResponse): void {
    for (const role of r.roles) this.line(role);
  }
  override roleGrantPermission(role: string): void {
    this.line(`Role ${role} updated`);
  }
  override roleRevokePermission(role: string, key: string, rangeEnd: Uint8Array): void {
    this.o.out(revokedText(role, key, rangeEnd));
  }
  override userAdd(user: string): void {
    this.line(`User ${user} created`);
  }
  override userGet(user: string, r: AuthUserGetResponse): void {
    this.o.out(userText(user, r.roles));
  }
  override userList(r: AuthUserListResponse): void {
    for (const user of r.users) this.line(user);
  }
  override userChangePassword(): void {
    this.line('Password updated');
  }
  override userGrantRole(user: string, role: string): void {
    this.line(`Role ${role} is granted to user ${user}`);
  }
  override userRevokeRole(user: string, role: string): void {
    this.line(`Role ${role} is revoked from user ${user}`);
  }
  override userDelete(user: string): void {
    this.line(`User ${user} deleted`);
  }
  override authStatus(r: AuthStatusResponse): void {
    this.line(`Authentication Status: ${r.enabled}`);
    this.line(`AuthRevision: ${r.authRevision}`);
  }
}
