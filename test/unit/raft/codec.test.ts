import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  CodecError,
  decodeConfChange,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeConfChange,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
} from '../../../src/raft/codec.js';
import type {
  ConfChange,
  ConfChangeType,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  Snapshot,
} from '../../../src/raft/types.js';

// ---- Helpers ------------------------------------------------------------------------------------

/** Hex (whitespace ignored) to a plain Uint8Array (not a Buffer: decoded subarrays must compare equal). */
function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function assertCodecError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CodecError, `expected a CodecError, got ${String(e)}`);
    assert.equal(e.name, 'CodecError');
    assert.match(e.message, message);
    return true;
  });
}

const U64_MAX = (1n << 64n) - 1n;
const MAX = Number.MAX_SAFE_INTEGER;
const EMPTY = new Uint8Array(0);

// ---- Golden vectors, computed by hand from the field numbers ------------------------------------
// A tag byte is (field << 3) | wireType; wire type 0 = varint, 2 = length-delimited.

test('golden: Entry', () => {
  const e: Entry = { term: 1, index: 2, type: 'normal', data: ascii('abc') };
  // 08 00 = type(1) Normal; 10 01 = term(2) 1; 18 02 = index(3) 2; 22 03 'abc' = data(4), len 3.
  const golden = '08 00 10 01 18 02 22 03 616263';
  assert.equal(toHex(encodeEntry(e)), golden.replace(/\s/g, ''));
  assert.deepEqual(decodeEntry(hex(golden)), e);
});

test('golden: Entry with a two-byte varint and empty data', () => {
  const e: Entry = { term: 5, index: 300, type: 'confChange', data: EMPTY };
  // 08 01 = type ConfChange; 10 05 = term 5; 18 ac 02 = index 300 (0x2c|0x80, 300>>7 = 2); empty data omitted.
  const golden = '08 01 10 05 18 ac 02';
  assert.equal(toHex(encodeEntry(e)), golden.replace(/\s/g, ''));
  assert.deepEqual(decodeEntry(hex(golden)), e);
});

test('golden: Entry data of 200 bytes gets a two-byte length prefix', () => {
  const data = new Uint8Array(200).fill(7);
  const bytes = encodeEntry({ term: 1, index: 1, type: 'normal', data });
  // 22 c8 01 = data(4), length 200 (0x48|0x80, 200>>7 = 1), then the 200 bytes.
  assert.equal(toHex(bytes.subarray(0, 9)), '080010011801' + '22c801');
  assert.equal(bytes.byteLength, 9 + 200);
  assert.deepEqual(decodeEntry(bytes).data, data);
});

test('golden: HardState', () => {
  const hs: HardState = { term: 7, vote: 3n, commit: 150 };
  // 08 07 = term(1) 7; 10 03 = vote(2) 3; 18 96 01 = commit(3) 150 (0x16|0x80, 150>>7 = 1).
  const golden = '08 07 10 03 18 96 01';
  assert.equal(toHex(encodeHardState(hs)), golden.replace(/\s/g, ''));
  assert.deepEqual(decodeHardState(hex(golden)), hs);
});

test('golden: HardState with the largest uint64 vote and zero fields still written', () => {
  const hs: HardState = { term: 0, vote: U64_MAX, commit: 0 };
  // 08 00 = term 0; 10 + nine 0xff + 01 = vote 2^64-1 (64 one-bits: 9 x 7 bits + 1); 18 00 = commit 0.
  const golden = '08 00 10 ffffffffffffffffff 01 18 00';
  assert.equal(toHex(encodeHardState(hs)), golden.replace(/\s/g, ''));
  const decoded = decodeHardState(hex(golden));
  assert.equal(typeof decoded.vote, 'bigint');
  assert.deepEqual(decoded, hs);
});

test('golden: ConfChange', () => {
  const cc: ConfChange = { type: 'addLearnerNode', nodeId: 2n, context: ascii('x') };
  // 08 00 = id(1) 0; 10 03 = type(2) AddLearnerNode; 18 02 = node_id(3) 2; 22 01 78 = context(4) 'x'.
  const golden = '08 00 10 03 18 02 22 01 78';
  assert.equal(toHex(encodeConfChange(cc)), golden.replace(/\s/g, ''));
  assert.deepEqual(decodeConfChange(hex(golden)), cc);
  // The proposer's request ID travels in field 1 and comes back (absent when zero).
  const withId: ConfChange = {
    id: 0x1234_5678_9abc_def0n,
    type: 'removeNode',
    nodeId: 3n,
    context: ascii(''),
  };
  const encoded = encodeConfChange(withId);
  assert.equal(toHex(encoded), '08 f0 bd f3 d5 89 cf 95 9a 12 10 01 18 03'.replace(/\s/g, ''));
  assert.deepEqual(decodeConfChange(encoded), withId);
});

