// The NOSPACE alarm and the backend quota: costs as etcd estimates them, alarms that persist in the
// backend, and the applier refusing only what adds data while the alarm is raised.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { KeyspaceError } from '../../../src/mvcc/errors.js';
import {
  AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmType,
  CompactionRequest,
  DeleteRangeRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
  type AlarmResponse,
  type RangeResponse,
} from '../../../src/proto/etcdserverpb/rpc.js';
import { InternalRaftRequest } from '../../../src/proto/etcdserverpb/raft_internal.js';
import { type ApplyOutcome } from '../../../src/server/apply.js';
import {
  BackendQuota,
  DEFAULT_QUOTA_BYTES,
  putCost,
  requestCost,
  resolveQuota,
  txnCost,
} from '../../../src/server/quota.js';
import { openState, type MemberState } from '../../../src/server/state.js';
import { Backend } from '../../../src/storage/backend/index.js';
import { bytes, text } from '../mvcc/helpers.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Fixture {
  open(): MemberState;
  close(): Promise<void>;
}

function fixture(t: { after: (fn: () => Promise<void>) => void }): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-server-'));
  let current: MemberState | undefined;
  const close = async (): Promise<void> => {
    if (current === undefined) return;
    const s = current;
    current = undefined;
    await s.close();
    await s.backend.commit();
    await s.backend.close();
  };
  t.after(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    open() {
      const backend = Backend.open(join(dir, 'db'), { logger: { warn: () => {} } });
      current = openState(backend, {
        identity: { clusterId: 1n, localId: 1n },
        lessor: { now: () => 0 },
        logger: { warn: () => {} },
      });
      return current;
    },
    close,
  };
}

const put = (k: string, v = 'v'): InternalRaftRequest =>
  InternalRaftRequest.fromPartial({ put: PutRequest.fromPartial({ key: bytes(k), value: bytes(v) }) });
const alarm = (action: AlarmRequest_AlarmAction, memberID: bigint, type: AlarmType): InternalRaftRequest =>
  InternalRaftRequest.fromPartial({ alarm: AlarmRequest.fromPartial({ action, memberID, alarm: type }) });

function refused(o: ApplyOutcome): string {
  assert.equal(o.ok, false, 'expected a refusal');
  if (o.ok) throw new Error('unreachable');
  return o.error.message;
}

function response<T>(o: ApplyOutcome): T {
  if (!o.ok) assert.fail(`refused: ${o.error.message}`);
  return o.response as T;
}

const NO_SPACE = 'etcdserver: mvcc: database space exceeded';

test('request costs are etcd estimates; nested txn puts count too', () => {
  const p = PutRequest.fromPartial({ key: bytes('abc'), value: bytes('12345') });
  assert.equal(putCost(p), 256 + 3 + 5);
  const txn = TxnRequest.fromPartial({
    success: [{ request: { $case: 'requestPut', value: p } }, { request: { $case: 'requestPut', value: p } }],
    failure: [
      { request: { $case: 'requestRange', value: RangeRequest.fromPartial({ key: bytes('a') }) } },
      {
        request: {
          $case: 'requestTxn',
          value: TxnRequest.fromPartial({
            success: [0, 1, 2].map(() => ({ request: { $case: 'requestPut' as const, value: p } })),
          }),
        },
      },
    ],
  });
  assert.equal(txnCost(txn), 3 * 264, 'the costlier branch, nested puts included');
  assert.equal(txnCost(TxnRequest.fromPartial({})), 0);
  assert.equal(requestCost({ leaseGrant: LeaseGrantRequest.fromPartial({ TTL: 5n }) }), 64);
});

test('the quota flag resolves as etcd resolves it', () => {
  assert.deepEqual(resolveQuota(0), { limit: DEFAULT_QUOTA_BYTES });
  assert.equal(DEFAULT_QUOTA_BYTES, 2147483648);
  assert.deepEqual(resolveQuota(16 * 1024 * 1024), { limit: 16777216 });
  assert.equal(resolveQuota(-1).limit, undefined);
  assert.match(resolveQuota(9 * 1024 ** 3).warning ?? '', /exceeds the maximum/);
});

test('the quota admits requests while the file plus their cost stays below it', () => {
  let size = 1000;
  const q = new BackendQuota(() => size, 2000);
  assert.equal(q.available(999), true);
  assert.equal(q.available(1000), false, 'reaching the quota exactly is over it');
  assert.equal(q.available(0), true, 'requests that add nothing always pass');
  size = 5000;
  assert.equal(q.available(1), false);
  assert.equal(new BackendQuota(() => size, undefined).available(1e12), true, 'disabled quota');
});

