// Shared vocabulary of the peer transport: the logger it writes to, the IDs it puts in headers, the
// paths and headers of the peer protocol, and the limits that bound every queue.

import tls from 'node:tls';

import { certIdentityError, hasIdentityPolicy } from './cert-identity.js';

/** What the transport needs from a logger. The member adapts its own logger (pino) to this. */
export interface TransportLogger {
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const silentLogger: TransportLogger = {
  info() {},
  warn() {},
};

/** Key, certificate, CA and CRLs (PEM): what a TLS connection is made with, in either direction. */
export interface PeerTlsMaterial {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** --peer-crl-file, one PEM CRL per element: revoked member certificates fail verification. */
  readonly crl?: readonly (string | Buffer)[];
}

/**
 * Newer material when the certificate files are rotated while running (the caller watches and checks
 * them, see src/cli/cairn/tls-reloader.ts). New connections in both directions use it; open ones keep
 * their session.
 */
export interface PeerTlsReload {
  /** The newest checked material. */
  current(): PeerTlsMaterial;
  /** Calls `onChange` with each newer material; returns the function that stops the calls. */
  subscribe(onChange: (material: PeerTlsMaterial) => void): () => void;
}

/** TLS on the peer port. Absent: cleartext HTTP/2 (h2c). */
export interface PeerTlsOptions extends PeerTlsMaterial {
  /** Server side: ask the client for a certificate and refuse it unless the CA signed it. */
  readonly clientCertAuth?: boolean;
  /**
   * Client side: accept any certificate from the other member (--peer-auto-tls, as etcd's self-signed
   * TLSInfo: InsecureSkipVerify). The connection is encrypted but the peer is not authenticated.
   */
  readonly insecureSkipVerify?: boolean;
  /** Absent: the material never changes (e.g. --peer-auto-tls). */
  readonly reload?: PeerTlsReload;
  /** --cipher-suites as Node's `ciphers` (see cipher-suites.ts); absent: the runtime defaults. */
  readonly ciphers?: string;
  /** --peer-cert-allowed-cn: the CN the other member's certificate must carry. */
  readonly allowedCn?: string;
  /** --peer-cert-allowed-hostname: the hostname the other member's certificate must be valid for. */
  readonly allowedHostname?: string;
}

/** The material a new connection uses now. */
export function currentPeerTls(options: PeerTlsOptions): PeerTlsMaterial {
  return options.reload?.current() ?? options;
}

/**
 * Node's secure-context options for `options` with `material` (default: the current one). The CA and
 * CRL lists are typed mutable there. Every connection and every reload builds them again, because
 * tls.Server#setSecureContext resets what it is not given (the cipher list included).
 */
export function peerContextOptions(
  options: PeerTlsOptions,
  material: PeerTlsMaterial = currentPeerTls(options),
): tls.SecureContextOptions {
  return {
    key: material.key,
    cert: material.cert,
    ca: material.ca as tls.SecureContextOptions['ca'],
    ...(material.crl === undefined || material.crl.length === 0
      ? {}
      : { crl: material.crl as (string | Buffer)[] }),
    ...(options.ciphers === undefined ? {} : { ciphers: options.ciphers }),
  };
}

/**
 * TLS options of a connection this member opens to another one: the current material, the other
 * side's certificate verified (unless --peer-auto-tls) against the CA, the CRLs and, when given, the
 * allowed CN / hostname on top of the usual match with the URL's host.
 */
export function peerClientOptions(options: PeerTlsOptions): tls.ConnectionOptions {
  const policy = { allowedCn: options.allowedCn, allowedHostname: options.allowedHostname };
  return {
    ...peerContextOptions(options),
    rejectUnauthorized: options.insecureSkipVerify !== true,
    ...(hasIdentityPolicy(policy)
      ? {
          checkServerIdentity: (host: string, cert: tls.PeerCertificate): Error | undefined => {
            const hostError = tls.checkServerIdentity(host, cert);
            if (hostError !== undefined) return hostError;
            const reason = certIdentityError(cert, policy);
            return reason === undefined ? undefined : new Error(`peer certificate refused: ${reason}`);
          },
        }
      : {}),
  };
}

// ---- The peer protocol --------------------------------------------------------------------------

/** Bumped when the framing or the headers change incompatibly; both sides must speak the same one. */
export const PROTOCOL_VERSION = '2';

/**
 * The `Upgrade` token of a raft message stream. The stream is an HTTP/1.1 request upgraded to a plain
 * byte stream (101 Switching Protocols): a sender's writes then go straight to the socket, where
 * HTTP/2 would hold them in its session until the event loop's next check phase.
 */
export const RAFT_STREAM_UPGRADE = 'cairn-raft';

export const PATH_RAFT_STREAM = '/raft/stream';
export const PATH_RAFT_SNAPSHOT = '/raft/snapshot';
export const PATH_MEMBERS = '/members';
export const PATH_VERSION = '/version';

export const HEADER_CLUSTER_ID = 'x-cairn-cluster-id';
export const HEADER_FROM = 'x-cairn-from';
export const HEADER_TO = 'x-cairn-to';
export const HEADER_PROTOCOL = 'x-cairn-protocol';
/** The sender's advertised peer URLs, comma separated, so a receiver that does not know it yet can answer. */
export const HEADER_PEER_URLS = 'x-cairn-peer-urls';
/** A short machine-readable reason on a refusal, for the sender's log. */
export const HEADER_REASON = 'x-cairn-reason';

/** Refusal statuses, chosen like etcd's rafthttp so they read the same in a packet capture. */
export const STATUS_OK = 200;
export const STATUS_BAD_REQUEST = 400;
export const STATUS_NOT_FOUND = 404;
export const STATUS_METHOD_NOT_ALLOWED = 405;
/** The sender was removed from the cluster: it must stop. */
export const STATUS_GONE = 410;
/** Cluster ID, receiver ID or protocol version do not match. */
export const STATUS_PRECONDITION_FAILED = 412;
export const STATUS_INTERNAL_ERROR = 500;

// ---- Limits -------------------------------------------------------------------------------------

/** Largest frame a receiver accepts; a sender never builds one this big (see FRAME_SOFT_BYTES). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** A sender starts a new frame once the current one holds this much, so receivers decode incrementally. */
export const FRAME_SOFT_BYTES = 4 * 1024 * 1024;
/** Largest encoded MsgSnap (without the database, which streams after it) a receiver accepts. */
export const MAX_SNAPSHOT_MESSAGE_BYTES = 64 * 1024 * 1024;

// ---- IDs ----------------------------------------------------------------------------------------

/** Member and cluster IDs travel as lowercase hex without padding, as etcd prints them. */
export function idToHex(id: bigint): string {
  return id.toString(16);
}

const HEX_ID = /^[0-9a-f]{1,16}$/i;

/** A hex ID from a header, or undefined when absent or malformed (never throws). */
export function parseHexId(value: string | string[] | undefined): bigint | undefined {
  if (typeof value !== 'string' || !HEX_ID.test(value)) return undefined;
  return BigInt('0x' + value);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
