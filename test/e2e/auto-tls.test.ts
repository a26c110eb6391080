// --auto-tls and --peer-auto-tls with real processes: a member makes a self-signed certificate in
// <data-dir>/fixtures, serves real etcdctl over TLS with it, keeps it across a restart, and a 3-member
// cluster forms and replicates over peer TLS with self-signed certificates only.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { CAIRN_BIN, cairnCluster, waitFor } from '../support/cairn-cluster.js';
import { ETCDCTL } from '../support/etcdctl.js';
import { freePort } from '../support/real-etcd.js';
import { runTool, tempDir } from '../support/tools.js';

const run = promisify(execFile);

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function etcdctl(args: readonly string[]): Promise<Ran> {
  try {
    const r = await run(ETCDCTL, ['--command-timeout', '3s', ...args], {
      env: { PATH: process.env.PATH, ETCDCTL_API: '3' },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** The SHA-256 fingerprint of the certificate a TLS port serves (not verified: it is self-signed). */
function servedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

function fileFingerprint(file: string): string {
  return new X509Certificate(readFileSync(file)).fingerprint256;
}

test(
  '--auto-tls: self-signed client certificate, real etcdctl, reused after a restart',
  { timeout: 30_000 },
  async (t) => {
    const c = await cairnCluster(t, ['auto1'], 'auto-tls-token', {
      clientScheme: 'https',
      flags: () => ['--auto-tls'],
    });
    const m = c.members[0];
    assert.ok(m !== undefined);
    c.start(m);
    // etcdctl 3.4 applies --insecure-skip-tls-verify only to a TLS configuration it already has: with
    // no --cacert/--cert, --insecure-transport=false makes one (against etcd's auto TLS just the same).
    const insecure = ['--insecure-transport=false', '--insecure-skip-tls-verify', '--endpoints', m.clientUrl];
    await waitFor(
      'the member serving TLS',
      async () => {
        const r = await etcdctl([...insecure, 'put', 'auto', 'tls']);
        return r.code === 0 ? r : undefined;
      },
      15_000,
    );
    let r = await etcdctl([...insecure, 'get', 'auto']);
    assert.equal(r.stdout, 'auto\ntls\n', r.stderr);

    const fixtures = join(m.dataDir, 'fixtures', 'client');
    const certFile = join(fixtures, 'cert.pem');
    assert.equal(statSync(fixtures).mode & 0o777, 0o700);
    assert.equal(statSync(certFile).mode & 0o777, 0o600);
    assert.equal(statSync(join(fixtures, 'key.pem')).mode & 0o777, 0o600);
    assert.equal(
      existsSync(join(m.dataDir, 'fixtures', 'peer')),
      false,
      'no peer certificate without the flag',
    );
    const x = new X509Certificate(readFileSync(certFile));
    assert.equal(x.subject, 'O=etcd');
    assert.equal(x.subjectAltName, 'IP Address:127.0.0.1');
    const fingerprint = fileFingerprint(certFile);
    assert.equal(await servedFingerprint(m.clientUrl), fingerprint);
    assert.match(m.log, /created self-signed cert/);
    // The SAN is the listen host: a client that trusts this very certificate verifies the server.
    r = await etcdctl([
      '--cacert',
      certFile,
      '--endpoints',
      m.clientUrl,
      'get',
      'auto',
      '--print-value-only',
    ]);
    assert.equal(r.stdout, 'tls\n', r.stderr);

    // A restart reuses the certificate.
    assert.equal(await c.kill(m, 'SIGTERM'), 0);
    m.log = '';
    c.start(m);
    await waitFor(
      'the restarted member',
      async () => {
        const g = await etcdctl([...insecure, 'get', 'auto', '--print-value-only']);
        return g.code === 0 ? g : undefined;
      },
      15_000,
    );
    assert.equal(fileFingerprint(certFile), fingerprint);
    assert.equal(await servedFingerprint(m.clientUrl), fingerprint);
    assert.match(m.log, /using self-signed cert/);
  },
);

test('--auto-tls with a refused configuration writes nothing', { timeout: 15_000 }, async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'refused.etcd');
  const client = `https://127.0.0.1:${await freePort()}`;
  const peer = `https://127.0.0.1:${await freePort()}`;
  const r = await runTool(process.execPath, [
    CAIRN_BIN,
    '--name',
    'refused',
    '--data-dir',
    dataDir,
    '--auto-tls',
    '--peer-auto-tls',
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `someone-else=${peer}`,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(existsSync(dataDir), false, r.stderr);
});

test(
  '--peer-auto-tls: 3 members form a cluster over self-signed peer TLS and replicate',
  { timeout: 30_000 },
  async (t) => {
    const c = await cairnCluster(t, ['p1', 'p2', 'p3'], 'peer-auto-tls-token', {
      peerScheme: 'https',
      flags: () => ['--peer-auto-tls'],
    });
    for (const m of c.members) c.start(m);
    const eps = c.members.map((m) => m.clientUrl).join(',');
    await waitFor(
      'a healthy cluster',
      async () => {
        const r = await etcdctl(['--endpoints', eps, 'endpoint', 'health']);
        return r.code === 0 ? r : undefined;
      },
      20_000,
    );
    const [m1, m2, m3] = c.members;
    assert.ok(m1 !== undefined && m2 !== undefined && m3 !== undefined);
    let r = await etcdctl(['--endpoints', m1.clientUrl, 'put', 'replicated', 'yes']);
    assert.equal(r.stdout, 'OK\n', r.stderr);
    for (const m of [m2, m3]) {
      r = await etcdctl(['--endpoints', m.clientUrl, 'get', 'replicated', '--print-value-only']);
      assert.equal(r.stdout, 'yes\n', r.stderr);
      r = await etcdctl([
        '--endpoints',
        m.clientUrl,
        'get',
        'replicated',
        '--print-value-only',
        '--consistency',
        's',
      ]);
      assert.equal(r.stdout, 'yes\n', `serializable read on ${m.name}: ${r.stderr}`);
    }
    r = await etcdctl(['--endpoints', eps, 'member', 'list']);
    assert.equal(r.stdout.trim().split('\n').length, 3, r.stdout);
    assert.ok(
      c.members.every((m) => r.stdout.includes(m.peerUrl)),
      r.stdout,
    );

    // Each member serves its own certificate from <data-dir>/fixtures/peer, made for its listen host.
    const fingerprints = new Set<string>();
    for (const m of c.members) {
      const certFile = join(m.dataDir, 'fixtures', 'peer', 'cert.pem');
      assert.equal(new X509Certificate(readFileSync(certFile)).subjectAltName, 'IP Address:127.0.0.1');
      const fp = fileFingerprint(certFile);
      assert.equal(await servedFingerprint(m.peerUrl), fp);
      fingerprints.add(fp);
    }
    assert.equal(fingerprints.size, 3);
  },
);