test('golden: Snapshot', () => {
  const snap: Snapshot = {
    data: ascii('s'),
    metadata: { index: 9, term: 2, confState: { voters: [1n, 2n], learners: [3n] } },
  };
  // 0a 01 73 = data(1) 's'; 12 0c = metadata(2), 12 bytes: 0a 06 = conf_state(1) 6 bytes holding
  // voters(1) 1, voters(1) 2 (unpacked) and learners(2) 3; 10 09 = index(2) 9; 18 02 = term(3) 2.
  const golden = '0a 01 73 12 0c 0a 06 0801 0802 1003 10 09 18 02';
  assert.equal(toHex(encodeSnapshot(snap)), golden.replace(/\s/g, ''));
  assert.deepEqual(decodeSnapshot(hex(golden)), snap);
});

test('golden: MsgApp', () => {
  const m: Message = {
    type: 'MsgApp',
    to: 2n,
    from: 1n,
    term: 3,
    logTerm: 2,
    index: 4,
    entries: [{ term: 3, index: 5, type: 'normal', data: hex('01') }],
    commit: 4,
  };
  // 08 03 type(1) MsgApp=3; 10 02 to(2); 18 01 from(3); 20 03 term(4); 28 02 logTerm(5); 30 04 index(6);
  // 3a 09 entries(7) = the 9-byte Entry 08 00 10 03 18 05 22 01 01; 40 04 commit(8) = 4.
  const golden = '08 03 10 02 18 01 20 03 28 02 30 04 3a 09 0800100318052201 01 40 04';
  assert.equal(toHex(encodeMessage(m)), golden.replace(/\s/g, ''));
  assert.deepEqual(decodeMessage(hex(golden)), m);
});

test('golden: MsgVote for a leader transfer carries context "CampaignTransfer"', () => {
  const m: Message = {
    type: 'MsgVote',
    to: 2n,
    from: 1n,
    term: 5,
    index: 10,
    logTerm: 4,
    leaderTransfer: true,
  };
  // 08 05 MsgVote=5; to, from, term; 28 04 logTerm; 30 0a index 10; 62 10 = context(12), 16 ASCII bytes.
  const golden = '08 05 10 02 18 01 20 05 28 04 30 0a 62 10' + toHex(ascii('CampaignTransfer'));
  assert.equal(toHex(encodeMessage(m)), golden.replace(/\s/g, ''));
  assert.deepEqual(decodeMessage(hex(golden)), m);
  // Without the transfer flag no context is written at all.
  assert.equal(toHex(encodeMessage({ ...m, leaderTransfer: false })), '08051002180120052804300a');
});

test('golden: MsgReadIndex carries its context as the data of a single entry', () => {
  const m: Message = { type: 'MsgReadIndex', to: 1n, from: 2n, term: 0, context: ascii('q') };
  // 08 0f MsgReadIndex=15; to, from, term 0; 3a 09 = entries(7), one 9-byte Entry: type, term, index all 0
  // and data(4) 'q' (71), as etcd's Node.ReadIndex builds it.
  const golden = '08 0f 10 01 18 02 20 00 3a 09 08 00 10 00 18 00 22 01 71';
  assert.equal(toHex(encodeMessage(m)), golden.replace(/\s/g, ''));
  assert.deepEqual(decodeMessage(hex(golden)), m);
});

// ---- Round trips --------------------------------------------------------------------------------

const e1: Entry = { term: 2, index: 7, type: 'normal', data: ascii('put k v') };
const e2: Entry = {
  term: 2,
  index: 8,
  type: 'confChange',
  data: encodeConfChange({ type: 'addNode', nodeId: 4n, context: EMPTY }),
};
const snap: Snapshot = {
  data: ascii('state'),
  metadata: { index: 100, term: 3, confState: { voters: [1n, 2n, 3n], learners: [U64_MAX] } },
};

