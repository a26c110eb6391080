// etcdctl's `-w json` is Go's encoding/json applied to the response structs: the field names are the
// proto names from the generated struct tags, zero values are omitted (omitempty), bytes are base64, and
// 64-bit integers are JSON numbers printed exactly (from bigint, never through a JS number).
// The clientv3 wrapper types (watch, lease) have their own field names, reproduced here.

import type {
  AlarmResponse,
  DeleteRangeResponse,
  HashKVResponse,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseTimeToLiveResponse,
  Member,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  StatusResponse,
  TxnResponse,
} from '../../proto/etcdserverpb/rpc.js';
import type { Event, KeyValue } from '../../proto/mvccpb/kv.js';
import { goJsonString } from './go-text.js';

/** Builds one JSON object in field order; `undefined` values are left out. */
export class JsonObject {
  private readonly parts: string[] = [];

  raw(name: string, json: string | undefined): this {
    if (json !== undefined) this.parts.push(`${goJsonString(name)}:${json}`);
    return this;
  }

  /** An integer; omitted when zero unless `always`. */
  int(name: string, v: bigint | number, always = false): this {
    return always || (typeof v === 'bigint' ? v !== 0n : v !== 0) ? this.raw(name, String(v)) : this;
  }

  bool(name: string, v: boolean, always = false): this {
    return always || v ? this.raw(name, String(v)) : this;
  }

  str(name: string, v: string, always = false): this {
    return always || v !== '' ? this.raw(name, goJsonString(v)) : this;
  }

  bytes(name: string, v: Uint8Array, always = false): this {
    return always || v.length > 0 ? this.raw(name, base64(v)) : this;
  }

  /** A slice: omitted when empty (omitempty) unless `nullWhenEmpty`, which prints Go's nil slice as null. */
  list<T>(name: string, items: readonly T[], encode: (item: T) => string, nullWhenEmpty = false): this {
    if (items.length === 0) return nullWhenEmpty ? this.raw(name, 'null') : this;
    return this.raw(name, `[${items.map(encode).join(',')}]`);
  }

  /** Appends the fields of an embedded struct (Go flattens embedded pointers' fields). */
  embed(other: JsonObject): this {
    this.parts.push(...other.parts);
    return this;
  }

  toString(): string {
    return `{${this.parts.join(',')}}`;
  }
}

export function base64(b: Uint8Array): string {
  return `"${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}"`;
}

function headerFields(h: ResponseHeader): JsonObject {
  return new JsonObject()
    .int('cluster_id', h.clusterId)
    .int('member_id', h.memberId)
    .int('revision', h.revision)
    .int('raft_term', h.raftTerm);
}

export function header(h: ResponseHeader | undefined): string | undefined {
  return h === undefined ? undefined : headerFields(h).toString();
}

export function keyValue(kv: KeyValue): string {
  return new JsonObject()
    .bytes('key', kv.key)
    .int('create_revision', kv.createRevision)
    .int('mod_revision', kv.modRevision)
    .int('version', kv.version)
    .bytes('value', kv.value)
    .int('lease', kv.lease)
    .toString();
}

function optionalKv(kv: KeyValue | undefined): string | undefined {
  return kv === undefined ? undefined : keyValue(kv);
}

export function rangeResponse(r: RangeResponse): string {
  return new JsonObject()
    .raw('header', header(r.header))
    .list('kvs', r.kvs, keyValue)
    .bool('more', r.more)
    .int('count', r.count)
    .toString();
}

export function putResponse(r: PutResponse): string {
  return new JsonObject().raw('header', header(r.header)).raw('prev_kv', optionalKv(r.prevKv)).toString();
}

export function deleteResponse(r: DeleteRangeResponse): string {
  return new JsonObject()
    .raw('header', header(r.header))
    .int('deleted', r.deleted)
    .list('prev_kvs', r.prevKvs, keyValue)
    .toString();
}

function responseOp(op: ResponseOp): string {
  const inner = new JsonObject();
  const r = op.response;
  if (r?.$case === 'responseRange') inner.raw('ResponseRange', rangeResponse(r.value));
  else if (r?.$case === 'responsePut') inner.raw('ResponsePut', putResponse(r.value));
  else if (r?.$case === 'responseDeleteRange') inner.raw('ResponseDeleteRange', deleteResponse(r.value));
  else if (r?.$case === 'responseTxn') inner.raw('ResponseTxn', txnResponse(r.value));
  return new JsonObject().raw('Response', r === undefined ? undefined : inner.toString()).toString();
}

