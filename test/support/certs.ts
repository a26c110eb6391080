// Test certificates made with the `openssl` binary: a CA, and server, peer and client certificates it
// signs (SANs 127.0.0.1 and localhost), plus a second CA with a peer certificate of its own (a member
// the cluster must refuse) and a server certificate (a rotation to another CA). Everything goes into a
// temp dir removed when the test ends.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { tempDir } from './tools.js';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface TestCerts {
  readonly dir: string;
  /** The trusted CA (certificate and key). */
  readonly ca: CertPair;
  /** Server certificate for the client port (serverAuth + clientAuth, as etcd's docs suggest). */
  readonly server: CertPair;
  /** Peer certificate (serverAuth + clientAuth: a member is both server and client on the peer port). */
  readonly peer: CertPair;
  /** Client certificate (clientAuth), CN "root". */
  readonly client: CertPair;
  /** Another CA and a peer certificate it signs: not trusted by the cluster. */
  readonly otherCa: CertPair;
  readonly otherPeer: CertPair;
  /** Server certificate signed by `otherCa` (same SANs as `server`). */
  readonly otherServer: CertPair;
}

function openssl(cwd: string, args: readonly string[]): void {
  execFileSync('openssl', [...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): CertPair {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', pair.key]);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    pair.key,
    '-sha256',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-out',
    pair.cert,
  ]);
  return pair;
}

function makeLeaf(dir: string, ca: CertPair, name: string, cn: string, usage: string): CertPair {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      `extendedKeyUsage=${usage}`,
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  );
  // PKCS#8 key (BEGIN PRIVATE KEY), which both Go and Node read.
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pair.key]);
  openssl(dir, ['req', '-new', '-key', pair.key, '-subj', `/CN=${cn}`, '-out', csr]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    pair.cert,
  ]);
  return pair;
}

/** Makes the whole set in a fresh temp dir (removed after the test); about 100 ms. */
export function makeTestCerts(t: { after(fn: () => void): void }): TestCerts {
  const dir = tempDir(t, 'cairn-certs-');
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca');
  return {
    dir,
    ca,
    server: makeLeaf(dir, ca, 'server', 'cairn-server', 'serverAuth,clientAuth'),
    peer: makeLeaf(dir, ca, 'peer', 'cairn-peer', 'serverAuth,clientAuth'),
    client: makeLeaf(dir, ca, 'client', 'root', 'clientAuth'),
    otherCa,
    otherPeer: makeLeaf(dir, otherCa, 'other-peer', 'intruder', 'serverAuth,clientAuth'),
    otherServer: makeLeaf(dir, otherCa, 'other-server', 'cairn-server-2', 'serverAuth,clientAuth'),
  };
}