const everyVariant: readonly Message[] = [
  { type: 'MsgProp', to: 1n, from: 2n, term: 0, entries: [e1, { ...e1, term: 0, index: 0 }] },
  { type: 'MsgProp', to: 1n, from: 2n, term: 0, entries: [] },
  { type: 'MsgApp', to: 2n, from: 1n, term: 2, index: 6, logTerm: 1, entries: [e1, e2], commit: 5 },
  { type: 'MsgApp', to: 2n, from: 1n, term: 2, index: 8, logTerm: 2, entries: [], commit: 8 },
  { type: 'MsgAppResp', to: 1n, from: 2n, term: 2, index: 8, reject: false, rejectHint: 0, logTerm: 0 },
  { type: 'MsgAppResp', to: 1n, from: 2n, term: 2, index: 8, reject: true, rejectHint: 5, logTerm: 1 },
  { type: 'MsgVote', to: 3n, from: 1n, term: 4, index: 9, logTerm: 3, leaderTransfer: false },
  { type: 'MsgVote', to: 3n, from: 1n, term: 4, index: 9, logTerm: 3, leaderTransfer: true },
  { type: 'MsgPreVote', to: 3n, from: 1n, term: 5, index: 9, logTerm: 3, leaderTransfer: false },
  { type: 'MsgPreVote', to: 3n, from: 1n, term: 5, index: 9, logTerm: 3, leaderTransfer: true },
  { type: 'MsgVoteResp', to: 1n, from: 3n, term: 4, reject: false },
  { type: 'MsgPreVoteResp', to: 1n, from: 3n, term: 5, reject: true },
  { type: 'MsgSnap', to: 2n, from: 1n, term: 3, snapshot: snap },
  { type: 'MsgHeartbeat', to: 2n, from: 1n, term: 3, commit: 100, context: EMPTY },
  { type: 'MsgHeartbeat', to: 2n, from: 1n, term: 3, commit: 100, context: ascii('ctx-1') },
  { type: 'MsgHeartbeatResp', to: 1n, from: 2n, term: 3, context: ascii('ctx-1') },
  { type: 'MsgHeartbeatResp', to: 1n, from: 2n, term: 3, context: EMPTY },
  { type: 'MsgTransferLeader', to: 1n, from: 3n, term: 0 },
  { type: 'MsgTimeoutNow', to: 3n, from: 1n, term: 3 },
  { type: 'MsgReadIndex', to: 1n, from: 2n, term: 0, context: ascii('read-42') },
  { type: 'MsgReadIndex', to: 1n, from: 2n, term: 0, context: EMPTY },
  { type: 'MsgReadIndexResp', to: 2n, from: 1n, term: 3, index: 99, context: ascii('read-42') },
  { type: 'MsgReadIndexResp', to: 2n, from: U64_MAX, term: MAX, index: MAX, context: EMPTY },
];

test('round trip: every message variant, canonically', () => {
  const seen = new Set<string>();
  for (const m of everyVariant) {
    seen.add(m.type);
    const bytes = encodeMessage(m);
    const back = decodeMessage(bytes);
    assert.deepEqual(back, m, m.type);
    assert.deepEqual(encodeMessage(back), bytes, `${m.type} re-encodes to the same bytes`);
  }
  assert.equal(seen.size, 14, 'all 14 message type names are covered');
});

test('round trip: variants keep only their own fields and their IDs are bigints', () => {
  const back = decodeMessage(encodeMessage({ type: 'MsgTimeoutNow', to: 3n, from: U64_MAX, term: 3 }));
  assert.deepEqual(Object.keys(back).sort(), ['from', 'term', 'to', 'type']);
  assert.equal(typeof back.to, 'bigint');
  assert.equal(back.from, U64_MAX);
});

test('round trip: Entry, HardState, ConfState, Snapshot, ConfChange at the limits', () => {
  const entries: Entry[] = [
    { term: 0, index: 0, type: 'normal', data: EMPTY },
    { term: MAX, index: MAX, type: 'confChange', data: new Uint8Array(70000).fill(1) },
    { term: 2 ** 32 - 1, index: 2 ** 32, type: 'normal', data: hex('00') },
  ];
  for (const e of entries) assert.deepEqual(decodeEntry(encodeEntry(e)), e);

  for (const hs of [
    { term: 0, vote: 0n, commit: 0 },
    { term: MAX, vote: U64_MAX, commit: MAX },
    { term: 2 ** 32, vote: 1n << 32n, commit: 2 ** 32 - 1 },
  ]) {
    assert.deepEqual(decodeHardState(encodeHardState(hs)), hs);
  }

  const confStates: ConfState[] = [
    { voters: [], learners: [] },
    { voters: [0n, 1n, U64_MAX], learners: [1n << 63n] },
  ];
  for (const cs of confStates) assert.deepEqual(decodeConfState(encodeConfState(cs)), cs);
  assert.equal(encodeConfState({ voters: [], learners: [] }).byteLength, 0);

  const emptySnap: Snapshot = {
    data: EMPTY,
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
  };
  // Metadata and its conf_state are always written (gogoproto nullable=false): 12 06 0a 00 10 00 18 00.
  assert.equal(toHex(encodeSnapshot(emptySnap)), '12060a0010001800');
  assert.deepEqual(decodeSnapshot(encodeSnapshot(emptySnap)), emptySnap);
  assert.deepEqual(decodeSnapshot(encodeSnapshot(snap)), snap);

  for (const type of ['addNode', 'removeNode', 'updateNode', 'addLearnerNode'] as const) {
    const cc: ConfChange = { type, nodeId: U64_MAX, context: ascii('{"name":"m1"}') };
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  }
});

