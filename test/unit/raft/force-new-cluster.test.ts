// What --force-new-cluster relies on in the raft core: a restart whose storage ends with committed but
// unapplied conf changes (appended by the server) does not campaign under the old configuration, and
// once they are applied the member is the only voter and elects itself. Also when the changes first
// remove every voter and then add this member (a data dir in no configuration, as a backup).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeConfChange, encodeConfChange } from '../../../src/raft/codec.js';
import { RawNode } from '../../../src/raft/rawnode.js';
import { MemoryStorage } from '../../../src/raft/storage.js';
import type { ConfChange, ConfState, Entry, HardState } from '../../../src/raft/types.js';
import { bytes, confChange, ELECTION_TICK, HEARTBEAT_TICK, sorted } from './harness.js';

function conf(index: number, term: number, cc: ConfChange): Entry {
  return { index, term, type: 'confChange', data: encodeConfChange(cc) };
}

/** A RawNode restarted over `storage` with `applied` entries already applied, and a Ready handler. */
function restart(storage: MemoryStorage, applied: number): { node: RawNode; step: () => void } {
  const node = new RawNode({
    id: 1n,
    storage,
    electionTick: ELECTION_TICK,
    heartbeatTick: HEARTBEAT_TICK,
    applied,
    checkQuorum: true,
    preVote: true,
    randomSeed: 7,
  });
  // Handles one Ready if there is one: persist, apply (conf changes go to raft, as the server does), advance.
  const step = (): void => {
    if (!node.hasReady()) return;
    const rd = node.ready();
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    storage.append(rd.entries);
    for (const e of rd.committedEntries) {
      if (e.type === 'confChange') node.applyConfChange(decodeConfChange(e.data));
    }
    node.advance();
  };
  return { node, step };
}

function tickFor(node: RawNode, ticks: number): void {
  for (let i = 0; i < ticks; i++) node.tick();
}

test('committed removals appended at restart: no campaign before they apply, sole leader after', () => {
  const storage = new MemoryStorage();
  const hs: HardState = { term: 2, vote: 2n, commit: 6 };
  storage.append([
    conf(1, 1, confChange('addNode', 1n)),
    conf(2, 1, confChange('addNode', 2n)),
    conf(3, 1, confChange('addNode', 3n)),
    { index: 4, term: 2, type: 'normal', data: bytes('x') },
    // What force-new-cluster appends (in the last term) and commits by fiat:
    conf(5, 2, confChange('removeNode', 2n)),
    conf(6, 2, confChange('removeNode', 3n)),
  ]);
  storage.setHardState(hs);
  const { node, step } = restart(storage, 4);
  assert.deepEqual(sorted(node.status().confState.voters), [1n, 2n, 3n], 'the configuration as of index 4');

  // However long it waits, it does not campaign while the removals are committed but unapplied.
  tickFor(node, 5 * ELECTION_TICK);
  assert.equal(node.status().softState.role, 'follower');
  const rd = node.ready();
  assert.deepEqual(
    rd.committedEntries.map((e) => e.index),
    [5, 6],
  );
  assert.ok(!rd.messages.some((m) => m.type === 'MsgVote' || m.type === 'MsgPreVote'), 'no vote requests');
  for (const e of rd.committedEntries) node.applyConfChange(decodeConfChange(e.data));
  node.advance();
  assert.deepEqual(node.status().confState, { voters: [1n], learners: [] });

  // Alone, it elects itself within two election timeouts and commits an entry of its term.
  for (let i = 0; i < 2 * ELECTION_TICK && node.status().softState.role !== 'leader'; i++) {
    node.tick();
    step();
  }
  assert.equal(node.status().softState.role, 'leader');
  step();
  step();
  assert.equal(node.status().hardState.term, 3);
  assert.equal(node.status().hardState.commit, 7, "the new leader's empty entry commits with one voter");
});

test('a member in no configuration: removals leave no voter for a moment, then it is added and leads', () => {
  // A snapshot whose configuration names two other members, then the appended changes.
  const storage = new MemoryStorage();
  storage.applySnapshot({
    data: new Uint8Array(0),
    metadata: { index: 10, term: 3, confState: { voters: [2n, 3n], learners: [] } },
  });
  storage.append([
    conf(11, 3, confChange('removeNode', 2n)),
    conf(12, 3, confChange('removeNode', 3n)),
    conf(13, 3, confChange('addNode', 1n)),
  ]);
  storage.setHardState({ term: 3, vote: 0n, commit: 13 });
  const { node, step } = restart(storage, 10);
  tickFor(node, 3 * ELECTION_TICK);
  assert.equal(node.status().softState.role, 'follower', 'not a voter: it cannot campaign');

  const rd = node.ready();
  const seen: ConfState[] = [];
  for (const e of rd.committedEntries) seen.push(node.applyConfChange(decodeConfChange(e.data)));
  node.advance();
  assert.deepEqual(seen, [
    { voters: [3n], learners: [] },
    { voters: [], learners: [] },
    { voters: [1n], learners: [] },
  ]);
  for (let i = 0; i < 2 * ELECTION_TICK && node.status().softState.role !== 'leader'; i++) {
    node.tick();
    step();
  }
  assert.equal(node.status().softState.role, 'leader');
});
