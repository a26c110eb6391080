// --peer-cert-allowed-cn / --peer-cert-allowed-hostname: besides being signed by the trusted CA, the
// other member's certificate must carry this common name, or be valid for this hostname (its DNS / IP
// subject alternative names, by Node's tls.checkServerIdentity rules). As in etcd, the check applies
// in both directions: to the certificates of members connecting in, and to those of the members this
// one connects to. It runs only on certificates whose chain was verified.

import tls from 'node:tls';

export interface CertIdentityPolicy {
  /** The subject CN the certificate must have ('' or absent: any). */
  readonly allowedCn?: string;
  /** The hostname or IP the certificate must be valid for ('' or absent: any). */
  readonly allowedHostname?: string;
}

export function hasIdentityPolicy(p: CertIdentityPolicy): boolean {
  return (p.allowedCn ?? '') !== '' || (p.allowedHostname ?? '') !== '';
}

/**
 * Why `cert` does not meet the policy, or undefined. A subject with several CNs is judged by the last
 * one, as Go's x509 keeps it.
 */
export function certIdentityError(cert: tls.PeerCertificate, policy: CertIdentityPolicy): string | undefined {
  const cn = policy.allowedCn ?? '';
  if (cn !== '') {
    const raw: unknown = cert.subject?.CN;
    const actual = Array.isArray(raw) ? (raw.at(-1) as unknown) : raw;
    if (actual !== cn) {
      const shown = typeof actual === 'string' ? JSON.stringify(actual) : 'none';
      return `certificate CN ${shown} is not the allowed CN ${JSON.stringify(cn)}`;
    }
  }
  const host = policy.allowedHostname ?? '';
  if (host !== '') {
    const e = tls.checkServerIdentity(host, cert);
    if (e !== undefined)
      return `certificate is not valid for the allowed hostname ${JSON.stringify(host)}: ${e.message}`;
  }
  return undefined;
}
