// Start-up and reload handling of the TLS policy flags (tls.ts, tls-reloader.ts): CRL files read and
// checked before anything else happens, with clear errors; a CRL or an allowed CN / hostname turns
// certificate verification on where etcd has it on, and is refused where nothing would be verified;
// --cipher-suites mapped or refused with etcd's words; a rewritten CRL picked up by the reloader.

import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';

import type { ClientPortSecurity, ClientPortTls } from '../../../src/api/security.js';
import {
  TlsSetupError,
  cipherSuitesOption,
  clientPortSecurity,
  peerTlsOptions,
  type AutoTlsContext,
  type TlsWatchContext,
} from '../../../src/cli/cairn/tls.js';
import type { TlsReloader } from '../../../src/cli/cairn/tls-reloader.js';
import type { TlsConfig } from '../../../src/config/index.js';
import { readCrlFile } from '../../../src/transport/crl.js';
import { makeCrl, makeTestCerts, tlsConfig, type TestCerts } from '../../support/certs.js';
import { tempDir } from '../../support/tools.js';

const serverFiles = (c: TestCerts, over: Partial<TlsConfig> = {}): TlsConfig =>
  tlsConfig({ certFile: c.server.cert, keyFile: c.server.key, trustedCaFile: c.ca.cert, ...over });
const peerFiles = (c: TestCerts, over: Partial<TlsConfig> = {}): TlsConfig =>
  tlsConfig({ certFile: c.peer.cert, keyFile: c.peer.key, trustedCaFile: c.ca.cert, ...over });

const CLIENT_URLS = ['https://127.0.0.1:2379'];
const PEER_URLS = ['https://127.0.0.1:2380'];

function asTls(s: ClientPortSecurity): ClientPortTls {
  assert.equal(s.kind, 'tls');
  return s;
}

/** Asserts that `f` stops the start with exactly `message`. */
function refuses(f: () => unknown, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof TlsSetupError, String(e));
    assert.equal(e.message, message);
    return true;
  });
}

