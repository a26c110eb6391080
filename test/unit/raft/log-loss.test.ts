// A member that comes back with less log than it acknowledged (its data dir replaced by an older
// copy) is caught by the first heartbeat of the leader that counted on it, and stops taking part.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { MemoryStorage } from '../../../src/raft/storage.js';
import { HEARTBEAT_TICK, Network } from './harness.js';

/** A copy of `id`'s durable state now, as a backup of its data dir would hold it. */
function copyOf(net: Network, id: bigint): MemoryStorage {
  const copy = new MemoryStorage({ voters: [1n, 2n, 3n], learners: [] });
  copy.append(net.log(id));
  copy.setHardState(net.status(id).hardState);
  return copy;
}

describe('lost acknowledged entries', () => {
  test('a follower restarted from an out-of-date copy reports the loss and sends nothing', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');
    const old = copyOf(net, 3n);
    net.propose(1n, 'b');
    net.propose(1n, 'c');
    const acknowledged = net.progress(1n, 3n).match;
    assert.ok(acknowledged > old.lastIndex());

    const restarted = net.restartWith(3n, old);
    const sentBefore = net.sent.length;
    net.tick(1n, HEARTBEAT_TICK);

    assert.deepEqual(restarted.logLoss, { leader: 1n, acknowledged, lastIndex: old.lastIndex() });
    assert.deepEqual(
      net.sent.slice(sentBefore).filter((m) => m.from === 3n),
      [],
      'nothing is sent once the loss is known',
    );
    // The other two go on without it.
    net.propose(1n, 'd');
    assert.deepEqual(net.member(2n).commands, ['a', 'b', 'c', 'd']);
  });

  test('a follower restarted from its own storage reports no loss', () => {
    const net = new Network({ voters: [1n, 2n, 3n] });
    net.elect(1n);
    net.propose(1n, 'a');
    net.propose(1n, 'b');
    const restarted = net.restart(3n);
    net.tick(1n, 3 * HEARTBEAT_TICK);
    net.propose(1n, 'c');
    assert.equal(restarted.logLoss, undefined);
    assert.deepEqual(restarted.commands, ['a', 'b', 'c']);
  });
});
