// The TLS policy flags with real processes, certificates made by openssl and real etcdctl:
// --client-crl-file refuses a revoked client certificate while a good one works (and a rewritten CRL
// applies to new connections), --peer-cert-allowed-cn keeps a member with another CN out while one
// with the right CN joins, --cipher-suites refuses TLS 1.2 clients outside the list on both ports,
// and bad values stop the start before the data dir exists (an unknown suite in etcd's words, checked
// against etcd 3.4 itself).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { CAIRN_BIN, cairnCluster, memberFlags, waitFor, type CairnMember } from '../support/cairn-cluster.js';
import {
  clientCertAuthFlags,
  makeCrl,
  makeLeafCert,
  makeTestCerts,
  type CertPair,
  type TestCerts,
} from '../support/certs.js';
import { ETCDCTL } from '../support/etcdctl.js';
import { freePort } from '../support/real-etcd.js';
import { runTool, tempDir } from '../support/tools.js';

const run = promisify(execFile);
const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd';

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function ran(bin: string, args: readonly string[], input?: string): Promise<Ran> {
  try {
    const p = run(bin, [...args], { env: { PATH: process.env.PATH, ETCDCTL_API: '3' }, timeout: 30_000 });
    if (input !== undefined) p.child.stdin?.end(input);
    const r = await p;
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** Real etcdctl with a client certificate (a new process: a new TLS connection). */
function etcdctlAs(endpoints: string, c: TestCerts, client: CertPair, ...args: string[]): Promise<Ran> {
  return ran(ETCDCTL, [
    '--endpoints',
    endpoints,
    '--cacert',
    c.ca.cert,
    '--cert',
    client.cert,
    '--key',
    client.key,
    '--dial-timeout',
    '1s',
    '--command-timeout',
    '2s',
    ...args,
  ]);
}

/** One TLS handshake by `openssl s_client`; the negotiated "Protocol Cipher", or "refused". */
async function sClient(hostPort: string, c: TestCerts, client: CertPair, ...opts: string[]): Promise<string> {
  const r = await ran(
    'openssl',
    [
      's_client',
      '-connect',
      hostPort,
      '-CAfile',
      c.ca.cert,
      '-cert',
      client.cert,
      '-key',
      client.key,
      ...opts,
    ],
    '',
  );
  const cipher = /New, (TLSv[\d.]+), Cipher is (\S+)/.exec(r.stdout);
  return r.code === 0 && cipher !== null ? `${cipher[1]} ${cipher[2]}` : 'refused';
}

test(
  'client CRL and cipher suites: a revoked client refused, a good one served, TLS 1.2 outside the list refused',
  { timeout: 90_000 },
  async (t) => {
    const certs = makeTestCerts(t);
    const revokedClient = makeLeafCert(certs, 'revoked-client', 'revoked', { usage: 'clientAuth' });
    // The member reads a copy, which the test rewrites later.
    const crlFile = join(tempDir(t, 'cairn-live-crl-'), 'client.crl');
    copyFileSync(makeCrl(certs, 'crl', [revokedClient]), crlFile);
    const laterCrl = makeCrl(certs, 'later-crl', [revokedClient, certs.client]);

    const c = await cairnCluster(t, ['m1'], 'tls-policy', {
      clientScheme: 'https',
      peerScheme: 'https',
      flags: () => [
        ...clientCertAuthFlags(certs),
        '--client-crl-file',
        crlFile,
        '--peer-cert-file',
        certs.peer.cert,
        '--peer-key-file',
        certs.peer.key,
        '--peer-trusted-ca-file',
        certs.ca.cert,
        '--peer-client-cert-auth',
        // The test certificates are ECDSA: one ECDSA suite, given by each of its two Go names.
        '--cipher-suites',
        'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
      ],
    });
    const m1 = c.members[0] as CairnMember;
    c.start(m1);
    const ep = m1.clientUrl;
    await waitFor(
      'the member serving TLS',
      async () => ((await etcdctlAs(ep, certs, certs.client, 'put', 'k', 'v')).code === 0 ? true : undefined),
      20_000,
    );

    // Good certificate: served. Revoked one: refused at the handshake, as etcdctl reports it to etcd.
    let r = await etcdctlAs(ep, certs, certs.client, 'get', 'k', '--print-value-only');
    assert.equal(r.stdout, 'v\n', r.stderr);
    r = await etcdctlAs(ep, certs, revokedClient, 'get', 'k');
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.endsWith('Error: context deadline exceeded\n'), r.stderr);
    await waitFor('the refusal in the log', async () =>
      /client port: rejected connection.*CERT_REVOKED|CERT_REVOKED.*client port: rejected connection/.test(
        m1.log,
      )
        ? true
        : undefined,
    );

    // Cipher suites, client and peer port: TLS 1.2 inside the list works, outside it is refused; TLS
    // 1.3 is not governed by the list (as with etcd 3.4).
    const clientHostPort = ep.replace('https://', '');
    const peerHostPort = m1.peerUrl.replace('https://', '');
    for (const hostPort of [clientHostPort, peerHostPort]) {
      const peerCert = hostPort === peerHostPort ? certs.peer : certs.client;
      assert.equal(
        await sClient(hostPort, certs, peerCert, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'),
        'TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256',
        hostPort,
      );
      assert.equal(
        await sClient(hostPort, certs, peerCert, '-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305'),
        'TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305',
        hostPort,
      );
      assert.equal(
        await sClient(hostPort, certs, peerCert, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384'),
        'refused',
        hostPort,
      );
      assert.match(await sClient(hostPort, certs, peerCert, '-tls1_3'), /^TLSv1\.3 TLS_/, hostPort);
    }

    // A rewritten CRL (now revoking the good certificate too) applies to new connections.
    copyFileSync(laterCrl, crlFile);
    await waitFor(
      'the new CRL in use',
      async () => ((await etcdctlAs(ep, certs, certs.client, 'get', 'k')).code === 1 ? true : undefined),
      10_000,
    );
    assert.match(m1.log, /reloaded client TLS certificate/);
  },
);

test(
  '--peer-cert-allowed-cn: a member with the right CN joins, one with another CN cannot',
  { timeout: 90_000 },
  async (t) => {
    const certs = makeTestCerts(t);
    // Signed by the trusted CA, valid for 127.0.0.1: only its CN is wrong.
    const intruderPeer = makeLeafCert(certs, 'intruder-peer', 'intruder');
    const c = await cairnCluster(t, ['m1'], 'tls-cn', {
      clientScheme: 'https',
      peerScheme: 'https',
      flags: (m) => [
        ...clientCertAuthFlags(certs),
        '--peer-cert-file',
        m.name === 'intruder' ? intruderPeer.cert : certs.peer.cert,
        '--peer-key-file',
        m.name === 'intruder' ? intruderPeer.key : certs.peer.key,
        '--peer-trusted-ca-file',
        certs.ca.cert,
        '--peer-client-cert-auth',
        '--peer-cert-allowed-cn',
        'cairn-peer',
      ],
    });
    const m1 = c.members[0] as CairnMember;
    c.start(m1);
    await waitFor(
      'm1 serving',
      async () =>
        (await etcdctlAs(m1.clientUrl, certs, certs.client, 'put', 'k', 'v')).code === 0 ? true : undefined,
      20_000,
    );

    // The right CN: joins, and the two members replicate.
    const m2 = await c.newMember('m2');
    let r = await etcdctlAs(
      m1.clientUrl,
      certs,
      certs.client,
      'member',
      'add',
      'm2',
      '--peer-urls',
      m2.peerUrl,
    );
    assert.equal(r.code, 0, r.stderr);
    c.start(m2, ['--initial-cluster-state', 'existing']);
    await waitFor(
      'm2 serving the replicated key',
      async () => {
        const g = await etcdctlAs(m2.clientUrl, certs, certs.client, 'get', 'k', '--print-value-only');
        return g.stdout === 'v\n' ? true : undefined;
      },
      30_000,
    );
    r = await etcdctlAs(c.endpoints(), certs, certs.client, 'endpoint', 'health');
    assert.equal(r.code, 0, r.stderr);

    // Another CN, same CA: refused by the members, so it cannot fetch the cluster and stops.
    const intruder = await c.newMember('intruder');
    // Strict reconfig checks refuse the add until m2 has been connected a while: retried.
    await waitFor(
      'the intruder added as a member',
      async () => {
        const add = await etcdctlAs(
          m1.clientUrl,
          certs,
          certs.client,
          'member',
          'add',
          'intruder',
          '--peer-urls',
          intruder.peerUrl,
        );
        return add.code === 0 ? true : undefined;
      },
      20_000,
    );
    c.start(intruder, ['--initial-cluster-state', 'existing']);
    assert.equal(await intruder.exited, 1, intruder.log);
    assert.match(intruder.log, /cannot fetch cluster info from peer urls/);
    assert.equal(existsSync(intruder.dataDir), false, 'no data dir for the refused member');
    assert.ok(
      [m1, m2].some((m) =>
        m.log.includes(
          'client certificate authentication failed: certificate CN \\"intruder\\" is not the allowed CN',
        ),
      ),
      `a member logs the refusal:\n${m1.log.slice(-3000)}`,
    );
    // The two members still serve.
    r = await etcdctlAs(m2.clientUrl, certs, certs.client, 'put', 'k2', 'v2');
    assert.equal(r.stdout, 'OK\n', r.stderr);
  },
);

test(
  'bad policy flags stop the start before the data dir exists; unknown suites in etcd words',
  { timeout: 60_000 },
  async (t) => {
    const certs = makeTestCerts(t);
    const dir = tempDir(t);
    const missing = join(dir, 'missing.crl');
    const expired = makeCrl(certs, 'expired', [], { expired: true });
    const clientPort = await freePort();
    const peerPort = await freePort();
    const tlsFlags = clientCertAuthFlags(certs);
    const peerFlags = ['--peer-cert-file', certs.peer.cert, '--peer-key-file', certs.peer.key];
    let starts = 0;
    /** The same flags for cairn or etcd, on a fresh data dir; the data dir is checked afterwards. */
    const start = async (
      bin: 'cairn' | 'etcd',
      extra: readonly string[],
      scheme = 'https',
    ): Promise<Ran & { dirMade: boolean }> => {
      const clientUrl = `${scheme}://127.0.0.1:${clientPort}`;
      const peerUrl = `https://127.0.0.1:${peerPort}`;
      const dataDir = join(dir, `bad-${++starts}.etcd`);
      const args = [...memberFlags({ name: 'bad', dataDir, clientUrl, peerUrl }), ...peerFlags, ...extra];
      const r =
        bin === 'cairn' ? await runTool(process.execPath, [CAIRN_BIN, ...args]) : await runTool(ETCD, args);
      const dirMade = existsSync(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
      return { ...r, dirMade };
    };

    // Refused by etcd 3.4 too: the same words (etcd logs them at level C and exits 1).
    const both: { readonly args: readonly string[]; readonly error: string }[] = [
      {
        args: ['--cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_BOGUS'],
        error: 'unexpected TLS cipher suite "TLS_BOGUS"',
      },
      {
        args: [
          ...tlsFlags,
          '--peer-trusted-ca-file',
          certs.ca.cert,
          '--peer-cert-allowed-cn',
          'm',
          '--peer-cert-allowed-hostname',
          'h',
        ],
        error: 'AllowedCN and AllowedHostname are mutually exclusive (cn="m", hostname="h")',
      },
    ];
    for (const k of both) {
      const cairn = await start('cairn', k.args, 'http');
      assert.equal(cairn.code, 1, cairn.stderr);
      assert.equal(cairn.stderr, `cairn: ${k.error}\n`);
      assert.equal(cairn.dirMade, false);
      if (existsSync(ETCD)) {
        const etcd = await start('etcd', k.args, 'http');
        assert.equal(etcd.code, 1, etcd.stderr);
        assert.ok(etcd.stderr.trimEnd().endsWith(k.error), etcd.stderr);
        assert.equal(etcd.dirMade, false);
      }
    }

    // Refused here, where etcd would start and then refuse every client (a CRL it cannot read) or
    // accept flags that verify nothing.
    const ours: { readonly args: readonly string[]; readonly error: string }[] = [
      {
        args: [...tlsFlags, '--client-crl-file', missing],
        error: `open ${missing}: no such file or directory`,
      },
      {
        args: [...tlsFlags, '--client-crl-file', certs.ca.cert],
        error: `tls: failed to find any CRL data in ${certs.ca.cert}`,
      },
      {
        args: [...tlsFlags, '--client-crl-file', expired],
        error: `tls: CRL in ${expired} has expired (next update was 2020-01-02T00:00:00.000Z); every certificate would be refused`,
      },
      {
        args: [...tlsFlags, '--peer-cert-allowed-cn', 'cairn-peer'],
        error:
          '--peer-cert-allowed-cn needs --peer-client-cert-auth or --peer-trusted-ca-file: without them peer certificates are not verified',
      },
    ];
    for (const k of ours) {
      const r = await start('cairn', k.args);
      assert.equal(r.code, 1, `${k.args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, `cairn: ${k.error}\n`);
      assert.equal(r.dirMade, false, `no data dir after ${k.args.join(' ')}`);
    }
  },
);
