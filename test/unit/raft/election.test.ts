// Raft §5.2 (leader election) and §5.4.1 (election restriction), through the RawNode API.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ELECTION_TICK, Network } from './harness.js';
import type { MsgVote } from '../../../src/raft/types.js';

function voteRequest(from: bigint, to: bigint, term: number): MsgVote {
  return { type: 'MsgVote', from, to, term, index: 0, logTerm: 0, leaderTransfer: false };
}

describe('§5.2 leader election', () => {
  test('a follower campaigns after its election timeout and wins with a majority', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });

    const ticks = net.tickUntil(1n, () => net.role(1n) === 'leader', 3 * ELECTION_TICK);

    assert.ok(ticks !== undefined, 'member 1 never became leader');
    assert.ok(ticks >= ELECTION_TICK && ticks < 2 * ELECTION_TICK, `campaigned after ${ticks} ticks`);
    assert.equal(net.term(1n), 1);
    for (const id of [2n, 3n]) {
      assert.equal(net.role(id), 'follower');
      assert.equal(net.lead(id), 1n);
      assert.equal(net.status(id).hardState.vote, 1n, `member ${id} voted for 1`);
    }
  });

  test('a single-member cluster elects itself at once', () => {
    const net = new Network({ voters: [1n] });
    const ticks = net.tickUntil(1n, () => net.role(1n) === 'leader', 3 * ELECTION_TICK);
    assert.ok(ticks !== undefined && ticks < 2 * ELECTION_TICK);
    assert.equal(net.sent.length, 0);
  });

  test('randomized election timeouts lie in [electionTick, 2*electionTick) and differ between members', () => {
    const ids = [1n, 2n, 3n, 4n, 5n];
    const net = new Network({ voters: ids });
    for (const id of ids) net.isolate(id);

    const timeouts = ids.map((id) => net.tickUntil(id, () => net.role(id) !== 'follower', 3 * ELECTION_TICK));

    for (const t of timeouts) {
      assert.ok(t !== undefined && t >= ELECTION_TICK && t < 2 * ELECTION_TICK, `timeout ${t}`);
    }
    assert.ok(new Set(timeouts).size > 1, `all members drew the same timeout: ${timeouts.join(', ')}`);
    for (const id of ids) assert.equal(net.role(id), 'candidate');
  });

  test('a candidate whose vote was split retries in a later term and wins', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.isolate(3n);

    // 1 and 2 campaign at the same time: each votes for itself and refuses the other.
    net.node(1n).campaign();
    net.node(2n).campaign();
    net.deliver();
    for (const id of [1n, 2n]) {
      assert.equal(net.role(id), 'candidate');
      assert.equal(net.term(id), 1);
    }

    const ticks = net.tickUntil(1n, () => net.role(1n) === 'leader', 3 * ELECTION_TICK);

    assert.ok(ticks !== undefined, 'member 1 never retried');
    assert.equal(net.term(1n), 2);
    assert.equal(net.lead(2n), 1n);
  });

  test('a vote is granted at most once per term', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.isolate(3n); // answers are recorded, not delivered

    net.inject(voteRequest(1n, 3n, 1));
    net.inject(voteRequest(2n, 3n, 1));
    net.inject(voteRequest(1n, 3n, 1)); // a repeated request from the same candidate

    const answers = net.messages('MsgVoteResp', { from: 3n });
    assert.deepEqual(
      answers.map((m) => [m.to, m.term, m.reject]),
      [
        [1n, 1, false],
        [2n, 1, true],
        [1n, 1, false],
      ],
    );
    assert.deepEqual(net.status(3n).hardState, { term: 1, vote: 1n, commit: 0 });

    // A new term frees the vote.
    net.inject(voteRequest(2n, 3n, 2));
    assert.equal(net.messages('MsgVoteResp', { from: 3n, to: 2n }).at(-1)?.reject, false);
    assert.equal(net.status(3n).hardState.vote, 2n);
  });

  test('a restarted member remembers its vote and does not vote twice in the term', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.isolate(3n);

    net.inject(voteRequest(1n, 3n, 1));
    net.restart(3n);
    net.inject(voteRequest(2n, 3n, 1));

    assert.deepEqual(
      net.messages('MsgVoteResp', { from: 3n }).map((m) => [m.to, m.reject]),
      [
        [1n, false],
        [2n, true],
      ],
    );
    assert.equal(net.status(3n).hardState.vote, 1n);
  });

  test('a candidate that hears from a leader of its own term becomes its follower', () => {
    const net = new Network({ voters: [1n, 2n, 3n, 4n, 5n] });

    net.node(1n).campaign();
    net.node(2n).campaign(); // 3, 4 and 5 hear from 1 first
    net.deliver();

    assert.equal(net.role(1n), 'leader');
    assert.equal(
      net.messages('MsgVote', { from: 2n }).every((m) => m.term === 1),
      true,
    );
    assert.equal(net.role(2n), 'follower');
    assert.equal(net.term(2n), 1);
    assert.equal(net.lead(2n), 1n);
  });

  test('a member whose log is less up-to-date cannot win (§5.4.1)', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    const cut3 = net.isolate(3n);
    net.propose(1n, 'a');
    net.propose(1n, 'b');
    assert.equal(net.commit(1n), 3);
    cut3();
    net.isolate(1n); // the leader is gone; 3 lacks the committed entries 2 and 3

    net.node(3n).campaign();
    net.deliver();

    assert.notEqual(net.role(3n), 'leader');
    assert.deepEqual(
      net.messages('MsgVoteResp', { from: 2n, to: 3n }).map((m) => m.reject),
      [true],
    );

    // 2 has every committed entry, so it can win, and 3 votes for it.
    net.elect(2n);
    assert.deepEqual(net.member(2n).commands, ['a', 'b']);
    assert.equal(net.lead(3n), 2n);
    assert.deepEqual(net.member(3n).commands, ['a', 'b']);
  });

  test('a leader steps down when it sees a higher term', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.isolate(1n);
    net.elect(2n);
    assert.equal(net.term(2n), 2);
    assert.equal(net.role(1n), 'leader', 'the partitioned old leader does not know yet');
    net.heal();

    // The stale leader's heartbeats do not disturb the new term.
    net.tick(1n);
    assert.equal(net.role(2n), 'leader');
    assert.equal(net.term(2n), 2);
    assert.equal(net.lead(3n), 2n);

    // The new leader's heartbeat carries term 2: the old leader steps down and follows.
    net.tick(2n);
    assert.equal(net.role(1n), 'follower');
    assert.equal(net.term(1n), 2);
    assert.equal(net.lead(1n), 2n);
  });
});
