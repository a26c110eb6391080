// Compares IDs, member JSON and bootstrap error texts with a real etcd 3.4 (skipped without one).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { computeAddedMemberId, computeClusterId, formatId } from '../../../src/membership/ids.js';
import {
  InitialClusterError,
  bootstrapNewCluster,
  type BootstrapOptions,
} from '../../../src/membership/initial-cluster.js';
import {
  decodeMember,
  decodeMembersResponse,
  encodeMembersResponse,
} from '../../../src/membership/member.js';
import { parseJson, isJsonObject, jsonField, jsonUint64 } from '../../../src/membership/json.js';
import { startRealEtcd } from '../../support/real-etcd.js';

const ETCD = process.env['ETCD_BIN'] ?? '/usr/bin/etcd';
const ETCDCTL = '/usr/bin/etcdctl';
const skip = !existsSync(ETCD) || !existsSync(ETCDCTL) ? 'no real etcd installed' : false;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function etcdctl(endpoint: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      ETCDCTL,
      [`--endpoints=${endpoint}`, ...args],
      { env: { PATH: process.env['PATH'] ?? '', ETCDCTL_API: '3' }, timeout: 15_000 },
      (error, stdout, stderr) =>
        error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
    );
  });
}

/**
 * Runs etcd until its log matches `until` (then kills it by pid) or it exits; returns the log. The
 * data dir lives in a temp dir removed afterwards.
 */
async function runEtcd(
  args: readonly string[],
  until: (log: string) => boolean,
  timeoutMs = 15_000,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-membership-etcd-'));
  const clientPort = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;
  const child = spawn(
    ETCD,
    [
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=http://127.0.0.1:${clientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
      '--logger=zap',
      '--log-outputs=stderr',
      ...args,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`etcd did not finish in time:\n${log}`)), timeoutMs);
      const onData = (chunk: Buffer): void => {
        log += chunk.toString('utf8');
        if (until(log)) {
          clearTimeout(timer);
          resolve(log);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(log);
      });
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

interface LogLine {
  readonly msg?: string;
  readonly error?: string;
  readonly 'cluster-id'?: string;
  readonly 'added-peer-id'?: string;
}

