// The peer TLS policy flags at the transport level: --cipher-suites names mapped to OpenSSL's, CRL
// files read and checked, revoked certificates and certificates with the wrong CN / hostname refused
// in both directions (the peer port and this member's own connections), with the reason in the log.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';

import {
  ACCEPTED_CIPHER_SUITES,
  cipherChoice,
  opensslCipherName,
  tls13Defaults,
} from '../../../src/transport/cipher-suites.js';
import { certIdentityError } from '../../../src/transport/cert-identity.js';
import { caSubjects, crlProblem, readCrlFile } from '../../../src/transport/crl.js';
import { fetchPeerHashKV } from '../../../src/transport/hashkv.js';
import type { PeerTlsOptions } from '../../../src/transport/types.js';
import { makeCrl, makeLeafCert, makeTestCerts, type CertPair, type TestCerts } from '../../support/certs.js';
import { startServer, type TestServer } from './helpers.js';

const B = 0xbbn;

// ---- --cipher-suites ------------------------------------------------------------------------------

test('every Go suite name etcd accepts maps to the OpenSSL suite with the same IANA name', () => {
  // `openssl ciphers -stdname` prints "IANA name - OpenSSL name ..." for what this OpenSSL knows.
  const listing = execFileSync('openssl', ['ciphers', '-stdname', 'ALL:@SECLEVEL=0'], { encoding: 'utf8' });
  const iana = new Map<string, string>();
  for (const line of listing.split('\n')) {
    const [std, , name] = line.trim().split(/\s+/);
    if (std !== undefined && name !== undefined) iana.set(std, name);
  }
  const aliases = new Map([
    ['TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
    ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
  ]);
  let checked = 0;
  for (const go of ACCEPTED_CIPHER_SUITES) {
    const openssl = opensslCipherName(go);
    if (go.startsWith('TLS_AES_') || go.startsWith('TLS_CHACHA20_')) {
      assert.equal(openssl, undefined, `${go} is TLS 1.3`);
      continue;
    }
    assert.ok(openssl !== undefined, go);
    const known = iana.get(aliases.get(go) ?? go);
    if (known === undefined) continue; // RC4 / 3DES: gone from OpenSSL 3
    assert.equal(openssl, known, go);
    checked++;
  }
  assert.equal(ACCEPTED_CIPHER_SUITES.length, 27, 'the 27 names etcd 3.4.23 accepts');
  assert.ok(checked >= 19, `only ${checked} names cross-checked`);
});

test('cipherChoice: order kept, TLS 1.3 kept on, unknown names refused with etcd words', () => {
  assert.deepEqual(cipherChoice([]), { notes: [] });
  const tls13 = tls13Defaults();
  assert.ok(tls13.length >= 3 && tls13.every((c) => c.startsWith('TLS_')));

  const c = cipherChoice([
    'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
    'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', // the same suite by its other name
  ]);
  assert.equal(
    c.ciphers,
    ['ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-AES128-GCM-SHA256', ...tls13].join(':'),
  );
  assert.deepEqual(c.notes, []);

  assert.throws(
    () => cipherChoice(['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_BOGUS']),
    (e: Error) => e.message === 'unexpected TLS cipher suite "TLS_BOGUS"',
  );
  // Exact names only, as Go compares them: no case folding, no trimming.
  assert.throws(
    () => cipherChoice(['tls_aes_128_gcm_sha256']),
    /unexpected TLS cipher suite "tls_aes_128_gcm_sha256"/,
  );
  assert.throws(() => cipherChoice(['']), /unexpected TLS cipher suite ""/);

  // TLS 1.3 names: accepted, no effect; RC4 and 3DES: accepted, not available here.
  const odd = cipherChoice([
    'TLS_AES_128_GCM_SHA256',
    'TLS_RSA_WITH_RC4_128_SHA',
    'TLS_RSA_WITH_AES_128_CBC_SHA',
  ]);
  assert.equal(odd.ciphers, ['AES128-SHA', ...tls13].join(':'));
  assert.equal(odd.notes.length, 2);
  assert.match(odd.notes[0] ?? '', /TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite/);
  assert.match(odd.notes[1] ?? '', /TLS_RSA_WITH_RC4_128_SHA \(RC4-SHA\) is not available/);

  // Nothing left for TLS 1.2: only TLS 1.3 is served (Go leaves TLS 1.2 without a suite too).
  const only13 = cipherChoice(['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'], []);
  assert.equal(only13.ciphers, tls13.join(':'));
  assert.match(only13.notes.at(-1) ?? '', /only TLS 1.3 is served/);
});

/** A TLS server with `ciphers` on the server certificate; resolves the outcome of one connection. */
async function handshake(
  t: TestContext,
  certs: TestCerts,
  serverCiphers: string | undefined,
  client: tls.ConnectionOptions,
): Promise<string> {
  const server = tls.createServer({
    key: readFileSync(certs.server.key),
    cert: readFileSync(certs.server.cert),
    minVersion: 'TLSv1.2',
    ...(serverCiphers === undefined ? {} : { ciphers: serverCiphers }),
  });
  server.on('secureConnection', (s) => s.end());
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(certs.ca.cert), ...client });
    s.on('secureConnect', () => {
      resolve(`${s.getProtocol() ?? '?'} ${s.getCipher().name}`);
      s.destroy();
    });
    s.on('error', (e: Error & { code?: string }) => resolve(`error ${e.code ?? e.message}`));
  });
}

