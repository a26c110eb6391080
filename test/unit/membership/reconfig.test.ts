import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RaftCluster } from '../../../src/membership/cluster.js';
import { isMembershipError, type MembershipErrorReason } from '../../../src/membership/errors.js';
import {
  HEALTH_INTERVAL_MS,
  checkAddMember,
  checkPromoteMember,
  checkRemoveMember,
  isLearnerInSync,
  numConnectedSince,
  type ReconfigContext,
} from '../../../src/membership/reconfig.js';
import { MemoryStore, addLearner, addNode } from './helpers.js';

const NOW = 1_000_000;
const A = 1n;
const B = 2n;
const C = 3n;
const L = 9n;

/** A cluster of voters A (local), B, C, all started, plus an optional learner. */
function threeVoters(withLearner = false): RaftCluster {
  const c = RaftCluster.create({ clusterId: 7n, localId: A }, new MemoryStore());
  for (const [id, name] of [
    [A, 'a'],
    [B, 'b'],
    [C, 'c'],
  ] as const) {
    c.applyConfChange(addNode(id, [`http://${name}:1`]));
    c.setAttributes(id, { name, clientUrls: [] });
  }
  if (withLearner) c.applyConfChange(addLearner(L, ['http://l:1']));
  return c;
}

function ctx(active: Record<string, number | undefined>, strict = true): ReconfigContext {
  return { strict, now: NOW, activeSince: (id) => active[id.toString()] };
}

const LONG_AGO = NOW - HEALTH_INTERVAL_MS - 1;

function fails(fn: () => void, reason: MembershipErrorReason): void {
  assert.throws(fn, (e: unknown) => isMembershipError(e, reason), reason);
}

test('peers count as connected only after a full health interval; self always counts', () => {
  const c = threeVoters();
  const since = NOW - HEALTH_INTERVAL_MS;
  assert.equal(
    numConnectedSince(A, c.voters(), () => undefined, since),
    1,
  );
  assert.equal(
    numConnectedSince(A, c.voters(), () => since, since),
    1,
    'exactly at the boundary is too recent',
  );
  assert.equal(
    numConnectedSince(A, c.voters(), () => since - 1, since),
    3,
  );
});

test('add: a voter needs a started quorum and every voter connected', () => {
  const c = threeVoters();
  checkAddMember(c, false, ctx({ 2: LONG_AGO, 3: LONG_AGO }));
  fails(() => checkAddMember(c, false, ctx({ 2: LONG_AGO })), 'unhealthy');
  fails(() => checkAddMember(c, true, ctx({ 2: LONG_AGO, 3: NOW - 10 })), 'unhealthy');
  checkAddMember(c, false, ctx({}, false));
  const fresh = RaftCluster.create({ clusterId: 7n, localId: A }, new MemoryStore());
  fresh.applyConfChange(addNode(A, ['http://a:1']));
  fresh.applyConfChange(addNode(B, ['http://b:1']));
  fresh.setAttributes(A, { name: 'a', clientUrls: [] });
  fails(() => checkAddMember(fresh, false, ctx({ 2: LONG_AGO })), 'not-enough-started');
  // A learner skips the quorum rule but not the connectivity one.
  checkAddMember(fresh, true, ctx({ 2: LONG_AGO }));
});

test('remove: a learner always; a down peer safely; otherwise an active quorum must remain', () => {
  const c = threeVoters(true);
  checkRemoveMember(c, L, ctx({}));
  checkRemoveMember(c, C, ctx({ 2: LONG_AGO })); // C is down
  checkRemoveMember(c, C, ctx({ 2: LONG_AGO, 3: LONG_AGO }));
  fails(() => checkRemoveMember(c, C, ctx({ 3: LONG_AGO })), 'unhealthy'); // B down: A alone would remain
  fails(() => checkRemoveMember(c, A, ctx({ 2: LONG_AGO })), 'unhealthy');
  checkRemoveMember(c, C, ctx({ 3: LONG_AGO }, false));
  const two = RaftCluster.create({ clusterId: 7n, localId: A }, new MemoryStore());
  two.applyConfChange(addNode(A, ['http://a:1']));
  two.applyConfChange(addNode(B, ['http://b:1']));
  two.setAttributes(A, { name: 'a', clientUrls: [] });
  fails(() => checkRemoveMember(two, A, ctx({ 2: LONG_AGO })), 'not-enough-started');
});

test('promote: the learner must hold 90% of the leader log, then the quorum rule applies', () => {
  assert.equal(isLearnerInSync(90, 100), true);
  assert.equal(isLearnerInSync(89, 100), false);
  const c = threeVoters(true);
  checkPromoteMember(c, L, { match: 95, leaderMatch: 100 }, ctx({}));
  fails(() => checkPromoteMember(c, L, { match: 10, leaderMatch: 100 }, ctx({})), 'learner-not-ready');
  fails(() => checkPromoteMember(c, L, { match: 10, leaderMatch: 100 }, ctx({}, false)), 'learner-not-ready');
  checkPromoteMember(c, L, { match: undefined, leaderMatch: 100 }, ctx({}));
  const lonely = RaftCluster.create({ clusterId: 7n, localId: A }, new MemoryStore());
  lonely.applyConfChange(addNode(A, ['http://a:1']));
  lonely.applyConfChange(addNode(B, ['http://b:1']));
  lonely.applyConfChange(addNode(C, ['http://c:1']));
  lonely.applyConfChange(addLearner(L, ['http://l:1']));
  fails(() => checkPromoteMember(lonely, L, { match: 100, leaderMatch: 100 }, ctx({})), 'not-enough-started');
  checkPromoteMember(lonely, L, { match: 100, leaderMatch: 100 }, ctx({}, false));
});
