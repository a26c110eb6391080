// Binary codec for the raft data types, wire-compatible with etcd's raftpb (proto2, gogoproto).
//
// Encoding writes fields in field-number order, like gogoproto's generated marshalers, so the output is
// deterministic. Scalar fields a type has are always written (even when zero); bytes fields only when
// non-empty (etcd writes them only when non-nil). A Message writes only the fields its variant has.
//
// Decoding follows the protobuf rules: fields may come in any order, a repeated scalar field is accepted
// packed or unpacked, the last occurrence of a scalar field wins, repeated occurrences of an embedded
// message merge, unknown fields are skipped and absent fields take their defaults (0, false, empty).
// On top of that it is strict: a known field with the wrong wire type, a varint longer than 64 bits, a
// term or index above Number.MAX_SAFE_INTEGER, an enum value we do not know and a truncated input all
// raise a CodecError that names the type, the field and the byte offset. No other error escapes.
//
// ZERO-COPY: decoded byte fields (Entry.data, Snapshot.data, ConfChange.context, message contexts) are
// subarrays of the input buffer, not copies. They keep the whole input alive and change if the input is
// mutated afterwards: a caller that reuses its receive buffer, or keeps a few small entries out of a
// large message for a long time, must copy them (`data.slice()`).

import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import {
  EMPTY_BYTES,
  type ConfChange,
  type ConfChangeType,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type Snapshot,
} from './types.js';

/** Raised for malformed input on decode and for values the wire format cannot carry on encode. */
export class CodecError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CodecError';
  }
}

// ---- Wire constants -----------------------------------------------------------------------------

const VARINT = WireType.Varint;
const LEN = WireType.LengthDelimited;

/** A field's tag byte(s) value: field number and wire type. All our field numbers are < 16: one byte. */
function tagOf(field: number, wireType: WireType): number {
  return (field << 3) | wireType;
}

const WIRE_TYPE_NAMES: readonly string[] = [
  'varint',
  'fixed64',
  'length-delimited',
  'start-group',
  'end-group',
  'fixed32',
];

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const UINT64_MAX = (1n << 64n) - 1n;
const UINT32_MAX = 0xffffffff;

/** etcd marks a vote request caused by a leader transfer with this context (raft.campaignTransfer). */
const CAMPAIGN_TRANSFER: Uint8Array = new TextEncoder().encode('CampaignTransfer');

const ENTRY_TYPE_NUMBER: { readonly [K in EntryType]: number } = { normal: 0, confChange: 1 };
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'confChange'];
const ETCD_ENTRY_TYPE_NAMES: readonly string[] = ['EntryNormal', 'EntryConfChange', 'EntryConfChangeV2'];

const CONF_CHANGE_TYPE_NUMBER: { readonly [K in ConfChangeType]: number } = {
  addNode: 0,
  removeNode: 1,
  updateNode: 2,
  addLearnerNode: 3,
};
const CONF_CHANGE_TYPES: readonly ConfChangeType[] = [
  'addNode',
  'removeNode',
  'updateNode',
  'addLearnerNode',
];

const MESSAGE_TYPE_NUMBER: { readonly [K in MessageType]: number } = {
  MsgProp: 2,
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
};
/** Indexed by etcd's MessageType number; undefined for the types that never cross the wire here. */
const MESSAGE_TYPES: readonly (MessageType | undefined)[] = (() => {
  const byNumber: (MessageType | undefined)[] = [];
  for (const [name, num] of Object.entries(MESSAGE_TYPE_NUMBER) as [MessageType, number][]) {
    byNumber[num] = name;
  }
  return byNumber;
})();
const ETCD_MESSAGE_TYPE_NAMES: readonly string[] = [
  'MsgHup',
  'MsgBeat',
  'MsgProp',
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgVoteResp',
  'MsgSnap',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgUnreachable',
  'MsgSnapStatus',
  'MsgCheckQuorum',
  'MsgTransferLeader',
  'MsgTimeoutNow',
  'MsgReadIndex',
  'MsgReadIndexResp',
  'MsgPreVote',
  'MsgPreVoteResp',
  'MsgStorageAppend',
  'MsgStorageAppendResp',
  'MsgStorageApply',
  'MsgStorageApplyResp',
  'MsgForgetLeader',
];

