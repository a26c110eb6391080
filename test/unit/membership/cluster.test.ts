import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { RaftCluster, MAX_LEARNERS } from '../../../src/membership/cluster.js';
import {
  MembershipError,
  grpcStatusOf,
  isMembershipError,
  toGrpcStatus,
  type MembershipErrorReason,
} from '../../../src/membership/errors.js';
import { makeMember } from '../../../src/membership/member.js';
import type { ConfChange } from '../../../src/raft/types.js';
import { MemoryStore, addLearner, addNode, promote, remove, update } from './helpers.js';

const A = 0xaan;
const B = 0xbbn;
const C = 0xccn;
const L = 0x11n;

function cluster(localId = A): { c: RaftCluster; store: MemoryStore } {
  const store = new MemoryStore();
  return { c: RaftCluster.create({ clusterId: 0x99n, localId }, store), store };
}

function rejects(c: RaftCluster, cc: ConfChange, reason: MembershipErrorReason): void {
  const before = c.members();
  assert.throws(
    () => c.applyConfChange(cc),
    (e: unknown) => isMembershipError(e, reason),
    reason,
  );
  assert.deepEqual(c.members(), before, 'a rejected change changes nothing');
}

test('adds, updates, promotes and removes members, writing etcd bucket rows', () => {
  const { c, store } = cluster();
  assert.deepEqual(c.applyConfChange(addNode(A, ['http://a:1'], 'a')).outcome.kind, 'added');
  c.applyConfChange(addLearner(L, ['http://l:1']));
  assert.deepEqual(
    c.members().map((m) => [m.id, m.isLearner]),
    [
      [L, true],
      [A, false],
    ],
  );
  assert.deepEqual(store.dump('members'), [
    ['11', '{"id":17,"peerURLs":["http://l:1"],"isLearner":true}'],
    ['aa', '{"id":170,"peerURLs":["http://a:1"],"name":"a"}'],
  ]);
  c.applyConfChange(update(L, ['http://l:2']));
  assert.deepEqual(c.member(L), makeMember({ id: L, peerUrls: ['http://l:2'], isLearner: true }));
  const promoted = c.applyConfChange(promote(L));
  assert.deepEqual(promoted.outcome, {
    kind: 'promoted',
    member: makeMember({ id: L, peerUrls: ['http://l:2'] }),
  });
  assert.deepEqual(
    c.voters().map((m) => m.id),
    [L, A],
  );
  const removed = c.applyConfChange(remove(L));
  assert.equal(removed.removedSelf, false);
  assert.equal(removed.outcome.kind, 'removed');
  assert.equal(c.isRemoved(L), true);
  assert.equal(c.member(L), undefined);
  assert.deepEqual(store.dump('members_removed'), [['11', 'removed']]);
  assert.deepEqual(
    store.dump('members').map(([k]) => k),
    ['aa'],
  );
  assert.equal(c.applyConfChange(remove(A)).removedSelf, true);
  assert.deepEqual(c.removedIds(), [L, A]);
});

test('validation: a removed ID can never come back, in any change', () => {
  const { c } = cluster();
  c.applyConfChange(addNode(A, ['http://a:1']));
  c.applyConfChange(addNode(B, ['http://b:1']));
  c.applyConfChange(remove(B));
  rejects(c, addNode(B, ['http://b:9']), 'id-removed');
  rejects(c, addLearner(B, ['http://b:9']), 'id-removed');
  rejects(c, remove(B), 'id-removed');
  rejects(c, update(B, ['http://b:9']), 'id-removed');
  rejects(c, promote(B), 'id-removed');
  // The removed member's URL is free again.
  c.applyConfChange(addNode(C, ['http://b:1']));
});

test('validation: add of an existing ID or a peer URL in use', () => {
  const { c } = cluster();
  c.applyConfChange(addNode(A, ['http://a:1', 'http://a:2']));
  rejects(c, addNode(A, ['http://other:1']), 'id-exists');
  rejects(c, addLearner(A, ['http://other:1']), 'id-exists');
  rejects(c, addNode(B, ['http://x:1', 'http://a:2']), 'peer-url-exists');
  rejects(c, addLearner(B, ['http://a:1']), 'peer-url-exists');
});

