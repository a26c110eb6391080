// The one place that decides how the client port's connections are secured: cleartext, or TLS
// (https:// listen URLs with --cert-file/--key-file, optionally --trusted-ca-file + --client-cert-auth).
// A TLS listener terminates TLS on the accepted socket; the decrypted stream is then routed exactly like
// a cleartext one (HTTP/2 preface to gRPC, anything else to HTTP/1.1), so one port serves both, as
// etcd's does.

import type { SecureContextOptions } from 'node:tls';

import { ServerCredentials } from '@grpc/grpc-js';

/** PEM material already read and checked by the caller (see src/cli/cairn/tls.ts). */
export interface ClientPortTlsMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** CA bundle that signs acceptable client certificates. */
  readonly ca?: Buffer;
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
 * Credentials for the gRPC connection injector. Connections reach it already secured (or not) by the
 * client port, so they are insecure at the gRPC layer whatever the port's setting.
 */
export function grpcCredentials(security: ClientPortSecurity): ServerCredentials {
  void security;
  return ServerCredentials.createInsecure();
}

/**
 * The secure-context part of the TLS listener's options. Used at creation and for every reload:
 * tls.Server#setSecureContext resets each context option it is not given (minVersion included).
 */
export function tlsContextOptions(material: ClientPortTlsMaterial): SecureContextOptions {
  return { key: material.key, cert: material.cert, ca: material.ca, minVersion: 'TLSv1.2' };
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
