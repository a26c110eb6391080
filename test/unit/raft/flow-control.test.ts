// Flow control of the leader's appends: the inflight window in replicate state, one probe per
// heartbeat in probe state.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Network } from './harness.js';

describe('flow control', () => {
  test('in replicate state the leader stops at maxInflightMsgs unacknowledged appends and resumes on acks', () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { maxInflightMsgs: 3 });
    net.elect(1n);
    assert.equal(net.progress(1n, 2n).state, 'replicate');
    net.hold((m) => m.type === 'MsgAppResp');
    const mark = net.sent.length;

    for (let i = 0; i < 10; i++) assert.deepEqual(net.propose(1n, `p${i}`), { ok: true });

    const carrying = (since: number) =>
      net.messages('MsgApp', { from: 1n, to: 2n, since }).filter((m) => m.entries.length > 0);
    assert.equal(carrying(mark).length, 3, 'appends sent beyond the inflight window');
    assert.ok(net.storage(2n).lastIndex() < net.storage(1n).lastIndex());
    assert.equal(net.progress(1n, 2n).state, 'replicate');

    const resumed = net.sent.length;
    net.releaseHeld();

    assert.ok(carrying(resumed).length > 0, 'the leader did not resume after the acknowledgements');
    assert.equal(net.storage(2n).lastIndex(), net.storage(1n).lastIndex());
    assert.equal(net.progress(1n, 2n).match, net.storage(1n).lastIndex());
    assert.equal(net.member(2n).commands.length, 10);
  });

  test('in probe state the leader sends one append per heartbeat until the follower answers', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.node(1n).reportUnreachable(2n);
    assert.equal(net.progress(1n, 2n).state, 'probe');
    net.drop((m) => m.type === 'MsgApp' && m.to === 2n); // heartbeats still get through
    const mark = net.sent.length;
    const appendsTo2 = () => net.messages('MsgApp', { from: 1n, to: 2n, since: mark }).length;

    for (let i = 0; i < 5; i++) net.propose(1n, `p${i}`);
    assert.equal(appendsTo2(), 1, 'a probing leader sent more than one append without an answer');

    for (let beat = 1; beat <= 3; beat++) {
      net.tick(1n);
      assert.equal(appendsTo2(), 1 + beat, `after heartbeat ${beat}`);
    }
    assert.equal(net.progress(1n, 2n).state, 'probe');
    assert.equal(net.member(3n).commands.length, 5, 'the other follower is unaffected');
  });

  test("proposals beyond maxUncommittedEntriesSize are refused with 'too-many-uncommitted'", () => {
    const net = new Network({ voters: [1n, 2n, 3n] }, { maxUncommittedEntriesSize: 1000 });
    net.elect(1n);
    net.isolate(2n);
    net.isolate(3n);

    const results = Array.from({ length: 20 }, (_, i) => net.propose(1n, `${i}`.padEnd(100, '.')));

    const accepted = results.filter((r) => r.ok).length;
    assert.ok(accepted >= 1 && accepted < 20, `${accepted} of 20 accepted`);
    assert.deepEqual(results.at(-1), { ok: false, reason: 'too-many-uncommitted' });
    assert.equal(net.storage(1n).lastIndex(), 1 + accepted);

    // Once they commit, the budget is free again.
    net.heal();
    net.tick(1n);
    assert.equal(net.member(2n).commands.length, accepted);
    assert.deepEqual(net.propose(1n, 'more'), { ok: true });
  });
});
