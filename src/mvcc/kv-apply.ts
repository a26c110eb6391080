// What a KV request does to the keyspace and what it answers, exactly as etcd applies it: Range
// with its sorting, filters and limit; Put with prev_kv, leases, ignore_value and ignore_lease;
// DeleteRange; Txn with compares and nested txns; Compact. The same committed request gives the same
// state and the same response on every member. Responses carry only header.revision; the server
// fills in the rest of the header.

import { assert } from '../raft/assert.js';
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type CompactionRequest,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from '../proto/etcdserverpb/rpc.js';
import { errCompacted, errFutureRevision, errKeyNotFound, errLeaseNotFound } from './errors.js';
import {
  KeyValue,
  type KeyspaceStore,
  type RangeResult,
  type WriteResult,
  type WriteTxn,
} from './kv-store.js';
import { keyToString, type KeyRange } from './tree-index.js';

/** Whether a lease exists (puts may only attach keys to existing leases). */
export type LeaseExists = (lease: bigint) => boolean;

const EMPTY = new Uint8Array(0);

export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision: BigInt(revision), raftTerm: 0n };
}

/** A request's key and range_end as a range of the index (etcd's range_end conventions). */
export function keyRange(key: Uint8Array, rangeEnd: Uint8Array): KeyRange {
  const start = keyToString(key);
  if (rangeEnd.byteLength === 0) return { start, end: undefined };
  // "\0" means every key from `key` on.
  if (rangeEnd.byteLength === 1 && rangeEnd[0] === 0) return { start, end: '' };
  return { start, end: keyToString(rangeEnd) };
}

export interface Applied<R> {
  readonly response: R;
  /** The write's changes (for watchers); undefined for reads. */
  readonly write?: WriteResult;
}

/** The read side shared by plain reads and by the reads inside a write txn. */
interface View {
  readonly rev: number;
  range(range: KeyRange, options: { rev?: number; limit?: number; countOnly?: boolean }): RangeResult;
}

export class KvApplier {
  constructor(
    readonly store: KeyspaceStore,
    private readonly leaseExists: LeaseExists,
  ) {}

  range(r: RangeRequest): RangeResponse {
    const view = this.store.read();
    try {
      return this.rangeIn(view, r);
    } finally {
      view.end();
    }
  }

  put(r: PutRequest): Applied<PutResponse> {
    // A plain put checks its lease before the key ignore_* needs (in a txn it is the other way round).
    if (r.lease !== 0n && !this.leaseExists(r.lease)) throw errLeaseNotFound();
    const txn = this.store.write();
    try {
      const response = this.putIn(txn, r);
      return { response, write: txn.end() };
    } finally {
      if (!txn.isEnded) txn.end();
    }
  }

  deleteRange(r: DeleteRangeRequest): Applied<DeleteRangeResponse> {
    const txn = this.store.write();
    const response = this.deleteIn(txn, r);
    return { response, write: txn.end() };
  }

  txn(r: TxnRequest): Applied<TxnResponse> {
    if (isReadOnly(r)) {
      const view = this.store.read();
      try {
        const path = comparePath(view, r);
        this.checkRanges(view, r, path);
        const response = this.applyTxn(view, r, path);
        response.header = header(view.rev);
        return { response };
      } finally {
        view.end();
      }
    }
    const txn = this.store.write();
    let result: WriteResult | undefined;
    try {
      const path = comparePath(txn, r);
      // Every check that could fail happens before the first change, so a txn is all or nothing.
      const puts: PutCheck = { fromKeyDeletes: [], keyGone: false };
      this.checkPuts(txn, r, path, puts);
      this.checkRanges(txn, r, path);
      // etcd 3.4 passes its checks here and then panics applying the put; we refuse the txn instead.
      if (puts.keyGone) throw errKeyNotFound();
      const response = this.applyTxn(txn, r, path);
      result = txn.end();
      response.header = header(result.rev);
      return { response, write: result };
    } finally {
      if (result === undefined) {
        // Every refusal comes before the first change; a failure after one cannot be undone (the
        // changes are in the index and the backend batch), so stop rather than diverge, as etcd does.
        const partial = txn.changed;
        txn.end();
        assert(!partial, 'keyspace: a txn failed after it had changed the keyspace');
      }
    }
  }

  /** Logical compaction now; `done` resolves when the old revisions are gone from the backend. */
  compact(r: CompactionRequest): { response: { header: ResponseHeader }; done: Promise<void> } {
    const { done } = this.store.compact(Number(r.revision));
    return { response: { header: header(this.store.revision) }, done };
  }

