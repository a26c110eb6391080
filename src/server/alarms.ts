// The cluster's raised alarms (etcd's alarm store). An alarm is raised or cleared through raft, so
// every member holds the same set; each is persisted in the backend's `alarm` bucket as etcd does,
// with the marshalled AlarmMember as the key and an empty value, so snapshots carry them.

import { AlarmMember, AlarmType } from '../proto/etcdserverpb/rpc.js';

/** The `alarm` bucket through the backend's batch transaction (`Backend.batchTx` satisfies it). */
export interface AlarmBucket {
  put(bucket: 'alarm', key: Uint8Array, value: Uint8Array): void;
  delete(bucket: 'alarm', key: Uint8Array): void;
  range(
    bucket: 'alarm',
    start: Uint8Array,
    end?: Uint8Array,
  ): readonly { readonly key: Uint8Array; readonly value: Uint8Array }[];
}

const EMPTY = new Uint8Array(0);

export class AlarmStore {
  /** type -> member ID -> alarm */
  private readonly raised = new Map<AlarmType, Map<bigint, AlarmMember>>();

  constructor(private readonly bucket: AlarmBucket) {
    for (const row of bucket.range('alarm', EMPTY)) this.remember(AlarmMember.decode(row.key));
  }

  /** Raises `type` for `memberId`; returns the alarm (the existing one if it was already raised). */
  activate(memberId: bigint, type: AlarmType): AlarmMember | undefined {
    if (type === AlarmType.NONE || type === AlarmType.UNRECOGNIZED) return undefined;
    const existing = this.raised.get(type)?.get(memberId);
    if (existing !== undefined) return existing;
    const alarm: AlarmMember = { memberID: memberId, alarm: type };
    this.remember(alarm);
    this.bucket.put('alarm', AlarmMember.encode(alarm).finish(), EMPTY);
    return alarm;
  }

  /** Clears `type` for `memberId`; returns the cleared alarm, or undefined if it was not raised. */
  deactivate(memberId: bigint, type: AlarmType): AlarmMember | undefined {
    const members = this.raised.get(type);
    const alarm = members?.get(memberId);
    if (members === undefined || alarm === undefined) return undefined;
    members.delete(memberId);
    if (members.size === 0) this.raised.delete(type);
    this.bucket.delete('alarm', AlarmMember.encode(alarm).finish());
    return alarm;
  }

  /** The raised alarms of `type` (all types for NONE), ordered by type then member ID. */
  get(type: AlarmType = AlarmType.NONE): AlarmMember[] {
    const types = type === AlarmType.NONE ? [...this.raised.keys()].sort((a, b) => a - b) : [type];
    const out: AlarmMember[] = [];
    for (const t of types) {
      const members = this.raised.get(t);
      if (members === undefined) continue;
      out.push(...[...members.values()].sort((a, b) => (a.memberID < b.memberID ? -1 : 1)));
    }
    return out;
  }

  has(type: AlarmType): boolean {
    return this.raised.has(type);
  }

  private remember(alarm: AlarmMember): void {
    let members = this.raised.get(alarm.alarm);
    if (members === undefined) this.raised.set(alarm.alarm, (members = new Map()));
    members.set(alarm.memberID, alarm);
  }
}
