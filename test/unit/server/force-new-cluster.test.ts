// --force-new-cluster: the plan (which entries are cut, which conf changes are appended) and a real
// restart of one member of a three-member cluster, in-process over real data dirs: it comes up alone
// with its identity and every key, the others removed through the membership, and stays so after a
// restart without the flag.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';

import {
  bootstrapNewCluster,
  bootstrapPeers,
  decodeConfChangeContext,
  encodeMember,
  makeMember,
  type Member as ClusterMember,
} from '../../../src/membership/index.js';
import { InternalRaftRequest } from '../../../src/proto/etcdserverpb/raft_internal.js';
import { PutRequest, RangeRequest } from '../../../src/proto/etcdserverpb/rpc.js';
import { decodeConfChange, encodeConfChange } from '../../../src/raft/codec.js';
import type { ConfChange, Entry, Message } from '../../../src/raft/types.js';
import { openMember, type OpenMemberOptions } from '../../../src/server/bootstrap.js';
import { ForceNewClusterError, planForceNewCluster } from '../../../src/server/force-new-cluster.js';
import type { Member } from '../../../src/server/member.js';
import { Wal } from '../../../src/storage/wal/index.js';
import { bytes, text } from '../mvcc/helpers.js';
import { options } from './member-options.js';

// ---- The plan --------------------------------------------------------------------------------------

function cc(e: Entry): ConfChange {
  assert.equal(e.type, 'confChange');
  return decodeConfChange(e.data);
}

function confEntry(index: number, term: number, change: ConfChange): Entry {
  return { index, term, type: 'confChange', data: encodeConfChange(change) };
}

function add(id: bigint, learner = false): ConfChange {
  const m = makeMember({ id, peerUrls: [`http://10.0.0.${id}:2380`], isLearner: learner });
  return { type: learner ? 'addLearnerNode' : 'addNode', nodeId: id, context: encodeMember(m) };
}

function normal(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: bytes(`e${index}`) };
}

function member(id: bigint, isLearner = false): ClusterMember {
  return makeMember({ id, name: `m${id}`, peerUrls: [`http://10.0.0.${id}:2380`], isLearner });
}

/** A three-member log (bootstrap at term 1, then `n` commands at term 2) as member 1 holds it. */
function threeMemberLog(n: number): Entry[] {
  const entries = [1n, 2n, 3n].map((id, i) => confEntry(i + 1, 1, add(id)));
  for (let i = 0; i < n; i++) entries.push(normal(4 + i, 2));
  return entries;
}