test('with NOSPACE raised, puts, txns with puts and lease grants fail; reads, deletes, compaction work', async (t) => {
  const fx = fixture(t);
  const s = fx.open();
  assert.equal(response<{ header: { revision: bigint } }>(s.applier.apply(put('a'))).header.revision, 2n);
  s.applier.apply(put('b'));
  const raised = response<AlarmResponse>(
    s.applier.apply(alarm(AlarmRequest_AlarmAction.ACTIVATE, 7n, AlarmType.NOSPACE)),
  );
  assert.deepEqual(raised.alarms, [{ memberID: 7n, alarm: AlarmType.NOSPACE }]);

  assert.equal(refused(s.applier.apply(put('c'))), NO_SPACE);
  const o = s.applier.apply(put('c'));
  assert.ok(!o.ok && o.error instanceof KeyspaceError && o.error.code === 'ResourceExhausted');
  const txnPut = InternalRaftRequest.fromPartial({
    txn: TxnRequest.fromPartial({
      success: [{ request: { $case: 'requestPut', value: PutRequest.fromPartial({ key: bytes('t') }) } }],
    }),
  });
  assert.equal(refused(s.applier.apply(txnPut)), NO_SPACE);
  const grant = InternalRaftRequest.fromPartial({
    leaseGrant: LeaseGrantRequest.fromPartial({ ID: 5n, TTL: 10n }),
  });
  assert.equal(refused(s.applier.apply(grant)), NO_SPACE);

  const readTxn = InternalRaftRequest.fromPartial({
    txn: TxnRequest.fromPartial({
      success: [{ request: { $case: 'requestRange', value: RangeRequest.fromPartial({ key: bytes('a') }) } }],
    }),
  });
  assert.equal(response<{ succeeded: boolean }>(s.applier.apply(readTxn)).succeeded, true);
  const range = InternalRaftRequest.fromPartial({ range: RangeRequest.fromPartial({ key: bytes('a') }) });
  assert.deepEqual(
    response<RangeResponse>(s.applier.apply(range)).kvs.map((kv) => text(kv.value)),
    ['v'],
  );
  const del = InternalRaftRequest.fromPartial({
    deleteRange: DeleteRangeRequest.fromPartial({ key: bytes('b') }),
  });
  assert.equal(response<{ deleted: bigint }>(s.applier.apply(del)).deleted, 1n);
  const compact = InternalRaftRequest.fromPartial({
    compaction: CompactionRequest.fromPartial({ revision: 3n }),
  });
  const c = s.applier.apply(compact);
  assert.ok(c.ok);
  await c.compacted;
  assert.equal(s.store.compactRevision, 3);
  const revoke = InternalRaftRequest.fromPartial({
    leaseRevoke: LeaseRevokeRequest.fromPartial({ ID: 99n }),
  });
  assert.equal(refused(s.applier.apply(revoke)), 'etcdserver: requested lease not found');

  // Clearing the alarm lets writes in again.
  const cleared = response<AlarmResponse>(
    s.applier.apply(alarm(AlarmRequest_AlarmAction.DEACTIVATE, 7n, AlarmType.NOSPACE)),
  );
  assert.deepEqual(cleared.alarms, [{ memberID: 7n, alarm: AlarmType.NOSPACE }]);
  assert.ok(s.applier.apply(put('c')).ok);
  assert.ok(s.applier.apply(grant).ok);
});

test('alarms persist in the backend and are listed in order; raising twice or clearing an absent one changes nothing', async (t) => {
  const fx = fixture(t);
  let s = fx.open();
  const act = (m: bigint, a: AlarmType): AlarmResponse =>
    response(s.applier.apply(alarm(AlarmRequest_AlarmAction.ACTIVATE, m, a)));
  act(0x30n, AlarmType.NOSPACE);
  act(0x10n, AlarmType.NOSPACE);
  assert.deepEqual(act(0x10n, AlarmType.NOSPACE).alarms, [{ memberID: 0x10n, alarm: AlarmType.NOSPACE }]);
  act(0x20n, AlarmType.CORRUPT);
  assert.deepEqual(act(0x20n, AlarmType.NONE).alarms, [], 'NONE is not an alarm');
  const none = response<AlarmResponse>(
    s.applier.apply(alarm(AlarmRequest_AlarmAction.DEACTIVATE, 0x99n, AlarmType.NOSPACE)),
  );
  assert.deepEqual(none.alarms, []);
  await fx.close();

  s = fx.open();
  const all = response<AlarmResponse>(
    s.applier.apply(alarm(AlarmRequest_AlarmAction.GET, 0n, AlarmType.NONE)),
  );
  assert.deepEqual(
    all.alarms.map((a) => `${a.memberID.toString(16)}:${AlarmType[a.alarm]}`),
    ['10:NOSPACE', '30:NOSPACE', '20:CORRUPT'],
  );
  const nospace = response<AlarmResponse>(
    s.applier.apply(alarm(AlarmRequest_AlarmAction.GET, 0n, AlarmType.NOSPACE)),
  );
  assert.equal(nospace.alarms.length, 2);
  // CORRUPT refuses everything but alarm requests, reads included.
  const range = InternalRaftRequest.fromPartial({ range: RangeRequest.fromPartial({ key: bytes('a') }) });
  assert.equal(refused(s.applier.apply(range)), 'etcdserver: corrupt cluster');
  s.applier.apply(alarm(AlarmRequest_AlarmAction.DEACTIVATE, 0x20n, AlarmType.CORRUPT));
  assert.ok(s.applier.apply(range).ok);
  assert.equal(refused(s.applier.apply(put('x'))), NO_SPACE, 'NOSPACE still raised by two members');
});
