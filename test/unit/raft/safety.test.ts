// Raft §5.4.2 (committing entries from previous terms, Figure 8) and leader completeness.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Network, text } from './harness.js';

describe('§5.4 safety', () => {
  test('a leader does not commit an entry of an earlier term by counting replicas (Figure 8)', () => {
    // One entry per append, so that acknowledgements of the old entry and of the new one are separate.
    const net = new Network({ voters: [1n, 2n, 3n, 4n, 5n] }, { maxSizePerMsg: 1 });
    net.elect(1n);

    // (a) Leader 1 (term 1) stores entry 2 on itself and 2 only.
    const undoA = net.drop((m) => m.from === 1n && m.to !== 2n);
    net.propose(1n, 'old');
    assert.equal(net.commit(1n), 1);
    undoA();

    // (b) 1 crashes; 5 wins term 2 with 3 and 4 and stores its own entry 2 only locally. Its
    // heartbeat tells the restarted 1 about term 2; then 5 crashes.
    const undo1 = net.isolate(1n);
    net.drop((m) => m.from === 5n && m.type === 'MsgApp');
    net.elect(5n);
    assert.equal(net.term(5n), 2);
    undo1();
    net.tick(5n);
    assert.equal(net.role(1n), 'follower');
    net.heal();
    net.isolate(5n);

    // (c) 1 wins term 3 and replicates the term-1 entry to a majority, but acknowledgements of its
    // own term-3 entry never arrive.
    net.drop((m) => m.type === 'MsgAppResp' && m.to === 1n && !m.reject && m.index >= 3);
    net.elect(1n);
    assert.equal(net.term(1n), 3);
    const holders = [...net.status(1n).progress.values()].filter((pr) => pr.match >= 2).length;
    assert.ok(holders >= 3, `only ${holders} members known to hold entry 2`);
    assert.equal(net.commit(1n), 1, 'an entry of an earlier term was committed by counting replicas');
    assert.ok([...net.members.values()].every((m) => !m.commands.includes('old')));

    // Once an entry of term 3 reaches a majority, everything before it commits with it.
    net.heal();
    net.isolate(5n);
    net.propose(1n, 'new');
    assert.ok(net.commit(1n) >= 4);
    net.tick(1n); // a heartbeat round brings 2 (whose acknowledgements were lost) up to date
    for (const id of [1n, 2n, 3n, 4n]) {
      assert.deepEqual(net.member(id).commands, ['old', 'new'], `member ${id}`);
    }
  });

  test('an uncommitted entry of an earlier term may be overwritten, a committed one never is', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.isolate(1n);
    net.propose(1n, 'lost'); // uncommitted: only on 1
    net.heal();
    net.isolate(1n);
    net.elect(2n);
    net.propose(2n, 'kept');
    net.heal();
    net.tick(2n);

    for (const id of [1n, 2n, 3n]) {
      assert.deepEqual(net.member(id).commands, ['kept'], `member ${id}`);
      assert.ok(net.log(id).every((e) => text(e.data) !== 'lost'));
    }
  });

  test('committed entries survive a series of leader changes', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    const cut3 = net.isolate(3n);
    net.propose(1n, 'a'); // committed on 1 and 2 only
    assert.equal(net.commit(1n), 2);
    cut3();

    net.isolate(1n);
    net.elect(2n);
    net.propose(2n, 'b');
    net.heal();

    net.isolate(2n);
    net.elect(3n);
    net.propose(3n, 'c');
    net.heal();
    net.tick(3n);

    const reference = net.log(3n);
    for (const id of [1n, 2n, 3n]) {
      assert.deepEqual(net.member(id).commands, ['a', 'b', 'c'], `member ${id}`);
      assert.deepEqual(net.log(id), reference, `member ${id}`);
      assert.equal(net.commit(id), reference.length);
    }
  });
});
