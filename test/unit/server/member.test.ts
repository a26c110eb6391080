// A single member in-process over a real data dir: writes go through raft and the WAL, reads through
// ReadIndex, and a restart finds everything that was acknowledged.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  LeaseGrantRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
} from '../../../src/proto/etcdserverpb/rpc.js';
import { openMember, type OpenMemberOptions } from '../../../src/server/bootstrap.js';
import type { Member } from '../../../src/server/member.js';
import { bytes, text } from '../mvcc/helpers.js';
import { options } from './member-options.js';

async function started(o: OpenMemberOptions): Promise<Member> {
  const m = await openMember(o);
  m.start();
  const deadline = Date.now() + 10_000;
  while (!m.hasLeader()) {
    if (Date.now() > deadline) throw new Error('no leader within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  return m;
}

/**
 * A temp dir for a test's members. It goes when the test ends, after the members handed to
 * `stopLater` have stopped (after-hooks run in the order they were added, so one hook does both).
 */
function tempDir(t: { after: (fn: () => Promise<void>) => void }): {
  dir: string;
  stopLater: (m: Member) => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-member-'));
  const members: Member[] = [];
  t.after(async () => {
    for (const m of members) await m.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, stopLater: (m) => members.push(m) };
}

test('a single member elects itself, applies writes through raft and serves linearizable reads', async (t) => {
  const { dir, stopLater } = tempDir(t);
  const m = await started(options(join(dir, 'default.etcd')));
  stopLater(m);
  const put = await m.put(PutRequest.fromPartial({ key: bytes('foo'), value: bytes('bar') }));
  assert.equal(put.header?.revision, 2n);
  assert.equal(put.header?.memberId, 0x8e9e05c52164694dn);
  assert.equal(put.header?.clusterId, 0xcdf818194e3a8c32n);
  assert.ok((put.header?.raftTerm ?? 0n) >= 2n);
  const members = await m.memberList({ linearizable: false });
  assert.deepEqual(members.members, [
    {
      ID: 0x8e9e05c52164694dn,
      name: 'default',
      peerURLs: ['http://localhost:2380'],
      clientURLs: ['http://127.0.0.1:2379'],
      isLearner: false,
    },
  ]);
  const got = await m.range(RangeRequest.fromPartial({ key: bytes('foo') }));
  assert.deepEqual(
    got.kvs.map((kv) => text(kv.value)),
    ['bar'],
  );
  const txn = await m.txn(
    TxnRequest.fromPartial({
      success: [
        { request: { $case: 'requestRange', value: RangeRequest.fromPartial({ key: bytes('foo') }) } },
      ],
    }),
  );
  assert.equal(txn.succeeded, true);
  assert.equal(txn.header?.revision, 2n, 'a read-only txn does not advance the revision');
  assert.ok(existsSync(join(dir, 'default.etcd', 'member', 'wal')));
  assert.ok(existsSync(join(dir, 'default.etcd', 'member', 'snap', 'db')));
});

test('a restart finds every acknowledged write, with the same revisions and leases', async (t) => {
  const { dir, stopLater } = tempDir(t);
  const o = options(join(dir, 'm.etcd'), { snapshotCount: 50 });
  let m = await started(o);
  for (let group = 0; group < 4; group++) {
    const writes: Promise<unknown>[] = [];
    for (let i = group * 50; i < (group + 1) * 50; i++) {
      writes.push(m.put(PutRequest.fromPartial({ key: bytes(`k${i % 20}`), value: bytes(`v${i}`) })));
    }
    await Promise.all(writes);
  }
  const lease = await m.leaseGrant(LeaseGrantRequest.fromPartial({ TTL: 600n }));
  assert.ok(lease.ID > 0n);
  await m.stop();
  const snaps = readdirSync(join(dir, 'm.etcd', 'member', 'snap')).filter((n) => n.endsWith('.snap'));
  assert.ok(snaps.length >= 3, `raft snapshots every 50 entries: ${snaps.join(' ')}`);

  m = await started(o);
  stopLater(m);
  const all = await m.range(RangeRequest.fromPartial({ key: bytes('k'), rangeEnd: bytes('l') }));
  assert.equal(all.count, 20n);
  assert.equal(all.header?.revision, 201n);
  const last = await m.range(RangeRequest.fromPartial({ key: bytes('k19') }));
  assert.equal(text(last.kvs[0].value), 'v199');
  assert.deepEqual(
    (await m.leaseLeases()).leases.map((l) => l.ID),
    [lease.ID],
  );
  const after = await m.put(PutRequest.fromPartial({ key: bytes('z'), value: bytes('1') }));
  assert.equal(after.header?.revision, 202n);
});

test('the purge keeps the newest --max-snapshots snapshot files; a restart still finds everything', async (t) => {
  const { dir, stopLater } = tempDir(t);
  const snapDir = join(dir, 'm.etcd', 'member', 'snap');
  const o = options(join(dir, 'm.etcd'), { snapshotCount: 20, maxSnapshots: 2, purgeIntervalMs: 10 });
  let m = await started(o);
  for (let i = 0; i < 150; i++)
    await m.put(PutRequest.fromPartial({ key: bytes(`k${i}`), value: bytes('v') }));
  const snaps = (): string[] => readdirSync(snapDir).filter((n) => n.endsWith('.snap'));
  const deadline = Date.now() + 10_000;
  while (snaps().length > 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(snaps().length, 2, `older snapshots purged: ${snaps().join(' ')}`);
  await m.stop();
  m = await started(o);
  stopLater(m);
  const all = await m.range(RangeRequest.fromPartial({ key: bytes('k'), rangeEnd: bytes('l') }));
  assert.equal(all.count, 150n);
});

test("requests over --max-request-bytes are refused with etcd's error", async (t) => {
  const { dir, stopLater } = tempDir(t);
  const m = await started(options(join(dir, 'm.etcd'), { maxRequestBytes: 1024 }));
  stopLater(m);
  await assert.rejects(
    m.put(PutRequest.fromPartial({ key: bytes('big'), value: new Uint8Array(2000) })),
    (e: unknown) => e instanceof Error && e.message === 'etcdserver: request is too large',
  );
  assert.equal((await m.range(RangeRequest.fromPartial({ key: bytes('big') }))).count, 0n);
});
