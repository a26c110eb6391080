// The resolved configuration of a cairn server: every etcd 3.4 default applied, every value
// validated, units fixed (durations in milliseconds, sizes in bytes, URLs as normalized strings).

/** TLS material for one listener (client or peer); loading the files is the transport's job. */
export interface TlsConfig {
  readonly certFile: string; // PEM certificate ('' = none)
  readonly keyFile: string; // PEM private key ('' = none)
  readonly trustedCaFile: string; // CA bundle for verifying the other side ('' = none)
  readonly clientCertAuth: boolean; // require and verify the other side's certificate
  readonly autoTls: boolean; // generate a self-signed certificate when no files are given
  readonly crlFile: string; // certificate revocation list ('' = none)
  readonly allowedHostname: string; // hostname the other side's certificate must carry ('' = any)
  readonly allowedCn: string; // common name the peer certificate must carry (peer only; '' = any)
}

/** Automatic compaction; `retention` 0 disables it in either mode. */
export type AutoCompaction =
  | { readonly mode: 'periodic'; readonly retentionMs: number } // keep this much history by time
  | { readonly mode: 'revision'; readonly retentionRevisions: number }; // keep this many revisions

export interface ServerConfig {
  readonly source: 'flags' | 'config-file'; // where the settings came from (flags include ETCD_* variables)
  readonly configFile: string; // the YAML file read ('' when none)
  readonly name: string; // member name, its key in initialCluster
  readonly dataDir: string; // member data directory (default `${name}.etcd`)
  readonly walDir: string; // dedicated WAL directory ('' = <dataDir>/member/wal)
  readonly listenClientUrls: readonly string[]; // client listeners, sorted and unique
  readonly advertiseClientUrls: readonly string[]; // client URLs published in this member's attributes
  readonly listenPeerUrls: readonly string[]; // peer (raft) listeners
  readonly initialAdvertisePeerUrls: readonly string[]; // this member's peer URLs as announced to the cluster
  readonly listenMetricsUrls: readonly string[]; // extra /metrics + /health listeners (may be empty)
  readonly initialCluster: string; // name=url,... used only when bootstrapping (see parseInitialCluster)
  readonly initialClusterToken: string; // mixed into member and cluster IDs
  readonly initialClusterState: 'new' | 'existing'; // bootstrap a cluster or join one
  readonly forceNewCluster: boolean; // restart as a one-member cluster keeping the data
  readonly snapshotCount: number; // applied entries between raft snapshots (0 given -> 100000)
  readonly heartbeatIntervalMs: number; // raft tick length
  readonly electionTimeoutMs: number; // election timeout
  readonly electionTicks: number; // electionTimeoutMs / heartbeatIntervalMs, rounded down
  readonly initialElectionTickAdvance: boolean; // fast-forward election ticks at boot
  readonly preVote: boolean; // raft pre-vote (false in etcd 3.4)
  readonly strictReconfigCheck: boolean; // refuse membership changes that risk quorum
  readonly quotaBackendBytes: number | null; // NOSPACE threshold in bytes (0 given -> 2 GiB); null = no quota
  readonly maxRequestBytes: number; // largest client request
  readonly maxTxnOps: number; // most operations per transaction
  readonly maxConcurrentStreams: number; // gRPC streams per client connection
  readonly maxSnapshots: number; // .snap files kept (0 = all)
  readonly maxWals: number; // .wal files kept (0 = all)
  readonly backendBatchIntervalMs: number; // longest time before a backend commit (0 = engine default)
  readonly backendBatchLimit: number; // most operations before a backend commit (0 = engine default)
  readonly autoCompaction: AutoCompaction; // automatic compaction policy
  readonly authToken: string; // auth token provider spec ('simple')
  readonly authTokenTtlSeconds: number; // simple token lifetime
  readonly bcryptCost: number; // bcrypt cost for password hashes (invalid given -> 10)
  readonly grpcKeepAliveMinTimeMs: number; // shortest client ping interval tolerated
  readonly grpcKeepAliveIntervalMs: number; // server ping interval (0 = off)
  readonly grpcKeepAliveTimeoutMs: number; // ping answer wait (0 = off)
  readonly clientTls: TlsConfig; // client port TLS
  readonly peerTls: TlsConfig; // peer port TLS
  readonly cipherSuites: readonly string[]; // TLS cipher suite names (empty = runtime defaults)
  readonly cors: readonly string[]; // allowed CORS origins ('*' = any)
  readonly hostWhitelist: readonly string[]; // Host headers accepted on an insecure port ('*' = any)
  readonly enableV2: boolean; // accepted for compatibility; cairn has no v2 API
  readonly enablePprof: boolean; // serve /debug/pprof equivalents
  readonly enableGrpcGateway: boolean; // serve the JSON gateway under /v3
  readonly metrics: 'basic' | 'extensive'; // metric detail
  readonly logger: 'zap' | 'capnslog'; // etcd's logger choice; both map to our structured logger
  readonly logLevel: LogLevel; // minimum level logged
  readonly logOutputs: readonly string[]; // 'default', 'stderr', 'stdout' or file paths
  readonly experimentalInitialCorruptCheck: boolean; // compare hashes with peers before serving
  readonly experimentalCorruptCheckTimeMs: number; // periodic corruption check interval (0 = off)
  readonly experimentalEnableLeaseCheckpoint: boolean; // leader checkpoints lease TTLs
  readonly experimentalEnableLeaseCheckpointPersist: boolean; // persist those checkpoints
  readonly experimentalCompactionBatchLimit: number; // revisions deleted per compaction batch
  readonly experimentalWatchProgressNotifyIntervalMs: number; // watch progress notification interval
  readonly experimentalWarningApplyDurationMs: number; // warn when one apply takes longer
  readonly unsafeNoFsync: boolean; // skip fsync (tests only)
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';

export type ConfigResult =
  | { readonly kind: 'config'; readonly config: ServerConfig; readonly warnings: readonly string[] }
  | { readonly kind: 'help'; readonly text: string } // print to stdout, exit 0
  | { readonly kind: 'version'; readonly text: string } // print to stdout, exit 0
  | { readonly kind: 'error'; readonly message: string; readonly exitCode: number }; // print to stderr
