// Runs the real etcd 3.4 with bad configurations and checks that cairn rejects them with the same
// text and exit status, so a drift in either shows up here. etcd exits at once on all of these; a
// timeout (spawnSync kills the child it started) guards against one that starts serving.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseServerConfig } from '../../../src/config/index.js';

const ETCD = '/usr/bin/etcd';
const available = existsSync(ETCD);

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-etcd-compare-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

// Valid loopback URLs so that only the flag under test is wrong.
const base = (): string[] => [
  '--data-dir',
  join(dir, 'data'),
  '--listen-client-urls',
  'http://127.0.0.1:23791',
  '--advertise-client-urls',
  'http://127.0.0.1:23791',
  '--listen-peer-urls',
  'http://127.0.0.1:23801',
  '--initial-advertise-peer-urls',
  'http://127.0.0.1:23801',
  '--initial-cluster',
  'default=http://127.0.0.1:23801',
];

interface Case {
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

// The line etcd prints for the failure, without its timestamp/level/package prefix.
function etcdFailure(c: Case): { line: string; status: number | null } {
  const r = spawnSync(ETCD, [...base(), ...c.args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...c.env },
    encoding: 'utf8',
    timeout: 10_000,
  });
  rmSync(join(dir, 'data'), { recursive: true, force: true });
  const lines = r.stderr.split('\n');
  const marked = lines.find((l) => / [EC] \| /.test(l));
  const line = marked?.replace(/^\S+ \S+ [A-Z] \| [\w/.]+: /, '') ?? lines[0] ?? '';
  return { line, status: r.status };
}

function ours(c: Case): { line: string; status: number } {
  const r = parseServerConfig([...base(), ...c.args], c.env ?? {});
  if (r.kind !== 'error') assert.fail(`cairn accepted ${c.args.join(' ')}`);
  return {
    line: (r.message.split('\n')[0] ?? '').replace("'cairn --help'", "'etcd --help'"),
    status: r.exitCode,
  };
}

const CASES: readonly Case[] = [
  { args: ['--bogus'] },
  { args: ['--snapshot-count', 'abc'] },
  { args: ['--heartbeat-interval', '-5'] },
  { args: ['--pre-vote=maybe'] },
  { args: ['--grpc-keepalive-min-time', '5'] },
  { args: ['--initial-cluster-state', 'bogus'] },
  { args: ['--listen-client-urls', 'localhost:2379'] },
  { args: ['--listen-client-urls', '127.0.0.1:2379'] },
  { args: ['--listen-peer-urls', 'http://127.0.0.1:2380/path'] },
  { args: ['--name'] },
  { args: ['extra'] },
  { args: ['--election-timeout', '400'] },
  { args: ['--election-timeout', '60000'] },
  { args: ['--heartbeat-interval', '0'] },
  { args: ['--auto-compaction-mode', 'foo'] },
  { args: ['--logger', 'bogus'] },
  { args: ['--experimental-enable-lease-checkpoint-persist'] },
  { args: ['--listen-client-urls', 'http://example.com:2379'] },
  { args: ['--advertise-client-urls', 'http://:23791,http://1.2.3.4:5'] },
  { args: ['--discovery', 'http://127.0.0.1:1'] },
  { args: [], env: { ETCD_SNAPSHOT_COUNT: 'abc' } },
  { args: [], env: { ETCD_INITIAL_CLUSTER_STATE: 'weird' } },
  { args: ['--name', 'bar'], env: { ETCD_NAME: 'foo' } },
];

describe('error texts match etcd 3.4', { skip: available ? false : `${ETCD} not installed` }, () => {
  for (const c of CASES) {
    const label = [...Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`), ...c.args].join(' ');
    test(label, () => {
      assert.deepEqual(ours(c), etcdFailure(c));
    });
  }
});
