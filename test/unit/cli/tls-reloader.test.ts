// Certificate rotation (tls-reloader.ts, wired by tls.ts): rotated key/cert/CA files replace the
// material only once they pass the start-up checks; unusable files are reported once they stay
// unusable, keep the working material, and are picked up once fixed. Most tests drive the reloader
// by poll() (a long interval keeps the timer out of the way); one checks the timer itself.

import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';

import type { ClientPortSecurity, ClientPortTls } from '../../../src/api/security.js';
import {
  clientPortSecurity,
  peerTlsOptions,
  type AutoTlsContext,
  type TlsWatchContext,
} from '../../../src/cli/cairn/tls.js';
import type { TlsMaterial, TlsReloader } from '../../../src/cli/cairn/tls-reloader.js';
import type { TlsConfig } from '../../../src/config/index.js';
import { makeTestCerts, tlsConfig, type CertPair, type TestCerts } from '../../support/certs.js';
import { tempDir } from '../../support/tools.js';

const HOUR_MS = 3_600_000;

interface Logged {
  readonly level: 'info' | 'warn';
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>> | undefined;
}

function watchContext(t: TestContext, intervalMs = HOUR_MS): TlsWatchContext & { logged: Logged[] } {
  const logged: Logged[] = [];
  const w = {
    logged,
    reloaders: [] as TlsReloader[],
    intervalMs,
    logger: {
      info: (message: string, fields?: Readonly<Record<string, unknown>>) =>
        logged.push({ level: 'info', message, fields }),
      warn: (message: string, fields?: Readonly<Record<string, unknown>>) =>
        logged.push({ level: 'warn', message, fields }),
    },
  };
  t.after(() => {
    for (const r of w.reloaders) r.close();
  });
  return w;
}

interface Live {
  readonly certs: TestCerts;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly config: TlsConfig;
}

