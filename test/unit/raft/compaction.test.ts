// Raft §7 (log compaction): a follower behind the leader's compacted log is sent a snapshot.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { confChange, Network, sorted } from './harness.js';

/** Leader 1 commits five commands while 3 is cut off, then compacts its whole log. */
function laggingFollower(): { net: Network; snapshotIndex: number } {
  const net = new Network({ voters: [1n, 2n, 3n] });
  net.elect(1n);
  const cut = net.isolate(3n);
  for (const c of ['a', 'b', 'c', 'd', 'e']) net.propose(1n, c);
  const snap = net.compact(1n);
  assert.equal(net.storage(1n).firstIndex(), snap.metadata.index + 1);
  assert.ok(net.storage(3n).lastIndex() < snap.metadata.index);
  cut();
  return { net, snapshotIndex: snap.metadata.index };
}

describe('§7 log compaction', () => {
  test('a follower that fell behind the compacted log receives a snapshot and catches up', () => {
    const { net, snapshotIndex } = laggingFollower();

    net.tick(1n);

    const snaps = net.messages('MsgSnap', { from: 1n, to: 3n });
    assert.equal(snaps.length, 1);
    assert.equal(snaps[0]!.snapshot.metadata.index, snapshotIndex);
    assert.deepEqual(
      net.member(3n).snapshots.map((s) => s.metadata.index),
      [snapshotIndex],
    );
    assert.equal(net.storage(3n).snapshot().metadata.index, snapshotIndex);
    assert.deepEqual(net.member(3n).commands, ['a', 'b', 'c', 'd', 'e']);
    assert.equal(net.commit(3n), snapshotIndex);

    // Replication then carries on with ordinary appends.
    net.propose(1n, 'f');
    assert.deepEqual(net.member(3n).commands, ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.equal(net.progress(1n, 3n).state, 'replicate');
    assert.equal(net.progress(1n, 3n).match, net.storage(1n).lastIndex());
    assert.equal(net.messages('MsgSnap').length, 1);
  });

  test("progress goes through 'snapshot' state; a failed snapshot returns it to probe", () => {
    const { net, snapshotIndex } = laggingFollower();
    const undo = net.dropType('MsgSnap'); // the transport loses the snapshot

    net.tick(1n);
    assert.equal(net.messages('MsgSnap', { to: 3n }).length, 1);
    assert.equal(net.progress(1n, 3n).state, 'snapshot');

    // While the snapshot is (supposedly) on its way, nothing else is sent to 3 but heartbeats.
    const mark = net.sent.length;
    net.tick(1n, 3);
    assert.equal(net.messages('MsgApp', { to: 3n, since: mark }).length, 0);
    assert.equal(net.messages('MsgSnap', { to: 3n, since: mark }).length, 0);
    assert.equal(net.progress(1n, 3n).state, 'snapshot');

    net.node(1n).reportSnapshot(3n, 'failure');
    net.deliver();
    const pr = net.progress(1n, 3n);
    assert.equal(pr.state, 'probe');
    assert.equal(pr.next, pr.match + 1, 'after a failure probing restarts right after the match');

    // The next heartbeat round retries with a new snapshot, which now arrives.
    undo();
    net.tick(1n);
    assert.equal(net.messages('MsgSnap', { to: 3n }).length, 2);
    assert.equal(net.storage(3n).snapshot().metadata.index, snapshotIndex);
    assert.deepEqual(net.member(3n).commands, ['a', 'b', 'c', 'd', 'e']);
    assert.equal(net.progress(1n, 3n).match, net.storage(1n).lastIndex());
  });

  test("a snapshot reported as 'finish' resumes probing right after the snapshot", () => {
    const { net, snapshotIndex } = laggingFollower();
    net.hold((m) => m.type === 'MsgSnap');

    net.tick(1n);
    assert.equal(net.progress(1n, 3n).state, 'snapshot');

    net.node(1n).reportSnapshot(3n, 'finish'); // the transport delivered it (3 has not answered yet)
    net.deliver();
    const pr = net.progress(1n, 3n);
    assert.equal(pr.state, 'probe');
    assert.equal(pr.next, snapshotIndex + 1);

    net.releaseHeld();
    net.tick(1n);
    assert.equal(net.progress(1n, 3n).state, 'replicate');
    assert.equal(net.progress(1n, 3n).match, net.storage(1n).lastIndex());
    assert.deepEqual(net.member(3n).commands, ['a', 'b', 'c', 'd', 'e']);
    assert.equal(net.messages('MsgSnap').length, 1);
  });

  test('a new member with empty storage learns the configuration from a snapshot', () => {
    const { net } = laggingFollower();
    net.addMember(4n, { voters: [], learners: [] });
    const rejoin = net.isolate(4n);
    assert.deepEqual(net.node(1n).proposeConfChange(confChange('addLearnerNode', 4n)), { ok: true });
    net.deliver();
    const snap = net.compact(1n); // this snapshot's configuration includes 4
    rejoin();

    net.tick(1n);

    assert.deepEqual(
      net.member(4n).snapshots.map((s) => s.metadata.index),
      [snap.metadata.index],
    );
    assert.deepEqual(sorted(net.status(4n).confState.voters), [1n, 2n, 3n]);
    assert.deepEqual(net.status(4n).confState.learners, [4n]);
    assert.deepEqual(net.member(4n).commands, ['a', 'b', 'c', 'd', 'e']);
    net.propose(1n, 'f');
    assert.deepEqual(net.member(4n).commands, ['a', 'b', 'c', 'd', 'e', 'f']);
  });

  test('a member restarted after installing a snapshot resumes from it', () => {
    const { net, snapshotIndex } = laggingFollower();
    net.tick(1n);
    assert.equal(net.storage(3n).snapshot().metadata.index, snapshotIndex);

    net.restart(3n);

    assert.equal(net.status(3n).hardState.commit, net.commit(1n));
    assert.deepEqual(sorted(net.status(3n).confState.voters), [1n, 2n, 3n]);
    net.propose(1n, 'f');
    assert.deepEqual(net.member(3n).commands, ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.deepEqual(net.log(3n), net.log(1n));

    // It can even lead: its log is complete.
    net.elect(3n);
    assert.deepEqual(net.propose(3n, 'g'), { ok: true });
    assert.deepEqual(net.member(1n).commands, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });
});
