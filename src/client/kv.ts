// The KV service: range, put, delete, txn and compact, plus builders for the requests (also used as txn ops).

import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  CompactionRequest,
  DeleteRangeRequest,
  KVService,
  PutRequest,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RequestOp,
  TxnRequest,
  type CompactionResponse,
  type DeleteRangeResponse,
  type PutResponse,
  type RangeResponse,
  type TxnResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { KeyValue } from '../proto/mvccpb/kv.js';
import { FROM_KEY_END, prefixEnd, toBytes, type Bytes } from './bytes.js';
import type { CallOptions, Transport } from './transport.js';

export { RangeRequest_SortOrder as SortOrder, RangeRequest_SortTarget as SortTarget };

/** Which keys a request covers: one key, [key, rangeEnd), a prefix, or every key >= key. */
export interface KeyRange {
  readonly rangeEnd?: Bytes;
  readonly prefix?: boolean;
  readonly fromKey?: boolean;
}

export interface RangeOptions extends KeyRange {
  readonly limit?: bigint;
  readonly revision?: bigint;
  readonly sortOrder?: RangeRequest_SortOrder;
  readonly sortTarget?: RangeRequest_SortTarget;
  readonly serializable?: boolean;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly minModRevision?: bigint;
  readonly maxModRevision?: bigint;
  readonly minCreateRevision?: bigint;
  readonly maxCreateRevision?: bigint;
}

export interface PutOptions {
  readonly lease?: bigint;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
}

export interface DeleteOptions extends KeyRange {
  readonly prevKv?: boolean;
}

function rangeEndOf(key: Uint8Array, r: KeyRange): Uint8Array {
  if (r.prefix === true) return key.length === 0 ? FROM_KEY_END : prefixEnd(key);
  if (r.fromKey === true) return FROM_KEY_END;
  return r.rangeEnd === undefined ? new Uint8Array(0) : toBytes(r.rangeEnd);
}

export function rangeRequest(key: Bytes, options: RangeOptions = {}): RangeRequest {
  const k = toBytes(key);
  return RangeRequest.fromPartial({
    key: k,
    rangeEnd: rangeEndOf(k, options),
    limit: options.limit ?? 0n,
    revision: options.revision ?? 0n,
    sortOrder: options.sortOrder ?? RangeRequest_SortOrder.NONE,
    sortTarget: options.sortTarget ?? RangeRequest_SortTarget.KEY,
    serializable: options.serializable ?? false,
    keysOnly: options.keysOnly ?? false,
    countOnly: options.countOnly ?? false,
    minModRevision: options.minModRevision ?? 0n,
    maxModRevision: options.maxModRevision ?? 0n,
    minCreateRevision: options.minCreateRevision ?? 0n,
    maxCreateRevision: options.maxCreateRevision ?? 0n,
  });
}

export function putRequest(key: Bytes, value: Bytes, options: PutOptions = {}): PutRequest {
  return PutRequest.fromPartial({
    key: toBytes(key),
    value: toBytes(value),
    lease: options.lease ?? 0n,
    prevKv: options.prevKv ?? false,
    ignoreValue: options.ignoreValue ?? false,
    ignoreLease: options.ignoreLease ?? false,
  });
}

export function deleteRequest(key: Bytes, options: DeleteOptions = {}): DeleteRangeRequest {
  const k = toBytes(key);
  return DeleteRangeRequest.fromPartial({
    key: k,
    rangeEnd: rangeEndOf(k, options),
    prevKv: options.prevKv ?? false,
  });
}

/** Txn operations. */
export const op = {
  range: (key: Bytes, options?: RangeOptions): RequestOp => ({
    request: { $case: 'requestRange', value: rangeRequest(key, options) },
  }),
  put: (key: Bytes, value: Bytes, options?: PutOptions): RequestOp => ({
    request: { $case: 'requestPut', value: putRequest(key, value, options) },
  }),
  delete: (key: Bytes, options?: DeleteOptions): RequestOp => ({
    request: { $case: 'requestDeleteRange', value: deleteRequest(key, options) },
  }),
  txn: (txn: TxnRequest): RequestOp => ({ request: { $case: 'requestTxn', value: txn } }),
};