/** The served files in a dir of their own (copies of `server` and `ca`), which the test rotates. */
function liveFiles(t: TestContext): Live {
  const certs = makeTestCerts(t);
  const dir = tempDir(t, 'cairn-live-');
  const live = { cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem'), ca: join(dir, 'ca.pem') };
  copyFileSync(certs.server.cert, live.cert);
  copyFileSync(certs.server.key, live.key);
  copyFileSync(certs.ca.cert, live.ca);
  const config = tlsConfig({
    certFile: live.cert,
    keyFile: live.key,
    trustedCaFile: live.ca,
    clientCertAuth: true,
  });
  return { certs, ...live, config };
}

/** Writes a new file next to `path` and renames it over `path` (an atomic rotation). */
function renameInto(path: string, content: Buffer | string): void {
  writeFileSync(`${path}.new`, content);
  renameSync(`${path}.new`, path);
}

function asTls(s: ClientPortSecurity): ClientPortTls {
  assert.equal(s.kind, 'tls');
  return s;
}

/** The reloader behind `s` (the last one started), which the tests drive by poll(). */
function reloaderOf(s: ClientPortTls, w: TlsWatchContext): TlsReloader {
  const r = w.reloaders.at(-1);
  assert.ok(r !== undefined && s.reload === r, 'files given by flag are watched');
  return r;
}

const pem = (pair: CertPair, which: 'cert' | 'key'): Buffer => readFileSync(pair[which]);

test('a certificate renamed into place and a CA rewritten in place are picked up', async (t) => {
  const live = liveFiles(t);
  const w = watchContext(t);
  const security = asTls(clientPortSecurity(live.config, ['https://127.0.0.1:0'], undefined, w));
  const reload = reloaderOf(security, w);
  assert.equal(w.reloaders.length, 1);
  const seen: TlsMaterial[] = [];
  reload.subscribe((m) => seen.push(m));

  await reload.poll(); // first look: same bytes as at start-up, nothing to do
  assert.equal(seen.length, 0);
  assert.equal(w.logged.length, 0);
  assert.ok(reload.current().cert.equals(security.cert));

  renameInto(live.cert, pem(live.certs.otherServer, 'cert'));
  renameInto(live.key, pem(live.certs.otherServer, 'key'));
  await reload.poll();
  assert.equal(seen.length, 1);
  assert.ok(seen[0].cert.equals(pem(live.certs.otherServer, 'cert')));
  assert.ok(seen[0].key.equals(pem(live.certs.otherServer, 'key')));
  assert.strictEqual(reload.current(), seen[0]);
  const info = w.logged.find((l) => l.level === 'info');
  assert.equal(info?.message, 'reloaded client TLS certificate');
  assert.equal(info?.fields?.certFile, live.cert);
  assert.match(String(info?.fields?.subject), /CN=cairn-server-2/);

  writeFileSync(live.ca, readFileSync(live.certs.otherCa.cert)); // in place: same inode
  await reload.poll();
  assert.equal(seen.length, 2);
  assert.ok(seen[1].ca?.equals(readFileSync(live.certs.otherCa.cert)));
  assert.deepEqual(
    w.logged.filter((l) => l.level === 'warn'),
    [],
  );

  // Touched without a change of content: nothing is published.
  writeFileSync(live.ca, readFileSync(live.certs.otherCa.cert));
  await reload.poll();
  assert.equal(seen.length, 2);
});

test('unusable files keep the working certificate, warn once, and are picked up once fixed', async (t) => {
  const live = liveFiles(t);
  const w = watchContext(t);
  const reload = reloaderOf(asTls(clientPortSecurity(live.config, ['https://127.0.0.1:0'], undefined, w)), w);
  const start = reload.current();
  let published = 0;
  reload.subscribe(() => published++);
  const warnings = (): Logged[] => w.logged.filter((l) => l.level === 'warn');

  writeFileSync(live.cert, 'garbage\n');
  await reload.poll();
  assert.equal(warnings().length, 0, 'a file may be half rotated: no warning at the first look');
  await reload.poll();
  assert.equal(warnings().length, 1);
  assert.equal(
    warnings()[0].message,
    'client TLS files changed but cannot be used; keeping the previous certificate',
  );
  assert.equal(warnings()[0].fields?.error, 'tls: failed to find any PEM data in certificate input');
  await reload.poll();
  assert.equal(warnings().length, 1, 'the same files are reported once');
  assert.strictEqual(reload.current(), start);

  // A certificate whose key is not the one in the key file.
  renameInto(live.cert, pem(live.certs.otherServer, 'cert'));
  await reload.poll();
  await reload.poll();
  assert.equal(warnings().length, 2);
  assert.equal(warnings()[1].fields?.error, 'tls: private key does not match public key');
  assert.strictEqual(reload.current(), start);

  // A missing file, in Go's words as at start-up.
  rmSync(live.key);
  await reload.poll();
  await reload.poll();
  assert.equal(warnings().length, 3);
  assert.equal(warnings()[2].fields?.error, `open ${live.key}: no such file or directory`);

  // A CA file without a certificate.
  writeFileSync(live.key, readFileSync(live.certs.otherServer.key));
  writeFileSync(live.ca, 'not a CA\n');
  await reload.poll();
  await reload.poll();
  assert.equal(warnings().length, 4);
  assert.equal(warnings()[3].fields?.error, `tls: failed to find any PEM data in ${live.ca}`);
  assert.equal(published, 0);
  assert.strictEqual(reload.current(), start);

  // Fixed: picked up at the next look.
  copyFileSync(live.certs.ca.cert, live.ca);
  await reload.poll();
  assert.equal(published, 1);
  assert.ok(reload.current().cert.equals(pem(live.certs.otherServer, 'cert')));
  assert.equal(warnings().length, 4);
});

test('a rotation seen between the certificate and the key does not warn', async (t) => {
  const live = liveFiles(t);
  const w = watchContext(t);
  const reload = reloaderOf(asTls(clientPortSecurity(live.config, ['https://127.0.0.1:0'], undefined, w)), w);
  let published = 0;
  reload.subscribe(() => published++);
  renameInto(live.cert, pem(live.certs.otherServer, 'cert'));
  await reload.poll(); // new certificate, old key
  renameInto(live.key, pem(live.certs.otherServer, 'key'));
  await reload.poll();
  assert.equal(published, 1);
  assert.deepEqual(
    w.logged.map((l) => l.level),
    ['info'],
  );
});

test('the timer finds a rotation by itself; closed, nothing changes any more', async (t) => {
  const live = liveFiles(t);
  const w = watchContext(t, 20);
  const reload = reloaderOf(asTls(clientPortSecurity(live.config, ['https://127.0.0.1:0'], undefined, w)), w);
  renameInto(live.cert, pem(live.certs.otherServer, 'cert'));
  renameInto(live.key, pem(live.certs.otherServer, 'key'));
  const deadline = Date.now() + 10_000;
  while (!reload.current().cert.equals(pem(live.certs.otherServer, 'cert'))) {
    assert.ok(Date.now() < deadline, 'rotation not picked up within 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const r of w.reloaders) r.close();
  let published = 0;
  reload.subscribe(() => published++);
  renameInto(live.cert, pem(live.certs.server, 'cert'));
  renameInto(live.key, pem(live.certs.server, 'key'));
  await reload.poll();
  assert.equal(published, 0);
  assert.ok(reload.current().cert.equals(pem(live.certs.otherServer, 'cert')));
});

test('peer files are watched for https peer URLs only; auto TLS is never watched', (t) => {
  const certs = makeTestCerts(t);
  const w = watchContext(t);
  const files = tlsConfig({
    certFile: certs.peer.cert,
    keyFile: certs.peer.key,
    trustedCaFile: certs.ca.cert,
  });

  const peer = peerTlsOptions(files, ['https://127.0.0.1:2380'], undefined, undefined, w);
  assert.ok(peer?.reload !== undefined);
  assert.ok(Buffer.from(peer.reload.current().cert).equals(pem(certs.peer, 'cert')));
  assert.equal(peerTlsOptions(files, ['http://127.0.0.1:2380'], undefined, undefined, w), undefined);
  assert.equal(w.reloaders.length, 1);

  const auto: AutoTlsContext = { dataDir: tempDir(t), certs: [], notes: [] };
  const autoClient = asTls(
    clientPortSecurity(tlsConfig({ autoTls: true }), ['https://127.0.0.1:2379'], auto, w),
  );
  assert.equal(autoClient.reload, undefined);
  const autoPeer = peerTlsOptions(
    tlsConfig({ autoTls: true }),
    ['https://127.0.0.1:2380'],
    auto,
    undefined,
    w,
  );
  assert.equal(autoPeer?.reload, undefined);
  assert.equal(w.reloaders.length, 1);

  // Without a watch context (as before), nothing is watched.
  const unwatched = asTls(
    clientPortSecurity(tlsConfig({ certFile: certs.server.cert, keyFile: certs.server.key }), [
      'https://127.0.0.1:0',
    ]),
  );
  assert.equal(unwatched.reload, undefined);
});