function logLines(log: string): LogLine[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

test('single member: IDs, member list JSON and the peer /members body match etcd', { skip }, async (t) => {
  const etcd = await startRealEtcd(t, {
    name: 'n1',
    flags: ['--initial-cluster-token=cairn-membership-test'],
  });
  const boot = bootstrapNewCluster({
    name: 'n1',
    initialCluster: `n1=${etcd.peerUrl}`,
    token: 'cairn-membership-test',
    advertisePeerUrls: [etcd.peerUrl],
  });

  // member list -w json prints IDs as JSON numbers above 2^53: read them exactly.
  const listed = parseJson(await etcdctl(etcd.clientUrl, ['member', 'list', '-w', 'json']));
  assert.ok(isJsonObject(listed));
  const header = jsonField(listed, 'header');
  assert.ok(isJsonObject(header));
  assert.equal(jsonUint64(jsonField(header, 'cluster_id') ?? null, 'cluster_id'), boot.clusterId);
  assert.equal(jsonUint64(jsonField(header, 'member_id') ?? null, 'member_id'), boot.localId);

  const res = await fetch(`${etcd.peerUrl}/members`);
  const body = await res.text();
  assert.equal(res.headers.get('x-etcd-cluster-id'), formatId(boot.clusterId));
  const expected = [{ ...boot.members[0], clientUrls: [etcd.clientUrl] }];
  assert.equal(body, encodeMembersResponse(expected));
  assert.deepEqual(decodeMembersResponse(body), expected);

  // A runtime add: the ID hashes the URLs with the wall-clock second of the add.
  const peerUrls = ['http://127.0.0.1:1', 'http://127.0.0.1:2'];
  const before = Date.now();
  const out = await etcdctl(etcd.clientUrl, [
    'member',
    'add',
    'n2',
    '--learner',
    `--peer-urls=${peerUrls.join(',')}`,
  ]);
  const after = Date.now();
  // etcdctl prints the ID with %16x: an ID of fewer than 16 digits comes with extra spaces.
  const m = /^Member +([0-9a-f]+) added to cluster ([0-9a-f]+)$/m.exec(out);
  assert.ok(m !== null, out);
  assert.equal(m[2], formatId(boot.clusterId));
  const candidates = new Set<string>();
  for (let s = Math.floor(before / 1000); s <= Math.floor(after / 1000); s++) {
    candidates.add(formatId(computeAddedMemberId(peerUrls, s * 1000)));
  }
  assert.ok(candidates.has(m[1]), `${m[1]} not in ${[...candidates].join(',')}`);

  const after2 = decodeMembersResponse(await (await fetch(`${etcd.peerUrl}/members`)).text());
  assert.deepEqual(
    after2.find((x) => formatId(x.id) === m[1]),
    decodeMember(`{"id":${BigInt('0x' + m[1])},"peerURLs":${JSON.stringify(peerUrls)},"isLearner":true}`),
  );
});

test('three members, one with two URLs: etcd logs the IDs we compute', { skip }, async () => {
  const [p1, p2, p3, p4] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const u = (p: number): string => `http://127.0.0.1:${p}`;
  const initialCluster = `a=${u(p3)},b=${u(p1)},c=${u(p4)},b=${u(p2)}`;
  const log = await runEtcd(
    [
      '--name=b',
      `--listen-peer-urls=${u(p1)},${u(p2)}`,
      `--initial-advertise-peer-urls=${u(p1)},${u(p2)}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-token=cairn-three',
    ],
    (l) => logLines(l).filter((x) => x.msg === 'added member').length >= 3,
  );
  const added = logLines(log).filter((x) => x.msg === 'added member');
  const boot = bootstrapNewCluster({
    name: 'b',
    initialCluster,
    token: 'cairn-three',
    advertisePeerUrls: [u(p1), u(p2)],
  });
  assert.deepEqual(
    added.map((x) => x['added-peer-id']).sort(),
    boot.members.map((x) => formatId(x.id)).sort(),
  );
  assert.ok(added.every((x) => x['cluster-id'] === formatId(boot.clusterId)));
  assert.equal(formatId(computeClusterId(boot.members.map((x) => x.id))), formatId(boot.clusterId));
});

test('bootstrap error texts equal what etcd prints before exiting', { skip }, async () => {
  const peer = await freePort();
  const pu = `http://127.0.0.1:${peer}`;
  const cases: BootstrapOptions[] = [
    { name: 'n1', initialCluster: `n2=${pu}`, token: 't', advertisePeerUrls: [pu] },
    { name: 'n1', initialCluster: 'n1=http://127.0.0.1:9', token: 't', advertisePeerUrls: [pu] },
    { name: 'n1', initialCluster: `n1=${pu}`, token: 't', advertisePeerUrls: [pu, 'http://127.0.0.1:9'] },
    { name: 'n1', initialCluster: `n1=${pu},n2=${pu}`, token: 't', advertisePeerUrls: [pu] },
    { name: 'n1', initialCluster: `n1=${pu},n2=ftp://x:1`, token: 't', advertisePeerUrls: [pu] },
    { name: 'n1', initialCluster: `n1=${pu},n2`, token: 't', advertisePeerUrls: [pu] },
  ];
  for (const c of cases) {
    let ours = '';
    try {
      bootstrapNewCluster(c);
    } catch (e) {
      assert.ok(e instanceof InitialClusterError);
      ours = e.message;
    }
    const log = await runEtcd(
      [
        `--name=${c.name}`,
        `--listen-peer-urls=${pu}`,
        `--initial-advertise-peer-urls=${c.advertisePeerUrls.join(',')}`,
        `--initial-cluster=${c.initialCluster}`,
        `--initial-cluster-token=${c.token}`,
      ],
      (l) => l.includes('"level":"fatal"'),
    );
    const fatal = logLines(log).find((x) => x.error !== undefined && x.msg === 'discovery failed');
    assert.equal(ours, fatal?.error, `${c.initialCluster}\n${log.slice(-2000)}`);
  }
});
