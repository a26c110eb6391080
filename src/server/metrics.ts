// etcd 3.4's Prometheus metrics for one member, on the registry served at GET /metrics: the names,
// types, label names, help texts and histogram buckets etcd exposes, so that operators' dashboards
// and alerts work unchanged. Help texts and buckets are copied from a real etcd 3.4.23's /metrics.
//
// The layers below the server (WAL, backend, keyspace, transport) know nothing of Prometheus: they
// take plain callbacks, and the hooks of ServerMetrics are those callbacks (arrow functions, so they
// can be passed as they are). Gauges that mirror member state (leader, indexes, db size, keys) are
// read at scrape time by collect callbacks from the MemberView the member attaches: nothing polls,
// and the request path pays nothing for them.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';

import type { Message } from '../raft/types.js';
import type { CommitInfo } from '../storage/backend/index.js';

/** etcd's warnApplyDuration: applying one request for longer than this counts as a slow apply. */
export const SLOW_APPLY_MS = 100;

/** Histogram buckets, as etcd declares them (prometheus.ExponentialBuckets(start, factor, count)). */
export const BUCKETS = {
  /** etcd_disk_wal_fsync_duration_seconds and etcd_disk_backend_commit_duration_seconds: 1 ms .. 8 s. */
  diskSync: exponentialBuckets(0.001, 2, 14),
  /** etcd_disk_backend_snapshot_duration_seconds: 10 ms .. 655 s. */
  backendSnapshot: exponentialBuckets(0.01, 2, 17),
  /** etcd_disk_backend_defrag_duration_seconds: 100 ms .. 409 s. */
  defrag: exponentialBuckets(0.1, 2, 13),
  /** etcd_network_peer_round_trip_time_seconds: 0.1 ms .. 3.3 s. */
  peerRoundTrip: exponentialBuckets(0.0001, 2, 16),
} as const;

/** What the state-mirroring gauges read at scrape time. A throw skips that gauge for the scrape. */
export interface MemberView {
  hasLeader(): boolean;
  isLeader(): boolean;
  isLearner(): boolean;
  committedIndex(): number;
  appliedIndex(): number;
  /** The backend file's size in bytes. */
  dbSize(): number;
  /** Bytes of the backend file in pages that hold data. */
  dbSizeInUse(): number;
  /** Keys that exist at the current revision. */
  keys(): number;
  currentRevision(): number;
  /** -1 before the first compaction, as etcd reports it. */
  compactRevision(): number;
  /** The other members, and whether a stream to each is up. */
  peers(): Iterable<{ readonly id: bigint; readonly active: boolean }>;
}

export interface MemberIdentity {
  readonly memberId: bigint;
  /** e.g. '3.4.23' */
  readonly serverVersion: string;
  /** e.g. '3.4.0'; etcd labels major.minor only. */
  readonly clusterVersion: string;
  /** The effective quota (the flag's value when the quota is disabled, as etcd sets it). */
  readonly quotaBackendBytes: number;
  readonly heartbeatMs: number;
}

export interface ServerMetricsOptions {
  /** Default: a new one. */
  readonly registry?: Registry;
  /**
   * prom-client's default metrics (process_cpu_seconds_total, process_resident_memory_bytes, ...,
   * nodejs_*), the counterpart of etcd's Go process collector. One per process: the executable turns
   * it on; in-process members of tests leave it off.
   */
  readonly processMetrics?: boolean;
}

/** The labelled series of one peer, made once so that counting does not build label objects. */
interface PeerSeries {
  readonly roundTrip: Histogram.Internal<'To'>;
  readonly sent: Counter.Internal;
  readonly sendFailures: Counter.Internal;
  readonly received: Counter.Internal;
}

/**
 * etcd's timeout detector for leader heartbeats: the heartbeat to a peer should follow the previous
 * one within two heartbeat intervals; a later one means the leader was held up (usually by its disk).
 */
export class HeartbeatTimeoutDetector {
  private readonly last = new Map<bigint, number>();

  constructor(
    private readonly maxMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Forgets every peer (etcd resets on every change of soft state). */
  reset(): void {
    this.last.clear();
  }

  /** Records a heartbeat to `to`; false when it came later than allowed after the previous one. */
  observe(to: bigint): boolean {
    const now = this.now();
    const previous = this.last.get(to);
    this.last.set(to, now);
    return previous === undefined || now - previous <= this.maxMs;
  }
}

export class ServerMetrics {
  readonly registry: Registry;
  private view: MemberView | undefined;
  private localId = '';
  private heartbeats: HeartbeatTimeoutDetector | undefined;
  private readonly peerSeries = new Map<bigint, PeerSeries>();

