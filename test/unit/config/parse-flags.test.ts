// parseServerConfig with flags and ETCD_* variables: defaults, syntax, precedence, error texts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseServerConfig } from '../../../src/config/index.js';
import type { ConfigResult, ServerConfig } from '../../../src/config/index.js';

function config(argv: readonly string[], env: Record<string, string> = {}): ServerConfig {
  const r = parseServerConfig(argv, env);
  if (r.kind !== 'config') assert.fail(`expected a config, got ${JSON.stringify(r)}`);
  return r.config;
}
function warnings(argv: readonly string[], env: Record<string, string> = {}): readonly string[] {
  const r = parseServerConfig(argv, env);
  if (r.kind !== 'config') assert.fail(`expected a config, got ${JSON.stringify(r)}`);
  return r.warnings;
}
function failure(
  argv: readonly string[],
  env: Record<string, string> = {},
): { first: string; exitCode: number } {
  const r: ConfigResult = parseServerConfig(argv, env);
  if (r.kind !== 'error') assert.fail(`expected an error, got ${r.kind}`);
  return { first: r.message.split('\n')[0] ?? '', exitCode: r.exitCode };
}
const verifying = (m: string) => ({ first: `error verifying flags, ${m}. See 'cairn --help'.`, exitCode: 1 });

describe('defaults (etcd 3.4)', () => {
  test('every documented default', () => {
    const c = config([]);
    assert.equal(c.source, 'flags');
    assert.equal(c.name, 'default');
    assert.equal(c.dataDir, 'default.etcd');
    assert.equal(c.walDir, '');
    assert.deepEqual(c.listenClientUrls, ['http://localhost:2379']);
    assert.deepEqual(c.advertiseClientUrls, ['http://localhost:2379']);
    assert.deepEqual(c.listenPeerUrls, ['http://localhost:2380']);
    assert.deepEqual(c.initialAdvertisePeerUrls, ['http://localhost:2380']);
    assert.deepEqual(c.listenMetricsUrls, []);
    assert.equal(c.initialCluster, 'default=http://localhost:2380');
    assert.equal(c.initialClusterToken, 'etcd-cluster');
    assert.equal(c.initialClusterState, 'new');
    assert.equal(c.forceNewCluster, false);
    assert.equal(c.snapshotCount, 100000);
    assert.equal(c.heartbeatIntervalMs, 100);
    assert.equal(c.electionTimeoutMs, 1000);
    assert.equal(c.electionTicks, 10);
    assert.equal(c.initialElectionTickAdvance, true);
    assert.equal(c.preVote, false);
    assert.equal(c.strictReconfigCheck, true);
    assert.equal(c.quotaBackendBytes, 2 * 1024 ** 3);
    assert.equal(c.maxRequestBytes, 1572864);
    assert.equal(c.maxTxnOps, 128);
    assert.equal(c.maxConcurrentStreams, 4294967295);
    assert.equal(c.maxSnapshots, 5);
    assert.equal(c.maxWals, 5);
    assert.deepEqual(c.autoCompaction, { mode: 'periodic', retentionMs: 0 });
    assert.equal(c.authToken, 'simple');
    assert.equal(c.authTokenTtlSeconds, 300);
    assert.equal(c.bcryptCost, 10);
    assert.equal(c.grpcKeepAliveMinTimeMs, 5000);
    assert.equal(c.grpcKeepAliveIntervalMs, 7_200_000);
    assert.equal(c.grpcKeepAliveTimeoutMs, 20_000);
    assert.deepEqual(c.cors, ['*']);
    assert.deepEqual(c.hostWhitelist, ['*']);
    assert.equal(c.enableV2, false);
    assert.equal(c.enablePprof, false);
    assert.equal(c.metrics, 'basic');
    assert.equal(c.logger, 'capnslog');
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.logOutputs, ['default']);
    assert.equal(c.experimentalInitialCorruptCheck, false);
    assert.equal(c.experimentalCorruptCheckTimeMs, 0);
    assert.equal(c.experimentalEnableLeaseCheckpoint, false);
    assert.equal(c.experimentalWarningApplyDurationMs, 100);
    assert.equal(c.experimentalWatchProgressNotifyIntervalMs, 600_000);
    assert.deepEqual(c.clientTls, {
      certFile: '',
      keyFile: '',
      trustedCaFile: '',
      clientCertAuth: false,
      autoTls: false,
      crlFile: '',
      allowedHostname: '',
      allowedCn: '',
    });
    assert.deepEqual(warnings([]), ['no data-dir provided, using default data-dir ./default.etcd']);
  });

  test('--name alone derives data dir and initial cluster from the advertised peer URLs', () => {
    const c = config([
      '--name',
      'n1',
      '--initial-advertise-peer-urls',
      'http://10.0.0.1:2380,http://10.0.0.2:2380',
    ]);
    assert.equal(c.dataDir, 'n1.etcd');
    assert.equal(c.initialCluster, 'n1=http://10.0.0.1:2380,n1=http://10.0.0.2:2380');
  });

  test('an explicit cluster equal to the default text is still rewritten (etcd compares strings)', () => {
    assert.equal(
      config(['--name', 'x', '--initial-cluster', 'default=http://localhost:2380']).initialCluster,
      'x=http://localhost:2380',
    );
    assert.equal(config(['--name', 'x', '--initial-cluster', 'a=http://h:1']).initialCluster, 'a=http://h:1');
  });

  test('an empty name keeps the cluster keyed "default"', () => {
    const c = config(['--name=']);
    assert.equal(c.name, '');
    assert.equal(c.initialCluster, 'default=http://localhost:2380');
    assert.equal(c.dataDir, '.etcd');
  });
});

