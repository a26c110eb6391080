// The one place that decides how the client port's connections are secured: cleartext, or TLS
// (https:// listen URLs with --cert-file/--key-file, optionally --trusted-ca-file + --client-cert-auth,
// --client-crl-file, --client-cert-allowed-hostname and --cipher-suites).
// A TLS listener terminates TLS on the accepted socket; the decrypted stream is then routed exactly like
// a cleartext one (HTTP/2 preface to gRPC, anything else to HTTP/1.1), so one port serves both, as
// etcd's does.

import {
  checkServerIdentity,
  type PeerCertificate,
  type SecureContextOptions,
  type TLSSocket,
} from 'node:tls';

/** PEM material already read and checked by the caller (see src/cli/cairn/tls.ts). */
export interface ClientPortTlsMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** CA bundle that signs acceptable client certificates. */
  readonly ca?: Buffer;
  /** --client-crl-file, one PEM CRL per element: revoked client certificates fail verification. */
  readonly crl?: readonly Buffer[];
}

/**
 * Newer material when the certificate files are rotated while running (the caller watches and checks
 * them, see src/cli/cairn/tls-reloader.ts). New connections use it; open ones keep their session.
 */
export interface ClientPortTlsReload {
  /** The newest checked material. */
  current(): ClientPortTlsMaterial;
  /** Calls `onChange` with each newer material; returns the function that stops the calls. */
  subscribe(onChange: (material: ClientPortTlsMaterial) => void): () => void;
}

export interface ClientPortTls extends ClientPortTlsMaterial {
  readonly kind: 'tls';
  /** Ask every client for a certificate and refuse the handshake unless `ca` signed it. */
  readonly clientCertAuth: boolean;
  /** Absent: the material never changes (e.g. --auto-tls). */
  readonly reload?: ClientPortTlsReload;
  /** --cipher-suites as Node's `ciphers` (mapped by the caller); absent: the runtime defaults. */
  readonly ciphers?: string;
  /**
   * --client-cert-allowed-hostname: a verified client certificate must also be valid for this
   * hostname (DNS / IP SANs, tls.checkServerIdentity rules), or the connection is dropped.
   */
  readonly allowedHostname?: string;
}

export type ClientPortSecurity = { readonly kind: 'insecure' } | ClientPortTls;

export const INSECURE: ClientPortSecurity = { kind: 'insecure' };

/**
 * The listen URL schemes a security setting serves. With TLS material, `http://` listeners still
 * serve cleartext (etcd does the same and warns).
 */
export function schemesFor(security: ClientPortSecurity): readonly string[] {
  switch (security.kind) {
    case 'insecure':
      return ['http:'];
    case 'tls':
      return ['http:', 'https:'];
  }
}

/**
 * The secure-context part of the TLS listener's options. Used at creation and for every reload:
 * tls.Server#setSecureContext resets each context option it is not given (minVersion and the cipher
 * list included), hence `ciphers` here although it never changes.
 */
export function tlsContextOptions(material: ClientPortTlsMaterial, ciphers?: string): SecureContextOptions {
  return {
    key: material.key,
    cert: material.cert,
    ca: material.ca,
    minVersion: 'TLSv1.2',
    ...(material.crl === undefined || material.crl.length === 0 ? {} : { crl: [...material.crl] }),
    ...(ciphers === undefined ? {} : { ciphers }),
  };
}

/** Why a verified client certificate is refused by --client-cert-allowed-hostname, or undefined. */
export function clientCertRefusal(
  cert: PeerCertificate,
  allowedHostname: string | undefined,
): string | undefined {
  if (allowedHostname === undefined || allowedHostname === '') return undefined;
  const e = checkServerIdentity(allowedHostname, cert);
  return e === undefined
    ? undefined
    : `client certificate authentication failed: not valid for the allowed hostname ${JSON.stringify(allowedHostname)}: ${e.message}`;
}

/**
 * ALPN choice on a TLS listener: gRPC clients (grpc-go, grpc-js) offer only `h2`; curl and browsers
 * offer `http/1.1` too and get HTTP/1.1, so /health, /version, /metrics and the JSON gateway (served
 * by the HTTP/1.1 server) answer them. A client offering no ALPN at all is routed by its first bytes.
 */
export function chooseAlpn(offered: readonly string[]): string | undefined {
  if (offered.includes('http/1.1')) return 'http/1.1';
  if (offered.includes('h2')) return 'h2';
  return undefined;
}

/**
 * Why a refused handshake was refused, for the log. Node completes the handshake and then drops a
 * client whose certificate failed verification, so the error only says "socket hang up"; the
 * verification result (CERT_REVOKED, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, ...) is on the socket.
 */
export function handshakeRefusal(e: Error, socket: TLSSocket): string {
  const verdict: unknown = socket.authorizationError;
  const code = typeof verdict === 'string' ? verdict : verdict instanceof Error ? verdict.message : undefined;
  const reason = (e as Error & { reason?: string }).reason ?? e.message;
  return code === undefined ? reason : `certificate verification failed: ${code}`;
}
