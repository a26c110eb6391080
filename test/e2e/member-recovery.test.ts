// End to end, the seeds' member procedures with real processes and real etcdctl: migrating a member
// to a new data dir and peer URL, and a member restarted from an out-of-date copy of its data dir,
// which must refuse to run (it lost entries it had acknowledged) and is then replaced.

import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { test } from 'node:test';

import { Client } from '../../src/client/index.js';
import { cairnCluster, waitFor, type CairnCluster } from '../support/cairn-cluster.js';
import { endpointOf, etcdctl, holds, leaderOf, memberIdOf, started } from '../support/etcdctl.js';

async function fill(c: CairnCluster, prefix: string, count: number): Promise<void> {
  const client = Client.connect({ endpoints: c.endpoints().split(',') });
  try {
    for (let i = 0; i < count; i += 32) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 32); j++) batch.push(client.kv.put(`${prefix}${j}`, `v${j}`));
      await Promise.all(batch);
    }
  } finally {
    client.close();
  }
}

async function countAt(endpoint: string, prefix: string): Promise<number> {
  const out = await etcdctl(endpoint, 'get', '--prefix', prefix, '--keys-only', '--consistency', 's');
  return out.split('\n').filter((l) => l !== '').length;
}

/** A member other than the leader. */
async function aFollower(c: CairnCluster): Promise<CairnCluster['members'][number]> {
  const leader = await leaderOf(c);
  return c.members.find((m) => m.process !== undefined && !leader.endsWith(endpointOf(m)))!;
}

test('member migration: stop, copy the data dir, member update, start there with the same ID and data', async (t) => {
  const c = await cairnCluster(t, ['m1', 'm2', 'm3']);
  await started(c);
  await fill(c, 'mig-', 300);
  const moving = await aFollower(c);
  const id = await memberIdOf(c.endpoints(), moving.name);
  await c.kill(moving, 'SIGTERM');

  // The new place: another data dir and another peer URL, the same name.
  const moved = await c.newMember(moving.name, `${moving.name}-moved`);
  cpSync(moving.dataDir, moved.dataDir, { recursive: true });
  c.members.splice(c.members.indexOf(moving), 1);
  const updated = await etcdctl(c.endpoints(), 'member', 'update', id, `--peer-urls=${moved.peerUrl}`);
  assert.match(updated, new RegExp(`^Member +${id} updated in cluster +[0-9a-f]+\\n$`));
  c.start(moved);
  await holds(endpointOf(moved), 'mig-299', 'v299');
  await waitFor('the moved member to publish its client URL', async () =>
    (await etcdctl(c.endpoints(), 'member', 'list')).includes(
      `${id}, started, ${moving.name}, ${moved.peerUrl}, ${moved.clientUrl}, false`,
    )
      ? true
      : undefined,
  );
  assert.equal(await countAt(endpointOf(moved), 'mig-'), 300);
  assert.equal(await etcdctl(endpointOf(moved), 'put', 'after-move', '1'), 'OK\n');
  await holds(endpointOf(moved), 'after-move', '1');
});

test('a member restarted from an out-of-date copy of its data dir refuses to run, and is replaced', async (t) => {
  const c = await cairnCluster(t, ['o1', 'o2', 'o3']);
  await started(c);
  await fill(c, 'old-', 50);
  const stale = await aFollower(c);
  const id = await memberIdOf(c.endpoints(), stale.name);
  await holds(endpointOf(stale), 'old-49', 'v49');

  // A copy of its data dir, taken while it is stopped; then it goes on acknowledging new writes.
  await c.kill(stale, 'SIGTERM');
  const copy = `${stale.dataDir}-copy`;
  cpSync(stale.dataDir, copy, { recursive: true });
  c.start(stale);
  await fill(c, 'new-', 100);
  await holds(endpointOf(stale), 'new-99', 'v99');
  await c.kill(stale, 'SIGTERM');

  // Back on the old copy: the leader's first heartbeat shows it lost what it acknowledged.
  rmSync(stale.dataDir, { recursive: true, force: true });
  cpSync(copy, stale.dataDir, { recursive: true });
  rmSync(copy, { recursive: true, force: true });
  c.start(stale);
  const code = await waitFor('the stale member to exit', async () => {
    if (stale.process !== undefined) return undefined;
    return stale.exited;
  });
  assert.equal(code, 1, stale.log);
  assert.match(stale.log, /has lost log entries it had acknowledged/);
  assert.match(stale.log, new RegExp(`cairnctl member remove ${id}`));
  // The other two never stopped serving.
  assert.equal(await etcdctl(c.endpoints(), 'put', 'while-stale', '1'), 'OK\n');

  // The remedy it names: remove it, wipe its data dir, add it back and start it empty.
  // etcd's strict reconfiguration check may refuse it ("unhealthy cluster") while the transport
  // still counts the stale member's short visit as activity: retried, as an operator would.
  await waitFor('member remove', () => etcdctl(c.endpoints(), 'member', 'remove', id), 20_000);
  rmSync(stale.dataDir, { recursive: true, force: true });
  c.members.splice(c.members.indexOf(stale), 1);
  const fresh = await c.newMember(stale.name, `${stale.name}-fresh`);
  await waitFor('member add', () =>
    etcdctl(c.endpoints(), 'member', 'add', fresh.name, `--peer-urls=${fresh.peerUrl}`),
  );
  c.start(fresh, ['--initial-cluster-state', 'existing']);
  await holds(endpointOf(fresh), 'while-stale', '1');
  assert.equal(await countAt(endpointOf(fresh), 'old-'), 50);
  assert.equal(await countAt(endpointOf(fresh), 'new-'), 100);
  assert.equal(await etcdctl(endpointOf(fresh), 'put', 'after-replace', '1'), 'OK\n');
});
