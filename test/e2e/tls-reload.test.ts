// Certificate rotation without a restart, with a real member and real etcdctl: the client port's
// certificate and key are replaced by ones from another CA (renamed into place), and new etcdctl
// connections then need the new CA; garbage written into the certificate file keeps the working
// certificate serving (with a warning in the member's log), and fixed files are picked up again.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { cairnCluster, waitFor } from '../support/cairn-cluster.js';
import { makeTestCerts } from '../support/certs.js';
import { ETCDCTL } from '../support/etcdctl.js';
import { tempDir } from '../support/tools.js';

const run = promisify(execFile);

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** One real etcdctl (a new process, so a new TLS connection) trusting only the CA in `caFile`. */
async function etcdctlTrusting(endpoint: string, caFile: string, ...args: string[]): Promise<Ran> {
  const argv = [
    '--endpoints',
    endpoint,
    '--cacert',
    caFile,
    '--dial-timeout',
    '1s',
    '--command-timeout',
    '3s',
  ];
  try {
    const r = await run(ETCDCTL, [...argv, ...args], { env: { PATH: process.env.PATH, ETCDCTL_API: '3' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** Writes `content` next to `path` and renames it over `path`, as a rotation tool would. */
function renameInto(path: string, content: Buffer): void {
  writeFileSync(`${path}.new`, content);
  renameSync(`${path}.new`, path);
}

test(
  'rotated client certificates serve new connections without a restart; bad files keep the old one',
  { timeout: 90_000 },
  async (t) => {
    const certs = makeTestCerts(t);
    // The member serves copies, which the test replaces; the originals stay as they were made.
    const live = tempDir(t, 'cairn-live-certs-');
    const certFile = join(live, 'server.pem');
    const keyFile = join(live, 'server-key.pem');
    copyFileSync(certs.server.cert, certFile);
    copyFileSync(certs.server.key, keyFile);

    const c = await cairnCluster(t, ['m1'], 'tls-reload-token', {
      clientScheme: 'https',
      flags: () => ['--cert-file', certFile, '--key-file', keyFile],
    });
    const m = c.members[0];
    c.start(m);
    const pid = m.process?.pid;
    const ep = c.endpoints();
    const oldCa = certs.ca.cert;
    const newCa = certs.otherCa.cert;
    const succeeds =
      (ca: string, ...args: string[]) =>
      async (): Promise<Ran | undefined> => {
        const r = await etcdctlTrusting(ep, ca, ...args);
        return r.code === 0 ? r : undefined;
      };

    await waitFor('the member serving TLS', succeeds(oldCa, 'put', 'k', 'v1'), 30_000);
    let r = await etcdctlTrusting(ep, newCa, 'get', 'k');
    assert.notEqual(r.code, 0, 'the new CA does not vouch for the first certificate');

    // Rotation to a certificate of another CA: new files renamed over the served ones.
    renameInto(certFile, readFileSync(certs.otherServer.cert));
    renameInto(keyFile, readFileSync(certs.otherServer.key));
    r = await waitFor('the rotated certificate served', succeeds(newCa, 'put', 'k', 'v2'));
    assert.equal(r.stdout, 'OK\n');
    r = await etcdctlTrusting(ep, oldCa, 'get', 'k');
    assert.notEqual(r.code, 0, `a client trusting only the old CA must fail now: ${r.stdout}`);
    assert.match(r.stderr, /context deadline exceeded/);
    assert.match(m.log, /reloaded client TLS certificate/);
    assert.equal(m.process?.pid, pid, 'no restart');

    // Garbage in place of the certificate: the rotated certificate keeps serving, with a warning.
    writeFileSync(certFile, 'garbage\n');
    await waitFor('a warning about the unusable file', async () =>
      m.log.includes('client TLS files changed but cannot be used; keeping the previous certificate')
        ? true
        : undefined,
    );
    assert.match(m.log, /tls: failed to find any PEM data in certificate input/);
    r = await etcdctlTrusting(ep, newCa, 'get', 'k', '--print-value-only');
    assert.equal(r.stdout, 'v2\n', r.stderr);

    // Fixed later (rewritten in place, the first CA's pair again): picked up.
    writeFileSync(certFile, readFileSync(certs.server.cert));
    writeFileSync(keyFile, readFileSync(certs.server.key));
    r = await waitFor(
      'the first certificate served again',
      succeeds(oldCa, 'get', 'k', '--print-value-only'),
    );
    assert.equal(r.stdout, 'v2\n');
    r = await etcdctlTrusting(ep, newCa, 'get', 'k');
    assert.notEqual(r.code, 0, 'the second CA does not vouch for the first certificate');
    assert.equal(m.process?.pid, pid, 'no restart');

    // The watch does not hold the member up on the way out.
    assert.equal(await c.kill(m, 'SIGTERM'), 0, m.log);
  },
);