test('a CRL file is read at start-up; unreadable, unparseable, expired or foreign ones stop it', (t) => {
  const certs = makeTestCerts(t);
  const dir = tempDir(t);
  const good = makeCrl(certs, 'crl', [certs.client]);
  const garbage = join(dir, 'garbage.crl');
  writeFileSync(garbage, 'not a CRL\n');
  const broken = join(dir, 'broken.crl');
  const pem = readFileSync(good, 'latin1');
  writeFileSync(broken, pem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA')); // damaged body
  const missing = join(dir, 'missing.crl');

  const ok = asTls(
    clientPortSecurity(serverFiles(certs, { clientCertAuth: true, crlFile: good }), CLIENT_URLS),
  );
  assert.equal(ok.crl?.length, 1);
  assert.ok(ok.crl?.[0]?.equals(readCrlFile(readFileSync(good)).pems[0] ?? Buffer.alloc(0)));

  const client = (crlFile: string) => () =>
    clientPortSecurity(serverFiles(certs, { clientCertAuth: true, crlFile }), CLIENT_URLS);
  refuses(client(missing), `open ${missing}: no such file or directory`);
  refuses(client(garbage), `tls: failed to find any CRL data in ${garbage}`);
  assert.throws(client(broken), (e: unknown) => {
    assert.ok(e instanceof TlsSetupError);
    assert.match(e.message, /^tls: (failed to parse CRL in .*|malformed CRL: .* in .*broken\.crl)$/);
    return true;
  });
  const expired = makeCrl(certs, 'expired', [], { expired: true });
  refuses(
    client(expired),
    `tls: CRL in ${expired} has expired (next update was 2020-01-02T00:00:00.000Z); every certificate would be refused`,
  );
  const foreign = makeCrl(certs, 'foreign', [], { ca: certs.otherCa });
  refuses(
    client(foreign),
    `tls: CRL in ${foreign} is not issued by a CA of the trusted CA file; every certificate would be refused`,
  );
  const der = makeCrl(certs, 'der', [certs.client], { der: true });
  assert.equal(asTls(client(der)()).crl?.length, 1, 'a DER CRL is taken as etcd takes it');

  // The peer side reads its own flag the same way.
  refuses(
    () => peerTlsOptions(peerFiles(certs, { clientCertAuth: true, crlFile: missing }), PEER_URLS),
    `open ${missing}: no such file or directory`,
  );
  assert.equal(
    peerTlsOptions(peerFiles(certs, { clientCertAuth: true, crlFile: good }), PEER_URLS)?.crl?.length,
    1,
  );
});

test('policy flags need verified certificates: on with a CA (as etcd), refused without one', (t) => {
  const certs = makeTestCerts(t);
  const crl = makeCrl(certs, 'crl', []);

  // A trusted CA and a policy flag: certificates are asked for and verified (etcd asks whenever a CA
  // is given); without a policy flag the port keeps its setting.
  assert.equal(
    asTls(clientPortSecurity(serverFiles(certs, { crlFile: crl }), CLIENT_URLS)).clientCertAuth,
    true,
  );
  assert.equal(asTls(clientPortSecurity(serverFiles(certs), CLIENT_URLS)).clientCertAuth, false);
  assert.equal(
    peerTlsOptions(peerFiles(certs, { allowedCn: 'cairn-peer' }), PEER_URLS)?.clientCertAuth,
    true,
  );
  assert.equal(
    peerTlsOptions(peerFiles(certs, { allowedHostname: 'localhost' }), PEER_URLS)?.clientCertAuth,
    true,
  );
  const peer = peerTlsOptions(peerFiles(certs, { clientCertAuth: true, allowedCn: 'cairn-peer' }), PEER_URLS);
  assert.equal(peer?.allowedCn, 'cairn-peer');
  assert.equal(peer?.allowedHostname, undefined);
  const client = asTls(
    clientPortSecurity(
      serverFiles(certs, { clientCertAuth: true, allowedHostname: 'localhost' }),
      CLIENT_URLS,
    ),
  );
  assert.equal(client.allowedHostname, 'localhost');

  // No CA and no certificate auth: nothing would be verified, so the flag would do nothing.
  refuses(
    () => peerTlsOptions(peerFiles(certs, { trustedCaFile: '', allowedCn: 'x' }), PEER_URLS),
    '--peer-cert-allowed-cn needs --peer-client-cert-auth or --peer-trusted-ca-file: without them peer certificates are not verified',
  );
  refuses(
    () => clientPortSecurity(serverFiles(certs, { trustedCaFile: '', crlFile: crl }), CLIENT_URLS),
    '--client-crl-file needs --client-cert-auth or --trusted-ca-file: without them client certificates are not verified',
  );

  // etcd's own refusal, in its words.
  refuses(
    () =>
      peerTlsOptions(
        peerFiles(certs, { clientCertAuth: true, allowedCn: 'a b', allowedHostname: 'h' }),
        PEER_URLS,
      ),
    'AllowedCN and AllowedHostname are mutually exclusive (cn="a b", hostname="h")',
  );
});

test('auto TLS and cleartext ports ignore the policy flags, and say so', (t) => {
  const certs = makeTestCerts(t);
  const crl = makeCrl(certs, 'crl', []);
  const auto: AutoTlsContext = { dataDir: tempDir(t), certs: [], notes: [] };
  const peer = peerTlsOptions(
    tlsConfig({ autoTls: true, crlFile: crl, allowedCn: 'x' }),
    PEER_URLS,
    auto,
    undefined,
    undefined,
    'ECDHE-ECDSA-AES128-GCM-SHA256',
  );
  assert.equal(peer?.crl, undefined);
  assert.equal(peer?.allowedCn, undefined);
  assert.equal(peer?.ciphers, 'ECDHE-ECDSA-AES128-GCM-SHA256', 'cipher suites apply to auto TLS (etcd too)');
  assert.deepEqual(auto.notes, [
    'ignoring --peer-crl-file with --peer-auto-tls: self-signed certificates are not verified',
    'ignoring --peer-cert-allowed-cn with --peer-auto-tls: self-signed certificates are not verified',
  ]);

  const notes: AutoTlsContext = { dataDir: tempDir(t), certs: [], notes: [] };
  assert.equal(
    clientPortSecurity(tlsConfig({ crlFile: crl }), ['http://127.0.0.1:2379'], notes).kind,
    'insecure',
  );
  assert.equal(
    peerTlsOptions(peerFiles(certs, { allowedCn: 'x' }), ['http://127.0.0.1:2380'], notes),
    undefined,
  );
  assert.deepEqual(notes.notes, [
    'ignoring --client-crl-file: the client port does not use TLS',
    'ignoring --peer-cert-allowed-cn: the peer port does not use TLS',
  ]);
});

test('--cipher-suites: mapped for both ports, unknown names stop the start with etcd words', (t) => {
  assert.deepEqual(cipherSuitesOption([]), { notes: [] });
  refuses(
    () => cipherSuitesOption(['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'X']),
    'unexpected TLS cipher suite "X"',
  );
  const { ciphers } = cipherSuitesOption(['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']);
  assert.match(ciphers ?? '', /^ECDHE-ECDSA-AES128-GCM-SHA256:TLS_/);

  const certs = makeTestCerts(t);
  const client = asTls(clientPortSecurity(serverFiles(certs), CLIENT_URLS, undefined, undefined, ciphers));
  assert.equal(client.ciphers, ciphers);
  assert.equal(
    peerTlsOptions(peerFiles(certs), PEER_URLS, undefined, undefined, undefined, ciphers)?.ciphers,
    ciphers,
  );
});

function watchContext(t: TestContext): TlsWatchContext & { warnings: string[] } {
  const warnings: string[] = [];
  const w = {
    warnings,
    reloaders: [] as TlsReloader[],
    intervalMs: 3_600_000, // the test drives poll()
    logger: {
      info: () => {},
      warn: (message: string, fields?: Readonly<Record<string, unknown>>) =>
        warnings.push(`${message}: ${String(fields?.error)}`),
    },
  };
  t.after(() => {
    for (const r of w.reloaders) r.close();
  });
  return w;
}

test('a rewritten CRL file is reloaded; an unusable one keeps the previous list', async (t) => {
  const certs = makeTestCerts(t);
  const live = join(tempDir(t, 'cairn-live-'), 'live.crl');
  copyFileSync(makeCrl(certs, 'first', []), live);
  const second = makeCrl(certs, 'second', [certs.client]);
  const expired = makeCrl(certs, 'expired', [certs.client], { expired: true });

  const w = watchContext(t);
  const security = asTls(
    clientPortSecurity(
      serverFiles(certs, { clientCertAuth: true, crlFile: live }),
      CLIENT_URLS,
      undefined,
      w,
    ),
  );
  const reload = w.reloaders.at(-1);
  assert.ok(reload !== undefined && security.reload === reload);
  const revoked = (): number =>
    readCrlFile(Buffer.concat([...(reload.current().crl ?? [])])).lists[0]?.revoked ?? -1;
  const changes: number[] = [];
  reload.subscribe((m) => changes.push(m.crl?.length ?? 0));
  assert.equal(revoked(), 0);

  copyFileSync(second, live);
  await reload.poll();
  assert.equal(revoked(), 1, 'the new list is in use');
  assert.deepEqual(changes, [1]);

  // An expired list fails the start-up checks: reported once it stays so, the previous one kept.
  copyFileSync(expired, live);
  await reload.poll();
  await reload.poll();
  assert.equal(revoked(), 1);
  assert.equal(changes.length, 1);
  assert.equal(w.warnings.length, 1);
  assert.match(
    w.warnings[0] ?? '',
    /^client TLS files changed but cannot be used.*: tls: CRL in .* has expired/,
  );
});
