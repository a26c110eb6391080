// From flag values to a ServerConfig: etcd 3.4's checks (embed.Config.Validate and the start-up
// checks that etcd only makes after creating the data dir), its derived defaults, and its
// warnings. Every rejection happens here, before anything touches the disk.

import type { FlagSet } from './argv.js';
import { DEFAULT_INITIAL_CLUSTER, type FlagValue } from './flag-values.js';
import { nanosToMs, parseGoDuration } from './go-values.js';
import type { AutoCompaction, LogLevel, ServerConfig, TlsConfig } from './types.js';
import { checkBindUrls, checkHostUrls } from './urls.js';

export const DEFAULT_QUOTA_BYTES = 2 * 1024 ** 3;
export const MAX_RECOMMENDED_QUOTA_BYTES = 8 * 1024 ** 3;
export const MAX_ELECTION_MS = 50_000;
export const DEFAULT_SNAPSHOT_COUNT = 100_000;
export const DEFAULT_BCRYPT_COST = 10;

export const CONFLICT_BOOTSTRAP_FLAGS =
  'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';
export const UNSET_ADVERTISE_CLIENT_URLS =
  '--advertise-client-urls is required when --listen-client-urls is set explicitly';

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'panic', 'fatal'];

export type Resolution =
  | { readonly ok: true; readonly config: ServerConfig; readonly warnings: readonly string[] }
  // `verifying` errors are printed as etcd's "error verifying flags, <message>. See '... --help'."
  | { readonly ok: false; readonly verifying: boolean; readonly message: string; readonly hint?: string };

/** Typed reads from the flag map (the table guarantees each flag's value type). */
function reader(values: ReadonlyMap<string, FlagValue>) {
  const get = (name: string): FlagValue => {
    const v = values.get(name);
    if (v === undefined) throw new Error(`config: flag ${name} has no value`);
    return v;
  };
  return {
    str(name: string): string {
      const v = get(name);
      if (typeof v !== 'string') throw new Error(`config: flag ${name} is not a string`);
      return v;
    },
    bool(name: string): boolean {
      const v = get(name);
      if (typeof v !== 'boolean') throw new Error(`config: flag ${name} is not a boolean`);
      return v;
    },
    big(name: string): bigint {
      const v = get(name);
      if (typeof v !== 'bigint') throw new Error(`config: flag ${name} is not an integer`);
      return v;
    },
    list(name: string): readonly string[] {
      const v = get(name);
      if (!Array.isArray(v)) throw new Error(`config: flag ${name} is not a list`);
      return v as readonly string[];
    },
  };
}

/** `name=url` for each advertised peer URL: etcd's initial cluster when only --name is given. */
export function initialClusterFromName(name: string, peerUrls: readonly string[]): string {
  const n = name === '' ? 'default' : name;
  return peerUrls.map((u) => `${n}=${u}`).join(',');
}

function parseRetention(mode: 'periodic' | 'revision', text: string): AutoCompaction | string {
  const t = text === '' ? '0' : text;
  if (/^[+-]?\d+$/.test(t) && Number(t) >= 0) {
    const n = Number(t);
    return mode === 'revision' ? { mode, retentionRevisions: n } : { mode, retentionMs: n * 3_600_000 };
  }
  const d = parseGoDuration(t);
  if (!d.ok) return `error parsing CompactionRetention: ${d.error}`;
  // etcd reads a duration in revision mode as a count of nanoseconds: a defect we refuse.
  if (mode === 'revision')
    return `error parsing CompactionRetention: revision mode needs a whole number of revisions, got ${JSON.stringify(text)}`;
  return { mode, retentionMs: nanosToMs(d.value) };
}

/**
 * Validate and build. `clientAdvertiseUnset` is etcd's rule that giving --listen-client-urls
 * without --advertise-client-urls drops the advertised default instead of publishing localhost.
 */
