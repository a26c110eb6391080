// --config-file: etcd's YAML keys, precedence over flags and variables, and its error texts.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseServerConfig } from '../../../src/config/index.js';
import type { ConfigResult } from '../../../src/config/index.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-config-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
function expectConfig(r: ConfigResult) {
  if (r.kind !== 'config') assert.fail(`expected a config, got ${JSON.stringify(r)}`);
  return r;
}

const SAMPLE = `# like etcd.conf.yml.sample
name: 'node1'
data-dir: /var/lib/node1
wal-dir:
snapshot-count: 10000
heartbeat-interval: 50
election-timeout: 500
quota-backend-bytes: 0
listen-peer-urls: http://127.0.0.1:2380
listen-client-urls: http://127.0.0.1:2379,http://127.0.0.1:12379
max-snapshots: 3
max-wals: 4
initial-advertise-peer-urls: http://127.0.0.1:2380
advertise-client-urls: http://127.0.0.1:2379
initial-cluster: node1=http://127.0.0.1:2380,node2=http://127.0.0.2:2380
initial-cluster-token: 'tok'
initial-cluster-state: 'existing'
strict-reconfig-check: false
enable-v2: false
enable-pprof: true
pre-vote: true
auto-compaction-mode: revision
auto-compaction-retention: "500"
grpc-keepalive-min-time: 2000000000
grpc-keepalive-timeout: 30s
client-transport-security:
  cert-file: /c.pem
  key-file: /k.pem
  client-cert-auth: true
  trusted-ca-file: /ca.pem
  auto-tls: false
peer-transport-security:
  cert-file: /pc.pem
  key-file: /pk.pem
  client-cert-auth: true
  trusted-ca-file: /pca.pem
  auto-tls: true
logger: zap
log-outputs: [stderr]
log-level: warn
force-new-cluster: false
`;

describe('--config-file', () => {
  test('reads etcd.conf.yml keys', () => {
    const r = expectConfig(parseServerConfig(['--config-file', file('sample.yml', SAMPLE)], {}));
    const c = r.config;
    assert.equal(c.source, 'config-file');
    assert.equal(c.name, 'node1');
    assert.equal(c.dataDir, '/var/lib/node1');
    assert.equal(c.walDir, '');
    assert.equal(c.snapshotCount, 10000);
    assert.equal(c.heartbeatIntervalMs, 50);
    assert.equal(c.electionTimeoutMs, 500);
    assert.deepEqual(c.listenClientUrls, ['http://127.0.0.1:12379', 'http://127.0.0.1:2379']);
    assert.equal(c.maxSnapshots, 3);
    assert.equal(c.maxWals, 4);
    assert.equal(c.initialCluster, 'node1=http://127.0.0.1:2380,node2=http://127.0.0.2:2380');
    assert.equal(c.initialClusterToken, 'tok');
    assert.equal(c.initialClusterState, 'existing');
    assert.equal(c.strictReconfigCheck, false);
    assert.equal(c.enablePprof, true);
    assert.equal(c.preVote, true);
    assert.deepEqual(c.autoCompaction, { mode: 'revision', retentionRevisions: 500 });
    assert.equal(c.grpcKeepAliveMinTimeMs, 2000);
    assert.equal(c.grpcKeepAliveTimeoutMs, 30_000);
    assert.equal(c.clientTls.certFile, '/c.pem');
    assert.equal(c.clientTls.clientCertAuth, true);
    assert.equal(c.clientTls.trustedCaFile, '/ca.pem');
    assert.equal(c.peerTls.keyFile, '/pk.pem');
    assert.equal(c.peerTls.autoTls, true);
    assert.equal(c.logger, 'zap');
    assert.deepEqual(c.logOutputs, ['stderr']);
    assert.equal(c.logLevel, 'warn');
    assert.deepEqual(r.warnings, []);
  });

  test('other flags and ETCD_* variables are ignored, also with ETCD_CONFIG_FILE', () => {
    const path = file('name.yml', 'name: fromfile\n');
    const viaFlag = expectConfig(
      parseServerConfig(['--config-file', path, '--name', 'flag'], { ETCD_NAME: 'env', ETCD_FOO: '1' }),
    );
    assert.equal(viaFlag.config.name, 'fromfile');
    assert.equal(viaFlag.config.initialCluster, 'fromfile=http://localhost:2380');
    assert.ok(viaFlag.warnings.some((w) => w.includes('command-line flags ignored: --name')));
    assert.ok(!viaFlag.warnings.some((w) => w.includes('ETCD_FOO')));
    const viaEnv = expectConfig(parseServerConfig(['--name', 'flag'], { ETCD_CONFIG_FILE: path }));
    assert.equal(viaEnv.config.name, 'fromfile');
  });

  test('an empty file gives the defaults; unknown keys warn; in a file listen without advertise is fine', () => {
    const empty = expectConfig(parseServerConfig(['--config-file', file('empty.yml', '')], {}));
    assert.equal(empty.config.name, 'default');
    const path = file('unknown.yml', 'bogus-key: 1\nlisten-client-urls: http://127.0.0.1:1\n');
    const r = expectConfig(parseServerConfig(['--config-file', path], {}));
    assert.ok(r.warnings.includes(`unrecognized configuration key "bogus-key" in ${path} (ignored)`));
    assert.deepEqual(r.config.advertiseClientUrls, ['http://localhost:2379']);
  });

  test('errors carry etcd texts and exit 1', () => {
    const missing = join(dir, 'nope.yml');
    const cases: [string, string][] = [
      [missing, `error verifying flags, open ${missing}: no such file or directory. See 'cairn --help'.`],
      [
        file('type.yml', 'snapshot-count: abc\n'),
        "error verifying flags, error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.snapshot-count of type uint64. See 'cairn --help'.",
      ],
      [
        file('neg.yml', 'heartbeat-interval: -5\n'),
        "error verifying flags, error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number -5 into Go struct field configYAML.heartbeat-interval of type uint. See 'cairn --help'.",
      ],
      [
        file('url.yml', 'listen-client-urls: localhost:2379\n'),
        'unexpected error setting up listen-client-urls: URL scheme must be http, https, unix, or unixs: localhost:2379',
      ],
      [
        file('state.yml', 'initial-cluster-state: weird\n'),
        `error verifying flags, unexpected clusterState "weird". See 'cairn --help'.`,
      ],
      [
        file('election.yml', 'election-timeout: 300\n'),
        "error verifying flags, --election-timeout[300ms] should be at least as 5 times as --heartbeat-interval[100ms]. See 'cairn --help'.",
      ],
    ];
    for (const [path, message] of cases)
      assert.deepEqual(parseServerConfig(['--config-file', path], {}), {
        kind: 'error',
        exitCode: 1,
        message,
      });
    const bad = parseServerConfig(['--config-file', file('bad.yml', 'name: [a\n')], {});
    assert.equal(bad.kind, 'error');
    if (bad.kind === 'error')
      assert.match(bad.message, /^error verifying flags, error converting YAML to JSON: yaml: /);
  });
});