// Field names by field number, for error messages.
const ENTRY_FIELDS: readonly string[] = ['', 'type', 'term', 'index', 'data'];
const HARD_STATE_FIELDS: readonly string[] = ['', 'term', 'vote', 'commit'];
const CONF_STATE_FIELDS: readonly string[] = [
  '',
  'voters',
  'learners',
  'voters_outgoing',
  'learners_next',
  'auto_leave',
];
const SNAPSHOT_METADATA_FIELDS: readonly string[] = ['', 'conf_state', 'index', 'term'];
const SNAPSHOT_FIELDS: readonly string[] = ['', 'data', 'metadata'];
const CONF_CHANGE_FIELDS: readonly string[] = ['', 'id', 'type', 'node_id', 'context'];
const MESSAGE_FIELDS: readonly string[] = [
  '',
  'type',
  'to',
  'from',
  'term',
  'logTerm',
  'index',
  'entries',
  'commit',
  'snapshot',
  'reject',
  'rejectHint',
  'context',
  'vote',
  'responses',
];

// ---- Encoding -----------------------------------------------------------------------------------

// One writer is reused across calls: finish() hands out a copy and keeps the grown buffer, so steady-state
// encoding does not reallocate. Encoding is synchronous and never re-entrant, so sharing is safe. After an
// unusually large message (a snapshot) or a failed encode the writer is replaced.
const RETAIN_LIMIT = 1 << 20;
let writer = new BinaryWriter();