describe('flag syntax (Go flag package)', () => {
  test('--x v, --x=v, -x v, -x=v are the same', () => {
    for (const argv of [['--name', 'a'], ['--name=a'], ['-name', 'a'], ['-name=a']])
      assert.equal(config(argv).name, 'a');
  });

  test('booleans: bare means true, =value sets, and a following word is not consumed', () => {
    assert.equal(config(['--pre-vote']).preVote, true);
    assert.equal(config(['--pre-vote=false']).preVote, false);
    assert.equal(config(['--strict-reconfig-check=0']).strictReconfigCheck, false);
    assert.deepEqual(failure(['--pre-vote', 'false']), verifying("'false' is not a valid flag"));
  });

  test('a non-boolean flag takes the next argument even when it looks like a flag', () => {
    assert.equal(config(['--name', '--pre-vote']).name, '--pre-vote');
  });

  test('the last occurrence wins; "--" ends the flags', () => {
    assert.equal(config(['--name', 'a', '--name', 'b']).name, 'b');
    assert.deepEqual(failure(['--', '--name', 'a']), verifying("'--name' is not a valid flag"));
  });

  test('numbers and durations in every flag kind', () => {
    const c = config([
      '--snapshot-count=0x10',
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--quota-backend-bytes=-1',
      '--max-request-bytes=10485760',
      '--max-txn-ops=1024',
      '--max-snapshots=0',
      '--max-wals=3',
      '--grpc-keepalive-min-time=1.5s',
      '--grpc-keepalive-interval=0',
      '--grpc-keepalive-timeout=1m',
      '--experimental-corrupt-check-time=2m30s',
      '--auth-token-ttl=60',
    ]);
    assert.equal(c.snapshotCount, 16);
    assert.equal(c.heartbeatIntervalMs, 50);
    assert.equal(c.electionTimeoutMs, 500);
    assert.equal(c.electionTicks, 10);
    assert.equal(c.quotaBackendBytes, null);
    assert.equal(c.maxRequestBytes, 10485760);
    assert.equal(c.maxTxnOps, 1024);
    assert.equal(c.maxSnapshots, 0);
    assert.equal(c.maxWals, 3);
    assert.equal(c.grpcKeepAliveMinTimeMs, 1500);
    assert.equal(c.grpcKeepAliveIntervalMs, 0);
    assert.equal(c.grpcKeepAliveTimeoutMs, 60_000);
    assert.equal(c.experimentalCorruptCheckTimeMs, 150_000);
    assert.equal(c.authTokenTtlSeconds, 60);
  });

  test('strings, URLs, lists, TLS and the remaining switches', () => {
    const c = config([
      '--data-dir=/var/lib/x',
      '--wal-dir=/wal',
      '--listen-client-urls=http://127.0.0.1:2379,http://0.0.0.0:12379',
      '--advertise-client-urls=https://node1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--listen-metrics-urls=http://127.0.0.1:9000',
      '--initial-cluster-token=tok',
      '--initial-cluster-state=existing',
      '--force-new-cluster',
      '--enable-pprof',
      '--logger=zap',
      '--log-level=debug',
      '--log-outputs=stderr,stdout',
      '--cors=http://a.example:80',
      '--experimental-initial-corrupt-check',
      '--experimental-enable-lease-checkpoint',
      '--cert-file=c.pem',
      '--key-file=k.pem',
      '--trusted-ca-file=ca.pem',
      '--client-cert-auth',
      '--auto-tls',
      '--peer-cert-file=pc.pem',
      '--peer-key-file=pk.pem',
      '--peer-trusted-ca-file=pca.pem',
      '--peer-client-cert-auth',
      '--peer-auto-tls',
      '--peer-cert-allowed-cn=member',
    ]);
    assert.equal(c.dataDir, '/var/lib/x');
    assert.equal(c.walDir, '/wal');
    assert.deepEqual(c.listenClientUrls, ['http://0.0.0.0:12379', 'http://127.0.0.1:2379']);
    assert.deepEqual(c.advertiseClientUrls, ['https://node1:2379']);
    assert.deepEqual(c.listenMetricsUrls, ['http://127.0.0.1:9000']);
    assert.equal(c.initialClusterToken, 'tok');
    assert.equal(c.initialClusterState, 'existing');
    assert.equal(c.forceNewCluster, true);
    assert.equal(c.enablePprof, true);
    assert.equal(c.logger, 'zap');
    assert.equal(c.logLevel, 'debug');
    assert.deepEqual(c.logOutputs, ['stderr', 'stdout']);
    assert.deepEqual(c.cors, ['http://a.example:80']);
    assert.equal(c.experimentalInitialCorruptCheck, true);
    assert.equal(c.experimentalEnableLeaseCheckpoint, true);
    assert.deepEqual(c.clientTls, {
      certFile: 'c.pem',
      keyFile: 'k.pem',
      trustedCaFile: 'ca.pem',
      clientCertAuth: true,
      autoTls: true,
      crlFile: '',
      allowedHostname: '',
      allowedCn: '',
    });
    assert.equal(c.peerTls.certFile, 'pc.pem');
    assert.equal(c.peerTls.keyFile, 'pk.pem');
    assert.equal(c.peerTls.trustedCaFile, 'pca.pem');
    assert.equal(c.peerTls.clientCertAuth, true);
    assert.equal(c.peerTls.autoTls, true);
    assert.equal(c.peerTls.allowedCn, 'member');
  });

  test('an empty URL flag keeps the default (etcd treats "" as an exception)', () => {
    assert.deepEqual(config(['--listen-peer-urls=']).listenPeerUrls, ['http://localhost:2380']);
  });

  test('auto compaction: bare number = hours (periodic), revisions (revision)', () => {
    assert.deepEqual(config(['--auto-compaction-retention=1']).autoCompaction, {
      mode: 'periodic',
      retentionMs: 3_600_000,
    });
    assert.deepEqual(config(['--auto-compaction-retention=5m']).autoCompaction, {
      mode: 'periodic',
      retentionMs: 300_000,
    });
    assert.deepEqual(
      config(['--auto-compaction-mode=revision', '--auto-compaction-retention=1000']).autoCompaction,
      {
        mode: 'revision',
        retentionRevisions: 1000,
      },
    );
  });

  test('etcd corrections and warnings: snapshot-count 0, bcrypt cost, big quota, v2, etcd 2 flags', () => {
    assert.equal(config(['--snapshot-count=0']).snapshotCount, 100000);
    assert.equal(config(['--bcrypt-cost=2']).bcryptCost, 10);
    assert.ok(
      warnings(['--bcrypt-cost=2']).includes('Use default bcrypt-cost 10 instead of the invalid value 2'),
    );
    assert.equal(config(['--quota-backend-bytes=9999999999']).quotaBackendBytes, 9999999999);
    assert.ok(
      warnings(['--quota-backend-bytes=9999999999']).includes(
        'backend quota 9999999999 exceeds maximum recommended quota 8589934592',
      ),
    );
    assert.ok(warnings(['--quota-backend-bytes=-1']).includes('disabling backend quota'));
    assert.equal(config(['--enable-v2']).enableV2, true);
    assert.ok(warnings(['--enable-v2']).some((w) => w.startsWith('--enable-v2 is accepted')));
    assert.ok(warnings(['-v']).includes('flag "-v" is no longer supported - ignoring.'));
    assert.ok(
      warnings(['--experimental-enable-lease-checkpoint']).includes(
        'Detected that checkpointing is enabled without persistence. Consider enabling experimental-enable-lease-checkpoint-persist',
      ),
    );
  });
});

