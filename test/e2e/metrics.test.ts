// End to end: GET /metrics of real `cairn` processes, a single member and a 3-member cluster, read
// as Prometheus does (the text exposition format) after writes through the JSON gateway: etcd's
// leader gauges, raft indexes, disk histograms, keyspace size and counts, and per-peer network
// series labelled with the members' IDs in hex.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { computeMemberId, formatId } from '../../src/membership/index.js';
import { cairnCluster, waitFor, type CairnMember } from '../support/cairn-cluster.js';
import { parseExposition, valueWith, type Family } from '../support/exposition.js';

async function scrape(m: CairnMember): Promise<Map<string, Family>> {
  const res = await fetch(`${m.clientUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

async function put(m: CairnMember, key: string, val: string): Promise<void> {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const res = await fetch(`${m.clientUrl}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key), value: b64(val) }),
  });
  assert.equal(res.status, 200, await res.text());
}

/** Waits until every member's /metrics reports a leader and exactly one reports itself leader. */
async function oneLeader(members: readonly CairnMember[]): Promise<CairnMember> {
  return waitFor('every member to see the same single leader', async () => {
    const scrapes = await Promise.all(members.map(scrape));
    if (!scrapes.every((s) => valueWith(s, 'etcd_server_has_leader') === 1)) return undefined;
    const leaders = members.filter((_, i) => valueWith(scrapes[i], 'etcd_server_is_leader') === 1);
    return leaders.length === 1 ? leaders[0] : undefined;
  });
}

test('a single member serves etcd metrics with its leader, raft indexes, disk timings and keyspace', async (t) => {
  const c = await cairnCluster(t, ['default']);
  const [m] = c.members;
  c.start(m);
  await oneLeader(c.members);
  const puts = 20;
  for (let i = 0; i < puts; i++) await put(m, `k${i}`, 'v');

  // The backend commits in the background (every 100 ms): wait for the first.
  const s = await waitFor('a backend commit', async () => {
    const s = await scrape(m);
    return (valueWith(s, 'etcd_disk_backend_commit_duration_seconds_count') ?? 0) > 0 ? s : undefined;
  });
  const id = formatId(computeMemberId([m.peerUrl], c.token));
  assert.equal(valueWith(s, 'etcd_server_has_leader'), 1);
  assert.equal(valueWith(s, 'etcd_server_is_leader'), 1);
  assert.equal(valueWith(s, 'etcd_server_id', { server_id: id }), 1);
  assert.equal(valueWith(s, 'etcd_server_version', { server_version: '3.4.23' }), 1);
  assert.equal(valueWith(s, 'etcd_cluster_version', { cluster_version: '3.4' }), 1);
  assert.equal(valueWith(s, 'etcd_server_leader_changes_seen_total'), 1);
  assert.ok((valueWith(s, 'etcd_server_proposals_committed_total') ?? 0) >= puts);
  assert.ok((valueWith(s, 'etcd_server_proposals_applied_total') ?? 0) >= puts);
  assert.equal(valueWith(s, 'etcd_server_proposals_pending'), 0);
  assert.equal(valueWith(s, 'etcd_server_proposals_failed_total'), 0);
  assert.ok((valueWith(s, 'etcd_disk_wal_fsync_duration_seconds_count') ?? 0) >= puts);
  assert.equal(
    valueWith(s, 'etcd_disk_wal_fsync_duration_seconds_bucket', { le: '+Inf' }),
    valueWith(s, 'etcd_disk_wal_fsync_duration_seconds_count'),
  );
  assert.ok((valueWith(s, 'etcd_mvcc_db_total_size_in_bytes') ?? 0) > 0);
  assert.ok((valueWith(s, 'etcd_mvcc_db_total_size_in_use_in_bytes') ?? 0) > 0);
  assert.equal(valueWith(s, 'etcd_debugging_mvcc_keys_total'), puts);
  assert.equal(valueWith(s, 'etcd_mvcc_put_total'), puts);
  assert.equal(valueWith(s, 'etcd_debugging_mvcc_current_revision'), puts + 1);
  // Process metrics, as etcd's Go process collector exports them.
  assert.ok((valueWith(s, 'process_resident_memory_bytes') ?? 0) > 0);
  assert.equal(s.get('process_cpu_seconds_total')?.type, 'counter');
  assert.ok((valueWith(s, 'process_open_fds') ?? 0) > 0);
  // Every etcd family is typed and documented.
  for (const [name, f] of s) {
    if (name.startsWith('etcd_'))
      assert.ok(f.type !== undefined && f.help !== undefined, `${name} has TYPE and HELP`);
  }

  const health = await fetch(`${m.clientUrl}/health`);
  assert.equal(health.status, 200);
  assert.equal(valueWith(await scrape(m), 'etcd_server_health_success'), 1);
});

