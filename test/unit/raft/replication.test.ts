// Raft §5.3 (log replication), through the RawNode API.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytes, Network, text } from './harness.js';
import type { Entry, MsgApp } from '../../../src/raft/types.js';

function entry(term: number, index: number, command: string): Entry {
  return { term, index, type: 'normal', data: bytes(command) };
}

function append(term: number, prev: { index: number; logTerm: number }, entries: Entry[]): MsgApp {
  return { type: 'MsgApp', from: 1n, to: 2n, term, ...prev, entries, commit: 0 };
}

describe('§5.3 log replication', () => {
  test('a new leader appends an empty entry of its term and commits it', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);

    for (const id of [1n, 2n, 3n]) {
      const log = net.log(id);
      assert.equal(log.length, 1, `member ${id}`);
      assert.equal(log[0]!.term, 1);
      assert.equal(log[0]!.index, 1);
      assert.equal(log[0]!.type, 'normal');
      assert.equal(log[0]!.data.length, 0);
    }
    assert.equal(net.commit(1n), 1);
    assert.equal(net.member(1n).appliedIndex, 1);
  });

  test('an entry commits once a majority stores it, and not before', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.isolate(2n);
    net.isolate(3n);

    assert.deepEqual(net.propose(1n, 'a'), { ok: true });
    assert.equal(net.storage(1n).lastIndex(), 2);
    assert.equal(net.commit(1n), 1, 'one replica of three is not a majority');
    assert.deepEqual(net.member(1n).commands, []);

    net.heal();
    net.isolate(3n);
    net.tick(1n); // the heartbeat round lets the leader resend to 2

    assert.equal(net.commit(1n), 2);
    assert.deepEqual(net.member(1n).commands, ['a']);
    assert.deepEqual(net.member(2n).commands, ['a']);
    assert.equal(net.storage(3n).lastIndex(), 1, 'the isolated member has nothing new');

    net.heal();
    net.tick(1n);
    assert.deepEqual(net.member(3n).commands, ['a']);
    assert.equal(net.commit(3n), 2);
  });

  test('a follower rejects an append whose previous entry it does not have (log matching)', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.isolate(2n); // 2's answers are recorded, not delivered; we play the leader by hand

    net.inject(append(1, { index: 0, logTerm: 0 }, [entry(1, 1, 'a')]));
    net.inject(append(1, { index: 3, logTerm: 1 }, [entry(1, 4, 'gap')])); // 2 has no entry 3
    net.inject(append(2, { index: 1, logTerm: 2 }, [entry(2, 2, 'wrong')])); // entry 1 has term 1, not 2

    const answers = net.messages('MsgAppResp', { from: 2n });
    assert.deepEqual(
      answers.map((m) => [m.index, m.reject]),
      [
        [1, false],
        [3, true],
        [1, true],
      ],
    );
    for (const m of answers.filter((a) => a.reject)) {
      assert.ok(m.rejectHint <= 1, `hint ${m.rejectHint} points beyond the follower's log`);
    }
    assert.deepEqual(
      net.log(2n).map((e) => [e.index, e.term, text(e.data)]),
      [[1, 1, 'a']],
      'rejected appends leave the log alone',
    );
  });

  test('a stale append does not truncate entries the follower already has', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.isolate(2n);

    net.inject(append(1, { index: 0, logTerm: 0 }, [entry(1, 1, 'a'), entry(1, 2, 'b')]));
    net.inject(append(1, { index: 0, logTerm: 0 }, [entry(1, 1, 'a')])); // delayed duplicate

    assert.deepEqual(
      net.log(2n).map((e) => text(e.data)),
      ['a', 'b'],
    );
    assert.deepEqual(
      net.messages('MsgAppResp', { from: 2n }).map((m) => m.reject),
      [false, false],
    );
  });

  test('a follower commits no further than the last entry the append vouched for', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.isolate(2n);
    net.inject(append(1, { index: 0, logTerm: 0 }, [entry(1, 1, 'a'), entry(1, 2, 'b')]));

    // Entry 2 was not part of this append, so the leader's commit index 2 does not vouch for it.
    net.inject({ ...append(1, { index: 0, logTerm: 0 }, [entry(1, 1, 'a')]), commit: 2 });
    assert.equal(net.commit(2n), 1);
    assert.deepEqual(net.member(2n).commands, ['a']);

    net.inject({ ...append(1, { index: 1, logTerm: 1 }, [entry(1, 2, 'b')]), commit: 9 });
    assert.equal(net.commit(2n), 2, 'commit is capped by the last new entry');
    assert.deepEqual(net.member(2n).commands, ['a', 'b']);
  });

  test("a heartbeat carries the leader's commit index capped at the follower's match", () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.drop((m) => m.type === 'MsgApp' && m.to === 3n);
    net.propose(1n, 'a');
    assert.equal(net.commit(1n), 2);
    const mark = net.sent.length;

    net.tick(1n);

    const commits = (to: bigint) => net.messages('MsgHeartbeat', { to, since: mark }).map((m) => m.commit);
    assert.deepEqual(commits(2n), [2]);
    assert.deepEqual(commits(3n), [1]);
    assert.equal(net.commit(3n), 1);
  });

  test('a restarted follower resumes from its storage without re-applying entries', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');
    net.propose(1n, 'b');
    const before = net.status(2n).hardState;

    net.restart(2n); // the harness throws if an entry is handed out for applying twice

    assert.deepEqual(net.status(2n).hardState, before);
    assert.deepEqual(net.status(2n).softState, { lead: 0n, role: 'follower' });
    net.propose(1n, 'c');
    assert.deepEqual(net.member(2n).commands, ['a', 'b', 'c']);
    assert.deepEqual(net.log(2n), net.log(1n));
  });

  test('a single-member cluster commits on its own', () => {
    const net = new Network({ voters: [1n] });
    net.elect(1n);
    net.propose(1n, 'a');
    net.propose(1n, 'b');
    assert.equal(net.commit(1n), 3);
    assert.deepEqual(net.member(1n).commands, ['a', 'b']);
  });

  test('committed entries are handed out in order, in batches within maxCommittedSizePerReady', () => {
    // Each entry weighs 100 bytes of data + 16: two fit in 250 bytes.
    const net = new Network({ voters: [1n, 2n, 3n] }, { maxCommittedSizePerReady: 250 });
    net.elect(1n);
    const rejoin = net.isolate(3n);
    for (let i = 0; i < 10; i++) net.propose(1n, `${i}`.padEnd(100, '.'));
    rejoin();

    net.tick(1n); // 3 receives everything at once, already committed

    const batches = net.member(3n).commitBatches;
    assert.ok(
      batches.every((n) => n <= 2),
      `a Ready exceeded maxCommittedSizePerReady: ${batches.join(',')}`,
    );
    assert.ok(batches.includes(2), `batches: ${batches.join(',')}`);
    assert.deepEqual(
      net.member(3n).commands,
      net.member(1n).commands,
      'the harness checks indexes are contiguous',
    );
    assert.equal(net.member(3n).commands.length, 10);
  });

  test("a follower's conflicting suffix is overwritten by the leader's entries", () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');
    net.isolate(1n);
    net.propose(1n, 'x'); // only the partitioned old leader stores these
    net.propose(1n, 'y');
    assert.deepEqual(
      net.log(1n).map((e) => e.term),
      [1, 1, 1, 1],
    );

    net.elect(2n);
    net.propose(2n, 'z');
    net.heal();
    net.tick(2n);

    assert.equal(net.role(1n), 'follower');
    assert.deepEqual(net.log(1n), net.log(2n));
    assert.deepEqual(
      net.log(1n).map((e) => [e.term, text(e.data)]),
      [
        [1, ''],
        [1, 'a'],
        [2, ''],
        [2, 'z'],
      ],
    );
    assert.deepEqual(net.member(1n).commands, ['a', 'z']);
  });

  test('a follower with a long divergent log is repaired in a few round trips', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');
    net.isolate(1n);
    for (let i = 0; i < 50; i++) net.propose(1n, `stale-${i}`); // term 1, indexes 3..52, never committed

    net.elect(2n);
    for (let i = 0; i < 50; i++) net.propose(2n, `fresh-${i}`); // term 2, indexes 3..53 on 2 and 3
    net.heal();

    // 3 becomes leader with a long log: its first probe to 1 lands far beyond where they agree.
    const mark = net.sent.length;
    net.elect(3n);
    net.tick(3n);

    const rejections = net.messages('MsgAppResp', { from: 1n, to: 3n, since: mark }).filter((m) => m.reject);
    assert.ok(rejections.length >= 1, 'the scenario must make 1 reject at least once');
    assert.ok(rejections.length <= 3, `${rejections.length} rejections: backtracking went entry by entry`);
    assert.deepEqual(net.log(1n), net.log(3n));
    assert.equal(net.member(1n).commands.length, 51);
    assert.ok(net.member(1n).commands.every((c) => !c.startsWith('stale')));
  });

  test('proposals made together go out batched, each append within maxSizePerMsg', () => {
    // Each entry weighs 100 bytes of data + 16: three fit in 350 bytes, four do not.
    const net = new Network({ voters: [1n, 2n, 3n] }, { maxSizePerMsg: 350 });
    net.elect(1n);
    const mark = net.sent.length;

    for (let i = 0; i < 10; i++) assert.ok(net.node(1n).propose(bytes(`${i}`.padEnd(100, '.'))).ok);
    net.deliver();

    const appends = net
      .messages('MsgApp', { from: 1n, to: 2n, since: mark })
      .filter((m) => m.entries.length > 0);
    const sizes = appends.map((m) => m.entries.length);
    assert.ok(
      sizes.every((n) => n <= 3),
      `an append exceeded maxSizePerMsg: ${sizes.join(',')}`,
    );
    assert.ok(sizes.includes(3), `no append was filled up to maxSizePerMsg: ${sizes.join(',')}`);
    assert.ok(appends.length < 10, `one append per proposal: ${sizes.join(',')}`);
    assert.equal(net.member(2n).commands.length, 10);
  });

  test('a lagging follower is caught up with appends filled up to maxSizePerMsg', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { maxSizePerMsg: 350 });
    net.elect(1n);
    net.isolate(3n);
    for (let i = 0; i < 10; i++) net.propose(1n, `${i}`.padEnd(100, '.'));
    net.node(1n).reportUnreachable(3n);
    assert.equal(net.progress(1n, 3n).state, 'probe');
    net.heal();
    const mark = net.sent.length;

    net.tick(1n); // the heartbeat answer makes the leader resume sending to 3

    const sizes = net
      .messages('MsgApp', { from: 1n, to: 3n, since: mark })
      .filter((m) => m.entries.length > 0)
      .map((m) => m.entries.length);
    assert.equal(sizes[0], 3, `first catch-up append: ${sizes.join(',')}`);
    assert.ok(
      sizes.every((n) => n <= 3),
      `an append exceeded maxSizePerMsg: ${sizes.join(',')}`,
    );
    assert.deepEqual(net.log(3n), net.log(1n));
    assert.equal(net.member(3n).commands.length, 10);
  });
});
