// --cipher-suites: etcd takes Go's crypto/tls names (the IANA names, e.g.
// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); Node's `ciphers` option takes OpenSSL's
// (ECDHE-RSA-AES128-GCM-SHA256). The accepted names are exactly those etcd 3.4.23 (Go 1.19) accepts,
// checked against it one by one. As in Go, the list governs TLS 1.2: TLS 1.3 suites cannot be
// chosen there (their names are accepted and have no effect), so TLS 1.3 keeps its usual AEAD suites.

import tls from 'node:tls';

/** Go name -> OpenSSL name of every TLS 1.2 suite etcd 3.4 accepts, Go's two aliases included. */
const TLS12: ReadonlyMap<string, string> = new Map([
  ['TLS_RSA_WITH_RC4_128_SHA', 'RC4-SHA'],
  ['TLS_RSA_WITH_3DES_EDE_CBC_SHA', 'DES-CBC3-SHA'],
  ['TLS_RSA_WITH_AES_128_CBC_SHA', 'AES128-SHA'],
  ['TLS_RSA_WITH_AES_256_CBC_SHA', 'AES256-SHA'],
  ['TLS_RSA_WITH_AES_128_CBC_SHA256', 'AES128-SHA256'],
  ['TLS_RSA_WITH_AES_128_GCM_SHA256', 'AES128-GCM-SHA256'],
  ['TLS_RSA_WITH_AES_256_GCM_SHA384', 'AES256-GCM-SHA384'],
  ['TLS_ECDHE_ECDSA_WITH_RC4_128_SHA', 'ECDHE-ECDSA-RC4-SHA'],
  ['TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA', 'ECDHE-ECDSA-AES128-SHA'],
  ['TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA', 'ECDHE-ECDSA-AES256-SHA'],
  ['TLS_ECDHE_RSA_WITH_RC4_128_SHA', 'ECDHE-RSA-RC4-SHA'],
  ['TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA', 'ECDHE-RSA-DES-CBC3-SHA'],
  ['TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'ECDHE-RSA-AES128-SHA'],
  ['TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', 'ECDHE-RSA-AES256-SHA'],
  ['TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'ECDHE-ECDSA-AES128-SHA256'],
  ['TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 'ECDHE-RSA-AES128-SHA256'],
  ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
  ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  ['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-GCM-SHA384'],
  ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
  ['TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-RSA-CHACHA20-POLY1305'],
  ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
  ['TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305'],
  ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
]);

/** TLS 1.3 suites: Go (and so etcd) accepts the names but never lets them be chosen. */
const TLS13: ReadonlySet<string> = new Set([
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
]);

/** etcd's wording for a name it does not know (a start-up error). */
export class UnknownCipherSuiteError extends Error {
  constructor(readonly suite: string) {
    super(`unexpected TLS cipher suite ${JSON.stringify(suite)}`);
  }
}

export interface CipherChoice {
  /** Node's `ciphers` option for both ports and both directions; undefined: the runtime defaults. */
  readonly ciphers?: string;
  /** For the log: names accepted as etcd does but without effect here. */
  readonly notes: readonly string[];
}

/** Every name etcd 3.4 accepts in --cipher-suites (TLS 1.2 ones first). */
export const ACCEPTED_CIPHER_SUITES: readonly string[] = [...TLS12.keys(), ...TLS13];

/** The OpenSSL name of a Go TLS 1.2 suite name, undefined for TLS 1.3 or unknown names. */
export function opensslCipherName(goName: string): string | undefined {
  return TLS12.get(goName);
}

/**
 * Node's `ciphers` string for --cipher-suites. TLS 1.2 is limited to the listed suites in the given
 * order; the TLS 1.3 suites of the runtime's default list are appended, because Node, unlike Go,
 * would otherwise turn TLS 1.3 off for a list without TLS 1.3 names. Suites this OpenSSL no longer
 * has (RC4, 3DES) are dropped with a note; a list left without TLS 1.2 suites leaves only TLS 1.3, as
 * Go does when none of its TLS 1.2 suites is allowed. `available` defaults to tls.getCiphers().
 */
export function cipherChoice(
  goNames: readonly string[],
  available: readonly string[] = tls.getCiphers(),
): CipherChoice {
  if (goNames.length === 0) return { notes: [] };
  const have = new Set(available.map((c) => c.toLowerCase()));
  const chosen: string[] = [];
  const notes: string[] = [];
  for (const name of goNames) {
    if (TLS13.has(name)) {
      notes.push(`cipher suite ${name} is a TLS 1.3 suite: not configurable (as in etcd), ignored`);
      continue;
    }
    const openssl = TLS12.get(name);
    if (openssl === undefined) throw new UnknownCipherSuiteError(name);
    if (!have.has(openssl.toLowerCase())) {
      notes.push(`cipher suite ${name} (${openssl}) is not available in this runtime's OpenSSL, ignored`);
      continue;
    }
    if (!chosen.includes(openssl)) chosen.push(openssl);
  }
  if (chosen.length === 0)
    notes.push('no usable TLS 1.2 cipher suite in --cipher-suites: only TLS 1.3 is served');
  return { ciphers: [...chosen, ...tls13Defaults()].join(':'), notes };
}

/** The TLS 1.3 suites of Node's default list (OpenSSL names start with TLS_ for TLS 1.3 only). */
export function tls13Defaults(): string[] {
  return tls.DEFAULT_CIPHERS.split(':').filter((c) => c.startsWith('TLS_'));
}