test('round trip: a message larger than the retained writer buffer, then a small one', () => {
  const big: Message = {
    type: 'MsgSnap',
    to: 2n,
    from: 1n,
    term: 3,
    snapshot: { ...snap, data: new Uint8Array(3 << 20).fill(0xab) },
  };
  assert.deepEqual(decodeMessage(encodeMessage(big)), big);
  assert.equal(toHex(encodeHardState({ term: 7, vote: 3n, commit: 150 })), '08071003189601');
});

// ---- Property-based -----------------------------------------------------------------------------

/** fc.record, but with ordinary prototypes: deepStrictEqual compares them with what decode returns. */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

const arbNum = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 127, 128, 2 ** 32 - 1, 2 ** 32, MAX));
const arbId = fc.oneof(
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.constantFrom(0n, 1n, 0xffffffffn, 0x100000000n, U64_MAX),
);
const arbBytes = fc.uint8Array({ maxLength: 40 });
const arbEntry: fc.Arbitrary<Entry> = rec({
  term: arbNum,
  index: arbNum,
  type: fc.constantFrom<EntryType>('normal', 'confChange'),
  data: arbBytes,
});
const arbEntries = fc.array(arbEntry, { maxLength: 5 });
const arbConfState: fc.Arbitrary<ConfState> = rec({
  voters: fc.array(arbId, { maxLength: 5 }),
  learners: fc.array(arbId, { maxLength: 5 }),
});
const arbSnapshot: fc.Arbitrary<Snapshot> = rec({
  data: arbBytes,
  metadata: rec({ index: arbNum, term: arbNum, confState: arbConfState }),
});
const env = { to: arbId, from: arbId, term: arbNum };
const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  rec({ type: fc.constant('MsgProp' as const), ...env, entries: arbEntries }),
  rec({
    type: fc.constant('MsgApp' as const),
    ...env,
    index: arbNum,
    logTerm: arbNum,
    entries: arbEntries,
    commit: arbNum,
  }),
  rec({
    type: fc.constant('MsgAppResp' as const),
    ...env,
    index: arbNum,
    reject: fc.boolean(),
    rejectHint: arbNum,
    logTerm: arbNum,
  }),
  rec({
    type: fc.constantFrom('MsgVote' as const, 'MsgPreVote' as const),
    ...env,
    index: arbNum,
    logTerm: arbNum,
    leaderTransfer: fc.boolean(),
  }),
  rec({
    type: fc.constantFrom('MsgVoteResp' as const, 'MsgPreVoteResp' as const),
    ...env,
    reject: fc.boolean(),
  }),
  rec({ type: fc.constant('MsgSnap' as const), ...env, snapshot: arbSnapshot }),
  rec({ type: fc.constant('MsgHeartbeat' as const), ...env, commit: arbNum, context: arbBytes }),
  rec({ type: fc.constant('MsgHeartbeatResp' as const), ...env, context: arbBytes }),
  rec({ type: fc.constantFrom('MsgTransferLeader' as const, 'MsgTimeoutNow' as const), ...env }),
  rec({ type: fc.constant('MsgReadIndex' as const), ...env, context: arbBytes }),
  rec({ type: fc.constant('MsgReadIndexResp' as const), ...env, index: arbNum, context: arbBytes }),
);

test('property: random messages round-trip and re-encode to the same bytes', () => {
  fc.assert(
    fc.property(arbMessage, (m) => {
      const bytes = encodeMessage(m);
      const back = decodeMessage(bytes);
      assert.deepEqual(back, m);
      assert.deepEqual(encodeMessage(back), bytes);
    }),
    { numRuns: 1000 },
  );
});

