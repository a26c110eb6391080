// Test certificates made with the `openssl` binary: a CA, and server, peer and client certificates it
// signs (SANs 127.0.0.1 and localhost), plus a second CA with a peer certificate of its own (a member
// the cluster must refuse) and a server certificate (a rotation to another CA). Everything goes into a
// temp dir removed when the test ends. makeLeafCert adds certificates (another CN, other SANs) and
// makeCrl revocation lists (`openssl ca -revoke` / `-gencrl` with a throwaway CA database).

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { TlsConfig } from '../../src/config/index.js';
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

function makeLeaf(
  dir: string,
  ca: CertPair,
  name: string,
  cn: string,
  usage: string,
  san = 'IP:127.0.0.1,DNS:localhost',
): CertPair {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      `extendedKeyUsage=${usage}`,
      `subjectAltName=${san}`,
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

/**
 * Another certificate in `certs.dir`, signed by the trusted CA (or `ca`): e.g. a peer certificate
 * with another CN, or SANs for another host.
 */
export function makeLeafCert(
  certs: TestCerts,
  name: string,
  cn: string,
  options: { readonly usage?: string; readonly san?: string; readonly ca?: CertPair } = {},
): CertPair {
  return makeLeaf(
    certs.dir,
    options.ca ?? certs.ca,
    name,
    cn,
    options.usage ?? 'serverAuth,clientAuth',
    options.san,
  );
}

/**
 * A PEM CRL `ca` (default: the trusted CA) issues, revoking `revoked`, written to <dir>/<name>.pem.
 * `expired`: its validity ended in 2020 (OpenSSL then refuses every certificate). `der`: written
 * in DER instead.
 */
export function makeCrl(
  certs: TestCerts,
  name: string,
  revoked: readonly CertPair[],
  options: { readonly ca?: CertPair; readonly expired?: boolean; readonly der?: boolean } = {},
): string {
  const ca = options.ca ?? certs.ca;
  const db = join(certs.dir, `${name}-db`);
  mkdirSync(db);
  writeFileSync(join(db, 'index.txt'), '');
  writeFileSync(join(db, 'crlnumber'), '01\n');
  const config = join(db, 'ca.cnf');
  writeFileSync(
    config,
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      `database = ${join(db, 'index.txt')}`,
      `crlnumber = ${join(db, 'crlnumber')}`,
      'default_md = sha256',
      'default_crl_days = 2',
      '',
    ].join('\n'),
  );
  const signer = ['-config', config, '-cert', ca.cert, '-keyfile', ca.key];
  for (const r of revoked) openssl(db, ['ca', ...signer, '-revoke', r.cert]);
  const file = join(certs.dir, `${name}.pem`);
  const dates = options.expired
    ? ['-crl_lastupdate', '20200101000000Z', '-crl_nextupdate', '20200102000000Z']
    : [];
  openssl(db, ['ca', ...signer, '-gencrl', ...dates, '-out', file]);
  if (!options.der) return file;
  const der = join(certs.dir, `${name}.der`);
  openssl(db, ['crl', '-in', file, '-outform', 'DER', '-out', der]);
  return der;
}

/** Client-port flags: the server certificate, the CA, and client certificates required. */
export function clientCertAuthFlags(certs: TestCerts): string[] {
  return [
    '--cert-file',
    certs.server.cert,
    '--key-file',
    certs.server.key,
    '--trusted-ca-file',
    certs.ca.cert,
    '--client-cert-auth',
  ];
}

/** A TLS configuration with nothing set, as the flag parser gives without TLS flags, plus `over`. */
export function tlsConfig(over: Partial<TlsConfig> = {}): TlsConfig {
  return {
    certFile: '',
    keyFile: '',
    trustedCaFile: '',
    clientCertAuth: false,
    autoTls: false,
    crlFile: '',
    allowedHostname: '',
    allowedCn: '',
    ...over,
  };
}
