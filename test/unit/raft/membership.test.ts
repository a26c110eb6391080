// Raft §6 (cluster membership changes, one member at a time) and learners.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeConfChange } from '../../../src/raft/codec.js';
import { bytes, confChange, ELECTION_TICK, Network, sorted } from './harness.js';

/** A three-voter cluster led by 1 with one committed command. */
function cluster(): Network {
  const net = new Network({ voters: [1n, 2n, 3n] });
  net.elect(1n);
  net.propose(1n, 'a');
  return net;
}

/** cluster() plus member 4 added as a learner. */
function clusterWithLearner(): Network {
  const net = cluster();
  net.addMember(4n, { voters: [1n, 2n, 3n], learners: [4n] });
  assert.deepEqual(net.node(1n).proposeConfChange(confChange('addLearnerNode', 4n)), { ok: true });
  net.deliver();
  net.tick(1n);
  return net;
}

describe('§6 membership changes', () => {
  test('an added voter receives the log and counts towards the quorum', () => {
    const net = cluster();
    net.addMember(4n, { voters: [1n, 2n, 3n, 4n], learners: [] });

    assert.deepEqual(net.node(1n).proposeConfChange(confChange('addNode', 4n)), { ok: true });
    net.deliver();
    net.tick(1n);

    for (const id of [1n, 2n, 3n, 4n]) {
      assert.deepEqual(sorted(net.status(id).confState.voters), [1n, 2n, 3n, 4n], `member ${id}`);
    }
    assert.deepEqual(net.log(4n), net.log(1n));
    assert.deepEqual(net.member(4n).commands, ['a']);
    assert.equal(net.progress(1n, 4n).match, net.storage(1n).lastIndex());

    // Four voters: 1 and 2 alone are no longer a majority, 1, 2 and 4 are.
    net.isolate(3n);
    const cut4 = net.isolate(4n);
    const commit = net.commit(1n);
    net.propose(1n, 'b');
    assert.equal(net.commit(1n), commit, 'two of four voters committed an entry');
    cut4();
    net.tick(1n);
    assert.ok(net.commit(1n) > commit);
    assert.deepEqual(net.member(4n).commands, ['a', 'b']);
  });

  test('a removed voter stops taking part', () => {
    const net = cluster();

    assert.deepEqual(net.node(1n).proposeConfChange(confChange('removeNode', 3n)), { ok: true });
    net.deliver();

    for (const id of [1n, 2n, 3n]) {
      assert.deepEqual(sorted(net.status(id).confState.voters), [1n, 2n], `member ${id}`);
    }
    assert.equal(net.status(1n).progress.has(3n), false);

    // The leader no longer sends to 3, and 1 and 2 alone now make a quorum.
    const mark = net.sent.length;
    net.tick(1n, 3);
    assert.deepEqual(net.propose(1n, 'b'), { ok: true });
    assert.equal(net.messages('MsgApp', { to: 3n, since: mark }).length, 0);
    assert.equal(net.messages('MsgHeartbeat', { to: 3n, since: mark }).length, 0);
    assert.deepEqual(net.member(2n).commands, ['a', 'b']);

    // 3 knows it is out: it never campaigns.
    net.tick(3n, 3 * ELECTION_TICK);
    assert.equal(net.role(3n), 'follower');
    assert.equal(
      net.messages('MsgVote', { from: 3n }).length + net.messages('MsgPreVote', { from: 3n }).length,
      0,
    );
    assert.equal(net.role(1n), 'leader');
  });

  test('a learner receives the log but never campaigns', () => {
    const net = clusterWithLearner();

    const pr = net.progress(1n, 4n);
    assert.equal(pr.isLearner, true);
    assert.deepEqual(net.status(1n).confState.learners, [4n]);
    assert.deepEqual(net.member(4n).commands, ['a']);
    net.propose(1n, 'b');
    assert.deepEqual(net.member(4n).commands, ['a', 'b']);

    net.isolate(4n);
    net.tick(4n, 3 * ELECTION_TICK);
    net.node(4n).campaign();
    net.deliver();
    assert.equal(net.role(4n), 'follower');
    assert.equal(
      net.messages('MsgVote', { from: 4n }).length + net.messages('MsgPreVote', { from: 4n }).length,
      0,
    );
  });

  test("a learner's vote is not counted", () => {
    const net = clusterWithLearner();
    net.isolate(1n);
    net.isolate(3n);

    net.node(2n).campaign();
    net.deliver();
    assert.equal(net.role(2n), 'candidate');
    const term = net.term(2n);
    const last = net.storage(2n).lastIndex();

    // The learner answers a vote request (as in etcd) and grants it...
    net.inject({
      type: 'MsgVote',
      from: 2n,
      to: 4n,
      term,
      index: last,
      logTerm: net.storage(2n).term(last),
      leaderTransfer: false,
    });
    assert.deepEqual(
      net.messages('MsgVoteResp', { from: 4n, to: 2n }).map((m) => m.reject),
      [false],
    );
    // ...but {2, 4} is not a majority of the voters {1, 2, 3}.
    assert.equal(net.role(2n), 'candidate');

    // A voter's grant does count.
    net.inject({ type: 'MsgVoteResp', from: 3n, to: 2n, term, reject: false });
    assert.equal(net.role(2n), 'leader');
  });

  test("a learner is promoted to voter with 'addNode'", () => {
    const net = clusterWithLearner();

    assert.deepEqual(net.node(1n).proposeConfChange(confChange('addNode', 4n)), { ok: true });
    net.deliver();

    for (const id of [1n, 4n]) {
      assert.deepEqual(sorted(net.status(id).confState.voters), [1n, 2n, 3n, 4n], `member ${id}`);
      assert.deepEqual(net.status(id).confState.learners, [], `member ${id}`);
    }
    assert.equal(net.progress(1n, 4n).isLearner, false);

    // Now a voter, 4 campaigns when the leader goes away, and wins.
    net.isolate(1n);
    const ticks = net.tickUntil(4n, () => net.role(4n) === 'leader', 3 * ELECTION_TICK);
    assert.ok(ticks !== undefined, 'the promoted member never won an election');
    assert.equal(net.lead(2n), 4n);
  });

  test('a second membership change is refused while the first is not applied', () => {
    const net = cluster();
    const leader = net.node(1n);

    assert.deepEqual(leader.proposeConfChange(confChange('addLearnerNode', 4n)), { ok: true });
    assert.deepEqual(leader.proposeConfChange(confChange('addLearnerNode', 5n)), {
      ok: false,
      reason: 'conf-change-pending',
    });
    net.deliver();

    assert.deepEqual(net.status(1n).confState.learners, [4n]);
    assert.deepEqual(leader.proposeConfChange(confChange('addLearnerNode', 5n)), { ok: true });
    net.deliver();
    assert.deepEqual(sorted(net.status(1n).confState.learners), [4n, 5n]);
  });

  test('a new leader accepts no membership change until its first entry is applied', () => {
    const net = cluster();
    // 2 wins term 2, but no acknowledgement of its empty entry arrives: that entry is not committed.
    const undo = net.drop((m) => m.type === 'MsgAppResp' && m.to === 2n);
    net.elect(2n);

    assert.deepEqual(net.node(2n).proposeConfChange(confChange('addLearnerNode', 4n)), {
      ok: false,
      reason: 'conf-change-pending',
    });

    undo();
    net.tick(2n);
    assert.equal(net.member(2n).appliedIndex, net.storage(2n).lastIndex());
    assert.deepEqual(net.node(2n).proposeConfChange(confChange('addLearnerNode', 4n)), { ok: true });
    net.deliver();
    assert.deepEqual(net.status(2n).confState.learners, [4n]);
  });

  test('a membership change proposed at a follower is forwarded and applied', () => {
    const net = cluster();

    assert.deepEqual(net.node(2n).proposeConfChange(confChange('addLearnerNode', 4n)), { ok: true });
    net.deliver();

    for (const id of [1n, 2n, 3n]) assert.deepEqual(net.status(id).confState.learners, [4n], `member ${id}`);
  });

  test('removing a voter lets entries that were waiting for its acknowledgement commit', () => {
    // One entry per append; 2 receives the removal (index 3) but never the entry after it.
    const net = new Network({ voters: [1n, 2n] }, { maxSizePerMsg: 1 });
    net.elect(1n);
    net.propose(1n, 'a');
    net.drop((m) => m.type === 'MsgApp' && m.to === 2n && m.entries.some((e) => e.index >= 4));

    assert.deepEqual(net.node(1n).proposeConfChange(confChange('removeNode', 2n)), { ok: true });
    assert.deepEqual(net.node(1n).propose(bytes('b')), { ok: true });
    net.deliver();

    assert.deepEqual(net.status(1n).confState.voters, [1n]);
    assert.equal(net.commit(1n), 4, 'the sole remaining voter is a quorum by itself');
    assert.deepEqual(net.member(1n).commands, ['a', 'b']);
  });

  test('a leader that removes itself steps down once the change is applied', () => {
    const net = cluster();

    assert.deepEqual(net.node(1n).proposeConfChange(confChange('removeNode', 1n)), { ok: true });
    assert.equal(net.role(1n), 'leader', 'still leader while the change is in flight');
    net.deliver();

    assert.notEqual(net.role(1n), 'leader');
    for (const id of [2n, 3n]) {
      assert.deepEqual(sorted(net.status(id).confState.voters), [2n, 3n], `member ${id}`);
      assert.deepEqual(net.member(id).commands, ['a'], `member ${id}`);
    }

    // The remaining two elect a leader among themselves; 1 stays out.
    const ticks = net.tickUntil(2n, () => net.role(2n) === 'leader', 3 * ELECTION_TICK);
    assert.ok(ticks !== undefined, 'no new leader');
    const mark = net.sent.length;
    net.tick(1n, 3 * ELECTION_TICK);
    assert.equal(net.role(2n), 'leader');
    assert.notEqual(net.role(1n), 'leader');
    assert.equal(net.messages('MsgVote', { from: 1n, since: mark }).length, 0);
    assert.deepEqual(net.propose(2n, 'b'), { ok: true });
    assert.deepEqual(net.member(3n).commands, ['a', 'b']);
  });

  test('removing the last voter is refused', () => {
    const net = new Network({ voters: [1n], learners: [2n] });
    net.elect(1n);

    assert.deepEqual(net.node(1n).proposeConfChange(confChange('removeNode', 1n)), {
      ok: false,
      reason: 'removes-all-voters',
    });
    // Removing the learner is still allowed.
    assert.deepEqual(net.node(1n).proposeConfChange(confChange('removeNode', 2n)), { ok: true });
  });
});