test('property: random entries, hard states, snapshots and conf changes round-trip', () => {
  fc.assert(
    fc.property(arbEntry, (e) => assert.deepEqual(decodeEntry(encodeEntry(e)), e)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(rec({ term: arbNum, vote: arbId, commit: arbNum }), (hs) =>
      assert.deepEqual(decodeHardState(encodeHardState(hs)), hs),
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(arbSnapshot, (s) => assert.deepEqual(decodeSnapshot(encodeSnapshot(s)), s)),
    { numRuns: 300 },
  );
  const arbConfChange: fc.Arbitrary<ConfChange> = rec({
    type: fc.constantFrom<ConfChangeType>('addNode', 'removeNode', 'updateNode', 'addLearnerNode'),
    nodeId: arbId,
    context: arbBytes,
  });
  fc.assert(
    fc.property(arbConfChange, (cc) => assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc)),
    { numRuns: 300 },
  );
});

/** Decodes, and fails the test if anything but a CodecError escapes. */
function decodeOrCodecError(bytes: Uint8Array): void {
  try {
    decodeMessage(bytes);
  } catch (e) {
    assert.ok(e instanceof CodecError, `non-CodecError escaped: ${String(e)}`);
  }
}

test('property: arbitrary and corrupted bytes decode or raise CodecError, nothing else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodeOrCodecError), { numRuns: 2000 });
  fc.assert(
    fc.property(arbMessage, fc.nat(), fc.nat(255), fc.nat(), (m, at, byte, cut) => {
      const bytes = encodeMessage(m);
      const corrupted = bytes.slice();
      if (corrupted.byteLength > 0) corrupted[at % corrupted.byteLength] = byte;
      decodeOrCodecError(corrupted);
      decodeOrCodecError(bytes.subarray(0, cut % (bytes.byteLength + 1)));
    }),
    { numRuns: 1000 },
  );
});

// ---- Malformed input ----------------------------------------------------------------------------

test('malformed: truncation inside a field raises CodecError; at a field boundary it is a valid prefix', () => {
  const bytes = hex('08 03 10 02 18 01 20 03 28 02 30 04 3a 09 0800100318052201 01 40 04');
  // Offsets where a top-level field ends (the golden MsgApp above): truncating there leaves a valid message.
  const boundaries = new Set([2, 4, 6, 8, 10, 12, 23, 25]);
  for (let n = 0; n < bytes.byteLength; n++) {
    const prefix = bytes.subarray(0, n);
    if (boundaries.has(n)) {
      assert.equal(decodeMessage(prefix).type, 'MsgApp', `prefix of ${n} bytes`);
    } else if (n === 0) {
      assertCodecError(() => decodeMessage(prefix), /unsupported message type 0 \(MsgHup\)/);
    } else {
      assertCodecError(() => decodeMessage(prefix), /^Message/);
    }
  }
  assertCodecError(() => decodeMessage(bytes.subarray(0, 20)), /field 7 \(entries\[0\]\).*runs past the end/);
  assertCodecError(() => decodeHardState(hex('08 96')), /HardState field 1 \(term\) at byte 0: truncated/);
  assertCodecError(() => decodeEntry(hex('22 05 61')), /Entry field 4 \(data\).*length 5 runs past/);
  assertCodecError(() => decodeSnapshot(hex('12 06 0a 00 10')), /Snapshot field 2 \(metadata\).*runs past/);
  assertCodecError(() => decodeConfChange(hex('18')), /ConfChange field 3 \(node_id\).*truncated/);
  assertCodecError(() => decodeConfState(hex('08 ff')), /ConfState field 1 \(voters\).*truncated/);
});

test('malformed: an embedded message whose last field runs past its length', () => {
  // entries(7) says 2 bytes, but the Entry's index varint 80 01 needs one byte more.
  assertCodecError(
    () => decodeMessage(hex('08 03 3a 02 18 80 01')),
    /^Message\(MsgApp\) field 7 \(entries\[0\]\) at byte 2: Entry field 3 \(index\) at byte 4: runs 1 byte past/,
  );
});

test('malformed: wrong wire type for a known field', () => {
  assertCodecError(
    () => decodeEntry(hex('1a 00')),
    /Entry field 3 \(index\) at byte 0: wire type 2 .*expected 0/,
  );
  assertCodecError(() => decodeEntry(hex('20 01')), /Entry field 4 \(data\).*wire type 0 .*expected 2/);
  assertCodecError(() => decodeMessage(hex('08 03 38 00')), /Message\(MsgApp\) field 7 .*wire type 0/);
  assertCodecError(() => decodeMessage(hex('0a 01 03')), /Message field 1 \(type\).*wire type 2/);
  assertCodecError(
    () => decodeHardState(hex('11 0000000000000000')),
    /HardState field 2 \(vote\).*wire type 1/,
  );
  assertCodecError(() => decodeConfState(hex('0d 00000000')), /ConfState field 1 \(voters\).*wire type 5/);
});