describe('planForceNewCluster', () => {
  test('cuts the uncommitted tail and removes every other member at the end of the log', () => {
    const entries = threeMemberLog(5); // indexes 1..8
    const plan = planForceNewCluster({
      localId: 2n,
      snapshotConfState: undefined,
      snapshotIndex: 0,
      hardState: { term: 2, vote: 1n, commit: 6 },
      entries,
      appliedIndex: 5,
      members: [member(1n), member(2n), member(3n)],
      removedIds: [],
      advertisePeerUrls: ['http://127.0.0.1:9999'],
    });
    assert.equal(plan.commitIndex, 6);
    assert.deepEqual(plan.discarded, { firstIndex: 7, count: 2 });
    assert.deepEqual(
      plan.kept.map((e) => e.index),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      plan.appended.map((e) => [e.index, e.term, cc(e).type, cc(e).nodeId]),
      [
        [7, 2, 'removeNode', 1n],
        [8, 2, 'removeNode', 3n],
      ],
    );
    assert.deepEqual(plan.hardState, { term: 2, vote: 1n, commit: 8 });
    assert.deepEqual(plan.removedIds, [1n, 3n]);
    assert.equal(plan.addsSelf, false);
    assert.equal(plan.promotesSelf, false);
    assert.equal(plan.changed, true);
  });

  test('keeps what the backend applied even if the WAL commit lags, and takes the later hard-state term', () => {
    const plan = planForceNewCluster({
      localId: 1n,
      snapshotConfState: undefined,
      snapshotIndex: 0,
      hardState: { term: 3, vote: 0n, commit: 5 },
      entries: threeMemberLog(4), // 1..7
      appliedIndex: 7,
      members: [member(1n), member(2n), member(3n)],
      removedIds: [],
      advertisePeerUrls: [],
    });
    assert.equal(plan.discarded, undefined);
    assert.equal(plan.kept.length, 7);
    assert.deepEqual(
      plan.appended.map((e) => [e.index, e.term]),
      [
        [8, 3],
        [9, 3],
      ],
    );
    assert.equal(plan.hardState.commit, 9);
  });

  test('takes members from the snapshot and from conf changes the backend has not applied yet', () => {
    // Snapshot at 10 with voters 1, 2 and learner 4; then 5 is added (applied), 2 is removed (not
    // applied yet), 6 is added (not applied yet).
    const entries: Entry[] = [
      confEntry(11, 2, add(5n)),
      confEntry(12, 2, { type: 'removeNode', nodeId: 2n, context: new Uint8Array(0) }),
      confEntry(13, 2, add(6n)),
    ];
    const plan = planForceNewCluster({
      localId: 1n,
      snapshotConfState: { voters: [1n, 2n], learners: [4n] },
      snapshotIndex: 10,
      hardState: { term: 2, vote: 0n, commit: 13 },
      entries,
      appliedIndex: 11,
      members: [member(1n), member(2n), member(4n, true), member(5n)],
      removedIds: [],
      advertisePeerUrls: [],
    });
    assert.deepEqual(plan.removedIds, [4n, 5n, 6n]);
    assert.deepEqual(
      plan.appended.map((e) => [e.index, cc(e).type, cc(e).nodeId]),
      [
        [14, 'removeNode', 4n],
        [15, 'removeNode', 5n],
        [16, 'removeNode', 6n],
      ],
    );
  });

  test('adds the member when it is in no configuration (a backup), with its advertised peer URLs', () => {
    const emptied = threeMemberLog(2).map((e) => ({
      ...e,
      type: 'normal' as const,
      data: new Uint8Array(0),
    }));
    const plan = planForceNewCluster({
      localId: 0xabcn,
      snapshotConfState: undefined,
      snapshotIndex: 0,
      hardState: { term: 2, vote: 0n, commit: 5 },
      entries: emptied,
      appliedIndex: 5,
      members: [],
      removedIds: [],
      advertisePeerUrls: ['http://127.0.0.1:23456'],
    });
    assert.deepEqual(plan.removedIds, []);
    assert.equal(plan.addsSelf, true);
    assert.equal(plan.appended.length, 1);
    const change = cc(plan.appended[0]);
    assert.equal(change.type, 'addNode');
    assert.equal(change.nodeId, 0xabcn);
    const ctx = decodeConfChangeContext(change.context);
    assert.equal(ctx.isPromote, false);
    assert.deepEqual(ctx.member.peerUrls, ['http://127.0.0.1:23456']);
    assert.deepEqual(plan.hardState, { term: 2, vote: 0n, commit: 6 });
  });

  test('adds after removing, so a peer URL of a member being removed cannot clash', () => {
    const plan = planForceNewCluster({
      localId: 9n,
      snapshotConfState: { voters: [1n, 2n], learners: [] },
      snapshotIndex: 4,
      hardState: { term: 1, vote: 0n, commit: 4 },
      entries: [],
      appliedIndex: 4,
      members: [member(1n), member(2n)],
      removedIds: [],
      advertisePeerUrls: ['http://10.0.0.1:2380'],
    });
    assert.deepEqual(
      plan.appended.map((e) => [e.index, e.term, cc(e).type, cc(e).nodeId]),
      [
        [5, 1, 'removeNode', 1n],
        [6, 1, 'removeNode', 2n],
        [7, 1, 'addNode', 9n],
      ],
    );
  });

  test('promotes the member when it is a learner', () => {
    const entries = [...threeMemberLog(1), confEntry(5, 2, add(4n, true))];
    const plan = planForceNewCluster({
      localId: 4n,
      snapshotConfState: undefined,
      snapshotIndex: 0,
      hardState: { term: 2, vote: 0n, commit: 5 },
      entries,
      appliedIndex: 5,
      members: [member(1n), member(2n), member(3n), member(4n, true)],
      removedIds: [],
      advertisePeerUrls: [],
    });
    assert.equal(plan.promotesSelf, true);
    const last = cc(plan.appended[plan.appended.length - 1]);
    assert.equal(last.type, 'addNode');
    assert.equal(last.nodeId, 4n);
    assert.equal(decodeConfChangeContext(last.context).isPromote, true);
    assert.deepEqual(plan.removedIds, [1n, 2n, 3n]);
  });

  test('a member alone with nothing uncommitted needs nothing; alone with a tail, one empty entry', () => {
    const base = {
      localId: 1n,
      snapshotConfState: { voters: [1n], learners: [] },
      snapshotIndex: 3,
      appliedIndex: 5,
      members: [member(1n)],
      removedIds: [],
      advertisePeerUrls: [],
    };
    const entries = [normal(4, 2), normal(5, 2), normal(6, 2)];
    const quiet = planForceNewCluster({ ...base, hardState: { term: 2, vote: 1n, commit: 6 }, entries });
    assert.equal(quiet.changed, false);
    assert.deepEqual(quiet.appended, []);

    const tail = planForceNewCluster({ ...base, hardState: { term: 2, vote: 1n, commit: 5 }, entries });
    assert.deepEqual(tail.discarded, { firstIndex: 6, count: 1 });
    assert.deepEqual(tail.appended, [{ index: 6, term: 2, type: 'normal', data: new Uint8Array(0) }]);
    assert.equal(tail.hardState.commit, 6);
  });

  test('refuses a member that was removed from its cluster', () => {
    assert.throws(
      () =>
        planForceNewCluster({
          localId: 3n,
          snapshotConfState: undefined,
          snapshotIndex: 0,
          hardState: { term: 2, vote: 0n, commit: 4 },
          entries: [
            ...threeMemberLog(0),
            confEntry(4, 2, { type: 'removeNode', nodeId: 3n, context: new Uint8Array(0) }),
          ],
          appliedIndex: 4,
          members: [member(1n), member(2n)],
          removedIds: [3n],
          advertisePeerUrls: [],
        }),
      (e: unknown) => e instanceof ForceNewClusterError && /was removed from its cluster/.test(e.message),
    );
  });

  test('refuses a member to add without peer URLs', () => {
    assert.throws(
      () =>
        planForceNewCluster({
          localId: 7n,
          snapshotConfState: undefined,
          snapshotIndex: 0,
          hardState: { term: 0, vote: 0n, commit: 0 },
          entries: [],
          appliedIndex: 0,
          members: [],
          removedIds: [],
          advertisePeerUrls: [],
        }),
      ForceNewClusterError,
    );
    // With URLs, an empty log becomes a one-member cluster at term 1.
    const plan = planForceNewCluster({
      localId: 7n,
      snapshotConfState: undefined,
      snapshotIndex: 0,
      hardState: { term: 0, vote: 0n, commit: 0 },
      entries: [],
      appliedIndex: 0,
      members: [],
      removedIds: [],
      advertisePeerUrls: ['http://127.0.0.1:1'],
    });
    assert.deepEqual(
      plan.appended.map((e) => [e.index, e.term]),
      [[1, 1]],
    );
  });
});

