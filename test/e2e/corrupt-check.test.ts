// End to end, etcd's corruption checks with real processes and real etcdctl: a follower whose keyspace
// was changed offline (one revision's value rewritten in its backend) is found by the leader's periodic
// check, which raises the CORRUPT alarm for it; restarted with --experimental-initial-corrupt-check it
// refuses to start, while the healthy members pass the same check.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { KeyValue } from '../../src/proto/mvccpb/kv.js';
import { Backend } from '../../src/storage/backend/index.js';
import { cairnCluster, waitFor, type CairnCluster, type CairnMember } from '../support/cairn-cluster.js';
import { endpointOf, etcdctl, etcdctlError, holds, leaderOf, memberIdOf } from '../support/etcdctl.js';

const PERIODIC = ['--experimental-corrupt-check-time', '1s', '--pre-vote'];
const INITIAL = [...PERIODIC, '--experimental-initial-corrupt-check'];

/** Rewrites the value stored at the newest revision of `key` in a stopped member's backend. */
async function corruptValue(m: CairnMember, key: string, value: string): Promise<void> {
  const be = Backend.open(join(m.dataDir, 'member', 'snap', 'db'));
  try {
    const name = new TextEncoder().encode(key);
    const rows = be.batchTx.range('key', new Uint8Array(0));
    const row = rows.filter((r) => Buffer.from(KeyValue.decode(r.value).key).equals(name)).pop();
    assert.ok(row !== undefined, `no revision of ${key} in ${m.dataDir}`);
    const kv = KeyValue.decode(row.value);
    be.batchTx.put(
      'key',
      row.key,
      KeyValue.encode({ ...kv, value: new TextEncoder().encode(value) }).finish(),
    );
    await be.forceCommit();
  } finally {
    await be.close();
  }
}

function memberOf(c: CairnCluster, endpoint: string): CairnMember {
  const m = c.members.find((x) => endpointOf(x) === endpoint);
  assert.ok(m !== undefined, `no member at ${endpoint}`);
  return m;
}

async function logShows(m: CairnMember, text: string): Promise<void> {
  await waitFor(`${m.name} to log "${text}"`, async () => (m.log.includes(text) ? true : undefined));
}

test('a corrupted follower: the leader raises CORRUPT for it; the initial check refuses to start it', async (t) => {
  const c = await cairnCluster(t, ['k1', 'k2', 'k3']);
  for (const m of c.members) c.start(m, PERIODIC);
  const leader = memberOf(c, await leaderOf(c));
  const [follower, other] = c.members.filter((m) => m !== leader);
  for (let i = 0; i < 5; i++) assert.equal(await etcdctl(c.endpoints(), 'put', `key${i}`, `v${i}`), 'OK\n');
  await holds(endpointOf(follower), 'key4', 'v4');
  const id = BigInt(`0x${await memberIdOf(c.endpoints(), follower.name)}`);
  // The checks run and agree while nothing is corrupted.
  await logShows(leader, 'finished peer corruption check');
  assert.equal(await etcdctl(c.endpoints(), 'alarm', 'list'), '');

  await c.kill(follower, 'SIGTERM');
  await corruptValue(follower, 'key2', 'not-v2');
  c.start(follower, PERIODIC);
  // etcdctl prints the AlarmMember's protobuf text form: decimal ID, trailing space.
  const expected = `memberID:${id} alarm:CORRUPT \n`;
  await waitFor('the CORRUPT alarm', async () =>
    (await etcdctl(endpointOf(leader), 'alarm', 'list')) === expected ? true : undefined,
  );
  assert.match(leader.log, /same compact revision then hashes must match/);
  assert.match(
    await etcdctlError(endpointOf(leader), '5s', 'put', 'after', 'x'),
    /etcdserver: corrupt cluster/,
  );

  // Restarted with the initial check, the corrupted member finds it differs from its peers and exits.
  await c.kill(follower, 'SIGTERM');
  follower.log = '';
  c.start(follower, INITIAL);
  const code = await follower.exited;
  assert.notEqual(code, 0);
  assert.match(follower.log, /found different hash values from remote peer/);
  assert.match(follower.log, /found data inconsistency with peers/);
  assert.doesNotMatch(follower.log, /serving client traffic/);

  // The healthy members pass the same check (the stopped one is unreachable, which is no failure).
  for (const m of [other, leader]) {
    await c.kill(m, 'SIGTERM');
    m.log = '';
    c.start(m, INITIAL);
    await logShows(m, 'initial corruption checking passed; no corruption');
    await logShows(m, 'serving client traffic');
    assert.doesNotMatch(m.log, /found data inconsistency/);
    await leaderOf(c);
  }
  assert.equal(await etcdctl(c.endpoints(), 'alarm', 'list'), expected);
});