function encodeWith<T>(value: T, write: (w: BinaryWriter, value: T) => void): Uint8Array {
  const w = writer;
  try {
    write(w, value);
  } catch (e) {
    writer = new BinaryWriter();
    if (e instanceof CodecError) throw e;
    throw new CodecError(`cannot encode: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const out = w.finish();
  if (out.byteLength > RETAIN_LIMIT) writer = new BinaryWriter();
  return out;
}

function badValue(what: string, value: unknown, expected: string): CodecError {
  return new CodecError(
    `${what}: ${typeof value === 'bigint' ? `${value}n` : String(value)} is not ${expected}`,
  );
}

/** A term, index or commit: a non-negative safe integer. `what` names it in the error. */
function writeNum(w: BinaryWriter, tag: number, value: number, what: string): void {
  if (!(Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER)) {
    throw badValue(what, value, 'a non-negative safe integer');
  }
  w.uint32(tag);
  // Same varint either way; uint32() avoids a BigInt conversion for the common small values.
  if (value <= UINT32_MAX) w.uint32(value);
  else w.uint64(value);
}

function writeId(w: BinaryWriter, tag: number, value: NodeId, what: string): void {
  if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) {
    throw badValue(what, value, 'a uint64 bigint');
  }
  w.uint32(tag);
  if (value <= 0xffffffffn) w.uint32(Number(value));
  else w.uint64(value);
}

/** Bytes fields are optional in raftpb and etcd writes them only when non-nil: write when non-empty. */
function writeBytes(w: BinaryWriter, tag: number, value: Uint8Array): void {
  if (value.byteLength > 0) w.uint32(tag).bytes(value);
}

const ENTRY_TYPE_TAG = tagOf(1, VARINT);
const ENTRY_TERM_TAG = tagOf(2, VARINT);
const ENTRY_INDEX_TAG = tagOf(3, VARINT);
const ENTRY_DATA_TAG = tagOf(4, LEN);

function writeEntry(w: BinaryWriter, e: Entry): void {
  const type = ENTRY_TYPE_NUMBER[e.type];
  if (type === undefined) throw badValue('Entry.type', e.type, 'an EntryType');
  w.uint32(ENTRY_TYPE_TAG).uint32(type);
  writeNum(w, ENTRY_TERM_TAG, e.term, 'Entry.term');
  writeNum(w, ENTRY_INDEX_TAG, e.index, 'Entry.index');
  writeBytes(w, ENTRY_DATA_TAG, e.data);
}

function writeHardState(w: BinaryWriter, hs: HardState): void {
  writeNum(w, tagOf(1, VARINT), hs.term, 'HardState.term');
  writeId(w, tagOf(2, VARINT), hs.vote, 'HardState.vote');
  writeNum(w, tagOf(3, VARINT), hs.commit, 'HardState.commit');
}

/** Repeated uint64 fields are unpacked in proto2 (etcd writes one tag per ID). */
function writeConfState(w: BinaryWriter, cs: ConfState): void {
  for (const id of cs.voters) writeId(w, tagOf(1, VARINT), id, 'ConfState.voters');
  for (const id of cs.learners) writeId(w, tagOf(2, VARINT), id, 'ConfState.learners');
}

function writeSnapshot(w: BinaryWriter, s: Snapshot): void {
  writeBytes(w, tagOf(1, LEN), s.data);
  const md = s.metadata;
  w.uint32(tagOf(2, LEN)).fork(); // SnapshotMetadata, always written (gogoproto nullable=false)
  w.uint32(tagOf(1, LEN)).fork(); // ConfState, always written (nullable=false)
  writeConfState(w, md.confState);
  w.join();
  writeNum(w, tagOf(2, VARINT), md.index, 'SnapshotMetadata.index');
  writeNum(w, tagOf(3, VARINT), md.term, 'SnapshotMetadata.term');
  w.join();
}

function writeConfChange(w: BinaryWriter, cc: ConfChange): void {
  const type = CONF_CHANGE_TYPE_NUMBER[cc.type];
  if (type === undefined) throw badValue('ConfChange.type', cc.type, 'a ConfChangeType');
  writeId(w, tagOf(1, VARINT), cc.id ?? 0n, 'ConfChange.id');
  w.uint32(tagOf(2, VARINT)).uint32(type);
  writeId(w, tagOf(3, VARINT), cc.nodeId, 'ConfChange.nodeId');
  writeBytes(w, tagOf(4, LEN), cc.context);
}

const MSG_TYPE_TAG = tagOf(1, VARINT);
const MSG_TO_TAG = tagOf(2, VARINT);
const MSG_FROM_TAG = tagOf(3, VARINT);
const MSG_TERM_TAG = tagOf(4, VARINT);
const MSG_LOG_TERM_TAG = tagOf(5, VARINT);
const MSG_INDEX_TAG = tagOf(6, VARINT);
const MSG_ENTRIES_TAG = tagOf(7, LEN);
const MSG_COMMIT_TAG = tagOf(8, VARINT);
const MSG_SNAPSHOT_TAG = tagOf(9, LEN);
const MSG_REJECT_TAG = tagOf(10, VARINT);
const MSG_REJECT_HINT_TAG = tagOf(11, VARINT);
const MSG_CONTEXT_TAG = tagOf(12, LEN);

function writeEntries(w: BinaryWriter, entries: readonly Entry[]): void {
  for (let i = 0; i < entries.length; i++) {
    w.uint32(MSG_ENTRIES_TAG).fork();
    try {
      writeEntry(w, entries[i]);
    } catch (e) {
      if (e instanceof CodecError) throw new CodecError(`entries[${i}]: ${e.message}`, { cause: e });
      throw e;
    }
    w.join();
  }
}

/** etcd carries a ReadIndex request's context as the Data of a single otherwise empty entry. */
function writeReadContext(w: BinaryWriter, context: Uint8Array): void {
  w.uint32(MSG_ENTRIES_TAG).fork();
  w.uint32(ENTRY_TYPE_TAG).uint32(0);
  w.uint32(ENTRY_TERM_TAG).uint32(0);
  w.uint32(ENTRY_INDEX_TAG).uint32(0);
  writeBytes(w, ENTRY_DATA_TAG, context);
  w.join();
}

function writeMessage(w: BinaryWriter, m: Message): void {
  const type = MESSAGE_TYPE_NUMBER[m.type];
  if (type === undefined) throw badValue('Message.type', m.type, 'a MessageType');
  try {
    writeMessageFields(w, m, type);
  } catch (e) {
    // Field labels are static strings (no per-call formatting); the variant is added here.
    if (e instanceof CodecError) throw new CodecError(`Message(${m.type}).${e.message}`, { cause: e });
    throw e;
  }
}

function writeMessageFields(w: BinaryWriter, m: Message, type: number): void {
  w.uint32(MSG_TYPE_TAG).uint32(type);
  writeId(w, MSG_TO_TAG, m.to, 'to');
  writeId(w, MSG_FROM_TAG, m.from, 'from');
  writeNum(w, MSG_TERM_TAG, m.term, 'term');
  // Each case writes its variant's fields in ascending field-number order.
  switch (m.type) {
    case 'MsgProp':
      writeEntries(w, m.entries);
      break;
    case 'MsgApp':
      writeNum(w, MSG_LOG_TERM_TAG, m.logTerm, 'logTerm');
      writeNum(w, MSG_INDEX_TAG, m.index, 'index');
      writeEntries(w, m.entries);
      writeNum(w, MSG_COMMIT_TAG, m.commit, 'commit');
      break;
    case 'MsgAppResp':
      writeNum(w, MSG_LOG_TERM_TAG, m.logTerm, 'logTerm');
      writeNum(w, MSG_INDEX_TAG, m.index, 'index');
      w.uint32(MSG_REJECT_TAG).bool(m.reject);
      writeNum(w, MSG_REJECT_HINT_TAG, m.rejectHint, 'rejectHint');
      break;
    case 'MsgVote':
    case 'MsgPreVote':
      writeNum(w, MSG_LOG_TERM_TAG, m.logTerm, 'logTerm');
      writeNum(w, MSG_INDEX_TAG, m.index, 'index');
      if (m.leaderTransfer) w.uint32(MSG_CONTEXT_TAG).bytes(CAMPAIGN_TRANSFER);
      break;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      w.uint32(MSG_REJECT_TAG).bool(m.reject);
      break;
    case 'MsgSnap':
      w.uint32(MSG_SNAPSHOT_TAG).fork();
      writeSnapshot(w, m.snapshot);
      w.join();
      break;
    case 'MsgHeartbeat':
      writeNum(w, MSG_COMMIT_TAG, m.commit, 'commit');
      writeBytes(w, MSG_CONTEXT_TAG, m.context);
      break;
    case 'MsgHeartbeatResp':
      writeBytes(w, MSG_CONTEXT_TAG, m.context);
      break;
    case 'MsgTransferLeader':
    case 'MsgTimeoutNow':
      break;
    case 'MsgReadIndex':
      writeReadContext(w, m.context);
      break;
    case 'MsgReadIndexResp':
      writeNum(w, MSG_INDEX_TAG, m.index, 'index');
      writeReadContext(w, m.context);
      break;
  }
}

export function encodeEntry(e: Entry): Uint8Array {
  return encodeWith(e, writeEntry);
}

export function encodeHardState(hs: HardState): Uint8Array {
  return encodeWith(hs, writeHardState);
}

export function encodeConfState(cs: ConfState): Uint8Array {
  return encodeWith(cs, writeConfState);
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  return encodeWith(s, writeSnapshot);
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encodeWith(cc, writeConfChange);
}

export function encodeMessage(m: Message): Uint8Array {
  return encodeWith(m, writeMessage);
}

// ---- Decoding -----------------------------------------------------------------------------------

/**
 * BinaryReader plus the strictness it lacks: it silently truncates varints longer than 64 bits and
 * length prefixes longer than 32 bits, and bounds reads by the whole input rather than by the enclosing
 * embedded message. Low-level failures throw plain Errors; the per-type decoders turn them into
 * CodecErrors naming the field.
 */
class Reader extends BinaryReader {
  /** The value of the last varint that varNum() found too large for a number. */
  big = 0n;

  constructor(readonly input: Uint8Array) {
    super(input);
  }

  /** A uint64 varint as a bigint. */
  u64(): bigint {
    const start = this.pos;
    const v = this.uint64();
    // The 10th byte of a uint64 varint carries only bit 63; anything more overflows 64 bits.
    if (this.pos - start === 10 && this.input[this.pos - 1] > 1) throw new Error('varint overflows 64 bits');
    return typeof v === 'bigint' ? v : BigInt(v);
  }

  /** A uint64 varint as a number, or -1 (value in `big`) when it exceeds Number.MAX_SAFE_INTEGER. */
  varNum(): number {
    const start = this.pos;
    // Fast path: a varint of at most 4 bytes (or 5 with no bits past 32) is exact as a uint32.
    const v = this.uint32();
    const n = this.pos - start;
    if (n < 5 || (n === 5 && this.input[this.pos - 1] <= 0x0f)) return v;
    this.pos = start;
    const big = this.u64();
    if (big <= MAX_SAFE_BIG) return Number(big);
    this.big = big;
    return -1;
  }

  /** A term, index or commit. */
  u53(): number {
    const v = this.varNum();
    if (v < 0) throw new Error(`${this.big} exceeds Number.MAX_SAFE_INTEGER (2^53 - 1)`);
    return v;
  }

  /** A length prefix, checked to fit in what is left of the enclosing message (which ends at `end`). */
  length(end: number): number {
    const start = this.pos;
    const n = this.uint32();
    const k = this.pos - start;
    if (k > 5 || (k === 5 && this.input[this.pos - 1] > 0x0f)) throw new Error('length overflows 32 bits');
    if (n > end - this.pos) {
      const left = Math.max(0, end - this.pos);
      throw new Error(
        `length ${n} runs past the end of the enclosing message (${plural(left, 'byte')} left)`,
      );
    }
    return n;
  }

  /** A bytes field: a subarray of the input (no copy). */
  lenBytes(end: number): Uint8Array {
    const n = this.length(end);
    const start = this.pos;
    this.pos = start + n;
    return n === 0 ? EMPTY_BYTES : this.input.subarray(start, start + n);
  }

  skipField(wireType: WireType, field: number, end: number): void {
    if (wireType === VARINT) this.u64();
    else if (wireType === LEN) {
      const n = this.length(end); // before reading pos: length() advances it
      this.pos += n;
    } else this.skip(wireType, field);
  }
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function wantWireType(got: WireType, want: WireType): void {
  if (got !== want) {
    throw new Error(
      `wire type ${got} (${WIRE_TYPE_NAMES[got]}), expected ${want} (${WIRE_TYPE_NAMES[want]})`,
    );
  }
}

/** After an embedded message's fields: the last one must not have run past its end. */
function checkEnd(r: Reader, end: number): void {
  if (r.pos > end)
    throw new Error(`runs ${plural(r.pos - end, 'byte')} past the end of the enclosing message`);
}

/** The CodecError for a failure while reading `field` (0: a tag) of a `where` that started at byte `at`. */
function fieldError(where: string, field: number, label: string, at: number, e: unknown): CodecError {
  const loc = field === 0 ? `${where} at byte ${at}` : `${where} field ${field} (${label}) at byte ${at}`;
  let reason: string;
  if (e instanceof CodecError) reason = e.message;
  else if (e instanceof RangeError) reason = 'truncated input (premature end of buffer)';
  else if (e instanceof Error) reason = e.message;
  else reason = String(e);
  return new CodecError(`${loc}: ${reason}`, { cause: e });
}

/** An enum number read by varNum() (-1: too large, value in r.big) with etcd's name for it if any. */
function enumName(r: Reader, v: number, etcdNames: readonly string[]): string {
  if (v < 0) return String(r.big);
  const name = etcdNames[v];
  return name === undefined ? String(v) : `${v} (${name})`;
}

function fieldLabel(names: readonly string[], field: number): string {
  return names[field] ?? 'unknown';
}

function readEntry(r: Reader, end: number): Entry {
  let type: EntryType = 'normal';
  let term = 0;
  let index = 0;
  let data = EMPTY_BYTES;
  let field = 0;
  let at = r.pos;
  try {
    while (r.pos < end) {
      at = r.pos;
      field = 0;
      const [no, wt] = r.tag();
      field = no;
      switch (no) {
        case 1: {
          wantWireType(wt, VARINT);
          const v = r.varNum();
          const t = ENTRY_TYPES[v];
          if (t === undefined)
            throw new Error(`unsupported entry type ${enumName(r, v, ETCD_ENTRY_TYPE_NAMES)}`);
          type = t;
          break;
        }
        case 2:
          wantWireType(wt, VARINT);
          term = r.u53();
          break;
        case 3:
          wantWireType(wt, VARINT);
          index = r.u53();
          break;
        case 4:
          wantWireType(wt, LEN);
          data = r.lenBytes(end);
          break;
        default:
          r.skipField(wt, no, end);
      }
    }
    checkEnd(r, end);
  } catch (e) {
    throw fieldError('Entry', field, fieldLabel(ENTRY_FIELDS, field), at, e);
  }
  return { term, index, type, data };
}

function readHardState(r: Reader, end: number): HardState {
  let term = 0;
  let vote = 0n;
  let commit = 0;
  let field = 0;
  let at = r.pos;
  try {
    while (r.pos < end) {
      at = r.pos;
      field = 0;
      const [no, wt] = r.tag();
      field = no;
      switch (no) {
        case 1:
          wantWireType(wt, VARINT);
          term = r.u53();
          break;
        case 2:
          wantWireType(wt, VARINT);
          vote = r.u64();
          break;
        case 3:
          wantWireType(wt, VARINT);
          commit = r.u53();
          break;
        default:
          r.skipField(wt, no, end);
      }
    }
    checkEnd(r, end);
  } catch (e) {
    throw fieldError('HardState', field, fieldLabel(HARD_STATE_FIELDS, field), at, e);
  }
  return { term, vote, commit };
}

/** One occurrence of a repeated uint64 field, packed or not. */
function readIds(r: Reader, wt: WireType, end: number, into: NodeId[]): void {
  if (wt === VARINT) {
    into.push(r.u64());
    return;
  }
  wantWireType(wt, LEN); // packed
  const stop = r.length(end) + r.pos; // length() first: it advances pos
  while (r.pos < stop) into.push(r.u64());
  if (r.pos !== stop) throw new Error('packed varints run past their length');
}

/** Reads a ConfState into `voters` and `learners` (appending: repeated occurrences merge). */
function readConfStateInto(r: Reader, end: number, voters: NodeId[], learners: NodeId[]): void {
  let field = 0;
  let at = r.pos;
  try {
    while (r.pos < end) {
      at = r.pos;
      field = 0;
      const [no, wt] = r.tag();
      field = no;
      switch (no) {
        case 1:
          readIds(r, wt, end, voters);
          break;
        case 2:
          readIds(r, wt, end, learners);
          break;
        default:
          // voters_outgoing, learners_next and auto_leave (joint consensus) are not modelled.
          r.skipField(wt, no, end);
      }
    }
    checkEnd(r, end);
  } catch (e) {
    throw fieldError('ConfState', field, fieldLabel(CONF_STATE_FIELDS, field), at, e);
  }
}

/** Snapshot fields as decoding accumulates them (embedded messages merge, as protobuf requires). */
interface SnapshotParts {
  data: Uint8Array;
  index: number;
  term: number;
  readonly voters: NodeId[];
  readonly learners: NodeId[];
}

function newSnapshotParts(): SnapshotParts {
  return { data: EMPTY_BYTES, index: 0, term: 0, voters: [], learners: [] };
}

function snapshotOf(p: SnapshotParts): Snapshot {
  return {
    data: p.data,
    metadata: { index: p.index, term: p.term, confState: { voters: p.voters, learners: p.learners } },
  };
}

function readSnapshotMetadataInto(r: Reader, end: number, p: SnapshotParts): void {
  let field = 0;
  let at = r.pos;
  try {
    while (r.pos < end) {
      at = r.pos;
      field = 0;
      const [no, wt] = r.tag();
      field = no;
      switch (no) {
        case 1: {
          wantWireType(wt, LEN);
          const stop = r.length(end) + r.pos; // length() first: it advances pos
          readConfStateInto(r, stop, p.voters, p.learners);
          break;
        }
        case 2:
          wantWireType(wt, VARINT);
          p.index = r.u53();
          break;
        case 3:
          wantWireType(wt, VARINT);
          p.term = r.u53();
          break;
        default:
          r.skipField(wt, no, end);
      }
    }
    checkEnd(r, end);
  } catch (e) {
    throw fieldError('SnapshotMetadata', field, fieldLabel(SNAPSHOT_METADATA_FIELDS, field), at, e);
  }
}

function readSnapshotInto(r: Reader, end: number, p: SnapshotParts): void {
  let field = 0;
  let at = r.pos;
  try {
    while (r.pos < end) {
      at = r.pos;
      field = 0;
      const [no, wt] = r.tag();
      field = no;
      switch (no) {
        case 1:
          wantWireType(wt, LEN);
          p.data = r.lenBytes(end);
          break;
        case 2: {
          wantWireType(wt, LEN);
          const stop = r.length(end) + r.pos; // length() first: it advances pos
          readSnapshotMetadataInto(r, stop, p);
          break;
        }
        default:
          r.skipField(wt, no, end);
      }
    }
    checkEnd(r, end);
  } catch (e) {
    throw fieldError('Snapshot', field, fieldLabel(SNAPSHOT_FIELDS, field), at, e);
  }
}

function readConfChange(r: Reader, end: number): ConfChange {
  let id = 0n;
  let type: ConfChangeType = 'addNode';
  let nodeId = 0n;
  let context = EMPTY_BYTES;
  let field = 0;
  let at = r.pos;
  try {
    while (r.pos < end) {
      at = r.pos;
      field = 0;
      const [no, wt] = r.tag();
      field = no;
      switch (no) {
        case 1:
          wantWireType(wt, VARINT);
          id = r.u64();
          break;
        case 2: {
          wantWireType(wt, VARINT);
          const v = r.varNum();
          const t = CONF_CHANGE_TYPES[v];
          if (t === undefined) throw new Error(`unsupported conf change type ${enumName(r, v, [])}`);
          type = t;
          break;
        }
        case 3:
          wantWireType(wt, VARINT);
          nodeId = r.u64();
          break;
        case 4:
          wantWireType(wt, LEN);
          context = r.lenBytes(end);
          break;
        default:
          r.skipField(wt, no, end);
      }
    }
    checkEnd(r, end);
  } catch (e) {
    throw fieldError('ConfChange', field, fieldLabel(CONF_CHANGE_FIELDS, field), at, e);
  }
  return id === 0n ? { type, nodeId, context } : { id, type, nodeId, context };
}

function isCampaignTransfer(context: Uint8Array): boolean {
  if (context.byteLength !== CAMPAIGN_TRANSFER.byteLength) return false;
  for (let i = 0; i < context.byteLength; i++) if (context[i] !== CAMPAIGN_TRANSFER[i]) return false;
  return true;
}

/** Message.type not (yet) seen. varNum() returns -1 for too large values, so this cannot collide. */
const TYPE_ABSENT = -2;

function readMessage(r: Reader, end: number): Message {
  let typeNum = TYPE_ABSENT;
  let to = 0n;
  let from = 0n;
  let term = 0;
  let logTerm = 0;
  let index = 0;
  const entries: Entry[] = [];
  let commit = 0;
  let snapshot: SnapshotParts | undefined;
  let reject = false;
  let rejectHint = 0;
  let context = EMPTY_BYTES;

  let field = 0;
  let at = r.pos;
  try {
    while (r.pos < end) {
      at = r.pos;
      field = 0;
      const [no, wt] = r.tag();
      field = no;
      switch (no) {
        case 1:
          wantWireType(wt, VARINT);
          typeNum = r.varNum(); // -1 (too large) is rejected below like any unknown number
          break;
        case 2:
          wantWireType(wt, VARINT);
          to = r.u64();
          break;
        case 3:
          wantWireType(wt, VARINT);
          from = r.u64();
          break;
        case 4:
          wantWireType(wt, VARINT);
          term = r.u53();
          break;
        case 5:
          wantWireType(wt, VARINT);
          logTerm = r.u53();
          break;
        case 6:
          wantWireType(wt, VARINT);
          index = r.u53();
          break;
        case 7: {
          wantWireType(wt, LEN);
          const stop = r.length(end) + r.pos; // length() first: it advances pos
          entries.push(readEntry(r, stop));
          break;
        }
        case 8:
          wantWireType(wt, VARINT);
          commit = r.u53();
          break;
        case 9: {
          wantWireType(wt, LEN);
          const stop = r.length(end) + r.pos; // length() first: it advances pos
          snapshot ??= newSnapshotParts();
          readSnapshotInto(r, stop, snapshot);
          break;
        }
        case 10:
          wantWireType(wt, VARINT);
          reject = r.varNum() !== 0;
          break;
        case 11:
          wantWireType(wt, VARINT);
          rejectHint = r.u53();
          break;
        case 12:
          wantWireType(wt, LEN);
          context = r.lenBytes(end);
          break;
        default:
          // 13 (vote) and 14 (responses) are etcd-local (async storage writes); skipped like any unknown.
          r.skipField(wt, no, end);
      }
    }
    checkEnd(r, end);
  } catch (e) {
    let where = 'Message';
    if (typeNum >= 0) where = `Message(${ETCD_MESSAGE_TYPE_NAMES[typeNum] ?? typeNum})`;
    else if (typeNum === -1) where = `Message(${r.big})`;
    const label = field === 7 ? `entries[${entries.length}]` : fieldLabel(MESSAGE_FIELDS, field);
    throw fieldError(where, field, label, at, e);
  }

  if (typeNum === TYPE_ABSENT) typeNum = 0; // protobuf default: 0 (MsgHup), rejected below

  const type = MESSAGE_TYPES[typeNum];
  if (type === undefined) {
    throw new CodecError(
      `Message field 1 (type): unsupported message type ${enumName(r, typeNum, ETCD_MESSAGE_TYPE_NAMES)}`,
    );
  }

  // Fields that the variant does not have are ignored: etcd sends some of them (e.g. vote, commit) anyway.
  switch (type) {
    case 'MsgProp':
      return { type, to, from, term, entries };
    case 'MsgApp':
      return { type, to, from, term, index, logTerm, entries, commit };
    case 'MsgAppResp':
      return { type, to, from, term, index, reject, rejectHint, logTerm };
    case 'MsgVote':
    case 'MsgPreVote':
      return { type, to, from, term, index, logTerm, leaderTransfer: isCampaignTransfer(context) };
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return { type, to, from, term, reject };
    case 'MsgSnap':
      return { type, to, from, term, snapshot: snapshotOf(snapshot ?? newSnapshotParts()) };
    case 'MsgHeartbeat':
      return { type, to, from, term, commit, context };
    case 'MsgHeartbeatResp':
      return { type, to, from, term, context };
    case 'MsgTransferLeader':
    case 'MsgTimeoutNow':
      return { type, to, from, term };
    case 'MsgReadIndex':
      return { type, to, from, term, context: readContext(type, entries) };
    case 'MsgReadIndexResp':
      return { type, to, from, term, index, context: readContext(type, entries) };
  }
}

/** The read context that etcd carries as the data of the single entry of MsgReadIndex(Resp). */
function readContext(type: MessageType, entries: readonly Entry[]): Uint8Array {
  if (entries.length === 0) return EMPTY_BYTES;
  if (entries.length > 1) {
    throw new CodecError(
      `Message(${type}) field 7 (entries): ${entries.length} entries, expected 1 carrying the read context`,
    );
  }
  return entries[0].data;
}

function decodeWith<T>(b: Uint8Array, read: (r: Reader, end: number) => T): T {
  const r = new Reader(b);
  return read(r, b.byteLength);
}

/** Decodes an Entry. `data` is a subarray of `b` (see ZERO-COPY at the top of this file). */
export function decodeEntry(b: Uint8Array): Entry {
  return decodeWith(b, readEntry);
}

export function decodeHardState(b: Uint8Array): HardState {
  return decodeWith(b, readHardState);
}

export function decodeConfState(b: Uint8Array): ConfState {
  const voters: NodeId[] = [];
  const learners: NodeId[] = [];
  decodeWith(b, (r, end) => readConfStateInto(r, end, voters, learners));
  return { voters, learners };
}

/** Decodes a Snapshot. `data` is a subarray of `b` (see ZERO-COPY at the top of this file). */
export function decodeSnapshot(b: Uint8Array): Snapshot {
  const parts = newSnapshotParts();
  decodeWith(b, (r, end) => readSnapshotInto(r, end, parts));
  return snapshotOf(parts);
}

/** Decodes a ConfChange. `context` is a subarray of `b` (see ZERO-COPY at the top of this file). */
export function decodeConfChange(b: Uint8Array): ConfChange {
  return decodeWith(b, readConfChange);
}

/** Decodes a Message. Its byte fields are subarrays of `b` (see ZERO-COPY at the top of this file). */
export function decodeMessage(b: Uint8Array): Message {
  return decodeWith(b, readMessage);
}