test('validation: remove, update and promote of an unknown ID', () => {
  const { c } = cluster();
  c.applyConfChange(addNode(A, ['http://a:1']));
  rejects(c, remove(B), 'id-not-found');
  rejects(c, update(B, ['http://b:1']), 'id-not-found');
  rejects(c, promote(B), 'id-not-found');
});

test('validation: update to URLs of another member; own URLs are fine', () => {
  const { c } = cluster();
  c.applyConfChange(addNode(A, ['http://a:1']));
  c.applyConfChange(addNode(B, ['http://b:1']));
  rejects(c, update(B, ['http://a:1']), 'peer-url-exists');
  c.applyConfChange(update(B, ['http://b:1', 'http://b:2']));
  assert.deepEqual(c.member(B)?.peerUrls, ['http://b:1', 'http://b:2']);
});

test('validation: only a learner can be promoted; at most one learner', () => {
  const { c } = cluster();
  c.applyConfChange(addNode(A, ['http://a:1']));
  rejects(c, promote(A), 'member-not-learner');
  assert.equal(MAX_LEARNERS, 1);
  c.applyConfChange(addLearner(L, ['http://l:1']));
  rejects(c, addLearner(B, ['http://b:1']), 'too-many-learners');
  // A voter may still be added next to the learner.
  c.applyConfChange(addNode(B, ['http://b:1']));
});

test('a context whose ID differs from the change is a fault, not a rejection', () => {
  const { c } = cluster();
  const bad = { ...addNode(A, ['http://a:1']), nodeId: B };
  assert.throws(
    () => c.applyConfChange(bad),
    (e: unknown) => e instanceof Error && !(e instanceof MembershipError),
  );
  assert.throws(() => c.applyConfChange({ type: 'addNode', nodeId: A, context: new Uint8Array([0x7b]) }));
});

test('publish sets name and client URLs; removed and unknown IDs are reported', () => {
  const { c, store } = cluster();
  c.applyConfChange(addNode(A, ['http://a:1']));
  assert.equal(c.setAttributes(A, { name: 'a', clientUrls: ['http://a:2379'] }), 'updated');
  assert.deepEqual(
    c.memberByName('a'),
    makeMember({ id: A, name: 'a', peerUrls: ['http://a:1'], clientUrls: ['http://a:2379'] }),
  );
  assert.deepEqual(store.dump('members'), [
    ['aa', '{"id":170,"peerURLs":["http://a:1"],"name":"a","clientURLs":["http://a:2379"]}'],
  ]);
  c.applyConfChange(addNode(B, ['http://b:1']));
  c.applyConfChange(remove(B));
  assert.equal(c.setAttributes(B, { name: 'b', clientUrls: [] }), 'removed');
  assert.equal(c.setAttributes(C, { name: 'c', clientUrls: [] }), 'unknown');
});

test('cluster version is kept in the cluster bucket', () => {
  const { c, store } = cluster();
  assert.equal(c.version(), undefined);
  c.setVersion('3.4.0');
  assert.equal(c.version(), '3.4.0');
  assert.deepEqual(store.dump('cluster'), [['clusterVersion', '3.4.0']]);
  assert.throws(() => c.setVersion('3.4'), RangeError);
});

test('strict reconfig: started-member quorum as etcd counts it', () => {
  const { c } = cluster();
  c.applyConfChange(addNode(A, ['http://a:1']));
  // One voter, not started: adding a second is still allowed only if that one is started.
  assert.equal(c.isReadyToAddVotingMember(), false);
  c.setAttributes(A, { name: 'a', clientUrls: [] });
  assert.equal(c.isReadyToAddVotingMember(), true); // 1 started, 2 after: the restore case
  c.applyConfChange(addNode(B, ['http://b:1']));
  // Two voters, one started: a third needs 2 of 3 started.
  assert.equal(c.isReadyToAddVotingMember(), false);
  assert.equal(c.isReadyToRemoveVotingMember(B), true); // leaves A, started
  assert.equal(c.isReadyToRemoveVotingMember(A), false); // leaves B, not started
  assert.equal(c.isReadyToRemoveVotingMember(0x1234n), false); // unknown: 1 of 2 started
  c.applyConfChange(addLearner(L, ['http://l:1']));
  assert.equal(c.isReadyToPromoteMember(L), true); // 1 + learner of 3
  c.setAttributes(B, { name: 'b', clientUrls: [] });
  assert.equal(c.isReadyToAddVotingMember(), true);
  assert.equal(c.isReadyToRemoveVotingMember(0x1234n), true);
});