test('in a 3-member cluster every member has the leader, one is leader, and peer traffic is labelled by peer ID', async (t) => {
  const c = await cairnCluster(t, ['n1', 'n2', 'n3']);
  for (const m of c.members) c.start(m);
  const leader = await oneLeader(c.members);
  const ids = new Map(c.members.map((m) => [m, formatId(computeMemberId([m.peerUrl], c.token))]));
  const puts = 30;
  for (let i = 0; i < puts; i++) await put(c.members[i % 3], `k${i}`, 'v');

  // Followers learn the commit index from the leader's next message: wait for all of them.
  const scrapes = await waitFor('every member to commit and apply every put', async () => {
    const scrapes = await Promise.all(c.members.map(scrape));
    const done = scrapes.every(
      (s) =>
        (valueWith(s, 'etcd_debugging_mvcc_keys_total') ?? 0) === puts &&
        (valueWith(s, 'etcd_disk_backend_commit_duration_seconds_count') ?? 0) > 0,
    );
    return done ? scrapes : undefined;
  });
  for (const [i, m] of c.members.entries()) {
    const s = scrapes[i];
    const self = ids.get(m) ?? '';
    assert.equal(valueWith(s, 'etcd_server_has_leader'), 1, m.name);
    assert.equal(valueWith(s, 'etcd_server_is_leader'), m === leader ? 1 : 0, m.name);
    assert.equal(valueWith(s, 'etcd_server_id', { server_id: self }), 1, m.name);
    assert.ok((valueWith(s, 'etcd_server_proposals_committed_total') ?? 0) >= puts, m.name);
    assert.ok((valueWith(s, 'etcd_disk_wal_fsync_duration_seconds_count') ?? 0) > 0, m.name);
    assert.ok((valueWith(s, 'etcd_mvcc_db_total_size_in_bytes') ?? 0) > 0, m.name);
    // Every member applies every put, whichever member it was sent to.
    assert.equal(valueWith(s, 'etcd_mvcc_put_total'), puts, m.name);
    for (const peer of c.members) {
      if (peer === m) continue;
      const to = ids.get(peer) ?? '';
      const what = `${m.name} -> ${peer.name} (${to})`;
      // Every link is up and pinged; raft traffic flows between the leader and each follower only.
      assert.equal(valueWith(s, 'etcd_network_active_peers', { Local: self, Remote: to }), 1, what);
      assert.ok((valueWith(s, 'etcd_network_peer_round_trip_time_seconds_count', { To: to }) ?? 0) > 0, what);
      const rtt = valueWith(s, 'etcd_network_peer_round_trip_time_seconds_sum', { To: to }) ?? -1;
      assert.ok(rtt > 0 && rtt < 60, `${what}: round trips in seconds (${rtt})`);
      if (m !== leader && peer !== leader) continue;
      assert.ok((valueWith(s, 'etcd_network_peer_sent_bytes_total', { To: to }) ?? 0) > 0, what);
      assert.ok((valueWith(s, 'etcd_network_peer_received_bytes_total', { From: to }) ?? 0) > 0, what);
    }
    // Only peers: no series for the member itself, none for unknown IDs.
    const peerLabels = [...s.values()]
      .flatMap((f) => f.samples)
      .filter((x) => x.name.startsWith('etcd_network_peer_'))
      .map((x) => x.labels.To ?? x.labels.From);
    assert.deepEqual(
      [...new Set(peerLabels)].sort(),
      c.members
        .filter((p) => p !== m)
        .map((p) => ids.get(p))
        .sort(),
      m.name,
    );
  }
});