test('malformed: message type numbers outside our union', () => {
  assertCodecError(() => decodeMessage(hex('08 00 10 01')), /unsupported message type 0 \(MsgHup\)/);
  assertCodecError(() => decodeMessage(hex('08 63 10 01')), /unsupported message type 99$/);
  assertCodecError(() => decodeMessage(hex('')), /unsupported message type 0 \(MsgHup\)/);
  assertCodecError(() => decodeMessage(hex('08 0a')), /unsupported message type 10 \(MsgUnreachable\)/);
  assertCodecError(
    () => decodeMessage(hex('08 ffffffffffffffffff01')),
    /unsupported message type 18446744073709551615/,
  );
  // The last occurrence wins: a valid type followed by a bad one is still bad, and vice versa.
  assertCodecError(() => decodeMessage(hex('08 03 08 63')), /unsupported message type 99/);
  assert.equal(decodeMessage(hex('08 63 08 0e')).type, 'MsgTimeoutNow');
});

test('malformed: other enums outside their range', () => {
  assertCodecError(
    () => decodeEntry(hex('08 02')),
    /Entry field 1 \(type\).*unsupported entry type 2 \(EntryConfChangeV2\)/,
  );
  assertCodecError(
    () => decodeConfChange(hex('10 04')),
    /ConfChange field 2 \(type\).*unsupported conf change type 4/,
  );
});

test('malformed: terms and indexes beyond 2^53 - 1', () => {
  // 2^53 - 1 = 49 one-bits in 7 groups of 0x7f, then 0x0f; 2^53 = seven 0x80 groups then 0x10.
  assert.equal(decodeEntry(hex('18 ffffffffffffff 0f')).index, MAX);
  assertCodecError(
    () => decodeEntry(hex('18 80808080808080 10')),
    /^Entry field 3 \(index\) at byte 0: 9007199254740992 exceeds Number\.MAX_SAFE_INTEGER/,
  );
  assertCodecError(
    () => decodeHardState(hex('18 ffffffffffffffffff01')),
    /HardState field 3 \(commit\).*18446744073709551615 exceeds/,
  );
  assertCodecError(
    () => decodeMessage(hex('08 03 40 80808080808080 10')),
    /Message\(MsgApp\) field 8 \(commit\).*exceeds/,
  );
  assertCodecError(
    () => decodeMessage(hex('08 04 58 80808080808080 10')),
    /Message\(MsgAppResp\) field 11 \(rejectHint\).*exceeds/,
  );
  assertCodecError(
    () => decodeSnapshot(hex('12 09 18 80808080808080 10')),
    /SnapshotMetadata field 3 \(term\).*exceeds/,
  );
});

test('malformed: varints and lengths that overflow', () => {
  // A 10th varint byte above 1 sets bits past 64; an 11th byte is never valid.
  assertCodecError(
    () => decodeHardState(hex('10 ffffffffffffffffff02')),
    /HardState field 2 \(vote\).*overflows 64 bits/,
  );
  assertCodecError(
    () => decodeHardState(hex('10 ffffffffffffffffffff01')),
    /HardState field 2 \(vote\).*invalid varint/,
  );
  // A length of 2^32 + 1 would be read as 1 if truncated to 32 bits.
  assertCodecError(
    () => decodeEntry(hex('22 8180808010 61')),
    /Entry field 4 \(data\).*length overflows 32 bits/,
  );
  assertCodecError(
    () => decodeEntry(hex('22 ffffffff0f')),
    /Entry field 4 \(data\).*length 4294967295 runs past/,
  );
});

test('malformed: illegal tags', () => {
  assertCodecError(() => decodeEntry(hex('00 00')), /^Entry at byte 0: illegal tag/);
  assertCodecError(() => decodeEntry(hex('08 00 0e')), /^Entry at byte 2: illegal tag/); // wire type 6
  assertCodecError(() => decodeEntry(hex('0c')), /^Entry field 1 \(type\) at byte 0: .*wire type 4/); // stray end-group
  assertCodecError(() => decodeEntry(hex('7c')), /^Entry field 15 \(unknown\) at byte 0: .*wire type 4/); // ...unknown field
});