  private rangeIn(view: View, r: RangeRequest): RangeResponse {
    const filtered =
      r.minModRevision !== 0n ||
      r.maxModRevision !== 0n ||
      r.minCreateRevision !== 0n ||
      r.maxCreateRevision !== 0n;
    // Sorting and filtering need every key first; otherwise one extra key tells whether there is more.
    let limit = r.sortOrder !== RangeRequest_SortOrder.NONE || filtered ? 0 : Number(r.limit);
    if (limit > 0) limit++;
    const rr = view.range(keyRange(r.key, r.rangeEnd), {
      rev: Number(r.revision),
      limit,
      countOnly: r.countOnly,
    });
    let kvs = rr.kvs;
    if (filtered) {
      const minMod = r.minModRevision;
      const maxMod = r.maxModRevision;
      const minCreate = r.minCreateRevision;
      const maxCreate = r.maxCreateRevision;
      kvs = kvs.filter(
        (kv) =>
          (maxMod === 0n || kv.modRevision <= maxMod) &&
          (minMod === 0n || kv.modRevision >= minMod) &&
          (maxCreate === 0n || kv.createRevision <= maxCreate) &&
          (minCreate === 0n || kv.createRevision >= minCreate),
      );
    }
    let order = r.sortOrder;
    if (r.sortTarget !== RangeRequest_SortTarget.KEY && order === RangeRequest_SortOrder.NONE) {
      order = RangeRequest_SortOrder.ASCEND;
    }
    if (order !== RangeRequest_SortOrder.NONE)
      sortKvs(kvs, r.sortTarget, order === RangeRequest_SortOrder.DESCEND);
    let more = false;
    if (r.limit > 0n && kvs.length > Number(r.limit)) {
      kvs = kvs.slice(0, Number(r.limit));
      more = true;
    }
    if (r.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
    return { header: header(rr.rev), kvs, more, count: BigInt(rr.count) };
  }

  private putIn(txn: WriteTxn, r: PutRequest): PutResponse {
    let value = r.value;
    let lease = r.lease;
    let prevKv: KeyValue | undefined;
    if (r.ignoreValue || r.ignoreLease || r.prevKv) {
      const rr = txn.range(keyRange(r.key, EMPTY), {});
      const prev = rr.kvs[0];
      if (r.prevKv) prevKv = prev;
      if ((r.ignoreValue || r.ignoreLease) && prev === undefined) throw errKeyNotFound();
      if (prev !== undefined && r.ignoreValue) value = prev.value;
      if (prev !== undefined && r.ignoreLease) lease = prev.lease;
    }
    if (!r.ignoreLease && lease !== 0n && !this.leaseExists(lease)) throw errLeaseNotFound();
    const rev = txn.put(r.key, value, lease);
    return { header: header(rev), prevKv };
  }

  private deleteIn(txn: WriteTxn, r: DeleteRangeRequest): DeleteRangeResponse {
    const range = keyRange(r.key, r.rangeEnd);
    const prevKvs = r.prevKv ? txn.range(range, {}).kvs : [];
    const { deleted, rev } = txn.deleteRange(range);
    return { header: header(rev), deleted: BigInt(deleted), prevKvs };
  }

  /** Applies the branch chosen by `path` (one entry per txn level, outermost first). */
  private applyTxn(view: View | WriteTxn, r: TxnRequest, path: TxnPath): TxnResponse {
    const ops = path.succeeded ? r.success : r.failure;
    const responses: ResponseOp[] = [];
    let nested = 0;
    for (const op of ops) {
      const req = op.request;
      switch (req?.$case) {
        case 'requestRange':
          responses.push({ response: { $case: 'responseRange', value: this.rangeIn(view, req.value) } });
          break;
        case 'requestPut':
          responses.push({ response: { $case: 'responsePut', value: this.putIn(asWrite(view), req.value) } });
          break;
        case 'requestDeleteRange':
          responses.push({
            response: { $case: 'responseDeleteRange', value: this.deleteIn(asWrite(view), req.value) },
          });
          break;
        case 'requestTxn': {
          const inner = this.applyTxn(view, req.value, path.nested[nested++]);
          // A nested txn's header is present but empty, as etcd sends it.
          inner.header = header(0);
          responses.push({ response: { $case: 'responseTxn', value: inner } });
          break;
        }
        default:
          throw errKeyNotFound();
      }
    }
    return { header: undefined, succeeded: path.succeeded, responses };
  }

  /**
   * Puts in the chosen branches, in apply order: leases must exist, ignore_* needs the key (checked
   * before any change, as etcd does). Also notes an ignore_* put of a key that an earlier "from key"
   * delete (range_end "\0") of the same txn removes: etcd's duplicate-key check sees such a delete as
   * an empty interval, so the txn gets through, and the put would find no key mid-apply.
   */
  private checkPuts(view: View | WriteTxn, r: TxnRequest, path: TxnPath, state: PutCheck): void {
    let nested = 0;
    for (const op of path.succeeded ? r.success : r.failure) {
      const req = op.request;
      if (req?.$case === 'requestTxn') {
        this.checkPuts(view, req.value, path.nested[nested++], state);
        continue;
      }
      if (req?.$case === 'requestDeleteRange') {
        if (keyRange(req.value.key, req.value.rangeEnd).end === '') {
          state.fromKeyDeletes.push(keyToString(req.value.key));
        }
        continue;
      }
      if (req?.$case !== 'requestPut') continue;
      const p = req.value;
      if (p.ignoreValue || p.ignoreLease) {
        if (view.range(keyRange(p.key, EMPTY), {}).kvs.length === 0) throw errKeyNotFound();
        const key = keyToString(p.key);
        if (state.fromKeyDeletes.some((start) => key >= start)) state.keyGone = true;
      }
      if (p.lease !== 0n && !this.leaseExists(p.lease)) throw errLeaseNotFound();
    }
  }

  /** Ranges at an explicit revision in the chosen branches must be readable. */
  private checkRanges(view: View | WriteTxn, r: TxnRequest, path: TxnPath): void {
    let nested = 0;
    for (const op of path.succeeded ? r.success : r.failure) {
      const req = op.request;
      if (req?.$case === 'requestTxn') {
        this.checkRanges(view, req.value, path.nested[nested++]);
        continue;
      }
      if (req?.$case !== 'requestRange' || req.value.revision === 0n) continue;
      const rev = Number(req.value.revision);
      if (rev > view.rev) throw errFutureRevision();
      if (rev < this.store.compactRevision) throw errCompacted();
    }
  }
}

/** What checkPuts learns walking a txn's puts in apply order. */
interface PutCheck {
  /** Start keys of the "from key" deletes met so far. */
  readonly fromKeyDeletes: string[];
  /** An ignore_value/ignore_lease put whose key an earlier delete of the txn removes. */
  keyGone: boolean;
}

/** The outcome of a txn's compares, and of the nested txns in the branch taken, in order. */
interface TxnPath {
  readonly succeeded: boolean;
  readonly nested: TxnPath[];
}

function comparePath(view: View | WriteTxn, r: TxnRequest): TxnPath {
  const succeeded = r.compare.every((c) => compareHolds(view, c));
  const nested: TxnPath[] = [];
  for (const op of succeeded ? r.success : r.failure) {
    if (op.request?.$case === 'requestTxn') nested.push(comparePath(view, op.request.value));
  }
  return { succeeded, nested };
}

function compareHolds(view: View | WriteTxn, c: Compare): boolean {
  let kvs: KeyValue[];
  try {
    kvs = view.range(keyRange(c.key, c.rangeEnd), {}).kvs;
  } catch {
    return false;
  }
  if (kvs.length === 0) {
    // A missing key has no value to compare (an empty value would be indistinguishable from it).
    if (c.target === Compare_CompareTarget.VALUE) return false;
    return compareKv(c, KeyValue.fromPartial({}));
  }
  return kvs.every((kv) => compareKv(c, kv));
}

function compareKv(c: Compare, kv: KeyValue): boolean {
  const u = c.targetUnion;
  let result: number;
  switch (c.target) {
    case Compare_CompareTarget.VALUE:
      result = Buffer.compare(kv.value, u?.$case === 'value' ? u.value : EMPTY);
      break;
    case Compare_CompareTarget.CREATE:
      result = cmp(kv.createRevision, u?.$case === 'createRevision' ? u.value : 0n);
      break;
    case Compare_CompareTarget.MOD:
      result = cmp(kv.modRevision, u?.$case === 'modRevision' ? u.value : 0n);
      break;
    case Compare_CompareTarget.VERSION:
      result = cmp(kv.version, u?.$case === 'version' ? u.value : 0n);
      break;
    case Compare_CompareTarget.LEASE:
      result = cmp(kv.lease, u?.$case === 'lease' ? u.value : 0n);
      break;
    default:
      result = 0;
  }
  switch (c.result) {
    case Compare_CompareResult.EQUAL:
      return result === 0;
    case Compare_CompareResult.NOT_EQUAL:
      return result !== 0;
    case Compare_CompareResult.GREATER:
      return result > 0;
    case Compare_CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether a txn only reads (then it needs no raft round, only a linearizable read). */
export function isReadOnly(r: TxnRequest): boolean {
  const readOnlyOps = (ops: readonly RequestOp[]): boolean =>
    ops.every((op) => {
      const req = op.request;
      if (req?.$case === 'requestTxn') return isReadOnly(req.value);
      return req?.$case === 'requestRange';
    });
  return readOnlyOps(r.success) && readOnlyOps(r.failure);
}

function asWrite(view: View | WriteTxn): WriteTxn {
  if (!('put' in view)) throw new Error('keyspace: a write inside a read-only txn');
  return view;
}

/** Stable sort by the target, ties left in key order (the order the index returns). */
function sortKvs(kvs: KeyValue[], target: RangeRequest_SortTarget, descending: boolean): void {
  let by: (a: KeyValue, b: KeyValue) => number;
  switch (target) {
    case RangeRequest_SortTarget.VERSION:
      by = (a, b) => cmp(a.version, b.version);
      break;
    case RangeRequest_SortTarget.CREATE:
      by = (a, b) => cmp(a.createRevision, b.createRevision);
      break;
    case RangeRequest_SortTarget.MOD:
      by = (a, b) => cmp(a.modRevision, b.modRevision);
      break;
    case RangeRequest_SortTarget.VALUE:
      by = (a, b) => Buffer.compare(a.value, b.value);
      break;
    default:
      by = (a, b) => Buffer.compare(a.key, b.key);
  }
  kvs.sort(descending ? (a, b) => by(b, a) : by);
}
