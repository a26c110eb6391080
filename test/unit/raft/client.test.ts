// Raft §8 (client interaction): forwarding proposals and linearizable reads (ReadIndex).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytes, ELECTION_TICK, Network } from './harness.js';
import { EMPTY_BYTES } from '../../../src/raft/types.js';

describe('§8 client interaction', () => {
  test('a proposal at a follower is forwarded to the leader and committed', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);

    assert.deepEqual(net.propose(2n, 'from-follower'), { ok: true });

    const forwarded = net.messages('MsgProp', { from: 2n, to: 1n });
    assert.equal(forwarded.length, 1);
    for (const id of [1n, 2n, 3n])
      assert.deepEqual(net.member(id).commands, ['from-follower'], `member ${id}`);
  });

  test("a proposal with no known leader is dropped with 'no-leader'", () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    assert.deepEqual(net.propose(1n, 'x'), { ok: false, reason: 'no-leader' });

    // A candidate has no leader either.
    net.isolate(1n);
    net.node(1n).campaign();
    net.deliver();
    assert.equal(net.role(1n), 'candidate');
    assert.deepEqual(net.propose(1n, 'y'), { ok: false, reason: 'no-leader' });
    assert.equal(net.messages('MsgProp').length, 0);
    assert.equal(net.storage(1n).lastIndex(), 0);
  });

  test("ReadIndex with no known leader is refused with 'no-leader'", () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    assert.deepEqual(net.node(2n).readIndex(bytes('r')), { ok: false, reason: 'no-leader' });
    net.deliver();
    assert.equal(net.messages('MsgReadIndex').length, 0);
  });

  test('ReadIndex on the leader is answered only after a heartbeat round confirms leadership', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');
    const ctx = bytes('read-1');
    net.hold((m) => m.type === 'MsgHeartbeatResp');

    assert.deepEqual(net.node(1n).readIndex(ctx), { ok: true });
    net.deliver();

    const beats = net.messages('MsgHeartbeat', { from: 1n });
    assert.equal(beats.length, 2, 'one heartbeat per follower');
    for (const hb of beats) assert.deepEqual(hb.context, ctx);
    assert.deepEqual(net.member(1n).readStates, [], 'a read state before leadership was confirmed');

    net.releaseHeld();
    assert.deepEqual(net.member(1n).readStates, [{ index: net.commit(1n), context: ctx }]);
  });

  test("a learner's heartbeat answer does not confirm a read", () => {
    const net = new Network({ voters: [1n, 2n, 3n], learners: [4n] });
    net.elect(1n);
    net.hold((m) => m.type === 'MsgHeartbeatResp' && m.from !== 4n);

    net.node(1n).readIndex(bytes('r'));
    net.deliver();

    assert.equal(net.messages('MsgHeartbeatResp', { from: 4n }).length, 1);
    assert.deepEqual(net.member(1n).readStates, []);
    net.releaseHeld();
    assert.equal(net.member(1n).readStates.length, 1);
  });

  test('a leader deposed while a read is pending never serves it', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.hold((m) => m.type === 'MsgHeartbeatResp');
    net.node(1n).readIndex(bytes('r'));
    net.deliver();

    net.inject({ type: 'MsgHeartbeat', from: 2n, to: 1n, term: 2, commit: 0, context: EMPTY_BYTES });
    assert.equal(net.role(1n), 'follower');
    net.releaseHeld();

    assert.deepEqual(net.member(1n).readStates, []);
  });

  test('ReadIndex in a single-member cluster is answered at once', () => {
    const net = new Network({ voters: [1n] });
    net.elect(1n);
    net.propose(1n, 'a');
    net.node(1n).readIndex(bytes('r'));
    net.deliver();
    assert.deepEqual(net.member(1n).readStates, [{ index: 2, context: bytes('r') }]);
  });

  test('ReadIndex at a follower is forwarded to the leader and answered', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');
    const ctx = bytes('read-2');

    assert.deepEqual(net.node(2n).readIndex(ctx), { ok: true });
    net.deliver();

    assert.equal(net.messages('MsgReadIndex', { from: 2n, to: 1n }).length, 1);
    assert.equal(net.messages('MsgReadIndexResp', { from: 1n, to: 2n }).length, 1);
    assert.deepEqual(net.member(2n).readStates, [{ index: net.commit(1n), context: ctx }]);
    assert.deepEqual(net.member(1n).readStates, []);
  });

  test('a new leader serves no ReadIndex before it has committed an entry of its own term', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');
    const oldCommit = net.commit(1n);

    // 2 wins term 2 but hears no acknowledgement of its empty entry: nothing of term 2 is committed.
    const undo = net.drop((m) => m.type === 'MsgAppResp' && m.to === 2n);
    net.elect(2n);
    assert.equal(net.commit(2n), oldCommit);
    const ownEntry = net.storage(2n).lastIndex();

    const ctx = bytes('read-3');
    assert.deepEqual(net.node(2n).readIndex(ctx), { ok: true });
    net.deliver();
    net.tick(2n, ELECTION_TICK - 1);
    assert.deepEqual(net.member(2n).readStates, []);
    assert.ok(net.messages('MsgHeartbeat', { from: 2n }).every((hb) => hb.context.length === 0));

    // Once the term-2 entry commits, the pending read is served at or after it.
    undo();
    net.tick(2n, 2);
    assert.ok(net.commit(2n) >= ownEntry);
    const states = net.member(2n).readStates;
    assert.equal(states.length, 1);
    assert.deepEqual(states[0]!.context, ctx);
    assert.ok(states[0]!.index >= ownEntry, `read index ${states[0]!.index} is before entry ${ownEntry}`);
  });
});
