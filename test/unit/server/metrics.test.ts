// The member's Prometheus metrics: etcd 3.4's names, types, help texts, label names and histogram
// buckets (copied from a real etcd 3.4.23's /metrics), and the counting through each layer's hook:
// the WAL's fsyncs, the backend's commits, the keyspace's transactions, the transport's bytes, and a
// running member's leader, proposals, applies and health.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { KvApplier } from '../../../src/mvcc/kv-apply.js';
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
} from '../../../src/proto/etcdserverpb/rpc.js';
import type { Message } from '../../../src/raft/types.js';
import { openMember } from '../../../src/server/bootstrap.js';
import {
  HeartbeatTimeoutDetector,
  SLOW_APPLY_MS,
  ServerMetrics,
  type MemberView,
} from '../../../src/server/metrics.js';
import { Backend } from '../../../src/storage/backend/index.js';
import { Wal } from '../../../src/storage/wal/index.js';
import { bytes, keyspaceFixture } from '../mvcc/helpers.js';
import { append, heartbeat, newTransport, startServer, waitFor } from '../transport/helpers.js';
import { parseExposition, valueOf, type Family } from '../../support/exposition.js';
import { options } from './member-options.js';

// ---- Reading the exposition text ------------------------------------------------------------------

async function scrape(metrics: ServerMetrics): Promise<Map<string, Family>> {
  return parseExposition(await metrics.registry.metrics());
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-metrics-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const MEMBER_ID = 0x8e9e05c52164694dn;

function fixedView(over: Partial<MemberView> = {}): MemberView {
  return {
    hasLeader: () => true,
    isLeader: () => false,
    isLearner: () => false,
    committedIndex: () => 42,
    appliedIndex: () => 41,
    dbSize: () => 20480,
    dbSizeInUse: () => 16384,
    keys: () => 7,
    currentRevision: () => 9,
    compactRevision: () => -1,
    peers: () => [
      { id: 0xabcn, active: true },
      { id: 0x5cae315174de75b1n, active: false },
    ],
    ...over,
  };
}

function attached(view: MemberView = fixedView()): ServerMetrics {
  const metrics = new ServerMetrics();
  metrics.attach(
    {
      memberId: MEMBER_ID,
      serverVersion: '3.4.23',
      clusterVersion: '3.4.0',
      quotaBackendBytes: 2147483648,
      heartbeatMs: 100,
    },
    view,
  );
  return metrics;
}

// ---- etcd's names, types, help texts and buckets -----------------------------------------------------

/** [name, type, help, label names] as real etcd 3.4.23 serves them. */
const ETCD: readonly (readonly [string, string, string, readonly string[]])[] = [
  ['etcd_server_has_leader', 'gauge', 'Whether or not a leader exists. 1 is existence, 0 is not.', []],
  ['etcd_server_is_leader', 'gauge', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', []],
  ['etcd_server_is_learner', 'gauge', 'Whether or not this member is a learner. 1 if is, 0 otherwise.', []],
  ['etcd_server_leader_changes_seen_total', 'counter', 'The number of leader changes seen.', []],
  [
    'etcd_server_heartbeat_send_failures_total',
    'counter',
    'The total number of leader heartbeat send failures (likely overloaded from slow disk).',
    [],
  ],
  [
    'etcd_server_slow_apply_total',
    'counter',
    'The total number of slow apply requests (likely overloaded from slow disk).',
    [],
  ],
  [
    'etcd_server_proposals_committed_total',
    'gauge',
    'The total number of consensus proposals committed.',
    [],
  ],
  ['etcd_server_proposals_applied_total', 'gauge', 'The total number of consensus proposals applied.', []],
  ['etcd_server_proposals_pending', 'gauge', 'The current number of pending proposals to commit.', []],
  ['etcd_server_proposals_failed_total', 'counter', 'The total number of failed proposals seen.', []],
  ['etcd_server_quota_backend_bytes', 'gauge', 'Current backend storage quota size in bytes.', []],
  [
    'etcd_server_id',
    'gauge',
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    ['server_id'],
  ],
  [
    'etcd_server_version',
    'gauge',
    "Which version is running. 1 for 'server_version' label with current version.",
    ['server_version'],
  ],
  [
    'etcd_cluster_version',
    'gauge',
    "Which version is running. 1 for 'cluster_version' label with current cluster version",
    ['cluster_version'],
  ],
  ['etcd_server_health_success', 'counter', 'The total number of successful health checks', []],
  ['etcd_server_health_failures', 'counter', 'The total number of failed health checks', []],
  [
    'etcd_disk_wal_fsync_duration_seconds',
    'histogram',
    'The latency distributions of fsync called by WAL.',
    [],
  ],
  [
    'etcd_disk_backend_commit_duration_seconds',
    'histogram',
    'The latency distributions of commit called by backend.',
    [],
  ],
  [
    'etcd_disk_backend_snapshot_duration_seconds',
    'histogram',
    'The latency distribution of backend snapshots.',
    [],
  ],
  [
    'etcd_disk_backend_defrag_duration_seconds',
    'histogram',
    'The latency distribution of backend defragmentation.',
    [],
  ],
  [
    'etcd_mvcc_db_total_size_in_bytes',
    'gauge',
    'Total size of the underlying database physically allocated in bytes.',
    [],
  ],
  [
    'etcd_debugging_mvcc_db_total_size_in_bytes',
    'gauge',
    'Total size of the underlying database physically allocated in bytes.',
    [],
  ],
  [
    'etcd_mvcc_db_total_size_in_use_in_bytes',
    'gauge',
    'Total size of the underlying database logically in use in bytes.',
    [],
  ],
  ['etcd_debugging_mvcc_keys_total', 'gauge', 'Total number of keys.', []],
  ['etcd_debugging_mvcc_current_revision', 'gauge', 'The current revision of store.', []],
  ['etcd_debugging_mvcc_compact_revision', 'gauge', 'The revision of the last compaction in store.', []],
  ['etcd_mvcc_put_total', 'counter', 'Total number of puts seen by this member.', []],
  ['etcd_mvcc_delete_total', 'counter', 'Total number of deletes seen by this member.', []],
  ['etcd_mvcc_txn_total', 'counter', 'Total number of txns seen by this member.', []],
  ['etcd_mvcc_range_total', 'counter', 'Total number of ranges seen by this member.', []],
  ['etcd_debugging_mvcc_put_total', 'counter', 'Total number of puts seen by this member.', []],
  ['etcd_debugging_mvcc_delete_total', 'counter', 'Total number of deletes seen by this member.', []],
  ['etcd_debugging_mvcc_txn_total', 'counter', 'Total number of txns seen by this member.', []],
  ['etcd_debugging_mvcc_range_total', 'counter', 'Total number of ranges seen by this member.', []],
  [
    'etcd_network_peer_round_trip_time_seconds',
    'histogram',
    'Round-Trip-Time histogram between peers',
    ['To'],
  ],
  ['etcd_network_peer_sent_bytes_total', 'counter', 'The total number of bytes sent to peers.', ['To']],
  [
    'etcd_network_peer_received_bytes_total',
    'counter',
    'The total number of bytes received from peers.',
    ['From'],
  ],
  [
    'etcd_network_peer_sent_failures_total',
    'counter',
    'The total number of send failures from peers.',
    ['To'],
  ],
  [
    'etcd_network_active_peers',
    'gauge',
    'The current number of active peer connections.',
    ['Local', 'Remote'],
  ],
];

/** Bucket upper bounds (the `le` labels) as real etcd 3.4.23 prints them. */
const ETCD_BUCKETS: Readonly<Record<string, string>> = {
  etcd_disk_wal_fsync_duration_seconds:
    '0.001,0.002,0.004,0.008,0.016,0.032,0.064,0.128,0.256,0.512,1.024,2.048,4.096,8.192,+Inf',
  etcd_disk_backend_commit_duration_seconds:
    '0.001,0.002,0.004,0.008,0.016,0.032,0.064,0.128,0.256,0.512,1.024,2.048,4.096,8.192,+Inf',
  etcd_disk_backend_snapshot_duration_seconds:
    '0.01,0.02,0.04,0.08,0.16,0.32,0.64,1.28,2.56,5.12,10.24,20.48,40.96,81.92,163.84,327.68,655.36,+Inf',
  etcd_disk_backend_defrag_duration_seconds:
    '0.1,0.2,0.4,0.8,1.6,3.2,6.4,12.8,25.6,51.2,102.4,204.8,409.6,+Inf',
  etcd_network_peer_round_trip_time_seconds:
    '0.0001,0.0002,0.0004,0.0008,0.0016,0.0032,0.0064,0.0128,0.0256,0.0512,0.1024,0.2048,0.4096,0.8192,1.6384,3.2768,+Inf',
};

test("every metric has etcd 3.4's name, type, help text and label names", async () => {
  const metrics = attached();
  // Labelled series appear once used, as in etcd.
  metrics.peerRoundTripped(0xabcn, 0.0003);
  metrics.peerSent(0xabcn, 10);
  metrics.peerSendFailed(0xabcn, 1);
  metrics.peerReceived(0xabcn, 10);
  const families = await scrape(metrics);
  for (const [name, type, help, labelNames] of ETCD) {
    const f = families.get(name);
    assert.ok(f !== undefined, `${name} is exported`);
    assert.equal(f.type, type, `${name}'s type`);
    assert.equal(f.help, help, `${name}'s help`);
    assert.ok(f.samples.length > 0, `${name} has samples`);
    for (const s of f.samples) {
      const names = Object.keys(s.labels).filter((l) => l !== 'le');
      assert.deepEqual(names.sort(), [...labelNames].sort(), `${s.name}'s label names`);
    }
  }
});

test("histograms have etcd's buckets", async () => {
  const metrics = attached();
  metrics.peerRoundTripped(0xabcn, 0.0003);
  const families = await scrape(metrics);
  for (const [name, buckets] of Object.entries(ETCD_BUCKETS)) {
    const les = families
      .get(name)
      ?.samples.filter((s) => s.name === `${name}_bucket`)
      .map((s) => s.labels.le);
    assert.equal(les?.join(','), buckets, name);
  }
});

test('the gauges that mirror member state read it at scrape time', async () => {
  let leader = false;
  let committed = 42;
  const metrics = attached(fixedView({ isLeader: () => leader, committedIndex: () => committed }));
  let f = await scrape(metrics);
  assert.equal(valueOf(f, 'etcd_server_has_leader'), 1);
  assert.equal(valueOf(f, 'etcd_server_is_leader'), 0);
  assert.equal(valueOf(f, 'etcd_server_proposals_committed_total'), 42);
  assert.equal(valueOf(f, 'etcd_server_proposals_applied_total'), 41);
  assert.equal(valueOf(f, 'etcd_mvcc_db_total_size_in_bytes'), 20480);
  assert.equal(valueOf(f, 'etcd_debugging_mvcc_db_total_size_in_bytes'), 20480);
  assert.equal(valueOf(f, 'etcd_mvcc_db_total_size_in_use_in_bytes'), 16384);
  assert.equal(valueOf(f, 'etcd_debugging_mvcc_keys_total'), 7);
  assert.equal(valueOf(f, 'etcd_debugging_mvcc_current_revision'), 9);
  assert.equal(valueOf(f, 'etcd_debugging_mvcc_compact_revision'), -1);
  assert.equal(valueOf(f, 'etcd_server_quota_backend_bytes'), 2147483648);
  assert.equal(valueOf(f, 'etcd_server_id', { server_id: '8e9e05c52164694d' }), 1);
  assert.equal(valueOf(f, 'etcd_server_version', { server_version: '3.4.23' }), 1);
  // etcd labels the cluster version with major.minor.
  assert.equal(valueOf(f, 'etcd_cluster_version', { cluster_version: '3.4' }), 1);
  assert.equal(valueOf(f, 'etcd_network_active_peers', { Local: '8e9e05c52164694d', Remote: 'abc' }), 1);
  assert.equal(
    valueOf(f, 'etcd_network_active_peers', { Local: '8e9e05c52164694d', Remote: '5cae315174de75b1' }),
    0,
  );
  leader = true;
  committed = 43;
  f = await scrape(metrics);
  assert.equal(valueOf(f, 'etcd_server_is_leader'), 1);
  assert.equal(valueOf(f, 'etcd_server_proposals_committed_total'), 43);
});

test('a gauge whose source throws keeps its last value and the scrape still succeeds', async () => {
  let closed = false;
  const metrics = attached(
    fixedView({
      dbSizeInUse: () => {
        if (closed) throw new Error('backend: closed');
        return 4096;
      },
    }),
  );
  assert.equal(valueOf(await scrape(metrics), 'etcd_mvcc_db_total_size_in_use_in_bytes'), 4096);
  closed = true;
  assert.equal(valueOf(await scrape(metrics), 'etcd_mvcc_db_total_size_in_use_in_bytes'), 4096);
});

// ---- The member-level hooks ---------------------------------------------------------------------------

test('leader changes count each new leader; heartbeats later than two intervals count as send failures', async () => {
  const metrics = attached();
  metrics.softState(0n, 0xan); // elected
  metrics.softState(0xan, 0xan); // same leader, other soft state change
  metrics.softState(0xan, 0n); // lost: not a change to a leader
  metrics.softState(0n, 0xbn);
  assert.equal(valueOf(await scrape(metrics), 'etcd_server_leader_changes_seen_total'), 2);

  let now = 0;
  const detector = new HeartbeatTimeoutDetector(200, () => now);
  assert.equal(detector.observe(1n), true, 'the first heartbeat has nothing to be late after');
  now = 200;
  assert.equal(detector.observe(1n), true, 'exactly two intervals is on time');
  now = 401;
  assert.equal(detector.observe(1n), false);
  assert.equal(detector.observe(2n), true, 'each peer is timed on its own');
  detector.reset();
  now = 10_000;
  assert.equal(detector.observe(1n), true, 'a reset forgets the last heartbeats');

  // Through the hook, with the real clock: heartbeats to a peer 300 ms apart (the limit is 200 ms);
  // only heartbeats are timed.
  const hb = (to: bigint): Message => heartbeat(MEMBER_ID, to, 1);
  metrics.messagesSent([hb(3n), append(MEMBER_ID, 4n, 1, 8)]);
  await new Promise((r) => setTimeout(r, 300));
  metrics.messagesSent([hb(3n), append(MEMBER_ID, 4n, 2, 8)]);
  metrics.messagesSent([hb(3n)]);
  assert.equal(valueOf(await scrape(metrics), 'etcd_server_heartbeat_send_failures_total'), 1);
});

test('proposals pending and failed, slow applies and health checks count through their hooks', async () => {
  const metrics = attached();
  metrics.proposalPending(1);
  metrics.proposalPending(1);
  metrics.proposalPending(-1);
  metrics.proposalFailed();
  metrics.applied(SLOW_APPLY_MS);
  metrics.applied(SLOW_APPLY_MS + 1);
  metrics.healthChecked(true);
  metrics.healthChecked(true);
  metrics.healthChecked(false);
  const f = await scrape(metrics);
  assert.equal(valueOf(f, 'etcd_server_proposals_pending'), 1);
  assert.equal(valueOf(f, 'etcd_server_proposals_failed_total'), 1);
  assert.equal(valueOf(f, 'etcd_server_slow_apply_total'), 1, 'only longer than 100 ms is slow');
  assert.equal(valueOf(f, 'etcd_server_health_success'), 2);
  assert.equal(valueOf(f, 'etcd_server_health_failures'), 1);
});

// ---- Storage hooks --------------------------------------------------------------------------------

test('the WAL reports each fsync it makes; a commit-only save does not sync', async (t) => {
  const metrics = attached();
  const dir = join(tempDir(t), 'wal');
  const wal = await Wal.create(dir, { nodeId: 1n, clusterId: 2n }, { onFsync: metrics.walFsync });
  const count = async (): Promise<number | undefined> =>
    valueOf(await scrape(metrics), 'etcd_disk_wal_fsync_duration_seconds_count');
  assert.equal(await count(), 1, 'creating syncs the first segment');
  const entry = { term: 1, index: 1, type: 'normal' as const, data: bytes('x') };
  await wal.save({ term: 1, vote: 1n, commit: 0 }, [entry]);
  assert.equal(await count(), 2);
  await wal.save({ term: 1, vote: 1n, commit: 1 }, []); // commit only: etcd's MustSync says no
  assert.equal(await count(), 2);
  await wal.saveSnapshot({ index: 1, term: 1 });
  assert.equal(await count(), 3);
  await wal.close(); // closing syncs the tail
  const f = await scrape(metrics);
  assert.equal(valueOf(f, 'etcd_disk_wal_fsync_duration_seconds_count'), 4);
  const sum = valueOf(f, 'etcd_disk_wal_fsync_duration_seconds_sum') ?? -1;
  assert.ok(sum > 0 && sum < 30, `durations are in seconds (${sum})`);
  assert.equal(valueOf(f, 'etcd_disk_wal_fsync_duration_seconds_bucket', { le: '+Inf' }), 4);
});

test('the backend reports each commit', async (t) => {
  const metrics = attached();
  const backend = Backend.open(join(tempDir(t), 'db'), {
    onCommit: metrics.backendCommit,
    batchInterval: 60_000,
    logger: { warn: () => {} },
  });
  t.after(() => backend.close());
  backend.batchTx.put('key', bytes('a'), bytes('1'));
  await backend.commit();
  await backend.commit(); // nothing pending: no commit
  backend.batchTx.put('key', bytes('b'), bytes('2'));
  await backend.commit();
  assert.equal(valueOf(await scrape(metrics), 'etcd_disk_backend_commit_duration_seconds_count'), 2);
});

test("the keyspace counts ranges, puts, deletes and txns as etcd's metricsTxnWrite does", async (t) => {
  const metrics = attached();
  const fixture = keyspaceFixture(t);
  const { store } = fixture.open({ onTxnEnd: metrics.txnEnded });
  const kv = new KvApplier(store, () => true);
  kv.put(PutRequest.fromPartial({ key: bytes('a'), value: bytes('1') })); // put
  kv.put(PutRequest.fromPartial({ key: bytes('a'), value: bytes('2'), prevKv: true })); // range + put: a txn
  kv.range(RangeRequest.fromPartial({ key: bytes('a') })); // range
  kv.deleteRange(DeleteRangeRequest.fromPartial({ key: bytes('a') })); // delete
  kv.txn(
    TxnRequest.fromPartial({
      compare: [
        {
          key: bytes('a'),
          target: Compare_CompareTarget.VERSION,
          result: Compare_CompareResult.EQUAL,
          targetUnion: { $case: 'version', value: 0n },
        },
      ],
      success: [
        { request: { $case: 'requestPut', value: PutRequest.fromPartial({ key: bytes('b') }) } },
        { request: { $case: 'requestPut', value: PutRequest.fromPartial({ key: bytes('c') }) } },
      ],
    }),
  ); // range (the compare) + 2 puts: a txn
  assert.throws(() => kv.range(RangeRequest.fromPartial({ key: bytes('a'), revision: 99n }))); // still a range
  let f = await scrape(metrics);
  for (const prefix of ['etcd_mvcc', 'etcd_debugging_mvcc']) {
    assert.equal(valueOf(f, `${prefix}_range_total`), 4, prefix);
    assert.equal(valueOf(f, `${prefix}_put_total`), 4, prefix);
    assert.equal(valueOf(f, `${prefix}_delete_total`), 1, prefix);
    assert.equal(valueOf(f, `${prefix}_txn_total`), 2, prefix);
  }
  assert.equal(store.liveKeys, 2, 'b and c exist; a was deleted');

  // A lease revocation deleting two keys is one transaction of two deletes (etcd: DeleteRange per key).
  store.deleteKeys([bytes('b'), bytes('c')]);
  f = await scrape(metrics);
  assert.equal(valueOf(f, 'etcd_mvcc_delete_total'), 3);
  assert.equal(valueOf(f, 'etcd_mvcc_txn_total'), 3);
  assert.equal(store.liveKeys, 0);

  kv.put(PutRequest.fromPartial({ key: bytes('d'), value: bytes('1') }));
  kv.put(PutRequest.fromPartial({ key: bytes('d'), value: bytes('2') }));
  kv.put(PutRequest.fromPartial({ key: bytes('e'), value: bytes('1') }));
  assert.equal(store.liveKeys, 2, 'overwriting a key does not add one');
  // The count is rebuilt from the backend's history on open.
  await fixture.close();
  const reopened = fixture.open();
  assert.equal(reopened.store.liveKeys, 2);
});

// ---- Transport hooks --------------------------------------------------------------------------------

test("the transport's hooks label sent, received and failed traffic and round trips with peer IDs in hex", async (t) => {
  const A = 0xaan;
  const B = 0xbb01n;
  const sender = attached();
  const receiver = attached();
  const b = await startServer(B, { onReceived: receiver.peerReceived });
  t.after(() => b.server.close());
  const rtts: number[] = [];
  const a = newTransport(A, {
    onRoundTrip: (id, seconds) => {
      rtts.push(seconds);
      sender.peerRoundTripped(id, seconds);
    },
    onSent: sender.peerSent,
    onSendFailures: sender.peerSendFailed,
  });
  t.after(() => a.transport.close());
  a.transport.addPeer(B, [b.url]);
  await waitFor(() => a.transport.activeSince(B) !== undefined, 'A connected to B');
  for (let i = 0; i < 20; i++) a.transport.send([heartbeat(A, B, i)]);
  await waitFor(() => b.rec.messages.length === 20, 'B received every heartbeat');
  await waitFor(() => rtts.length > 0, 'a round trip measured');
  const sent = valueOf(await scrape(sender), 'etcd_network_peer_sent_bytes_total', { To: 'bb01' });
  const received = valueOf(await scrape(receiver), 'etcd_network_peer_received_bytes_total', {
    From: 'aa',
  });
  assert.ok(sent !== undefined && sent > 0, `sent ${sent}`);
  assert.equal(received, sent, 'every byte sent was received');
  const observed = valueOf(await scrape(sender), 'etcd_network_peer_round_trip_time_seconds_count', {
    To: 'bb01',
  });
  assert.equal(observed, rtts.length);

  // Messages to a peer nobody listens on are lost: counted per message as send failures.
  const C = 0xcn;
  const gone = await startServer(C);
  await gone.server.close();
  a.transport.addPeer(C, [gone.url]);
  await waitFor(() => a.rec.unreachable.includes(C), 'C reported unreachable');
  for (let i = 0; i < 5; i++) a.transport.send([heartbeat(A, C, i)]);
  // Dropped at once while backing off, or with the connection attempt they were queued for.
  const deadline = Date.now() + 10_000;
  let failures: number | undefined;
  for (;;) {
    failures = valueOf(await scrape(sender), 'etcd_network_peer_sent_failures_total', { To: 'c' });
    if ((failures ?? 0) >= 5 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(failures !== undefined && failures >= 5, `failures ${failures}`);
  assert.equal(
    valueOf(await scrape(sender), 'etcd_network_peer_sent_failures_total', { To: 'bb01' }),
    undefined,
  );
});

// ---- A running member ---------------------------------------------------------------------------

test('a running member feeds its metrics: leader, proposals, WAL, backend, keyspace and health', async (t) => {
  const metrics = new ServerMetrics();
  // The member stops before its dir goes (one hook: after-hooks run in the order they were added).
  const dir = mkdtempSync(join(tmpdir(), 'cairn-metrics-'));
  const m = await openMember(options(join(dir, 'default.etcd'), { metrics }));
  t.after(async () => {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(m.metrics, metrics.registry, 'GET /metrics serves this registry');
  m.start();
  await waitFor(() => m.hasLeader(), 'a leader');
  const puts = 10;
  for (let i = 0; i < puts; i++) {
    await m.put(PutRequest.fromPartial({ key: bytes(`k${i}`), value: bytes('v') }));
  }
  // A client that gives up counts as a failed proposal (the entry itself still commits).
  const cancel = new AbortController();
  const abandoned = m.put(PutRequest.fromPartial({ key: bytes('late'), value: bytes('v') }), {
    signal: cancel.signal,
  });
  cancel.abort();
  await assert.rejects(abandoned, /context canceled/);
  assert.equal((await m.health()).health, true);
  await m.state.backend.commit();

  const f = await scrape(metrics);
  assert.equal(valueOf(f, 'etcd_server_has_leader'), 1);
  assert.equal(valueOf(f, 'etcd_server_is_leader'), 1);
  assert.equal(valueOf(f, 'etcd_server_leader_changes_seen_total'), 1);
  assert.equal(valueOf(f, 'etcd_server_id', { server_id: '8e9e05c52164694d' }), 1);
  assert.ok((valueOf(f, 'etcd_server_proposals_committed_total') ?? 0) >= puts);
  assert.ok((valueOf(f, 'etcd_server_proposals_applied_total') ?? 0) >= puts);
  assert.equal(valueOf(f, 'etcd_server_proposals_pending'), 0);
  assert.equal(valueOf(f, 'etcd_server_proposals_failed_total'), 1);
  assert.equal(valueOf(f, 'etcd_server_quota_backend_bytes'), 2 * 1024 * 1024 * 1024);
  assert.equal(valueOf(f, 'etcd_server_health_success'), 1);
  assert.ok((valueOf(f, 'etcd_disk_wal_fsync_duration_seconds_count') ?? 0) >= 1);
  assert.ok((valueOf(f, 'etcd_disk_backend_commit_duration_seconds_count') ?? 0) >= 1);
  assert.ok((valueOf(f, 'etcd_mvcc_db_total_size_in_bytes') ?? 0) > 0);
  assert.ok((valueOf(f, 'etcd_mvcc_db_total_size_in_use_in_bytes') ?? 0) > 0);
  assert.ok((valueOf(f, 'etcd_mvcc_put_total') ?? 0) >= puts);
  await waitFor(() => m.state.store.liveKeys === puts + 1, 'the abandoned put applied too');
  assert.equal(valueOf(await scrape(metrics), 'etcd_debugging_mvcc_keys_total'), puts + 1);
});