  // ---- etcd_server_* and etcd_cluster_version -------------------------------------------------------
  private readonly leaderChanges: Counter;
  private readonly heartbeatSendFailures: Counter;
  private readonly slowApplies: Counter;
  private readonly proposalsPending: Gauge;
  private readonly proposalsFailed: Counter;
  private readonly quotaBackendBytes: Gauge;
  private readonly serverId: Gauge<'server_id'>;
  private readonly serverVersion: Gauge<'server_version'>;
  private readonly clusterVersion: Gauge<'cluster_version'>;
  private readonly healthSuccess: Counter;
  private readonly healthFailures: Counter;

  // ---- etcd_disk_* ----------------------------------------------------------------------------------
  private readonly walFsyncSeconds: Histogram;
  private readonly backendCommitSeconds: Histogram;
  private readonly backendSnapshotSeconds: Histogram;
  private readonly defragSeconds: Histogram;

  // ---- etcd_mvcc_* (and the etcd_debugging_mvcc_* twins etcd 3.4 still exports) ---------------------
  private readonly ranges: readonly [Counter, Counter];
  private readonly puts: readonly [Counter, Counter];
  private readonly deletes: readonly [Counter, Counter];
  private readonly txns: readonly [Counter, Counter];

  // ---- etcd_network_peer_* --------------------------------------------------------------------------
  private readonly peerRoundTrip: Histogram<'To'>;
  private readonly peerSentBytes: Counter<'To'>;
  private readonly peerReceivedBytes: Counter<'From'>;
  private readonly peerSentFailures: Counter<'To'>;

  constructor(options: ServerMetricsOptions = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const registers = [registry];
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers });
    const histogram = (name: string, help: string, buckets: readonly number[]): Histogram =>
      new Histogram({ name, help, buckets: [...buckets], registers });

    this.mirror('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', (v) =>
      Number(v.hasLeader()),
    );
    this.mirror(
      'etcd_server_is_leader',
      'Whether or not this member is a leader. 1 if is, 0 otherwise.',
      (v) => Number(v.isLeader()),
    );
    this.mirror(
      'etcd_server_is_learner',
      'Whether or not this member is a learner. 1 if is, 0 otherwise.',
      (v) => Number(v.isLearner()),
    );
    this.leaderChanges = counter(
      'etcd_server_leader_changes_seen_total',
      'The number of leader changes seen.',
    );
    this.heartbeatSendFailures = counter(
      'etcd_server_heartbeat_send_failures_total',
      'The total number of leader heartbeat send failures (likely overloaded from slow disk).',
    );
    this.slowApplies = counter(
      'etcd_server_slow_apply_total',
      'The total number of slow apply requests (likely overloaded from slow disk).',
    );
    // Gauges in etcd despite the _total: they are set to the raft indexes, not counted.
    this.mirror(
      'etcd_server_proposals_committed_total',
      'The total number of consensus proposals committed.',
      (v) => v.committedIndex(),
    );
    this.mirror(
      'etcd_server_proposals_applied_total',
      'The total number of consensus proposals applied.',
      (v) => v.appliedIndex(),
    );
    this.proposalsPending = new Gauge({
      name: 'etcd_server_proposals_pending',
      help: 'The current number of pending proposals to commit.',
      registers,
    });
    this.proposalsFailed = counter(
      'etcd_server_proposals_failed_total',
      'The total number of failed proposals seen.',
    );
    this.quotaBackendBytes = new Gauge({
      name: 'etcd_server_quota_backend_bytes',
      help: 'Current backend storage quota size in bytes.',
      registers,
    });
    this.serverId = new Gauge({
      name: 'etcd_server_id',
      help: "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
      labelNames: ['server_id'],
      registers,
    });
    this.serverVersion = new Gauge({
      name: 'etcd_server_version',
      help: "Which version is running. 1 for 'server_version' label with current version.",
      labelNames: ['server_version'],
      registers,
    });
    this.clusterVersion = new Gauge({
      name: 'etcd_cluster_version',
      help: "Which version is running. 1 for 'cluster_version' label with current cluster version",
      labelNames: ['cluster_version'],
      registers,
    });
    this.healthSuccess = counter(
      'etcd_server_health_success',
      'The total number of successful health checks',
    );
    this.healthFailures = counter('etcd_server_health_failures', 'The total number of failed health checks');