describe('help and version', () => {
  test('-h, --help, -help give the help text', () => {
    for (const a of ['-h', '--help', '-help', '--h']) {
      const r = parseServerConfig([a], {});
      assert.equal(r.kind, 'help');
      if (r.kind === 'help') {
        assert.match(r.text, /^Usage:/);
        assert.match(r.text, /--initial-cluster-state 'new'/);
        assert.match(r.text, /--pre-vote 'false'/);
      }
    }
  });

  test('--version wins over other flags but not over a parse error', () => {
    const r = parseServerConfig(['--version', '--name', 'x'], {}, { gitSha: 'abc123' });
    assert.equal(r.kind, 'version');
    if (r.kind === 'version') {
      assert.match(r.text, /^cairn Version: 0\.1\.0\nGit SHA: abc123\nNode Version: v\d+/);
      assert.match(r.text, /API Version: 3\.4\n$/);
    }
    assert.equal(failure(['--version', '--bogus']).exitCode, 2);
  });
});

describe('command-line errors', () => {
  test('syntax errors exit 2 with Go flag texts, followed by the usage', () => {
    const cases: [string[], string][] = [
      [['--bogus'], 'flag provided but not defined: -bogus'],
      [['--snapshot-count', 'abc'], 'invalid value "abc" for flag -snapshot-count: parse error'],
      [['--heartbeat-interval', '-5'], 'invalid value "-5" for flag -heartbeat-interval: parse error'],
      [
        ['--max-wals', '99999999999999999999'],
        'invalid value "99999999999999999999" for flag -max-wals: value out of range',
      ],
      [['--pre-vote=maybe'], 'invalid boolean value "maybe" for -pre-vote: parse error'],
      [
        ['--grpc-keepalive-min-time', '5'],
        'invalid value "5" for flag -grpc-keepalive-min-time: parse error',
      ],
      [
        ['--initial-cluster-state', 'bogus'],
        'invalid value "bogus" for flag -initial-cluster-state: invalid value',
      ],
      [['--name'], 'flag needs an argument: -name'],
      [['---name', 'x'], 'bad flag syntax: ---name'],
      [['-=x'], 'bad flag syntax: -=x'],
      [
        ['--listen-client-urls', 'localhost:2379'],
        'invalid value "localhost:2379" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: localhost:2379',
      ],
    ];
    for (const [argv, first] of cases) {
      const r = parseServerConfig(argv, {});
      assert.equal(r.kind, 'error', argv.join(' '));
      if (r.kind === 'error') {
        assert.equal(r.exitCode, 2, argv.join(' '));
        const [line, ...usage] = r.message.split('\n');
        assert.equal(line, first);
        assert.equal(usage[0], 'Usage:');
      }
    }
  });

  test('validation errors exit 1 with etcd texts', () => {
    const cases: [string[], string][] = [
      [['extra'], "'extra' is not a valid flag"],
      [
        ['--election-timeout', '400'],
        '--election-timeout[400ms] should be at least as 5 times as --heartbeat-interval[100ms]',
      ],
      [
        ['--election-timeout', '60000'],
        '--election-timeout[60000ms] is too long, and should be set less than 50000ms',
      ],
      [['--heartbeat-interval', '0'], '--heartbeat-interval must be >0 (set to 0ms)'],
      [['--election-timeout', '0'], '--election-timeout must be >0 (set to 0ms)'],
      [['--auto-compaction-mode', 'foo'], 'unknown auto-compaction-mode "foo"'],
      [
        ['--listen-client-urls', 'http://example.com:2379', '--advertise-client-urls', 'http://a:1'],
        'expected IP in URL for binding (http://example.com:2379)',
      ],
      [['--listen-peer-urls', 'http://:2380'], 'expected IP in URL for binding (http://:2380)'],
      [
        ['--advertise-client-urls', 'http://:23791,http://1.2.3.4:5'],
        '--advertise-client-urls "http://1.2.3.4:5,http://:23791" must be "host:port" (unexpected empty host (http://:23791))',
      ],
      [
        ['--initial-advertise-peer-urls', 'unix://:23791'],
        '--initial-advertise-peer-urls "unix://:23791" must be "host:port" (unexpected empty host (unix://:23791))',
      ],
      [
        ['--discovery', 'http://d:1', '--initial-cluster', 'default=http://localhost:2380'],
        'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"',
      ],
      [['--logger', 'bogus'], 'unknown logger option "bogus"'],
      [
        ['--experimental-enable-lease-checkpoint-persist'],
        'setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint',
      ],
      [
        ['--log-level', 'loud'],
        'unknown log-level "loud" (only supports debug, info, warn, error, panic, fatal)',
      ],
    ];
    for (const [argv, message] of cases) assert.deepEqual(failure(argv), verifying(message), argv.join(' '));
  });

  test('listening on chosen client URLs requires advertising some, with etcd hint line', () => {
    const r = parseServerConfig(['--listen-client-urls', 'http://127.0.0.1:2379'], {});
    assert.deepEqual(r, {
      kind: 'error',
      exitCode: 1,
      message:
        "error verifying flags, --advertise-client-urls is required when --listen-client-urls is set explicitly. See 'cairn --help'.\n" +
        'When listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client.',
    });
  });

  test('errors etcd reports only after creating the data dir are reported up front', () => {
    assert.deepEqual(failure(['--auto-compaction-retention', '1x']), {
      first: 'error parsing CompactionRetention: time: unknown unit "x" in duration "1x"',
      exitCode: 1,
    });
    assert.equal(failure(['--auto-compaction-mode=revision', '--auto-compaction-retention=1h']).exitCode, 1);
    assert.deepEqual(failure(['--auth-token', 'bogus']), { first: 'unknown token type: bogus', exitCode: 1 });
  });
});