export function txnResponse(r: TxnResponse): string {
  return new JsonObject()
    .raw('header', header(r.header))
    .bool('succeeded', r.succeeded)
    .list('responses', r.responses, responseOp)
    .toString();
}

export function event(e: Event): string {
  return new JsonObject()
    .int('type', e.type)
    .raw('kv', optionalKv(e.kv))
    .raw('prev_kv', optionalKv(e.prevKv))
    .toString();
}

/** clientv3.WatchResponse: exported Go fields without tags; Header is a struct value, always present. */
export interface WatchView {
  readonly header: ResponseHeader;
  readonly events: readonly Event[];
  readonly compactRevision: bigint;
  readonly canceled: boolean;
  readonly created: boolean;
  /** Synthesised by the client (stream failure): Go's nil Events slice, printed as null. */
  readonly eventsNil?: boolean;
}

export function watchResponse(w: WatchView): string {
  return new JsonObject()
    .raw('Header', headerFields(w.header).toString())
    .raw(
      'Events',
      w.events.length === 0 ? (w.eventsNil === true ? 'null' : '[]') : `[${w.events.map(event).join(',')}]`,
    )
    .int('CompactRevision', w.compactRevision, true)
    .bool('Canceled', w.canceled, true)
    .bool('Created', w.created, true)
    .toString();
}

function embeddedHeader(h: ResponseHeader | undefined): JsonObject {
  return h === undefined ? new JsonObject() : headerFields(h);
}

/** clientv3.LeaseGrantResponse: embedded *ResponseHeader, then ID, TTL, Error. */
export function leaseGrant(r: LeaseGrantResponse): string {
  return new JsonObject()
    .embed(embeddedHeader(r.header))
    .int('ID', r.ID, true)
    .int('TTL', r.TTL, true)
    .str('Error', r.error, true)
    .toString();
}

export function leaseKeepAlive(r: LeaseKeepAliveResponse): string {
  return new JsonObject()
    .embed(embeddedHeader(r.header))
    .int('ID', r.ID, true)
    .int('TTL', r.TTL, true)
    .toString();
}

export function leaseTimeToLive(r: LeaseTimeToLiveResponse): string {
  return new JsonObject()
    .embed(embeddedHeader(r.header))
    .int('id', r.ID, true)
    .int('ttl', r.TTL, true)
    .int('granted-ttl', r.grantedTTL, true)
    .list('keys', r.keys, base64, true)
    .toString();
}

export function leaseLeases(r: LeaseLeasesResponse): string {
  const leases = `[${r.leases.map((l) => new JsonObject().int('id', l.ID, true).toString()).join(',')}]`;
  return new JsonObject().embed(embeddedHeader(r.header)).raw('leases', leases).toString();
}

export function member(m: Member): string {
  return new JsonObject()
    .int('ID', m.ID)
    .str('name', m.name)
    .list('peerURLs', m.peerURLs, goJsonString)
    .list('clientURLs', m.clientURLs, goJsonString)
    .bool('isLearner', m.isLearner)
    .toString();
}

/** Member{Add,Remove,Update,List,Promote}Response and the header-only responses. */
export function membersResponse(r: {
  header: ResponseHeader | undefined;
  members: Member[];
  member?: Member;
}): string {
  return new JsonObject()
    .raw('header', header(r.header))
    .raw('member', r.member === undefined ? undefined : member(r.member))
    .list('members', r.members, member)
    .toString();
}

export function headerOnly(r: { header: ResponseHeader | undefined }): string {
  return new JsonObject().raw('header', header(r.header)).toString();
}

export function statusResponse(r: StatusResponse): string {
  return new JsonObject()
    .raw('header', header(r.header))
    .str('version', r.version)
    .int('dbSize', r.dbSize)
    .int('leader', r.leader)
    .int('raftIndex', r.raftIndex)
    .int('raftTerm', r.raftTerm)
    .int('raftAppliedIndex', r.raftAppliedIndex)
    .list('errors', r.errors, goJsonString)
    .int('dbSizeInUse', r.dbSizeInUse)
    .bool('isLearner', r.isLearner)
    .toString();
}

export function hashKVResponse(r: HashKVResponse): string {
  return new JsonObject()
    .raw('header', header(r.header))
    .int('hash', r.hash)
    .int('compact_revision', r.compactRevision)
    .toString();
}

export function alarmResponse(r: AlarmResponse): string {
  const alarm = (a: { memberID: bigint; alarm: number }): string =>
    new JsonObject().int('memberID', a.memberID).int('alarm', a.alarm).toString();
  return new JsonObject().raw('header', header(r.header)).list('alarms', r.alarms, alarm).toString();
}