export type CompareOperator = '=' | '==' | '!=' | '>' | '<';

const RESULTS: Record<CompareOperator, Compare_CompareResult> = {
  '=': Compare_CompareResult.EQUAL,
  '==': Compare_CompareResult.EQUAL,
  '!=': Compare_CompareResult.NOT_EQUAL,
  '>': Compare_CompareResult.GREATER,
  '<': Compare_CompareResult.LESS,
};

export function isCompareOperator(s: string): s is CompareOperator {
  return Object.prototype.hasOwnProperty.call(RESULTS, s);
}

function compare(
  key: Bytes,
  operator: CompareOperator,
  target: Compare_CompareTarget,
  union: Compare['targetUnion'],
) {
  return Compare.fromPartial({ key: toBytes(key), result: RESULTS[operator], target, targetUnion: union });
}

/** Txn comparisons. */
export const cmp = {
  version: (key: Bytes, operator: CompareOperator, v: bigint): Compare =>
    compare(key, operator, Compare_CompareTarget.VERSION, { $case: 'version', value: v }),
  createRevision: (key: Bytes, operator: CompareOperator, v: bigint): Compare =>
    compare(key, operator, Compare_CompareTarget.CREATE, { $case: 'createRevision', value: v }),
  modRevision: (key: Bytes, operator: CompareOperator, v: bigint): Compare =>
    compare(key, operator, Compare_CompareTarget.MOD, { $case: 'modRevision', value: v }),
  value: (key: Bytes, operator: CompareOperator, v: Bytes): Compare =>
    compare(key, operator, Compare_CompareTarget.VALUE, { $case: 'value', value: toBytes(v) }),
  lease: (key: Bytes, operator: CompareOperator, v: bigint): Compare =>
    compare(key, operator, Compare_CompareTarget.LEASE, { $case: 'lease', value: v }),
};

function isReadOnlyTxn(txn: TxnRequest): boolean {
  const ops = [...txn.success, ...txn.failure];
  return ops.every(
    (o) =>
      o.request?.$case === 'requestRange' ||
      (o.request?.$case === 'requestTxn' && isReadOnlyTxn(o.request.value)),
  );
}

export class KV {
  constructor(private readonly transport: Transport) {}

  range(key: Bytes, options: RangeOptions = {}, call: CallOptions = {}): Promise<RangeResponse> {
    return this.rangeRaw(rangeRequest(key, options), call);
  }

  rangeRaw(request: RangeRequest, call: CallOptions = {}): Promise<RangeResponse> {
    return this.transport.unary(KVService.range, request, { ...call, retryUnavailable: true });
  }

  /** The single key's current (or `revision`'s) value, if any. */
  async get(
    key: Bytes,
    options: Omit<RangeOptions, keyof KeyRange> = {},
    call?: CallOptions,
  ): Promise<KeyValue | undefined> {
    return (await this.range(key, options, call)).kvs[0];
  }

  put(key: Bytes, value: Bytes, options: PutOptions = {}, call: CallOptions = {}): Promise<PutResponse> {
    return this.transport.unary(KVService.put, putRequest(key, value, options), call);
  }

  delete(key: Bytes, options: DeleteOptions = {}, call: CallOptions = {}): Promise<DeleteRangeResponse> {
    return this.transport.unary(KVService.deleteRange, deleteRequest(key, options), call);
  }

  txn(request: Partial<TxnRequest>, call: CallOptions = {}): Promise<TxnResponse> {
    const txn = TxnRequest.fromPartial(request);
    return this.transport.unary(KVService.txn, txn, { ...call, retryUnavailable: isReadOnlyTxn(txn) });
  }

  compact(
    revision: bigint,
    options: { physical?: boolean } = {},
    call: CallOptions = {},
  ): Promise<CompactionResponse> {
    const request = CompactionRequest.fromPartial({ revision, physical: options.physical ?? false });
    return this.transport.unary(KVService.compact, request, call);
  }
}
