// Rotated peer certificates (PeerTlsOptions.reload): the peer port serves the new certificate and
// trusts the new CA for new connections, and new outgoing connections (raft streams, hashkv calls)
// present the new client certificate, without restarting the transport or the server.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';

import { fetchPeerHashKV } from '../../../src/transport/hashkv.js';
import type { PeerTlsMaterial, PeerTlsOptions, PeerTlsReload } from '../../../src/transport/types.js';
import { makeTestCerts, type CertPair } from '../../support/certs.js';
import { heartbeat, newTransport, startServer, type TestServer, type TestTransport } from './helpers.js';

const A = 0xaan;
const B = 0xbbn;

/** A reload source the test switches by hand (tls-reloader.ts does it from the files). */
interface ManualReload extends PeerTlsReload {
  set(material: PeerTlsMaterial): void;
  readonly subscribers: number;
}

function manualReload(initial: PeerTlsMaterial): ManualReload {
  let current = initial;
  const listeners = new Set<(m: PeerTlsMaterial) => void>();
  return {
    current: () => current,
    subscribe(onChange) {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    set(material) {
      current = material;
      for (const l of listeners) l(material);
    },
    get subscribers() {
      return listeners.size;
    },
  };
}

const material = (pair: CertPair, ca: CertPair): PeerTlsMaterial => ({
  key: readFileSync(pair.key),
  cert: readFileSync(pair.cert),
  ca: readFileSync(ca.cert),
});

/** Sends a heartbeat every 50 ms until B has one (a failed connection drops what it carried). */
async function delivered(a: TestTransport, b: TestServer, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 1; Date.now() < deadline; i++) {
    if (b.rec.messages.length > 0) return true;
    a.transport.send([heartbeat(A, B, i)]);
    await sleep(50);
  }
  return b.rec.messages.length > 0;
}

async function startPair(
  t: TestContext,
  serverTls: PeerTlsOptions,
  clientTls: PeerTlsOptions,
): Promise<{ a: TestTransport; b: TestServer }> {
  const b = await startServer(
    B,
    { tls: serverTls, hashKV: async () => ({ revision: 7, compactRevision: -1, hash: 42 }) },
    'https://127.0.0.1:0',
  );
  t.after(() => b.server.close());
  const a = newTransport(A, { tls: clientTls });
  t.after(() => a.transport.close());
  a.transport.addPeer(B, [b.url]);
  return { a, b };
}

test('the peer port serves a rotated certificate to new connections', async (t) => {
  const certs = makeTestCerts(t);
  // B starts with a certificate from the CA that A does not trust, then rotates to one it does.
  const reload = manualReload(material(certs.peer, certs.ca));
  const { a, b } = await startPair(
    t,
    { ...material(certs.peer, certs.ca), reload },
    material(certs.otherPeer, certs.otherCa),
  );
  assert.equal(reload.subscribers, 1);
  assert.equal(await delivered(a, b, 1000), false, 'A must not trust the first certificate');
  reload.set(material(certs.otherPeer, certs.otherCa));
  assert.ok(await delivered(a, b), 'a new connection gets the rotated certificate');
  await b.server.close();
  assert.equal(reload.subscribers, 0, 'closing the port stops listening for reloads');
});

test('outgoing connections present a rotated client certificate', async (t) => {
  const certs = makeTestCerts(t);
  // B accepts only client certificates of the other CA; A starts with one of the first CA.
  const server: PeerTlsOptions = { ...material(certs.otherPeer, certs.otherCa), clientCertAuth: true };
  const reload = manualReload({ ...material(certs.peer, certs.ca), ca: readFileSync(certs.otherCa.cert) });
  const clientTls: PeerTlsOptions = { ...reload.current(), reload };
  const { a, b } = await startPair(t, server, clientTls);
  assert.equal(await delivered(a, b, 1000), false, 'B must refuse the first client certificate');
  assert.ok(b.logger.lines.some((l) => l.msg === 'peer port: rejected connection'));
  const refused = await fetchPeerHashKV(b.url, 0, 2000, clientTls);
  assert.equal(refused.kind, 'failed');

  reload.set(material(certs.otherPeer, certs.otherCa));
  assert.ok(await delivered(a, b), 'a new raft stream presents the rotated certificate');
  assert.deepEqual(await fetchPeerHashKV(b.url, 0, 2000, clientTls), {
    kind: 'ok',
    revision: 7,
    compactRevision: -1,
    hash: 42,
  });
});
