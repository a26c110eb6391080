// The table of every flag `etcd` 3.4 defines, with its kind, etcd's default and our one-line help.
// Flags cairn does not implement (v2 proxy, discovery, ...) are still defined so that a command line
// written for etcd is accepted; the resolver warns about them instead of failing.

export type FlagKind =
  | { readonly type: 'string' }
  | { readonly type: 'bool' }
  | { readonly type: 'uint'; readonly bits: 32 | 64 }
  | { readonly type: 'int'; readonly bits: 32 | 64 }
  | { readonly type: 'duration' }
  // Comma-separated URL list; `keep` lists inputs that leave the current value alone (etcd's
  // "exceptions": an empty --listen-client-urls keeps the default, --cors '*' means any origin).
  | { readonly type: 'urls'; readonly keep: readonly string[] }
  | { readonly type: 'choice'; readonly values: readonly string[] }
  | { readonly type: 'strings'; readonly unique: boolean }
  // Flags from etcd 2 that etcd accepts as booleans and ignores with a warning.
  | { readonly type: 'ignored' };

export type HelpGroup =
  | 'Member'
  | 'Clustering'
  | 'Security'
  | 'Auth'
  | 'Profiling and Monitoring'
  | 'Logging'
  | 'Experimental'
  | 'Unsafe'
  | 'Accepted for etcd compatibility (no effect in cairn)';

export interface FlagDef {
  readonly name: string;
  readonly kind: FlagKind;
  /** The default as etcd writes it (also the value used when nothing sets the flag). */
  readonly defaultText: string;
  /** Go type name in etcd's YAML struct, for config-file type errors. */
  readonly goType: string;
  readonly group: HelpGroup | 'hidden';
  readonly help: string;
}

const S = { type: 'string' } as const;
const B = { type: 'bool' } as const;
const U = { type: 'uint', bits: 64 } as const;
const I = { type: 'int', bits: 64 } as const;
const D = { type: 'duration' } as const;
const URLS = { type: 'urls', keep: [''] } as const;

function def(
  name: string,
  kind: FlagKind,
  defaultText: string,
  goType: string,
  group: HelpGroup | 'hidden',
  help: string,
): FlagDef {
  return { name, kind, defaultText, goType, group, help };
}

const COMPAT = 'Accepted for etcd compatibility (no effect in cairn)' as const;

