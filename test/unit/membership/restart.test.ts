import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { RaftCluster } from '../../../src/membership/cluster.js';
import { bootstrapNewCluster, bootstrapPeers } from '../../../src/membership/initial-cluster.js';
import { Backend } from '../../../src/storage/backend/index.js';
import { addLearner, remove, update } from './helpers.js';

test('membership written through a real backend recovers identically after reopening', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-membership-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'member', 'snap', 'db');

  const boot = bootstrapNewCluster({
    name: 'n1',
    initialCluster: 'n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2381,n3=http://127.0.0.1:2382',
    token: 'restart',
    advertisePeerUrls: ['http://127.0.0.1:2380'],
  });
  const identity = { clusterId: boot.clusterId, localId: boot.localId };

  const be = Backend.open(path, { onCommitError: () => {} });
  let before: RaftCluster;
  try {
    const c = RaftCluster.create(identity, be.batchTx);
    // The bootstrap entries, as raft hands them to apply.
    for (const p of bootstrapPeers(boot.members))
      c.applyConfChange({ type: 'addNode', nodeId: p.id, context: p.context });
    c.setAttributes(boot.localId, { name: 'n1', clientUrls: ['http://127.0.0.1:2379'] });
    c.setVersion('3.4.0');
    const learner = 0xabcdef0123456789n;
    c.applyConfChange(addLearner(learner, ['http://127.0.0.1:2383']));
    c.applyConfChange(update(learner, ['http://127.0.0.1:2384']));
    c.applyConfChange(remove(boot.members[2].id));
    before = c;
    // Recovering from the uncommitted batch already sees the writes (the backend overlays them).
    assert.deepEqual(RaftCluster.recover(identity, be.batchTx).members(), c.members());
    await be.batchTx.commit();
  } finally {
    await be.close();
  }

  const again = Backend.open(path, { onCommitError: () => {} });
  try {
    const after = RaftCluster.recover(identity, again.batchTx);
    assert.deepEqual(after.members(), before.members());
    assert.deepEqual(after.removedIds(), before.removedIds());
    assert.equal(after.version(), '3.4.0');
    assert.equal(after.clusterId, boot.clusterId);
    assert.equal(after.isRemoved(boot.members[2].id), true);
    assert.equal(after.memberByName('n1')?.clientUrls[0], 'http://127.0.0.1:2379');
    // The raw rows are etcd's: hex keys, member JSON, "removed".
    const removedKey = Buffer.from(boot.members[2].id.toString(16));
    assert.equal(Buffer.from(again.get('members_removed', removedKey) ?? []).toString(), 'removed');
    const local = again.get('members', Buffer.from(boot.localId.toString(16)));
    assert.equal(
      Buffer.from(local ?? []).toString(),
      `{"id":${boot.localId},"peerURLs":["http://127.0.0.1:2380"],"name":"n1","clientURLs":["http://127.0.0.1:2379"]}`,
    );
  } finally {
    await again.close();
  }
});