// ---- A real restart ------------------------------------------------------------------------------

const NAMES = ['a', 'b', 'c'] as const;
const initialCluster = NAMES.map((n, i) => `${n}=http://127.0.0.1:${23800 + i}`).join(',');

function identityOf(name: string): { memberId: bigint; clusterId: bigint } {
  const i = NAMES.indexOf(name as (typeof NAMES)[number]);
  const c = bootstrapNewCluster({
    name,
    initialCluster,
    token: 'fnc-unit',
    advertisePeerUrls: [`http://127.0.0.1:${23800 + i}`],
  });
  return { memberId: c.localId, clusterId: c.clusterId };
}

const THREE = bootstrapNewCluster({
  name: 'a',
  initialCluster,
  token: 'fnc-unit',
  advertisePeerUrls: ['http://127.0.0.1:23800'],
});

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Three members in one process, their messages delivered in memory. */
async function startThree(root: string, t: TestContext): Promise<Map<string, Member>> {
  const byId = new Map<bigint, Member>();
  const members = new Map<string, Member>();
  const deliver = (msgs: readonly Message[]): void => {
    for (const msg of msgs) setImmediate(() => byId.get(msg.to)?.receiveMessages([msg]));
  };
  for (const name of NAMES) {
    const o: OpenMemberOptions = options(join(root, `${name}.etcd`), {
      name,
      identity: identityOf(name),
      bootstrapPeers: bootstrapPeers(THREE.members),
      peers: {
        send: deliver,
        addPeer: () => {},
        updatePeer: () => {},
        removePeer: () => {},
        activeSince: () => Date.now() - 60_000,
      },
      clientUrls: [`http://127.0.0.1:${23900 + NAMES.indexOf(name)}`],
    });
    const m = await openMember(o);
    t.after(() => m.stop());
    byId.set(m.memberId, m);
    members.set(name, m);
  }
  for (const m of members.values()) m.start();
  await until('a leader', () => [...members.values()].every((m) => m.hasLeader()));
  return members;
}