export const FLAG_DEFS: readonly FlagDef[] = [
  def(
    'config-file',
    S,
    '',
    'string',
    'hidden',
    'YAML configuration file; other flags and ETCD_* variables are then ignored.',
  ),
  // Member
  def('name', S, 'default', 'string', 'Member', 'Name of this member, its key in --initial-cluster.'),
  def('data-dir', S, '${name}.etcd', 'string', 'Member', 'Directory holding the member data.'),
  def('wal-dir', S, '', 'string', 'Member', 'Separate directory for the write-ahead log.'),
  def('snapshot-count', U, '100000', 'uint64', 'Member', 'Applied entries between two raft snapshots.'),
  def('heartbeat-interval', U, '100', 'uint', 'Member', 'Heartbeat interval, in milliseconds.'),
  def(
    'election-timeout',
    U,
    '1000',
    'uint',
    'Member',
    'Election timeout, in milliseconds (at least 5 heartbeats).',
  ),
  def(
    'initial-election-tick-advance',
    B,
    'true',
    'bool',
    'Member',
    'Fast-forward election ticks at boot to elect sooner.',
  ),
  def(
    'listen-peer-urls',
    URLS,
    'http://localhost:2380',
    'string',
    'Member',
    'URLs to listen on for peer traffic.',
  ),
  def(
    'listen-client-urls',
    URLS,
    'http://localhost:2379',
    'string',
    'Member',
    'URLs to listen on for client traffic.',
  ),
  def('max-snapshots', U, '5', 'uint', 'Member', 'Snapshot files to keep (0 keeps all).'),
  def('max-wals', U, '5', 'uint', 'Member', 'WAL files to keep (0 keeps all).'),
  def(
    'quota-backend-bytes',
    I,
    '0',
    'int64',
    'Member',
    'Backend size that raises the NOSPACE alarm (0 = 2 GiB, negative = no quota).',
  ),
  def(
    'backend-batch-interval',
    D,
    '',
    'time.Duration',
    'Member',
    'Longest time before a backend transaction commits.',
  ),
  def(
    'backend-batch-limit',
    I,
    '0',
    'int',
    'Member',
    'Most operations before a backend transaction commits.',
  ),
  def('max-txn-ops', U, '128', 'uint', 'Member', 'Most operations allowed in one transaction.'),
  def('max-request-bytes', U, '1572864', 'uint', 'Member', 'Largest client request accepted, in bytes.'),
  def(
    'max-concurrent-streams',
    { type: 'uint', bits: 32 },
    'math.MaxUint32',
    'uint32',
    'Member',
    'Most concurrent streams per client connection.',
  ),
  def(
    'grpc-keepalive-min-time',
    D,
    '5s',
    'time.Duration',
    'Member',
    'Shortest interval a client may ping the server at.',
  ),
  def(
    'grpc-keepalive-interval',
    D,
    '2h',
    'time.Duration',
    'Member',
    'Interval of server-to-client pings (0 disables).',
  ),
  def(
    'grpc-keepalive-timeout',
    D,
    '20s',
    'time.Duration',
    'Member',
    'Wait for a ping answer before closing the connection (0 disables).',
  ),
  // Clustering
  def(
    'initial-advertise-peer-urls',
    URLS,
    'http://localhost:2380',
    'string',
    'Clustering',
    "This member's peer URLs, as announced to the cluster.",
  ),
  def(
    'initial-cluster',
    S,
    'default=http://localhost:2380',
    'string',
    'Clustering',
    'Bootstrap membership: name=peer-url[,name=peer-url...].',
  ),
  def(
    'initial-cluster-state',
    { type: 'choice', values: ['new', 'existing'] },
    'new',
    'string',
    'Clustering',
    "'new' to bootstrap a cluster, 'existing' to join one.",
  ),
  def(
    'initial-cluster-token',
    S,
    'etcd-cluster',
    'string',
    'Clustering',
    'Token mixed into member and cluster IDs; keeps clusters apart.',
  ),
  def(
    'advertise-client-urls',
    URLS,
    'http://localhost:2379',
    'string',
    'Clustering',
    "This member's client URLs, as announced to clients.",
  ),
  def(
    'strict-reconfig-check',
    B,
    'true',
    'bool',
    'Clustering',
    'Reject membership changes that could lose quorum.',
  ),
  def('pre-vote', B, 'false', 'bool', 'Clustering', 'Run a pre-vote round before each election.'),
  def(
    'auto-compaction-retention',
    S,
    '0',
    'string',
    'Clustering',
    'History to keep when compacting automatically (0 disables).',
  ),
  def(
    'auto-compaction-mode',
    S,
    'periodic',
    'string',
    'Clustering',
    "'periodic' (retention is a duration; bare number = hours) or 'revision'.",
  ),
  def(
    'enable-v2',
    B,
    'false',
    'bool',
    'Clustering',
    'The v2 API; accepted and ignored (cairn serves v3 only).',
  ),
  def('discovery', S, '', 'string', COMPAT, 'Discovery service URL.'),
  def(
    'discovery-fallback',
    { type: 'choice', values: ['proxy', 'exit'] },
    'proxy',
    'string',
    COMPAT,
    'Behaviour when discovery fails.',
  ),
  def('discovery-proxy', S, '', 'string', COMPAT, 'HTTP proxy for the discovery service.'),
  def('discovery-srv', S, '', 'string', COMPAT, 'DNS SRV domain for bootstrap.'),
  def('discovery-srv-name', S, '', 'string', COMPAT, 'Suffix of the SRV name queried at bootstrap.'),
  // Security
  def('cert-file', S, '', 'string', 'Security', 'TLS certificate for the client port.'),
  def('key-file', S, '', 'string', 'Security', 'TLS key for the client port.'),
  def('client-cert-auth', B, 'false', 'bool', 'Security', 'Require client certificates on the client port.'),
  def('client-crl-file', S, '', 'string', 'Security', 'Revocation list for client certificates.'),
  def(
    'client-cert-allowed-hostname',
    S,
    '',
    'string',
    'Security',
    'Hostname client certificates must carry.',
  ),
  def('trusted-ca-file', S, '', 'string', 'Security', 'CA that signs client certificates.'),
  def('auto-tls', B, 'false', 'bool', 'Security', 'Generate a self-signed certificate for the client port.'),
  def('peer-cert-file', S, '', 'string', 'Security', 'TLS certificate for the peer port.'),
  def('peer-key-file', S, '', 'string', 'Security', 'TLS key for the peer port.'),
  def('peer-client-cert-auth', B, 'false', 'bool', 'Security', 'Require certificates from connecting peers.'),
  def('peer-trusted-ca-file', S, '', 'string', 'Security', 'CA that signs peer certificates.'),
  def('peer-cert-allowed-cn', S, '', 'string', 'Security', 'Common name peer certificates must carry.'),
  def('peer-cert-allowed-hostname', S, '', 'string', 'Security', 'Hostname peer certificates must carry.'),
  def(
    'peer-auto-tls',
    B,
    'false',
    'bool',
    'Security',
    'Generate a self-signed peer certificate when none is given.',
  ),
  def('peer-crl-file', S, '', 'string', 'Security', 'Revocation list for peer certificates.'),
  def(
    'cipher-suites',
    { type: 'strings', unique: false },
    '',
    '[]string',
    'Security',
    'Comma-separated TLS cipher suites (empty = runtime defaults).',
  ),
  def(
    'cors',
    { type: 'urls', keep: ['*'] },
    '*',
    'string',
    'Security',
    "Comma-separated CORS origins ('*' or empty allows all).",
  ),
  def(
    'host-whitelist',
    { type: 'strings', unique: true },
    '*',
    'string',
    'Security',
    "Host names accepted on an insecure client port ('*' allows all).",
  ),
  def(
    'experimental-peer-skip-client-san-verification',
    B,
    'false',
    'bool',
    'Security',
    'Do not verify the SAN of peer client certificates.',
  ),
  // Auth
  def(
    'auth-token',
    S,
    'simple',
    'string',
    'Auth',
    "Auth token type: 'simple', or 'jwt,pub-key=FILE,priv-key=FILE,sign-method=RS256[,ttl=5m]'.",
  ),
  def('bcrypt-cost', U, '10', 'uint', 'Auth', 'bcrypt cost for password hashes (4 to 31).'),
  def('auth-token-ttl', U, '300', 'uint', 'Auth', 'Lifetime of a simple auth token, in seconds.'),
  // Profiling and monitoring
  def(
    'enable-pprof',
    B,
    'false',
    'bool',
    'Profiling and Monitoring',
    'Serve profiling data under /debug/pprof on the client port.',
  ),
  def(
    'metrics',
    S,
    'basic',
    'string',
    'Profiling and Monitoring',
    "Metric detail: 'basic' or 'extensive' (adds histograms).",
  ),
  def(
    'listen-metrics-urls',
    URLS,
    '',
    'string',
    'Profiling and Monitoring',
    'Extra URLs serving /metrics and /health.',
  ),
  def(
    'enable-grpc-gateway',
    B,
    'true',
    'bool',
    'Profiling and Monitoring',
    'Serve the JSON gateway under /v3 on the client port.',
  ),
  // Logging
  def(
    'logger',
    S,
    'capnslog',
    'string',
    'Logging',
    "'zap' or 'capnslog'; both select cairn's structured logger.",
  ),
  def(
    'log-outputs',
    { type: 'strings', unique: true },
    'default',
    '[]string',
    'Logging',
    "Log targets: 'default', 'stderr', 'stdout' or file paths.",
  ),
  def(
    'log-output',
    { type: 'strings', unique: true },
    'default',
    '[]string',
    'hidden',
    'Old name of --log-outputs.',
  ),
  def('log-level', S, 'info', 'string', 'Logging', 'One of debug, info, warn, error, panic, fatal.'),
  def('debug', B, 'false', 'bool', 'hidden', 'Old switch for --log-level=debug.'),
  def('log-package-levels', S, '', 'string', 'hidden', 'Per-package log levels (capnslog only; ignored).'),
  // Experimental
  def(
    'experimental-initial-corrupt-check',
    B,
    'false',
    'bool',
    'Experimental',
    'Compare data with peers before serving.',
  ),
  def(
    'experimental-corrupt-check-time',
    D,
    '0s',
    'time.Duration',
    'Experimental',
    'Interval between cluster-wide corruption checks (0 disables).',
  ),
  def('experimental-enable-v2v3', S, '', 'string', COMPAT, 'Prefix for serving v2 over the v3 store.'),
  def('experimental-backend-bbolt-freelist-type', S, 'array', 'string', COMPAT, 'bbolt freelist type.'),
  def(
    'experimental-enable-lease-checkpoint',
    B,
    'false',
    'bool',
    'Experimental',
    "Have the leader checkpoint leases' remaining TTL.",
  ),
  def(
    'experimental-enable-lease-checkpoint-persist',
    B,
    'false',
    'bool',
    'Experimental',
    'Persist lease checkpoints (needs --experimental-enable-lease-checkpoint).',
  ),
  def(
    'experimental-compaction-batch-limit',
    I,
    '1000',
    'int',
    'Experimental',
    'Most revisions deleted per compaction batch.',
  ),
  def(
    'experimental-watch-progress-notify-interval',
    D,
    '10m',
    'time.Duration',
    'Experimental',
    'Interval of watch progress notifications.',
  ),
  def(
    'experimental-warning-apply-duration',
    D,
    '100ms',
    'time.Duration',
    'Experimental',
    'Log a warning when applying a request takes longer.',
  ),
  // Unsafe
  def(
    'force-new-cluster',
    B,
    'false',
    'bool',
    'Unsafe',
    'Restart as a one-member cluster, keeping the data.',
  ),
  def('unsafe-no-fsync', B, 'false', 'bool', 'Unsafe', 'Skip fsync: fast, and loses data on a crash.'),
  // v2 proxy, kept only so etcd command lines parse
  def(
    'proxy',
    { type: 'choice', values: ['off', 'readonly', 'on'] },
    'off',
    'string',
    COMPAT,
    'v2 proxy mode.',
  ),
  def('proxy-failure-wait', U, '5000', 'uint', COMPAT, 'v2 proxy: failed endpoint hold time (ms).'),
  def('proxy-refresh-interval', U, '30000', 'uint', COMPAT, 'v2 proxy: endpoint refresh interval (ms).'),
  def('proxy-dial-timeout', U, '1000', 'uint', COMPAT, 'v2 proxy: dial timeout (ms).'),
  def('proxy-write-timeout', U, '5000', 'uint', COMPAT, 'v2 proxy: write timeout (ms).'),
  def('proxy-read-timeout', U, '0', 'uint', COMPAT, 'v2 proxy: read timeout (ms).'),
  def('version', B, 'false', 'bool', 'hidden', 'Print the version and exit.'),
  // etcd 2 flags etcd 3.4 still swallows with a warning.
  ...[
    'cluster-active-size',
    'cluster-remove-delay',
    'cluster-sync-interval',
    'config',
    'force',
    'max-result-buffer',
    'max-retry-attempts',
    'peer-heartbeat-interval',
    'peer-election-timeout',
    'retry-interval',
    'snapshot',
    'v',
    'vv',
    'test.coverprofile',
    'test.outputdir',
  ].map((name) => def(name, { type: 'ignored' }, '', '', 'hidden', '')),
];

export const FLAGS_BY_NAME: ReadonlyMap<string, FlagDef> = new Map(FLAG_DEFS.map((d) => [d.name, d]));

/** ETCD_<NAME> with dashes as underscores, the variable etcd reads for each flag. */
export function flagToEnv(name: string): string {
  return 'ETCD_' + name.replaceAll('-', '_').toUpperCase();
}
