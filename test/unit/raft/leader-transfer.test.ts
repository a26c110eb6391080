// Leadership transfer (Raft thesis §3.10): MsgTimeoutNow to an up-to-date transferee.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ELECTION_TICK, Network } from './harness.js';

/** Leader 1 commits a few commands that 3 misses; 3 stays unreachable. */
function laggingTransferee(): Network {
  const net = new Network({ voters: [1n, 2n, 3n] });
  net.elect(1n);
  net.isolate(3n);
  for (const c of ['a', 'b', 'c']) net.propose(1n, c);
  return net;
}

describe('leader transfer', () => {
  test('transfer to an up-to-date follower makes it leader via MsgTimeoutNow', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');

    net.node(1n).transferLeadership(2n);
    net.deliver();

    assert.equal(net.messages('MsgTimeoutNow', { from: 1n, to: 2n }).length, 1);
    assert.equal(net.role(2n), 'leader');
    assert.equal(net.term(2n), 2);
    assert.equal(net.role(1n), 'follower');
    assert.equal(net.lead(1n), 2n);
    assert.equal(net.status(1n).leadTransferee, 0n);
    assert.deepEqual(net.propose(2n, 'b'), { ok: true });
    assert.deepEqual(net.member(1n).commands, ['a', 'b']);
  });

  test('a transfer requested at a follower is forwarded to the leader', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);

    net.node(3n).transferLeadership(3n);
    net.deliver();

    assert.equal(net.messages('MsgTransferLeader', { from: 3n, to: 1n }).length, 1);
    assert.equal(net.role(3n), 'leader');
  });

  test('transfer to a lagging follower first catches it up, then times it out', () => {
    const net = laggingTransferee();
    net.heal();
    const last = net.storage(1n).lastIndex();
    assert.ok(net.storage(3n).lastIndex() < last);

    net.node(1n).transferLeadership(3n);
    net.deliver();

    const timeoutAt = net.sent.findIndex((m) => m.type === 'MsgTimeoutNow');
    const caughtUpAt = net.sent.findIndex(
      (m) => m.type === 'MsgAppResp' && m.from === 3n && !m.reject && m.index >= last,
    );
    assert.ok(caughtUpAt >= 0, '3 was never caught up');
    assert.ok(timeoutAt > caughtUpAt, 'MsgTimeoutNow was sent before the transferee had the whole log');
    assert.equal(net.role(3n), 'leader');
    assert.deepEqual(net.member(3n).commands, ['a', 'b', 'c']);
  });

  test("proposals are dropped with 'leader-transfer-in-progress' during a transfer", () => {
    const net = laggingTransferee();

    net.node(1n).transferLeadership(3n);
    net.deliver();

    assert.equal(net.status(1n).leadTransferee, 3n);
    assert.equal(net.role(1n), 'leader');
    const lastIndex = net.storage(1n).lastIndex();
    assert.deepEqual(net.propose(1n, 'x'), { ok: false, reason: 'leader-transfer-in-progress' });
    assert.deepEqual(net.propose(2n, 'y'), { ok: true }, 'the follower forwards it');
    assert.equal(net.storage(1n).lastIndex(), lastIndex, 'a proposal was appended during the transfer');
  });

  test('a transfer aborts after an election timeout if the target never catches up', () => {
    const net = laggingTransferee();
    net.node(1n).transferLeadership(3n);
    net.deliver();

    net.tick(1n, ELECTION_TICK - 1);
    assert.equal(net.status(1n).leadTransferee, 3n, 'aborted too early');
    net.tick(1n);

    assert.equal(net.status(1n).leadTransferee, 0n);
    assert.equal(net.role(1n), 'leader');
    assert.equal(net.term(1n), 1);
    assert.equal(net.messages('MsgTimeoutNow').length, 0);
    assert.deepEqual(net.propose(1n, 'd'), { ok: true });
    assert.deepEqual(net.member(2n).commands, ['a', 'b', 'c', 'd']);
  });

  test('a transfer to a learner is ignored', () => {
    const net = new Network({ voters: [1n, 2n, 3n], learners: [4n] });
    net.elect(1n);

    net.node(1n).transferLeadership(4n);
    net.deliver();

    assert.equal(net.status(1n).leadTransferee, 0n);
    assert.equal(net.messages('MsgTimeoutNow').length, 0);
    assert.equal(net.role(1n), 'leader');
    assert.notEqual(net.role(4n), 'leader');
    assert.deepEqual(net.propose(1n, 'a'), { ok: true });
  });

  test('a transfer is not blocked by leader stickiness nor slowed down by pre-vote', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { checkQuorum: true, preVote: true });
    net.elect(1n);
    net.tick(1n);
    const mark = net.sent.length;

    net.node(1n).transferLeadership(2n);
    net.deliver();

    assert.equal(net.role(2n), 'leader');
    assert.equal(net.term(2n), 2);
    assert.equal(net.messages('MsgPreVote', { since: mark }).length, 0);
    const votes = net.messages('MsgVote', { from: 2n, since: mark });
    assert.ok(votes.length > 0 && votes.every((m) => m.leaderTransfer));
  });
});
