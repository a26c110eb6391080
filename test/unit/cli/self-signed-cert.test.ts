// The self-signed certificates of --auto-tls / --peer-auto-tls: what they hold (checked with Node's
// X.509 parser and with openssl), that TLS clients accept them for their SANs, and the fixtures dir.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { test } from 'node:test';

import {
  hostOf,
  makeSelfSignedCert,
  prepareAutoCert,
  writeAutoCert,
} from '../../../src/cli/cairn/self-signed-cert.js';
import { clientPortSecurity, peerTlsOptions, type AutoTlsContext } from '../../../src/cli/cairn/tls.js';
import { tlsConfig } from '../../support/certs.js';
import { tempDir } from '../../support/tools.js';

const DAY = 24 * 3600 * 1000;

test('the certificate: O=etcd, self-signed, a year, CA:FALSE, server+client auth, IP and DNS SANs', () => {
  const now = new Date('2026-03-04T05:06:07Z');
  const made = makeSelfSignedCert({ hosts: ['127.0.0.1', 'localhost', '::1', 'node-1.example'], now });
  const x = new X509Certificate(made.cert);
  assert.equal(x.subject, 'O=etcd');
  assert.equal(x.issuer, 'O=etcd');
  assert.equal(x.ca, false);
  assert.equal(new Date(x.validFrom).getTime(), now.getTime());
  assert.equal(new Date(x.validTo).getTime(), now.getTime() + 365 * DAY);
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(
    x.subjectAltName,
    'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1, DNS:node-1.example',
  );
  assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x.checkHost('localhost'), 'localhost');
  const key = createPrivateKey(made.key);
  assert.ok(made.key.startsWith('-----BEGIN EC PRIVATE KEY-----\n'), 'SEC 1 key, as etcd writes it');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(x.checkPrivateKey(key));
  assert.ok(x.verify(x.publicKey), 'signed by its own key');
});

test('serials are 128 random bits, positive, and every encoding parses', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serials = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const x = new X509Certificate(makeSelfSignedCert({ hosts: ['127.0.0.1'], privateKey }).cert);
    assert.ok(x.verify(x.publicKey));
    const n = BigInt(`0x${x.serialNumber}`);
    assert.ok(n > 0n && n < 1n << 128n, x.serialNumber);
    serials.add(x.serialNumber);
  }
  assert.equal(serials.size, 64);
});

test('validity past 2049 uses GeneralizedTime; no hosts means no SAN extension', () => {
  const now = new Date('2049-12-31T23:00:00Z');
  const x = new X509Certificate(makeSelfSignedCert({ hosts: [], now }).cert);
  assert.equal(new Date(x.validFrom).getTime(), now.getTime());
  assert.equal(new Date(x.validTo).getTime(), now.getTime() + 365 * DAY);
  assert.equal(x.subjectAltName, undefined);
  const mapped = new X509Certificate(makeSelfSignedCert({ hosts: ['::ffff:10.0.0.1'] }).cert);
  assert.equal(mapped.subjectAltName, 'IP Address:10.0.0.1');
});

test('hostOf: the host of host:port, IPv6 brackets removed', () => {
  assert.equal(hostOf('127.0.0.1:2379'), '127.0.0.1');
  assert.equal(hostOf('[::1]:2380'), '::1');
  assert.equal(hostOf('example.com:80'), 'example.com');
  assert.equal(hostOf('example.com'), 'example.com');
});

test('openssl reads it and verifies it against itself', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'cert.pem');
  writeFileSync(file, makeSelfSignedCert({ hosts: ['127.0.0.1', 'localhost'] }).cert);
  const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', file]).toString();
  for (const want of [
    'Version: 3 (0x2)',
    'Signature Algorithm: ecdsa-with-SHA256',
    'Issuer: O = etcd',
    'Subject: O = etcd',
    'NIST CURVE: P-256',
    'X509v3 Key Usage: critical',
    'Digital Signature, Key Encipherment',
    'TLS Web Server Authentication, TLS Web Client Authentication',
    'X509v3 Basic Constraints: critical',
    'CA:FALSE',
    'IP Address:127.0.0.1, DNS:localhost',
  ]) {
    assert.ok(text.includes(want), `${want} in:\n${text}`);
  }
  execFileSync('openssl', ['asn1parse', '-in', file, '-strictpem'], { stdio: 'ignore' });
  const verified = execFileSync('openssl', ['verify', '-CAfile', file, file]).toString();
  assert.equal(verified, `${file}: OK\n`);
});