test('malformed: MsgReadIndex and MsgReadIndexResp with more than one entry', () => {
  const twoEntries = '3a 02 0800 3a 02 0800';
  assertCodecError(
    () => decodeMessage(hex('08 0f' + twoEntries)),
    /Message\(MsgReadIndex\) field 7 \(entries\): 2 entries/,
  );
  assertCodecError(
    () => decodeMessage(hex('08 10' + twoEntries)),
    /Message\(MsgReadIndexResp\) field 7 \(entries\): 2/,
  );
  // No entry at all: the protobuf default, an empty context.
  assert.deepEqual(decodeMessage(hex('08 0f')), {
    type: 'MsgReadIndex',
    to: 0n,
    from: 0n,
    term: 0,
    context: EMPTY,
  });
});

// ---- Protobuf decoding rules --------------------------------------------------------------------

test('decode: unknown fields of every wire type are skipped', () => {
  // Entry with field 15 varint, 16 fixed64, 17 length-delimited, 18 fixed32 and 19 group interleaved.
  const bytes = hex(
    '78 ac02' +
      '08 01' +
      '8101 0102030405060708' +
      '10 05' +
      '8a01 03 aabbcc' +
      '18 06' +
      '9501 01020304' +
      '9b01 0801 9c01' +
      '22 01 ff',
  );
  assert.deepEqual(decodeEntry(bytes), { term: 5, index: 6, type: 'confChange', data: hex('ff') });
  // Unknown fields inside embedded messages too (a joint-consensus voters_outgoing(3) in ConfState).
  assert.deepEqual(decodeSnapshot(hex('12 08 0a 04 08 01 18 09 10 07')), {
    data: EMPTY,
    metadata: { index: 7, term: 0, confState: { voters: [1n], learners: [] } },
  });
});

test('decode: a message as etcd marshals it, with every non-nullable field present', () => {
  // etcd's MsgHeartbeat: type 8, to 2, from 1, term 3, logTerm 0, index 0, commit 5, reject false,
  // rejectHint 0, context 'c', vote(13) 0. Fields our variant lacks are ignored.
  const bytes = hex('08 08 10 02 18 01 20 03 28 00 30 00 40 05 50 00 58 00 62 01 63 68 00');
  assert.deepEqual(decodeMessage(bytes), {
    type: 'MsgHeartbeat',
    to: 2n,
    from: 1n,
    term: 3,
    commit: 5,
    context: ascii('c'),
  });
  // An MsgVote whose context is not "CampaignTransfer" is an ordinary election, as in etcd.
  assert.deepEqual(decodeMessage(hex('08 05 10 02 18 01 20 05 62 03 666f6f')), {
    type: 'MsgVote',
    to: 2n,
    from: 1n,
    term: 5,
    index: 0,
    logTerm: 0,
    leaderTransfer: false,
  });
});

test('decode: fields in any order, last scalar wins, embedded messages merge, packed repeated accepted', () => {
  assert.deepEqual(decodeEntry(hex('22 01 61 18 02 10 01 08 01')), {
    term: 1,
    index: 2,
    type: 'confChange',
    data: ascii('a'),
  });
  assert.deepEqual(decodeHardState(hex('08 01 08 02 18 05 18 04')), { term: 2, vote: 0n, commit: 4 });
  // voters packed (0a 02 01 02), learners unpacked (10 03).
  assert.deepEqual(decodeConfState(hex('0a 02 01 02 10 03')), { voters: [1n, 2n], learners: [3n] });
  assertCodecError(
    () => decodeConfState(hex('0a 01 81 01')),
    /ConfState field 1 \(voters\).*packed varints run past/,
  );
  // Two metadata occurrences merge: index from the first, term from the second, voters appended.
  assert.deepEqual(decodeSnapshot(hex('12 06 10 09 0a 02 08 01 12 06 18 02 0a 02 08 02')), {
    data: EMPTY,
    metadata: { index: 9, term: 2, confState: { voters: [1n, 2n], learners: [] } },
  });
  // A repeated entries field yields one entry per occurrence.
  const m = decodeMessage(hex('08 02 3a 02 1801 3a 02 1802'));
  assert.equal(m.type, 'MsgProp');
  assert.deepEqual(m.type === 'MsgProp' && m.entries.map((e) => e.index), [1, 2]);
});