    this.walFsyncSeconds = histogram(
      'etcd_disk_wal_fsync_duration_seconds',
      'The latency distributions of fsync called by WAL.',
      BUCKETS.diskSync,
    );
    this.backendCommitSeconds = histogram(
      'etcd_disk_backend_commit_duration_seconds',
      'The latency distributions of commit called by backend.',
      BUCKETS.diskSync,
    );
    this.backendSnapshotSeconds = histogram(
      'etcd_disk_backend_snapshot_duration_seconds',
      'The latency distribution of backend snapshots.',
      BUCKETS.backendSnapshot,
    );
    this.defragSeconds = histogram(
      'etcd_disk_backend_defrag_duration_seconds',
      'The latency distribution of backend defragmentation.',
      BUCKETS.defrag,
    );

    const dbSizeHelp = 'Total size of the underlying database physically allocated in bytes.';
    this.mirror('etcd_mvcc_db_total_size_in_bytes', dbSizeHelp, (v) => v.dbSize());
    this.mirror('etcd_debugging_mvcc_db_total_size_in_bytes', dbSizeHelp, (v) => v.dbSize());
    this.mirror(
      'etcd_mvcc_db_total_size_in_use_in_bytes',
      'Total size of the underlying database logically in use in bytes.',
      (v) => v.dbSizeInUse(),
    );
    this.mirror('etcd_debugging_mvcc_keys_total', 'Total number of keys.', (v) => v.keys());
    this.mirror('etcd_debugging_mvcc_current_revision', 'The current revision of store.', (v) =>
      v.currentRevision(),
    );
    this.mirror(
      'etcd_debugging_mvcc_compact_revision',
      'The revision of the last compaction in store.',
      (v) => v.compactRevision(),
    );
    const twins = (what: string, help: string): readonly [Counter, Counter] => [
      counter(`etcd_mvcc_${what}_total`, help),
      counter(`etcd_debugging_mvcc_${what}_total`, help),
    ];
    this.ranges = twins('range', 'Total number of ranges seen by this member.');
    this.puts = twins('put', 'Total number of puts seen by this member.');
    this.deletes = twins('delete', 'Total number of deletes seen by this member.');
    this.txns = twins('txn', 'Total number of txns seen by this member.');

    this.peerRoundTrip = new Histogram({
      name: 'etcd_network_peer_round_trip_time_seconds',
      help: 'Round-Trip-Time histogram between peers',
      labelNames: ['To'],
      buckets: [...BUCKETS.peerRoundTrip],
      registers,
    });
    this.peerSentBytes = new Counter({
      name: 'etcd_network_peer_sent_bytes_total',
      help: 'The total number of bytes sent to peers.',
      labelNames: ['To'],
      registers,
    });
    this.peerReceivedBytes = new Counter({
      name: 'etcd_network_peer_received_bytes_total',
      help: 'The total number of bytes received from peers.',
      labelNames: ['From'],
      registers,
    });
    this.peerSentFailures = new Counter({
      name: 'etcd_network_peer_sent_failures_total',
      help: 'The total number of send failures from peers.',
      labelNames: ['To'],
      registers,
    });
    const activePeers: Gauge<'Local' | 'Remote'> = new Gauge({
      name: 'etcd_network_active_peers',
      help: 'The current number of active peer connections.',
      labelNames: ['Local', 'Remote'],
      registers,
      collect: () => {
        const v = this.view;
        if (v === undefined) return;
        // Rebuilt per scrape: a removed member's series goes away with it.
        activePeers.reset();
        for (const p of v.peers()) {
          activePeers.set({ Local: this.localId, Remote: hex(p.id) }, p.active ? 1 : 0);
        }
      },
    });