test('a TLS client that trusts the certificate accepts it for 127.0.0.1 (SAN checked)', async (t) => {
  const made = makeSelfSignedCert({ hosts: ['127.0.0.1'] });
  const server = createServer({ key: made.key, cert: made.cert }, (s) => s.end('hi'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const text = await new Promise<string>((resolve, reject) => {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca: made.cert }, () => {
      assert.equal(socket.authorized, true);
    });
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
  assert.equal(text, 'hi');
});

test('fixtures: nothing written before writeAutoCert, then 0700 dir / 0600 files, reused after', (t) => {
  const dir = join(tempDir(t), 'data', 'fixtures', 'client');
  const first = prepareAutoCert(dir, ['127.0.0.1']);
  assert.equal(first.created, true);
  assert.equal(existsSync(join(dir, '..', '..')), false);
  writeAutoCert(first);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(first.certFile).mode & 0o777, 0o600);
  assert.equal(statSync(first.keyFile).mode & 0o777, 0o600);
  const again = prepareAutoCert(dir, ['127.0.0.1']);
  assert.equal(again.created, false);
  assert.deepEqual(again.cert, first.cert);
  assert.deepEqual(again.key, first.key);
  writeAutoCert(again);
  assert.deepEqual(readFileSync(first.certFile), first.cert);
  // A missing key: both are made again (as etcd).
  rmSync(first.keyFile);
  const remade = prepareAutoCert(dir, ['127.0.0.1']);
  assert.equal(remade.created, true);
  assert.notDeepEqual(remade.cert, first.cert);
});

test('tls.ts: auto TLS without files gives a self-signed, unverified setup; files win', (t) => {
  const dataDir = join(tempDir(t), 'm.etcd');
  const auto: AutoTlsContext = { dataDir, certs: [], notes: [] };
  const client = clientPortSecurity(
    tlsConfig({ autoTls: true, clientCertAuth: true }),
    ['https://127.0.0.1:2379'],
    auto,
  );
  assert.equal(client.kind, 'tls');
  if (client.kind === 'tls') assert.equal(client.clientCertAuth, false);
  const peer = peerTlsOptions(
    tlsConfig({ autoTls: true }),
    ['https://127.0.0.1:2380', 'https://10.0.0.1:2380'],
    auto,
    ['https://127.0.0.1:2380'],
  );
  assert.equal(peer?.insecureSkipVerify, true);
  assert.equal(peer?.clientCertAuth, false);
  assert.deepEqual(
    auto.certs.map((c) => c.dir),
    [join(dataDir, 'fixtures', 'client'), join(dataDir, 'fixtures', 'peer')],
  );
  assert.equal(new X509Certificate(auto.certs[1]?.cert ?? '').subjectAltName, 'IP Address:127.0.0.1');
  assert.equal(existsSync(dataDir), false, 'nothing written yet');
  // Given files: auto TLS ignored with etcd's note.
  for (const c of auto.certs) writeAutoCert(c);
  const files = auto.certs[0];
  assert.ok(files !== undefined);
  const withFiles: AutoTlsContext = { dataDir, certs: [], notes: [] };
  const s = clientPortSecurity(
    tlsConfig({ autoTls: true, certFile: files.certFile, keyFile: files.keyFile }),
    ['https://127.0.0.1:2379'],
    withFiles,
  );
  assert.equal(s.kind, 'tls');
  assert.deepEqual(withFiles.certs, []);
  assert.deepEqual(withFiles.notes, ['ignoring client auto TLS since certs given']);
});