test('errors map to etcd wire texts and gRPC codes', () => {
  const table: [MembershipErrorReason, string, number, string][] = [
    ['id-removed', 'NotFound', 5, 'etcdserver: member not found'],
    ['id-not-found', 'NotFound', 5, 'etcdserver: member not found'],
    ['id-exists', 'FailedPrecondition', 9, 'etcdserver: member ID already exist'],
    ['peer-url-exists', 'FailedPrecondition', 9, 'etcdserver: Peer URLs already exists'],
    ['member-not-learner', 'FailedPrecondition', 9, 'etcdserver: can only promote a learner member'],
    ['too-many-learners', 'FailedPrecondition', 9, 'etcdserver: too many learner members in cluster'],
    [
      'not-enough-started',
      'Unknown',
      2,
      'etcdserver: re-configuration failed due to not enough started members',
    ],
    [
      'learner-not-ready',
      'FailedPrecondition',
      9,
      'etcdserver: can only promote a learner member which is in sync with leader',
    ],
    ['unhealthy', 'Unavailable', 14, 'etcdserver: unhealthy cluster'],
    ['bad-urls', 'InvalidArgument', 3, 'etcdserver: given member URLs are invalid'],
  ];
  for (const [reason, code, status, message] of table) {
    assert.deepEqual(grpcStatusOf(reason), { code, status, message });
    assert.deepEqual(toGrpcStatus(new MembershipError(reason)), { code, status, message });
  }
  assert.equal(new MembershipError('id-exists').message, 'membership: ID exists');
  assert.equal(toGrpcStatus(new Error('x')), undefined);
});

// Random change sequences against a simple model: membership, removal and URL uniqueness invariants.
const ids = [1n, 2n, 3n, 4n, 5n];
const urlArb = fc.constantFrom(
  'http://u:1',
  'http://u:2',
  'http://u:3',
  'http://u:4',
  'http://u:5',
  'http://u:6',
);
const changeArb: fc.Arbitrary<ConfChange> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...ids), fc.uniqueArray(urlArb, { minLength: 1, maxLength: 2 }))
    .map(([id, u]) => addNode(id, u)),
  fc
    .tuple(fc.constantFrom(...ids), fc.uniqueArray(urlArb, { minLength: 1, maxLength: 2 }))
    .map(([id, u]) => addLearner(id, u)),
  fc.constantFrom(...ids).map(remove),
  fc.constantFrom(...ids).map(promote),
  fc
    .tuple(fc.constantFrom(...ids), fc.uniqueArray(urlArb, { minLength: 1, maxLength: 2 }))
    .map(([id, u]) => update(id, u)),
);

test('property: invariants hold and recovery reproduces the state after any change sequence', () => {
  fc.assert(
    fc.property(fc.array(changeArb, { maxLength: 40 }), (changes) => {
      const { c, store } = cluster(1n);
      for (const cc of changes) {
        try {
          c.applyConfChange(cc);
        } catch (e) {
          if (!(e instanceof MembershipError)) throw e;
        }
        const members = c.members();
        const urls = members.flatMap((m) => m.peerUrls);
        assert.equal(new Set(urls).size, urls.length, 'peer URLs are unique');
        assert.ok(c.learners().length <= MAX_LEARNERS);
        for (const m of members) assert.equal(c.isRemoved(m.id), false);
      }
      const again = RaftCluster.recover({ clusterId: 0x99n, localId: 1n }, store);
      assert.deepEqual(again.members(), c.members());
      assert.deepEqual(again.removedIds(), c.removedIds());
    }),
    { seed: 42, numRuns: 300 },
  );
});