    if (options.processMetrics === true) collectDefaultMetrics({ register: registry });
  }

  /** Binds the member: its identity labels, its quota, and the state the gauges mirror. */
  attach(identity: MemberIdentity, view: MemberView): void {
    this.view = view;
    this.localId = hex(identity.memberId);
    this.serverId.reset();
    this.serverId.set({ server_id: this.localId }, 1);
    this.serverVersion.reset();
    this.serverVersion.set({ server_version: identity.serverVersion }, 1);
    this.clusterVersion.reset();
    this.clusterVersion.set({ cluster_version: majorMinor(identity.clusterVersion) }, 1);
    this.quotaBackendBytes.set(identity.quotaBackendBytes);
    this.heartbeats = new HeartbeatTimeoutDetector(2 * identity.heartbeatMs);
  }

  // ---- Hooks for the member --------------------------------------------------------------------------

  /** A new soft state from raft: `lead` replaces `previous` (0n: none). */
  readonly softState = (previous: bigint, lead: bigint): void => {
    if (lead !== 0n && lead !== previous) this.leaderChanges.inc();
    this.heartbeats?.reset();
  };

  /** The messages raft hands to the transport: the leader's heartbeats are timed, as etcd does. */
  readonly messagesSent = (messages: readonly Message[]): void => {
    const detector = this.heartbeats;
    if (detector === undefined) return;
    for (const m of messages) {
      if (m.type === 'MsgHeartbeat' && !detector.observe(m.to)) this.heartbeatSendFailures.inc();
    }
  };

  /** A client proposal entered raft (+1) or got its answer (-1). */
  readonly proposalPending = (delta: 1 | -1): void => {
    this.proposalsPending.inc(delta);
  };

  /** A client proposal was dropped by raft, timed out or was cancelled. */
  readonly proposalFailed = (): void => {
    this.proposalsFailed.inc();
  };

  /** Applying one committed request took this long. */
  readonly applied = (ms: number): void => {
    if (ms > SLOW_APPLY_MS) this.slowApplies.inc();
  };

  readonly healthChecked = (healthy: boolean): void => {
    (healthy ? this.healthSuccess : this.healthFailures).inc();
  };

  // ---- Hooks for storage -----------------------------------------------------------------------------

  /** WalOptions.onFsync. */
  readonly walFsync = (seconds: number): void => {
    this.walFsyncSeconds.observe(seconds);
  };

  /** BackendOptions.onCommit. */
  readonly backendCommit = (info: CommitInfo): void => {
    this.backendCommitSeconds.observe(info.durationMs / 1000);
  };

  /** A consistent copy of the backend was taken and sent (etcd: from Snapshot() to its Close()). */
  readonly backendSnapshot = (seconds: number): void => {
    this.backendSnapshotSeconds.observe(seconds);
  };

  readonly defrag = (seconds: number): void => {
    this.defragSeconds.observe(seconds);
  };

  /**
   * KeyspaceOptions.onTxnEnd, counting as etcd's metricsTxnWrite does: the calls each keyspace
   * transaction made, and a txn for every transaction of more than one call.
   */
  readonly txnEnded = (ranges: number, puts: number, deletes: number): void => {
    if (ranges + puts + deletes > 1) incBoth(this.txns, 1);
    if (ranges > 0) incBoth(this.ranges, ranges);
    if (puts > 0) incBoth(this.puts, puts);
    if (deletes > 0) incBoth(this.deletes, deletes);
  };

  // ---- Hooks for the transport -----------------------------------------------------------------------

  /** TransportOptions.onRoundTrip. */
  readonly peerRoundTripped = (to: bigint, seconds: number): void => {
    this.peer(to).roundTrip.observe(seconds);
  };

  /** TransportOptions.onSent; also the database bytes of a snapshot sent to `to`. */
  readonly peerSent = (to: bigint, bytes: number): void => {
    this.peer(to).sent.inc(bytes);
  };

  /** TransportOptions.onSendFailures. */
  readonly peerSendFailed = (to: bigint, messages: number): void => {
    this.peer(to).sendFailures.inc(messages);
  };

  /** PeerServerOptions.onReceived; also the database bytes of a snapshot received from `from`. */
  readonly peerReceived = (from: bigint, bytes: number): void => {
    this.peer(from).received.inc(bytes);
  };

  private peer(id: bigint): PeerSeries {
    let s = this.peerSeries.get(id);
    if (s === undefined) {
      const label = hex(id);
      // labels() binds the label values; a series appears on /metrics at its first observation.
      s = {
        roundTrip: this.peerRoundTrip.labels(label),
        sent: this.peerSentBytes.labels(label),
        sendFailures: this.peerSentFailures.labels(label),
        received: this.peerReceivedBytes.labels(label),
      };
      this.peerSeries.set(id, s);
    }
    return s;
  }

  /** A gauge that mirrors member state, read from the attached view at scrape time. */
  private mirror(name: string, help: string, read: (v: MemberView) => number): void {
    const gauge: Gauge = new Gauge({
      name,
      help,
      registers: [this.registry],
      collect: () => {
        const v = this.view;
        if (v === undefined) return;
        try {
          gauge.set(read(v));
        } catch {
          // The backend is being replaced (a leader's snapshot is installing): keep the last value.
        }
      },
    });
  }
}

/** IDs in labels as etcd's types.ID prints them: lowercase hex, no padding. */
function hex(id: bigint): string {
  return id.toString(16);
}

/** etcd labels the cluster version with major.minor ('3.4'), the granularity the cluster agrees on. */
function majorMinor(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

function incBoth(pair: readonly [Counter, Counter], n: number): void {
  pair[0].inc(n);
  pair[1].inc(n);
}
