// The client port's TLS policy: a CRL refuses revoked client certificates, --client-cert-allowed-hostname
// refuses verified certificates not valid for the hostname, --cipher-suites limits TLS 1.2 suites; each
// refusal is logged with its reason, and a reloaded CRL applies to new connections.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { test, type TestContext } from 'node:test';

import { startClientPort } from '../../../src/api/index.js';
import type { ClientPortTls, ClientPortTlsMaterial } from '../../../src/api/security.js';
import { cipherChoice } from '../../../src/transport/cipher-suites.js';
import { readCrlFile } from '../../../src/transport/crl.js';
import { makeCrl, makeTestCerts, type CertPair, type TestCerts } from '../../support/certs.js';
import { startFakeMember } from './fake-member.js';

interface Logged {
  readonly message: string;
  readonly error: unknown;
}

async function port(t: TestContext, security: ClientPortTls): Promise<{ url: string; logged: Logged[] }> {
  const member = startFakeMember(t);
  const logged: Logged[] = [];
  const p = await startClientPort({
    api: member.api,
    listenUrls: ['https://127.0.0.1:0'],
    maxRequestBytes: 1572864,
    security,
    logger: { info() {}, warn: (message, fields) => logged.push({ message, error: fields?.error }) },
  });
  t.after(() => p.close());
  return { url: `https://127.0.0.1:${p.addresses[0]?.port ?? 0}`, logged };
}

/** GET /version on a new connection; the status, or the failure. */
function version(
  url: string,
  c: TestCerts,
  client: CertPair,
  extra: { ciphers?: string } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/version`,
      {
        agent: false, // a new connection each time
        ca: readFileSync(c.ca.cert),
        cert: readFileSync(client.cert),
        key: readFileSync(client.key),
        ...(extra.ciphers === undefined ? {} : { ciphers: extra.ciphers, maxVersion: 'TLSv1.2' as const }),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      },
    );
    req.on('error', (e: Error & { code?: string }) => resolve(`failed: ${e.code ?? e.message}`));
    req.end();
  });
}

const material = (c: TestCerts): ClientPortTlsMaterial => ({
  key: readFileSync(c.server.key),
  cert: readFileSync(c.server.cert),
  ca: readFileSync(c.ca.cert),
});

test('a CRL refuses a revoked client certificate, also once reloaded', async (t) => {
  const certs = makeTestCerts(t);
  const crlOf = (revoked: CertPair[], name: string): readonly Buffer[] =>
    readCrlFile(readFileSync(makeCrl(certs, name, revoked))).pems;
  let current: ClientPortTlsMaterial = { ...material(certs), crl: crlOf([], 'empty') };
  const listeners = new Set<(m: ClientPortTlsMaterial) => void>();
  const { url, logged } = await port(t, {
    kind: 'tls',
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
  assert.equal(await version(url, certs, certs.client), '200');
  current = { ...current, crl: crlOf([certs.client], 'revoking') };
  for (const f of listeners) f(current);
  assert.match(await version(url, certs, certs.client), /^failed/);
  assert.deepEqual(logged.at(-1), {
    message: 'client port: rejected connection',
    error: 'certificate verification failed: CERT_REVOKED',
  });
});

test('--client-cert-allowed-hostname: a verified certificate must be valid for the hostname', async (t) => {
  const certs = makeTestCerts(t); // the client certificate's SANs: 127.0.0.1, localhost
  const ok = await port(t, {
    kind: 'tls',
    ...material(certs),
    clientCertAuth: true,
    allowedHostname: 'localhost',
  });
  assert.equal(await version(ok.url, certs, certs.client), '200');
  const ip = await port(t, {
    kind: 'tls',
    ...material(certs),
    clientCertAuth: true,
    allowedHostname: '127.0.0.1',
  });
  assert.equal(await version(ip.url, certs, certs.client), '200');

  const other = await port(t, {
    kind: 'tls',
    ...material(certs),
    clientCertAuth: true,
    allowedHostname: 'db.example.com',
  });
  assert.match(await version(other.url, certs, certs.client), /^failed/);
  assert.equal(other.logged.at(-1)?.message, 'client port: rejected connection');
  assert.match(
    String(other.logged.at(-1)?.error),
    /^client certificate authentication failed: not valid for the allowed hostname "db\.example\.com": /,
  );
});

test('--cipher-suites on the client port: TLS 1.2 suites outside the list are refused', async (t) => {
  const certs = makeTestCerts(t);
  const { ciphers } = cipherChoice(['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']);
  const { url, logged } = await port(t, { kind: 'tls', ...material(certs), clientCertAuth: true, ciphers });
  assert.equal(await version(url, certs, certs.client, { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }), '200');
  assert.match(
    await version(url, certs, certs.client, { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }),
    /^failed/,
  );
  assert.match(String(logged.at(-1)?.error), /no shared cipher/);
  assert.equal(await version(url, certs, certs.client), '200', 'TLS 1.3 clients are served');
});