describe('bootstrapping a new cluster', () => {
  test('the initial members become committed conf change entries 1..n of term 1', () => {
    const net = new Network({ voters: [1n, 2n, 3n], bootstrap: true });

    for (const id of [1n, 2n, 3n]) {
      const log = net.log(id);
      assert.deepEqual(
        log.map((e) => [e.index, e.term, e.type]),
        [
          [1, 1, 'confChange'],
          [2, 1, 'confChange'],
          [3, 1, 'confChange'],
        ],
      );
      assert.deepEqual(
        log.map((e) => decodeConfChange(e.data)).map((cc) => [cc.type, cc.nodeId]),
        [
          ['addNode', 1n],
          ['addNode', 2n],
          ['addNode', 3n],
        ],
      );
      assert.deepEqual(net.storage(id).initialState().hardState, { term: 1, vote: 0n, commit: 3 });
      assert.deepEqual(sorted(net.status(id).confState.voters), [1n, 2n, 3n]);
      assert.equal(net.member(id).appliedIndex, 3);
    }
    net.elect(2n);
    net.propose(2n, 'a');
    for (const id of [1n, 2n, 3n]) assert.deepEqual(net.member(id).commands, ['a'], `member ${id}`);
  });

  test('a member added later learns the initial configuration by replaying the log from index 1', () => {
    const net = new Network({ voters: [1n, 2n, 3n], bootstrap: true });
    net.elect(1n);
    net.propose(1n, 'a');
    net.addMember(4n);
    assert.deepEqual(net.status(4n).confState, { voters: [], learners: [] });

    assert.deepEqual(net.node(1n).proposeConfChange(confChange('addNode', 4n)), { ok: true });
    net.deliver();
    net.tick(1n);

    assert.deepEqual(net.log(4n), net.log(1n));
    assert.deepEqual(sorted(net.status(4n).confState.voters), [1n, 2n, 3n, 4n]);
    assert.deepEqual(net.member(4n).commands, ['a']);
    // And it can lead the cluster it learned.
    net.elect(4n);
    net.propose(4n, 'b');
    assert.deepEqual(net.member(2n).commands, ['a', 'b']);
  });

  test('a restart after applied membership changes restores the configuration from the log', () => {
    const net = new Network({ voters: [1n, 2n, 3n], bootstrap: true });
    net.elect(1n);
    assert.deepEqual(net.node(1n).proposeConfChange(confChange('removeNode', 3n)), { ok: true });
    net.deliver();
    net.propose(1n, 'a');
    // Nothing was snapshotted: the configuration at index 0 is empty, and every change is in the log.
    const restarted = net.restart(2n);
    assert.deepEqual(sorted(restarted.node.status().confState.voters), [1n, 2n]);
    net.isolate(3n);
    net.elect(2n);
    net.propose(2n, 'b');
    assert.deepEqual(net.member(1n).commands, ['a', 'b']);
  });

  test('bootstrap refuses storage that already holds a log', () => {
    const net = new Network({ voters: [1n], bootstrap: true });
    assert.throws(() => net.node(1n).bootstrap([{ id: 1n }]), /bootstrap needs empty storage/);
    const fresh = new Network({ voters: [] });
    const m = fresh.addMember(5n);
    assert.throws(() => m.node.bootstrap([{ id: 5n }, { id: 5n }]), /distinct/);
    assert.throws(() => m.node.bootstrap([]), /at least one member/);
  });
});