test('decode: absent fields take their protobuf defaults', () => {
  assert.deepEqual(decodeEntry(EMPTY), { term: 0, index: 0, type: 'normal', data: EMPTY });
  assert.deepEqual(decodeHardState(EMPTY), { term: 0, vote: 0n, commit: 0 });
  assert.deepEqual(decodeConfState(EMPTY), { voters: [], learners: [] });
  assert.deepEqual(decodeConfChange(EMPTY), { type: 'addNode', nodeId: 0n, context: EMPTY });
  const emptySnap = { data: EMPTY, metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } } };
  assert.deepEqual(decodeSnapshot(EMPTY), emptySnap);
  assert.deepEqual(decodeMessage(hex('08 07')), {
    type: 'MsgSnap',
    to: 0n,
    from: 0n,
    term: 0,
    snapshot: emptySnap,
  });
  assert.deepEqual(decodeMessage(hex('08 04')), {
    type: 'MsgAppResp',
    to: 0n,
    from: 0n,
    term: 0,
    index: 0,
    reject: false,
    rejectHint: 0,
    logTerm: 0,
  });
});

test('decode: byte fields are subarrays of the input (zero-copy)', () => {
  const input = hex('08 00 10 01 18 02 22 03 616263');
  const e = decodeEntry(input);
  assert.equal(e.data.buffer, input.buffer);
  assert.equal(e.data.byteOffset, 8);
  input[8] = 0x7a; // 'z'
  assert.deepEqual(e.data, ascii('zbc'));
});

test('decode: a subarray input with a non-zero byteOffset', () => {
  const whole = hex('ffff 08 07 10 03 18 96 01 ffff');
  assert.deepEqual(decodeHardState(whole.subarray(2, 9)), { term: 7, vote: 3n, commit: 150 });
});

// ---- Encoder validation -------------------------------------------------------------------------

test('encode: values the wire format cannot carry raise CodecError', () => {
  const e: Entry = { term: 1, index: 1, type: 'normal', data: EMPTY };
  assertCodecError(
    () => encodeEntry({ ...e, term: -1 }),
    /^Entry\.term: -1 is not a non-negative safe integer/,
  );
  assertCodecError(() => encodeEntry({ ...e, index: 1.5 }), /^Entry\.index: 1\.5/);
  assertCodecError(() => encodeEntry({ ...e, index: MAX + 1 }), /^Entry\.index: 9007199254740992/);
  assertCodecError(() => encodeEntry({ ...e, index: Number.NaN }), /^Entry\.index: NaN/);
  assertCodecError(
    () => encodeHardState({ term: 1, vote: U64_MAX + 1n, commit: 0 }),
    /^HardState\.vote: 18446744073709551616n/,
  );
  assertCodecError(
    () => encodeHardState({ term: 1, vote: -1n, commit: 0 }),
    /^HardState\.vote: -1n is not a uint64/,
  );
  assertCodecError(() => encodeConfState({ voters: [1n, -2n], learners: [] }), /^ConfState\.voters: -2n/);
  assertCodecError(
    () =>
      encodeMessage({
        type: 'MsgApp',
        to: 2n,
        from: 1n,
        term: 1,
        index: 1,
        logTerm: 1,
        entries: [e, { ...e, term: -3 }],
        commit: 0,
      }),
    /^Message\(MsgApp\)\.entries\[1\]: Entry\.term: -3/,
  );
  assertCodecError(
    () => encodeSnapshot({ ...snap, metadata: { ...snap.metadata, index: -1 } }),
    /^SnapshotMetadata\.index: -1/,
  );
});

test('encode: a failed encode leaves no residue in the next one', () => {
  const bad: Message = {
    type: 'MsgApp',
    to: 2n,
    from: 1n,
    term: 3,
    logTerm: 2,
    index: 4,
    entries: [{ term: 3, index: -5, type: 'normal', data: hex('01') }], // fails mid-entry, inside a fork
    commit: 4,
  };
  assert.throws(() => encodeMessage(bad), CodecError);
  assert.equal(toHex(encodeHardState({ term: 7, vote: 3n, commit: 150 })), '08071003189601');
  const good: Message = { ...bad, entries: [{ term: 3, index: 5, type: 'normal', data: hex('01') }] };
  assert.equal(toHex(encodeMessage(good)), '0803100218012003280230043a0908001003180522010140' + '04');
});

test('encode: outputs are independent buffers', () => {
  const a = encodeHardState({ term: 1, vote: 1n, commit: 1 });
  const b = encodeHardState({ term: 2, vote: 2n, commit: 2 });
  assert.equal(toHex(a), '080110011801');
  assert.equal(toHex(b), '080210021802');
  assert.notEqual(a.buffer, b.buffer);
});