describe('ETCD_* environment variables', () => {
  test('the block `etcdctl member add` prints works as is', () => {
    const c = config([], {
      ETCD_NAME: 'infra3',
      ETCD_INITIAL_CLUSTER: 'infra1=http://10.0.0.1:2380,infra3=http://10.0.0.3:2380',
      ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://10.0.0.3:2380',
      ETCD_INITIAL_CLUSTER_STATE: 'existing',
      ETCD_DATA_DIR: '/data/infra3',
    });
    assert.equal(c.name, 'infra3');
    assert.equal(c.initialCluster, 'infra1=http://10.0.0.1:2380,infra3=http://10.0.0.3:2380');
    assert.deepEqual(c.initialAdvertisePeerUrls, ['http://10.0.0.3:2380']);
    assert.equal(c.initialClusterState, 'existing');
    assert.equal(c.dataDir, '/data/infra3');
  });

  test('variables mix with flags; booleans, numbers; empty values are unused', () => {
    const c = config(['--name', 'x'], {
      ETCD_PRE_VOTE: 'true',
      ETCD_SNAPSHOT_COUNT: '5000',
      ETCD_WAL_DIR: '',
    });
    assert.equal(c.name, 'x');
    assert.equal(c.preVote, true);
    assert.equal(c.snapshotCount, 5000);
    assert.deepEqual(warnings([], { ETCD_WAL_DIR: '' }).slice(0, 1), [
      'unrecognized environment variable ETCD_WAL_DIR=',
    ]);
  });

  test('discovery alone clears the default initial cluster (and is warned about)', () => {
    assert.equal(config(['--discovery', 'http://d:1']).initialCluster, '');
    assert.ok(
      warnings(['--discovery', 'http://d:1']).includes(
        '--discovery is not supported by cairn and is ignored',
      ),
    );
  });

  test('a listen variable without an advertise one is "set explicitly" too', () => {
    assert.equal(failure([], { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:1' }).exitCode, 1);
  });

  test('a variable shadowed by its flag is fatal', () => {
    assert.deepEqual(failure(['--name', 'bar'], { ETCD_NAME: 'foo' }), {
      first:
        'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)',
      exitCode: 1,
    });
  });

  test('unknown ETCD_* variables warn, in name order; others are ignored', () => {
    assert.deepEqual(
      warnings([], { ETCD_FOO: '1', ETCD_BAR: '', PATH: '/bin', ETCDCTL_API: '3' }).slice(0, 2),
      ['unrecognized environment variable ETCD_BAR=', 'unrecognized environment variable ETCD_FOO=1'],
    );
  });

  test('bad values name the variable', () => {
    assert.deepEqual(
      failure([], { ETCD_SNAPSHOT_COUNT: 'abc' }),
      verifying('invalid value "abc" for ETCD_SNAPSHOT_COUNT: parse error'),
    );
    assert.deepEqual(
      failure([], { ETCD_INITIAL_CLUSTER_STATE: 'weird' }),
      verifying('invalid value "weird" for ETCD_INITIAL_CLUSTER_STATE: invalid value'),
    );
    assert.deepEqual(
      failure([], { ETCD_PRE_VOTE: 'maybe' }),
      verifying('invalid value "maybe" for ETCD_PRE_VOTE: parse error'),
    );
  });
});