export function resolveConfig(
  flags: FlagSet,
  source: ServerConfig['source'],
  configFile: string,
  clientAdvertiseUnset: boolean,
): Resolution {
  const r = reader(flags.values);
  const fail = (message: string, hint?: string): Resolution =>
    hint === undefined
      ? { ok: false, verifying: true, message }
      : { ok: false, verifying: true, message, hint };
  const warnings: string[] = [];

  // --- embed.Config.Validate, in etcd's order ---
  const logger = r.str('logger');
  if (logger !== 'zap' && logger !== 'capnslog')
    return fail(`unknown logger option ${JSON.stringify(logger)}`);
  let logOutputs = r.list('log-outputs');
  const oldLogOutput = r.list('log-output');
  if (flags.explicit.has('log-output') && !flags.explicit.has('log-outputs')) {
    warnings.push("'--log-output' flag has been deprecated! Please use '--log-outputs'!");
    logOutputs = oldLogOutput;
  }
  const listenPeer = r.list('listen-peer-urls');
  const listenClient = r.list('listen-client-urls');
  const listenMetrics = r.list('listen-metrics-urls');
  for (const urls of [listenPeer, listenClient, listenMetrics]) {
    const e = checkBindUrls(urls);
    if (e !== undefined) return fail(e);
  }
  const advertisePeer = r.list('initial-advertise-peer-urls');
  const advertiseClient = clientAdvertiseUnset ? null : r.list('advertise-client-urls');
  const peerHostError = checkHostUrls(advertisePeer);
  if (peerHostError !== undefined)
    return fail(
      `--initial-advertise-peer-urls ${JSON.stringify(advertisePeer.join(','))} must be "host:port" (${peerHostError})`,
    );
  const clientHostError = checkHostUrls(advertiseClient ?? []);
  if (clientHostError !== undefined)
    return fail(
      `--advertise-client-urls ${JSON.stringify((advertiseClient ?? []).join(','))} must be "host:port" (${clientHostError})`,
    );
  const state = r.str('initial-cluster-state');
  if (state !== 'new' && state !== 'existing')
    return fail(`unexpected clusterState ${JSON.stringify(state)}`);
  let initialCluster = r.str('initial-cluster');
  const bootstrapSources = [r.str('discovery'), initialCluster, r.str('discovery-srv')].filter(
    (s) => s !== '',
  );
  if (bootstrapSources.length > 1) return fail(CONFLICT_BOOTSTRAP_FLAGS);
  const tick = r.big('heartbeat-interval');
  const election = r.big('election-timeout');
  if (tick <= 0n) return fail(`--heartbeat-interval must be >0 (set to ${tick}ms)`);
  if (election <= 0n) return fail(`--election-timeout must be >0 (set to ${election}ms)`);
  if (5n * tick > election)
    return fail(
      `--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${tick}ms]`,
    );
  if (election > BigInt(MAX_ELECTION_MS))
    return fail(
      `--election-timeout[${election}ms] is too long, and should be set less than ${MAX_ELECTION_MS}ms`,
    );
  if (advertiseClient === null)
    return fail(
      UNSET_ADVERTISE_CLIENT_URLS,
      'When listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client.',
    );
  const modeText = r.str('auto-compaction-mode');
  if (modeText !== '' && modeText !== 'periodic' && modeText !== 'revision')
    return fail(`unknown auto-compaction-mode ${JSON.stringify(modeText)}`);
  const checkpoint = r.bool('experimental-enable-lease-checkpoint');
  const checkpointPersist = r.bool('experimental-enable-lease-checkpoint-persist');
  if (checkpoint && !checkpointPersist)
    warnings.push(
      'Detected that checkpointing is enabled without persistence. Consider enabling experimental-enable-lease-checkpoint-persist',
    );
  if (checkpointPersist && !checkpoint)
    return fail(
      'setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint',
    );

  // --- checks etcd makes later (some only after creating the data dir, some by panicking) ---
  const logLevel = r.str('log-level');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    return fail(`unknown log-level ${JSON.stringify(logLevel)} (only supports ${LOG_LEVELS.join(', ')})`);
  const metrics = r.str('metrics');
  if (metrics !== 'basic' && metrics !== 'extensive')
    return fail(`unknown metrics level ${JSON.stringify(metrics)} (only supports basic, extensive)`);
  const authToken = r.str('auth-token');
  const tokenType = authToken.split(',')[0] ?? '';
  // The key files of a JWT provider are read at start-up (cli/cairn), before the data dir is touched.
  if (tokenType !== 'simple' && tokenType !== 'jwt') {
    return {
      ok: false,
      verifying: false,
      message: `unknown token type: ${tokenType}\nauth: invalid auth options`,
    };
  }
  const compaction = parseRetention(
    modeText === 'revision' ? 'revision' : 'periodic',
    r.str('auto-compaction-retention'),
  );
  if (typeof compaction === 'string') return { ok: false, verifying: false, message: compaction };

  // --- derived defaults and warnings ---
  const name = r.str('name');
  // etcd rebuilds the default cluster from the name unless the user changed it (a string compare).
  if (name !== 'default' && initialCluster === DEFAULT_INITIAL_CLUSTER)
    initialCluster = initialClusterFromName(name, advertisePeer);
  let dataDir = r.str('data-dir');
  if (dataDir === '') {
    dataDir = `${name}.etcd`;
    warnings.push(`no data-dir provided, using default data-dir ./${dataDir}`);
  }
  let snapshotCount = Number(r.big('snapshot-count'));
  if (snapshotCount === 0) snapshotCount = DEFAULT_SNAPSHOT_COUNT; // etcdserver: "set snapshot count to default"
  const quotaGiven = r.big('quota-backend-bytes');
  let quotaBackendBytes: number | null;
  if (quotaGiven < 0n) {
    quotaBackendBytes = null;
    warnings.push('disabling backend quota');
  } else if (quotaGiven === 0n) {
    quotaBackendBytes = DEFAULT_QUOTA_BYTES;
  } else {
    quotaBackendBytes = Number(quotaGiven);
    if (quotaBackendBytes > MAX_RECOMMENDED_QUOTA_BYTES)
      warnings.push(
        `backend quota ${quotaGiven} exceeds maximum recommended quota ${MAX_RECOMMENDED_QUOTA_BYTES}`,
      );
  }
  let bcryptCost = Number(r.big('bcrypt-cost'));
  if (bcryptCost < 4 || bcryptCost > 31) {
    warnings.push(
      `Use default bcrypt-cost ${DEFAULT_BCRYPT_COST} instead of the invalid value ${bcryptCost}`,
    );
    bcryptCost = DEFAULT_BCRYPT_COST;
  }
  if (r.bool('enable-v2'))
    warnings.push('--enable-v2 is accepted for compatibility and ignored: cairn serves only the v3 API');
  for (const flag of [
    'discovery',
    'discovery-srv',
    'discovery-proxy',
    'discovery-srv-name',
    'experimental-enable-v2v3',
  ])
    if (r.str(flag) !== '') warnings.push(`--${flag} is not supported by cairn and is ignored`);
  if (r.str('proxy') !== 'off') warnings.push('--proxy is not supported by cairn and is ignored');
  if (r.bool('debug')) warnings.push("Deprecated '--debug' flag is set (use '--log-level=debug' instead)");
  const effectiveLogLevel = r.bool('debug') ? 'debug' : logLevel;
  const ms = (flag: string): number => nanosToMs(r.big(flag));
  const tls = (peer: boolean): TlsConfig => {
    const p = peer ? 'peer-' : '';
    return {
      certFile: r.str(`${p}cert-file`),
      keyFile: r.str(`${p}key-file`),
      trustedCaFile: r.str(`${p}trusted-ca-file`),
      clientCertAuth: r.bool(`${p}client-cert-auth`),
      autoTls: r.bool(`${p}auto-tls`),
      crlFile: r.str(peer ? 'peer-crl-file' : 'client-crl-file'),
      allowedHostname: r.str(peer ? 'peer-cert-allowed-hostname' : 'client-cert-allowed-hostname'),
      allowedCn: peer ? r.str('peer-cert-allowed-cn') : '',
    };
  };

  const config: ServerConfig = {
    source,
    configFile,
    name,
    dataDir,
    walDir: r.str('wal-dir'),
    listenClientUrls: listenClient,
    advertiseClientUrls: advertiseClient,
    listenPeerUrls: listenPeer,
    initialAdvertisePeerUrls: advertisePeer,
    listenMetricsUrls: listenMetrics,
    initialCluster,
    initialClusterToken: r.str('initial-cluster-token'),
    initialClusterState: state,
    forceNewCluster: r.bool('force-new-cluster'),
    snapshotCount,
    heartbeatIntervalMs: Number(tick),
    electionTimeoutMs: Number(election),
    electionTicks: Number(election / tick),
    initialElectionTickAdvance: r.bool('initial-election-tick-advance'),
    preVote: r.bool('pre-vote'),
    strictReconfigCheck: r.bool('strict-reconfig-check'),
    quotaBackendBytes,
    maxRequestBytes: Number(r.big('max-request-bytes')),
    maxTxnOps: Number(r.big('max-txn-ops')),
    maxConcurrentStreams: Number(r.big('max-concurrent-streams')),
    maxSnapshots: Number(r.big('max-snapshots')),
    maxWals: Number(r.big('max-wals')),
    backendBatchIntervalMs: ms('backend-batch-interval'),
    backendBatchLimit: Number(r.big('backend-batch-limit')),
    autoCompaction: compaction,
    authToken,
    authTokenTtlSeconds: Number(r.big('auth-token-ttl')),
    bcryptCost,
    grpcKeepAliveMinTimeMs: ms('grpc-keepalive-min-time'),
    grpcKeepAliveIntervalMs: ms('grpc-keepalive-interval'),
    grpcKeepAliveTimeoutMs: ms('grpc-keepalive-timeout'),
    clientTls: tls(false),
    peerTls: tls(true),
    cipherSuites: r.list('cipher-suites'),
    cors: r.list('cors'),
    hostWhitelist: r.list('host-whitelist'),
    enableV2: r.bool('enable-v2'),
    enablePprof: r.bool('enable-pprof'),
    enableGrpcGateway: r.bool('enable-grpc-gateway'),
    metrics,
    logger,
    logLevel: effectiveLogLevel as LogLevel,
    logOutputs,
    experimentalInitialCorruptCheck: r.bool('experimental-initial-corrupt-check'),
    experimentalCorruptCheckTimeMs: ms('experimental-corrupt-check-time'),
    experimentalEnableLeaseCheckpoint: checkpoint,
    experimentalEnableLeaseCheckpointPersist: checkpointPersist,
    experimentalCompactionBatchLimit: Number(r.big('experimental-compaction-batch-limit')),
    experimentalWatchProgressNotifyIntervalMs: ms('experimental-watch-progress-notify-interval'),
    experimentalWarningApplyDurationMs: ms('experimental-warning-apply-duration'),
    unsafeNoFsync: r.bool('unsafe-no-fsync'),
  };
  return { ok: true, config, warnings };
}
