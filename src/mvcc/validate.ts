// The checks etcd makes on a KV request before proposing it (its API layer), so a bad request is
// refused with etcd's error before it reaches raft: empty keys, ignore_value/ignore_lease misuse,
// too many txn operations, and a key written twice in one txn.

import {
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
} from '../proto/etcdserverpb/rpc.js';
import {
  errDuplicateKey,
  errEmptyKey,
  errKeyNotFound,
  errLeaseProvided,
  errTooManyOps,
  errValueProvided,
  KeyspaceError,
} from './errors.js';
import { keyToString } from './tree-index.js';

export const DEFAULT_MAX_TXN_OPS = 128;

const SORT_ORDERS = new Set<number>([
  RangeRequest_SortOrder.NONE,
  RangeRequest_SortOrder.ASCEND,
  RangeRequest_SortOrder.DESCEND,
]);
const SORT_TARGETS = new Set<number>([
  RangeRequest_SortTarget.KEY,
  RangeRequest_SortTarget.VERSION,
  RangeRequest_SortTarget.CREATE,
  RangeRequest_SortTarget.MOD,
  RangeRequest_SortTarget.VALUE,
]);

export function validateRange(r: RangeRequest): void {
  if (r.key.byteLength === 0) throw errEmptyKey();
  if (!SORT_ORDERS.has(r.sortOrder) || !SORT_TARGETS.has(r.sortTarget)) {
    throw new KeyspaceError('InvalidArgument', 'etcdserver: invalid sort option');
  }
}

export function validatePut(r: PutRequest): void {
  if (r.key.byteLength === 0) throw errEmptyKey();
  if (r.ignoreValue && r.value.byteLength !== 0) throw errValueProvided();
  if (r.ignoreLease && r.lease !== 0n) throw errLeaseProvided();
}

export function validateDeleteRange(r: DeleteRangeRequest): void {
  if (r.key.byteLength === 0) throw errEmptyKey();
}

export function validateTxn(r: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): void {
  checkTxnShape(r, maxTxnOps);
  // Checked after the shape, so the quadratic part only ever sees bounded input.
  checkWrites(r.success);
  checkWrites(r.failure);
}

function checkTxnShape(r: TxnRequest, maxTxnOps: number): void {
  const ops = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (ops > maxTxnOps) throw errTooManyOps();
  for (const c of r.compare) if (c.key.byteLength === 0) throw errEmptyKey();
  for (const op of r.success) checkOp(op, maxTxnOps - ops);
  for (const op of r.failure) checkOp(op, maxTxnOps - ops);
}

function checkOp(op: RequestOp, maxTxnOps: number): void {
  const req = op.request;
  switch (req?.$case) {
    case 'requestRange':
      return validateRange(req.value);
    case 'requestPut':
      return validatePut(req.value);
    case 'requestDeleteRange':
      return validateDeleteRange(req.value);
    case 'requestTxn':
      return checkTxnShape(req.value, maxTxnOps);
    default:
      // An empty operation.
      throw errKeyNotFound();
  }
}

/** [begin, end) of keys as latin1 strings; end '' is unbounded. */
interface Interval {
  readonly begin: string;
  readonly end: string;
}

function pointInterval(key: string): Interval {
  return { begin: key, end: key + '\0' };
}

function contains(iv: Interval, key: string): boolean {
  return iv.begin <= key && (iv.end === '' || key < iv.end);
}

/**
 * The keys put and the ranges deleted by a list of operations (nested txns included), refusing a key
 * put twice or put and deleted. A nested txn's two branches exclude each other, so the same key in
 * both is fine. Overlapping deletes are allowed, as in etcd.
 */
function checkWrites(ops: readonly RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const op of ops) {
    if (op.request?.$case !== 'requestDeleteRange') continue;
    const d = op.request.value;
    const key = keyToString(d.key);
    dels.push(
      d.rangeEnd.byteLength !== 0 ? { begin: key, end: keyToString(d.rangeEnd) } : pointInterval(key),
    );
  }
  const deleted = (key: string, among: readonly Interval[]): boolean => among.some((iv) => contains(iv, key));
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.request?.$case !== 'requestTxn') continue;
    const then = checkWrites(op.request.value.success);
    const otherwise = checkWrites(op.request.value.failure);
    for (const k of then.puts) {
      if (puts.has(k) || deleted(k, dels)) throw errDuplicateKey();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw errDuplicateKey();
      if (deleted(k, dels)) throw errDuplicateKey();
      puts.add(k);
    }
    // Later operations of this list must not put what this nested txn may delete.
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (op.request?.$case !== 'requestPut') continue;
    const k = keyToString(op.request.value.key);
    if (puts.has(k) || deleted(k, dels)) throw errDuplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}
