// TLS on the client and peer ports with real processes and certificates made by openssl: a 3-member
// cluster serving real etcdctl (and cairnctl) over TLS with client certificates required, a client
// without a certificate refused, a peer with a certificate from another CA unable to join, and clear
// start-up errors for bad key/cert files before anything is written.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import {
  CAIRN_BIN,
  CAIRNCTL_BIN,
  cairnCluster,
  memberFlags,
  waitFor,
  type CairnMember,
} from '../support/cairn-cluster.js';
import { clientCertAuthFlags, makeTestCerts, type TestCerts } from '../support/certs.js';
import { ETCDCTL } from '../support/etcdctl.js';
import { freePort } from '../support/real-etcd.js';
import { runTool, tempDir } from '../support/tools.js';

const run = promisify(execFile);

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs etcdctl or cairnctl with only PATH, ETCDCTL_API=3 and `env` in its environment. */
async function ctl(bin: string, args: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  try {
    const r = await run(bin, [...args], { env: { PATH: process.env.PATH, ETCDCTL_API: '3', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

function clientCertFlags(c: TestCerts): string[] {
  return ['--cacert', c.ca.cert, '--cert', c.client.cert, '--key', c.client.key];
}

/** GET over HTTPS with the client certificate (Node sends no ALPN: the port routes by the first bytes). */
function httpsGet(url: string, c: TestCerts): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca: readFileSync(c.ca.cert), cert: readFileSync(c.client.cert), key: readFileSync(c.client.key) },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test(
  'TLS on client and peer ports: 3 members, real etcdctl, refused client and peer',
  { timeout: 60_000 },
  async (t) => {
    const certs = makeTestCerts(t);
    const tlsFlags = (m: CairnMember): readonly string[] => {
      const peer = m.name === 'intruder' ? certs.otherPeer : certs.peer;
      return [
        ...clientCertAuthFlags(certs),
        '--peer-cert-file',
        peer.cert,
        '--peer-key-file',
        peer.key,
        // The intruder trusts the cluster's CA (it is public); the cluster does not trust the intruder's.
        '--peer-trusted-ca-file',
        certs.ca.cert,
        '--peer-client-cert-auth',
      ];
    };
    const c = await cairnCluster(t, ['m1', 'm2', 'm3'], 'tls-token', {
      clientScheme: 'https',
      peerScheme: 'https',
      flags: tlsFlags,
    });
    for (const m of c.members) c.start(m);
    const eps = c.endpoints();
    const tlsArgs = clientCertFlags(certs);

    // Every member healthy (a health check is a quorum read through raft: the peers talk over TLS).
    await waitFor(
      'a healthy TLS cluster',
      async () => {
        const r = await ctl(ETCDCTL, [
          '--endpoints',
          eps,
          ...tlsArgs,
          '--command-timeout',
          '3s',
          'endpoint',
          'health',
        ]);
        return r.code === 0 ? r : undefined;
      },
      20_000,
    );

    // Real etcdctl with --cacert/--cert/--key, bare host:port and https:// endpoints.
    let r = await ctl(ETCDCTL, ['--endpoints', eps, ...tlsArgs, 'put', 'tls-key', 'tls-value']);
    assert.equal(r.stdout, 'OK\n', r.stderr);
    r = await ctl(ETCDCTL, ['--endpoints', c.members[2].clientUrl, ...tlsArgs, 'get', 'tls-key']);
    assert.equal(r.stdout, 'tls-key\ntls-value\n', r.stderr);
    r = await ctl(ETCDCTL, ['--endpoints', eps, ...tlsArgs, 'member', 'list']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    for (const m of c.members) {
      assert.ok(
        lines.some((l) => l.includes(`, ${m.name}, ${m.peerUrl}, ${m.clientUrl}, false`)),
        `${m.name} in:\n${r.stdout}`,
      );
    }

    // cairnctl: the same flags, and the same through ETCDCTL_* variables.
    r = await ctl(CAIRNCTL_BIN, ['--endpoints', eps, ...tlsArgs, 'get', 'tls-key', '--print-value-only']);
    assert.equal(r.stdout, 'tls-value\n', r.stderr);
    assert.equal(r.stderr, '');
    r = await ctl(CAIRNCTL_BIN, ['--endpoints', c.members[0].clientUrl, 'put', 'k2', 'v2'], {
      ETCDCTL_CACERT: certs.ca.cert,
      ETCDCTL_CERT: certs.client.cert,
      ETCDCTL_KEY: certs.client.key,
    });
    assert.equal(r.stdout, 'OK\n', r.stderr);
    r = await ctl(CAIRNCTL_BIN, [
      '--endpoints',
      c.members[1].clientUrl,
      '--insecure-skip-tls-verify',
      '--cert',
      certs.client.cert,
      '--key',
      certs.client.key,
      'get',
      'k2',
      '--print-value-only',
    ]);
    assert.equal(r.stdout, 'v2\n', r.stderr);

    // HTTP/1.1 on the same TLS port: /health and /version.
    const health = await httpsGet(`${c.members[0].clientUrl}/health`, certs);
    assert.equal(health.status, 200);
    assert.match(health.body, /"health":"true"/);
    assert.match((await httpsGet(`${c.members[1].clientUrl}/version`, certs)).body, /"etcdserver":/);

    // No client certificate under --client-cert-auth: refused; real etcdctl says what it says to etcd 3.4.
    const refusedText =
      '"error":"rpc error: code = DeadlineExceeded desc = latest balancer error: all SubConns are in TransientFailure"';
    for (const bin of [ETCDCTL, CAIRNCTL_BIN]) {
      r = await ctl(bin, [
        '--endpoints',
        eps,
        '--cacert',
        certs.ca.cert,
        '--command-timeout',
        '1s',
        '--dial-timeout',
        '1s',
        'get',
        'tls-key',
      ]);
      assert.equal(r.code, 1, `${bin}: ${r.stderr}`);
      assert.ok(r.stderr.includes(refusedText), `${bin}: ${r.stderr}`);
      assert.ok(r.stderr.endsWith('Error: context deadline exceeded\n'), `${bin}: ${r.stderr}`);
      // Cleartext to a TLS port: refused too.
      r = await ctl(bin, [
        '--endpoints',
        eps,
        '--command-timeout',
        '1s',
        '--dial-timeout',
        '1s',
        'get',
        'tls-key',
      ]);
      assert.equal(r.code, 1, `${bin}: ${r.stderr}`);
      assert.ok(r.stderr.endsWith('Error: context deadline exceeded\n'), `${bin}: ${r.stderr}`);
    }

    // A member whose peer certificate another CA signed cannot join: the cluster refuses its handshake.
    const intruder = await c.newMember('intruder');
    r = await ctl(ETCDCTL, [
      '--endpoints',
      eps,
      ...tlsArgs,
      'member',
      'add',
      'intruder',
      '--peer-urls',
      intruder.peerUrl,
    ]);
    assert.equal(r.code, 0, r.stderr);
    c.start(intruder, ['--initial-cluster-state', 'existing']);
    const code = await intruder.exited;
    assert.equal(code, 1, intruder.log);
    assert.match(intruder.log, /cannot fetch cluster info from peer urls/);
    assert.equal(existsSync(intruder.dataDir), false, 'no data dir for the refused member');
    assert.ok(
      c.members.slice(0, 3).some((m) => m.log.includes('peer port: rejected connection')),
      'a member logs the refused handshake',
    );
    // The three members still serve.
    r = await ctl(ETCDCTL, [
      '--endpoints',
      c.members[0].clientUrl,
      ...tlsArgs,
      'get',
      'tls-key',
      '--print-value-only',
    ]);
    assert.equal(r.stdout, 'tls-value\n', r.stderr);
  },
);

test('bad TLS files: a clear error at start-up and no data dir', { timeout: 30_000 }, async (t) => {
  const certs = makeTestCerts(t);
  const dir = tempDir(t);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a key\n');
  const clientPort = await freePort();
  const peerPort = await freePort();
  const start = (tls: readonly string[], clientScheme = 'https', peerScheme = 'http'): Promise<Ran> => {
    const clientUrl = `${clientScheme}://127.0.0.1:${clientPort}`;
    const peerUrl = `${peerScheme}://127.0.0.1:${peerPort}`;
    return runTool(process.execPath, [
      CAIRN_BIN,
      ...memberFlags({ name: 'bad', dataDir: join(dir, 'bad.etcd'), clientUrl, peerUrl }),
      ...tls,
    ]);
  };
  const cases: { readonly args: readonly string[]; readonly error: string; readonly peer?: string }[] = [
    {
      args: ['--cert-file', certs.server.cert, '--key-file', garbage],
      error: 'cairn: tls: failed to find any PEM data in key input',
    },
    {
      args: ['--cert-file', certs.server.cert, '--key-file', certs.client.key],
      error: 'cairn: tls: private key does not match public key',
    },
    {
      args: ['--cert-file', certs.server.cert, '--key-file', join(dir, 'missing.pem')],
      error: `cairn: open ${join(dir, 'missing.pem')}: no such file or directory`,
    },
    {
      args: [],
      error: `cairn: TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:${clientPort} with HTTPS scheme`,
    },
    {
      args: ['--peer-cert-file', certs.peer.cert, '--peer-key-file', certs.server.key],
      error: 'cairn: tls: private key does not match public key',
      peer: 'https',
    },
  ];
  for (const k of cases) {
    const r = await start(k.args, k.peer === undefined ? 'https' : 'http', k.peer ?? 'http');
    assert.equal(r.code, 1, `${k.args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(k.error), `${k.args.join(' ')}: ${r.stderr}`);
    assert.equal(existsSync(join(dir, 'bad.etcd')), false, `no data dir after ${k.args.join(' ')}`);
  }
});