test('a server with a cipher list refuses TLS 1.2 clients outside it and still serves TLS 1.3', async (t) => {
  const certs = makeTestCerts(t); // ECDSA certificates
  const ciphers = cipherChoice(['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']).ciphers;
  const tls12 = { maxVersion: 'TLSv1.2' } as const;
  assert.equal(
    await handshake(t, certs, ciphers, { ...tls12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
    'TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256',
  );
  assert.match(
    await handshake(t, certs, ciphers, { ...tls12, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }),
    /^error ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE$/,
  );
  // Without the list the same client is served: the refusal is the list's doing.
  assert.equal(
    await handshake(t, certs, undefined, { ...tls12, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }),
    'TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384',
  );
  // TLS 1.3 is not governed by the list (as with etcd).
  assert.match(await handshake(t, certs, ciphers, {}), /^TLSv1\.3 TLS_/);
});

// ---- CRL files --------------------------------------------------------------------------------------

test('CRL files: PEM (several lists), DER, garbage; expiry and issuer checks', (t) => {
  const certs = makeTestCerts(t);
  const crl = makeCrl(certs, 'crl', [certs.client, certs.peer]);
  const other = makeCrl(certs, 'other-crl', [], { ca: certs.otherCa });
  const expired = makeCrl(certs, 'expired-crl', [], { expired: true });
  const der = makeCrl(certs, 'der-crl', [certs.client], { der: true });

  const one = readCrlFile(readFileSync(crl));
  assert.equal(one.pems.length, 1);
  assert.equal(one.lists[0]?.revoked, 2);
  const next = one.lists[0]?.nextUpdate?.getTime() ?? 0;
  assert.ok(next > Date.now() && next < Date.now() + 3 * 86_400_000, 'next update in 2 days');

  const both = readCrlFile(Buffer.concat([readFileSync(crl), readFileSync(other)]));
  assert.equal(both.pems.length, 2, 'every list of a PEM file, not only the first');
  assert.deepEqual(
    both.lists.map((l) => l.revoked),
    [2, 0],
  );

  const fromDer = readCrlFile(readFileSync(der));
  assert.equal(fromDer.lists[0]?.revoked, 1);
  assert.match(fromDer.pems[0]?.toString() ?? '', /^-----BEGIN X509 CRL-----\n/);
  assert.doesNotThrow(
    () => tls.createSecureContext({ crl: [...fromDer.pems] }),
    'Node reads the PEM made from DER',
  );

  assert.throws(() => readCrlFile(Buffer.from('not a crl\n')), /failed to find any CRL data/);
  assert.throws(() => readCrlFile(readFileSync(der).subarray(0, 40)), /malformed CRL/);
  assert.throws(() => readCrlFile(readFileSync(certs.ca.cert)), /failed to find any CRL data/);

  const trusted = caSubjects(readFileSync(certs.ca.cert));
  assert.equal(trusted.length, 1);
  const now = new Date();
  assert.equal(crlProblem(one, now, trusted), undefined);
  assert.equal(crlProblem(one, now), undefined, 'no CA file: no issuer check');
  assert.match(
    crlProblem(readCrlFile(readFileSync(other)), now, trusted) ?? '',
    /not issued by a CA of the trusted/,
  );
  assert.equal(crlProblem(both, now, trusted), undefined, 'one list from the trusted CA is enough');
  assert.match(
    crlProblem(readCrlFile(readFileSync(expired)), now, trusted) ?? '',
    /^has expired \(next update was 2020-01-02T00:00:00.000Z\)/,
  );
});

const pemOf = (pair: CertPair): { key: Buffer; cert: Buffer } => ({
  key: readFileSync(pair.key),
  cert: readFileSync(pair.cert),
});

async function peerPort(t: TestContext, options: PeerTlsOptions): Promise<TestServer> {
  const b = await startServer(
    B,
    { tls: options, hashKV: async () => ({ revision: 7, compactRevision: -1, hash: 42 }) },
    'https://127.0.0.1:0',
  );
  t.after(() => b.server.close());
  return b;
}

/** One request to the peer port as a member would make it; 'ok' or the failure. */
async function ask(b: TestServer, client: PeerTlsOptions): Promise<string> {
  const r = await fetchPeerHashKV(b.url, 0, 3000, client);
  return r.kind === 'ok' ? 'ok' : `failed: ${r.message}`;
}

test('a revoked member certificate is refused by the peer port, and by a member dialling out', async (t) => {
  const certs = makeTestCerts(t);
  const revokedPeer = makeLeafCert(certs, 'revoked-peer', 'cairn-peer');
  const crl = readCrlFile(readFileSync(makeCrl(certs, 'crl', [revokedPeer]))).pems;
  const ca = readFileSync(certs.ca.cert);

  const b = await peerPort(t, { ...pemOf(certs.peer), ca, crl, clientCertAuth: true });
  assert.equal(await ask(b, { ...pemOf(certs.peer), ca }), 'ok');
  assert.match(await ask(b, { ...pemOf(revokedPeer), ca }), /^failed/);
  const refused = b.logger.lines.find((l) => l.msg === 'peer port: rejected connection');
  assert.equal(refused?.fields?.error, 'certificate verification failed: CERT_REVOKED');

  // The other direction: this member refuses a peer port that presents a revoked certificate.
  const revokedServer = await peerPort(t, { ...pemOf(revokedPeer), ca });
  assert.equal(await ask(revokedServer, { ...pemOf(certs.peer), ca }), 'ok');
  assert.match(await ask(revokedServer, { ...pemOf(certs.peer), ca, crl }), /^failed: certificate revoked/);
});

// ---- --peer-cert-allowed-cn / --peer-cert-allowed-hostname --------------------------------------------

test('certIdentityError: CN, several CNs, DNS and IP hostnames', () => {
  const cert = (cn: string | string[], san?: string): tls.PeerCertificate =>
    ({ subject: { CN: cn }, subjectaltname: san }) as unknown as tls.PeerCertificate;
  assert.equal(certIdentityError(cert('m1'), { allowedCn: 'm1' }), undefined);
  assert.equal(certIdentityError(cert('m1'), {}), undefined);
  assert.equal(certIdentityError(cert('m1'), { allowedCn: '' }), undefined);
  assert.equal(
    certIdentityError(cert('m2'), { allowedCn: 'm1' }),
    'certificate CN "m2" is not the allowed CN "m1"',
  );
  assert.equal(certIdentityError(cert(['x', 'm1']), { allowedCn: 'm1' }), undefined, 'the last CN, as Go');
  assert.match(certIdentityError(cert(['m1', 'x']), { allowedCn: 'm1' }) ?? '', /CN "x"/);
  assert.match(
    certIdentityError({ subject: {} } as unknown as tls.PeerCertificate, { allowedCn: 'm1' }) ?? '',
    /CN none/,
  );

  const sans = 'DNS:member.example.com, DNS:*.peers.example.com, IP Address:10.0.0.1';
  for (const ok of ['member.example.com', 'a.peers.example.com', '10.0.0.1'])
    assert.equal(certIdentityError(cert('x', sans), { allowedHostname: ok }), undefined, ok);
  for (const bad of ['other.example.com', 'a.b.peers.example.com', '10.0.0.2', 'x'])
    assert.match(
      certIdentityError(cert('x', sans), { allowedHostname: bad }) ?? '',
      /^certificate is not valid for the allowed hostname/,
      bad,
    );
});

test('the allowed CN and hostname are enforced on the peer port and on connections out', async (t) => {
  const certs = makeTestCerts(t);
  const stranger = makeLeafCert(certs, 'stranger', 'stranger', {
    san: 'DNS:stranger.example.com,IP:127.0.0.1',
  });
  const ca = readFileSync(certs.ca.cert);
  const member = { ...pemOf(certs.peer), ca };

  const byCn = await peerPort(t, { ...member, clientCertAuth: true, allowedCn: 'cairn-peer' });
  assert.equal(await ask(byCn, member), 'ok');
  assert.match(await ask(byCn, { ...pemOf(stranger), ca }), /^failed/);
  const line = byCn.logger.lines.find((l) => l.msg === 'peer port: rejected connection');
  assert.equal(
    line?.fields?.error,
    'client certificate authentication failed: certificate CN "stranger" is not the allowed CN "cairn-peer"',
  );

  const byHost = await peerPort(t, {
    ...member,
    clientCertAuth: true,
    allowedHostname: 'stranger.example.com',
  });
  assert.equal(await ask(byHost, { ...pemOf(stranger), ca }), 'ok');
  assert.match(await ask(byHost, member), /^failed/);

  // Dialling out: the other member's certificate must carry the CN too (as etcd checks both ways).
  // (Refusal first: the request agent would reuse an accepted connection for the same key pair.)
  const strangerPort = await peerPort(t, { ...pemOf(stranger), ca });
  assert.match(
    await ask(strangerPort, { ...member, allowedCn: 'cairn-peer' }),
    /^failed: peer certificate refused: certificate CN "stranger" is not the allowed CN "cairn-peer"/,
  );
  assert.equal(await ask(strangerPort, member), 'ok');
  // The URL's host is still checked first.
  const wrongHost = makeLeafCert(certs, 'wrong-host', 'cairn-peer', { san: 'DNS:elsewhere.example.com' });
  const wrongHostPort = await peerPort(t, { ...pemOf(wrongHost), ca });
  assert.match(
    await ask(wrongHostPort, { ...member, allowedCn: 'cairn-peer' }),
    /^failed: Hostname\/IP does not match/,
  );
});

test('reloaded peer material carries its CRL to the port', async (t) => {
  const certs = makeTestCerts(t);
  const ca = readFileSync(certs.ca.cert);
  const emptyCrl = readCrlFile(readFileSync(makeCrl(certs, 'empty', []))).pems;
  const revoking = readCrlFile(readFileSync(makeCrl(certs, 'revoking', [certs.client]))).pems;
  let current = { ...pemOf(certs.peer), ca, crl: emptyCrl };
  const listeners = new Set<(m: typeof current) => void>();
  const b = await peerPort(t, {
    ...current,
    clientCertAuth: true,
    reload: {
      current: () => current,
      subscribe: (f) => {
        listeners.add(f);
        return () => listeners.delete(f);
      },
    },
  });
  const client = { ...pemOf(certs.client), ca };
  assert.equal(await ask(b, client), 'ok');
  current = { ...current, crl: revoking };
  for (const f of listeners) f(current);
  // Open connections keep their session (as with a rotated certificate); a new one meets the new CRL.
  https.globalAgent.destroy();
  assert.match(await ask(b, client), /^failed/);
});
