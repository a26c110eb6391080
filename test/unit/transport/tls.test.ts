import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { PeerTlsOptions } from '../../../src/transport/types.js';
import { heartbeat, newTransport, snapMessage, startServer, waitFor } from './helpers.js';

const A = 0xaan;
const B = 0xbbn;

/** A CA and one certificate for 127.0.0.1 signed by it (client and server use), or undefined without openssl. */
function makeCerts(): PeerTlsOptions | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tls-'));
  try {
    const run = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    };
    run(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=cairn-test-ca',
    );
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'peer.key',
      '-out',
      'peer.csr',
      '-subj',
      '/CN=peer',
    );
    writeFileSync(
      join(dir, 'ext.cnf'),
      'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
    );
    run(
      'x509',
      '-req',
      '-in',
      'peer.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'peer.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    );
    return {
      key: readFileSync(join(dir, 'peer.key')),
      cert: readFileSync(join(dir, 'peer.pem')),
      ca: readFileSync(join(dir, 'ca.pem')),
      clientCertAuth: true,
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('TLS', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  const tls = makeCerts();

  it(
    'carries messages and snapshots over https with client certificates',
    { skip: tls === undefined ? 'no openssl' : false },
    async () => {
      assert.ok(tls !== undefined);
      let snapshotBytes = 0;
      const b = await startServer(
        B,
        {
          tls,
          onSnapshot: async (_m, body) => {
            for await (const c of body) snapshotBytes += c.byteLength;
          },
        },
        'https://127.0.0.1:0',
      );
      cleanup.push(() => b.server.close());
      assert.match(b.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const a = newTransport(A, {
        tls,
        openSnapshotBody: () =>
          (async function* () {
            yield new Uint8Array(300_000);
          })(),
      });
      cleanup.push(() => a.transport.close());
      a.transport.addPeer(B, [b.url]);
      a.transport.send([heartbeat(A, B, 1), heartbeat(A, B, 2)]);
      await waitFor(() => b.rec.messages.length === 2, 'delivery over TLS');
      a.transport.send([snapMessage(A, B, 4)]);
      await waitFor(() => a.rec.snapshots.length === 1, 'snapshot over TLS');
      assert.deepEqual(a.rec.snapshots, [{ id: B, status: 'finish' }]);
      assert.equal(snapshotBytes, 300_000);
    },
  );

  it('refuses an http URL when TLS is configured, and the reverse', async () => {
    const t = tls ?? { key: 'k', cert: 'c' };
    await assert.rejects(startServer(B, { tls: t }, 'http://127.0.0.1:0'), /TLS is configured/);
    await assert.rejects(startServer(B, {}, 'https://127.0.0.1:0'), /no TLS key\/cert/);
  });
});