async function revisionOf(m: Member, key: string): Promise<bigint | undefined> {
  const r = await m.range(RangeRequest.fromPartial({ key: bytes(key), serializable: true }));
  return r.kvs[0]?.modRevision;
}

test('a member of three restarts alone with --force-new-cluster, keeping its identity and data', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'cairn-fnc-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const three = await startThree(root, t);
  const leader = [...three.values()].find((m) => m.leader === m.memberId)!;
  for (let i = 0; i < 50; i++) {
    await leader.put(PutRequest.fromPartial({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
  }
  const a = three.get('a')!;
  await until('a to apply everything', () => a.appliedIndex >= leader.appliedIndex);
  const revisions = [await revisionOf(a, 'k0'), await revisionOf(a, 'k49')];
  const revision = a.state.store.revision;
  const ids = [...three.values()].map((m) => m.memberId);
  for (const m of three.values()) await m.stop();

  // An entry that never committed at the end of a's log (a proposal it had appended when it stopped).
  const dir = join(root, 'a.etcd');
  const walDir = join(dir, 'member', 'wal');
  const w = await Wal.open(walDir, { index: 0, term: 0 });
  const last = w.readAll().entries.at(-1)!;
  const ghost = InternalRaftRequest.encode(
    InternalRaftRequest.fromPartial({
      header: { ID: 1n },
      put: { key: bytes('ghost'), value: bytes('never committed') },
    }),
  ).finish();
  await w.save(undefined, [{ index: last.index + 1, term: last.term, type: 'normal', data: ghost }]);
  await w.close();

  const logs: string[] = [];
  const logger = { info: (s: string) => logs.push(s), warn: (s: string) => logs.push(s), error: () => {} };
  const base = options(dir, {
    name: 'a',
    identity: { memberId: 0n, clusterId: 0n },
    bootstrapPeers: undefined,
    logger,
  });
  const added: bigint[] = [];
  const forced = await openMember({
    ...base,
    peers: { ...base.peers, addPeer: (id) => added.push(id) },
    forceNewCluster: { advertisePeerUrls: ['http://127.0.0.1:29999'] },
  });
  t.after(() => forced.stop());
  forced.start();
  await until('the forced member to lead', () => forced.leader === forced.memberId);
  assert.equal(forced.memberId, identityOf('a').memberId);
  assert.equal(forced.clusterId, THREE.clusterId);
  assert.deepEqual(added, [], 'the removed members are never dialled');
  assert.ok(
    logs.some((l) => /^forcing restart member /.test(l)),
    logs.join('\n'),
  );
  assert.ok(
    logs.includes(
      `discarding uncommitted WAL entries (entry-index ${last.index + 1}, ` +
        `commit-index-from-wal ${last.index}, number-of-discarded-entries 1)`,
    ),
    logs.join('\n'),
  );
  assert.equal(await revisionOf(forced, 'ghost'), undefined);

  const list = await forced.memberList({ linearizable: false });
  assert.deepEqual(
    list.members.map((m) => [m.ID, m.name, m.peerURLs]),
    [[forced.memberId, 'a', ['http://127.0.0.1:23800']]],
    'only this member, with its old peer URL (as etcd)',
  );
  assert.deepEqual(
    forced.state.cluster.removedIds(),
    ids.filter((id) => id !== forced.memberId).sort((x, y) => (x < y ? -1 : 1)),
  );
  assert.equal(forced.state.store.revision, revision);
  assert.deepEqual([await revisionOf(forced, 'k0'), await revisionOf(forced, 'k49')], revisions);
  const put = await forced.put(PutRequest.fromPartial({ key: bytes('after'), value: bytes('1') }));
  assert.equal(put.header?.revision, BigInt(revision + 1));
  await forced.stop();

  // The WAL now says it: the removals are committed entries of the log.
  const walRead = Wal.read(walDir, { index: 0, term: 0 });
  const removals = walRead.entries
    .filter((e) => e.type === 'confChange')
    .map((e) => decodeConfChange(e.data))
    .filter((c) => c.type === 'removeNode');
  assert.equal(removals.length, 2);

  // A restart without the flag: still alone, still leading, still writable.
  const again = await openMember(base);
  t.after(() => again.stop());
  again.start();
  await until('the restarted member to lead', () => again.leader === again.memberId);
  assert.equal((await again.memberList({ linearizable: false })).members.length, 1);
  const got = await again.range(RangeRequest.fromPartial({ key: bytes('after') }));
  assert.equal(text(got.kvs[0].value), '1');
  assert.equal(await revisionOf(again, 'ghost'), undefined, 'the dropped entry stays dropped');
  await again.put(PutRequest.fromPartial({ key: bytes('again'), value: bytes('2') }));
  await again.stop();
});

test('a removed member refuses --force-new-cluster and leaves its data dir as it was', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'cairn-fnc-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const three = await startThree(root, t);
  const leader = [...three.values()].find((m) => m.leader === m.memberId)!;
  const victim = [...three.entries()].find(([, m]) => m !== leader)!;
  // A new leader takes no conf change before an entry of its term is applied: retry until it does.
  for (let attempt = 0; ; attempt++) {
    try {
      await leader.memberRemove({ ID: victim[1].memberId });
      break;
    } catch (e) {
      if (attempt > 100 || !/conf-change-pending/.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await until('the victim to learn it was removed', () => victim[1].removed);
  for (const m of three.values()) await m.stop();

  const dir = join(root, `${victim[0]}.etcd`);
  const before = Wal.read(join(dir, 'member', 'wal'), { index: 0, term: 0 });
  await assert.rejects(
    openMember({
      ...options(dir, { name: victim[0], bootstrapPeers: undefined }),
      forceNewCluster: { advertisePeerUrls: ['http://127.0.0.1:29998'] },
    }),
    (e: unknown) => e instanceof ForceNewClusterError,
  );
  const after = Wal.read(join(dir, 'member', 'wal'), { index: 0, term: 0 });
  assert.deepEqual(after, before);
});
