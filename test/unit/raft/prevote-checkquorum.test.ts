// Raft thesis §9.6 (pre-vote) and §6.2 (check-quorum, leader stickiness): disruption prevention.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ELECTION_TICK, Network } from './harness.js';

describe('pre-vote', () => {
  test('campaign sends pre-votes for term+1 and raises its own term only once they are won', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { preVote: true });
    net.hold((m) => m.type === 'MsgPreVoteResp');

    net.node(1n).campaign();
    net.deliver();

    assert.equal(net.role(1n), 'preCandidate');
    assert.equal(net.term(1n), 0);
    assert.deepEqual(
      net.messages('MsgPreVote', { from: 1n }).map((m) => [m.to, m.term]),
      [
        [2n, 1],
        [3n, 1],
      ],
    );
    assert.equal(net.messages('MsgVote').length, 0);
    for (const id of [2n, 3n]) assert.equal(net.term(id), 0, 'a pre-vote does not move the voter either');

    net.releaseHeld();
    assert.equal(net.role(1n), 'leader');
    for (const id of [1n, 2n, 3n]) assert.equal(net.term(id), 1);
  });

  test('a partitioned member rejoining with a stale log does not depose the leader', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { preVote: true });
    net.elect(1n);
    const rejoin = net.isolate(3n);
    net.propose(1n, 'a');
    net.propose(1n, 'b');

    net.tick(3n, 5 * ELECTION_TICK); // 3 keeps pre-campaigning, in vain
    assert.equal(net.term(3n), 1, 'pre-votes must not raise the term');
    assert.ok(net.messages('MsgPreVote', { from: 3n }).length > 0);
    assert.equal(net.messages('MsgVote', { from: 3n }).length, 0);

    rejoin();
    const mark = net.sent.length;
    net.node(3n).campaign();
    net.deliver();

    assert.deepEqual(
      net.messages('MsgPreVoteResp', { to: 3n, since: mark }).map((m) => [m.from, m.reject]),
      [
        [1n, true],
        [2n, true],
      ],
    );
    assert.equal(net.messages('MsgVote', { since: mark }).length, 0);
    for (const id of [1n, 2n, 3n]) assert.equal(net.term(id), 1, `member ${id}`);
    assert.equal(net.role(1n), 'leader');

    // The leader's next heartbeat brings 3 back.
    net.tick(1n);
    assert.equal(net.role(3n), 'follower');
    assert.equal(net.lead(3n), 1n);
    assert.deepEqual(net.member(3n).commands, ['a', 'b']);
  });

  test('with check-quorum, even an up-to-date rejoining member is refused while the leader is alive', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { preVote: true, checkQuorum: true });
    net.elect(1n);
    const rejoin = net.isolate(3n);
    net.tick(3n, 3 * ELECTION_TICK);
    assert.equal(net.role(3n), 'preCandidate');
    rejoin();

    const mark = net.sent.length;
    net.node(3n).campaign();
    net.deliver();

    assert.equal(
      net.messages('MsgPreVoteResp', { to: 3n, since: mark }).filter((m) => !m.reject).length,
      0,
      'a member that hears from its leader granted a pre-vote',
    );
    for (const id of [1n, 2n, 3n]) assert.equal(net.term(id), 1, `member ${id}`);
    assert.equal(net.role(1n), 'leader');
  });
});

describe('check-quorum', () => {
  test('a leader cut off from a quorum steps down within two election timeouts', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { checkQuorum: true });
    net.elect(1n);
    net.isolate(1n);

    const ticks = net.tickUntil(1n, () => net.role(1n) !== 'leader', 3 * ELECTION_TICK);

    assert.ok(ticks !== undefined && ticks <= 2 * ELECTION_TICK, `still leader after ${ticks} ticks`);
    assert.equal(net.role(1n), 'follower');
    assert.equal(net.lead(1n), 0n);
    assert.equal(net.term(1n), 1);
  });

  test('a leader that hears from a quorum keeps its leadership', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { checkQuorum: true });
    net.elect(1n);
    net.isolate(3n); // one follower is enough for a quorum

    net.tick(1n, 5 * ELECTION_TICK);

    assert.equal(net.role(1n), 'leader');
    assert.equal(net.term(1n), 1);
  });

  test('leader stickiness: a follower that heard from the leader recently ignores a vote request', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { checkQuorum: true });
    net.elect(1n);
    net.tick(1n);
    const mark = net.sent.length;

    net.node(3n).campaign();
    net.deliver();

    assert.equal(net.term(3n), 2);
    assert.equal(net.role(3n), 'candidate');
    assert.equal(
      net.messages('MsgVoteResp', { to: 3n, since: mark }).filter((m) => !m.reject).length,
      0,
      'a vote was granted inside the leader lease',
    );
    assert.deepEqual(net.status(2n).hardState.term, 1);
    assert.equal(net.status(2n).hardState.vote, 1n);
    assert.equal(net.lead(2n), 1n);
    assert.equal(net.role(1n), 'leader');
    assert.equal(net.term(1n), 1);
  });

  test('a member stuck at a higher term is brought back in (etcd answers stale heartbeats)', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { checkQuorum: true });
    net.elect(1n);
    const rejoin = net.isolate(3n);
    net.propose(1n, 'a');
    net.tick(3n, 4 * ELECTION_TICK); // 3 campaigns again and again, raising its term
    const stuckTerm = net.term(3n);
    assert.ok(stuckTerm > 2);
    rejoin();

    net.tickAll(6 * ELECTION_TICK);

    const leaders = [1n, 2n, 3n].filter((id) => net.role(id) === 'leader');
    assert.equal(leaders.length, 1);
    for (const id of [1n, 2n, 3n]) {
      assert.ok(net.term(id) >= stuckTerm, `member ${id} is at term ${net.term(id)}`);
      assert.equal(net.lead(id), leaders[0]);
    }
    assert.deepEqual(net.member(3n).commands, ['a']);
  });
});
