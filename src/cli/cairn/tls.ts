// TLS material for the client and peer ports: read, parsed and checked (key matches certificate) at
// start-up, before the data dir is touched, with etcd's wording for the errors it has words for.
// --auto-tls / --peer-auto-tls without key/cert files: a self-signed certificate in
// <data-dir>/fixtures/{client,peer} (reused when there, else made here and written by main once every
// check passed), as etcd's ClientSelfCert / PeerSelfCert. Files given by flag are then watched (see
// tls-reloader.ts): rotated ones pass the same checks before new connections use them.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';

import type { ClientPortSecurity } from '../../api/index.js';
import { goFileError } from '../go-errors.js';
import type { TlsConfig } from '../../config/index.js';
import type { PeerTlsOptions } from '../../transport/index.js';
import { hostOf, prepareAutoCert, type AutoCert } from './self-signed-cert.js';
import {
  startTlsReloader,
  type TlsMaterial,
  type TlsReloader,
  type TlsReloaderLogger,
} from './tls-reloader.js';

/** A start-up refusal: main prints the message and exits 1. */
export class TlsSetupError extends Error {}

interface Loaded {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca?: Buffer;
  readonly clientCertAuth: boolean;
  /** A self-signed certificate (auto TLS): the other side's certificate is not verified either. */
  readonly insecureSkipVerify?: boolean;
  /** Set once the files it came from are watched. */
  readonly reload?: TlsReloader;
}

/** Watching of the certificate files (main passes one for both ports and closes them on stop). */
export interface TlsWatchContext {
  readonly logger: TlsReloaderLogger;
  /** The reloaders started, for main to close. */
  readonly reloaders: TlsReloader[];
  /** How often the files are looked at (default: tls-reloader.ts's). */
  readonly intervalMs?: number;
}

/** What --auto-tls / --peer-auto-tls need: where the fixtures go, and what they did (for main). */
export interface AutoTlsContext {
  readonly dataDir: string;
  /** Certificates made (not yet written) or reused; main writes the made ones with writeAutoCert. */
  readonly certs: AutoCert[];
  /** Messages for the log (etcd's "ignoring ... auto TLS since certs given"). */
  readonly notes: string[];
}

interface Names {
  /** 'client' or 'peer', as in etcd's "... must be provided for client url ..." */
  readonly side: 'client' | 'peer';
  readonly certFlag: string;
  readonly keyFlag: string;
  readonly autoFlag: string;
}

const CLIENT: Names = {
  side: 'client',
  certFlag: '--cert-file',
  keyFlag: '--key-file',
  autoFlag: '--auto-tls',
};
const PEER: Names = {
  side: 'peer',
  certFlag: '--peer-cert-file',
  keyFlag: '--peer-key-file',
  autoFlag: '--peer-auto-tls',
};

/** The file's bytes; a failure is a TlsSetupError with Go's text. */
function readPem(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TlsSetupError(goFileError(e));
  }
}

const CERT_PEM = /-----BEGIN CERTIFICATE-----/;
const KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * etcd's ClientSelfCert / PeerSelfCert: with the auto flag and no files, the certificate in
 * <data-dir>/fixtures/<side> (made for the hosts of the listen URLs when absent), whatever the schemes.
 */
function autoCert(names: Names, listenUrls: readonly string[], auto: AutoTlsContext): Loaded {
  const hosts = listenUrls.map((u) => {
    try {
      return hostOf(new URL(u).host);
    } catch {
      return '';
    }
  });
  const made = prepareAutoCert(join(auto.dataDir, 'fixtures', names.side), hosts);
  if (!made.created) checkPair(made.cert, made.key, made.certFile);
  auto.certs.push(made);
  // As etcd: --trusted-ca-file / --client-cert-auth do not apply to a self-signed certificate.
  return { key: made.key, cert: made.cert, clientCertAuth: false, insecureSkipVerify: true };
}

function checkPair(cert: Buffer, key: Buffer, certFile: string): void {
  if (!CERT_PEM.test(cert.toString('latin1'))) {
    throw new TlsSetupError('tls: failed to find any PEM data in certificate input');
  }
  if (!KEY_PEM.test(key.toString('latin1')))
    throw new TlsSetupError('tls: failed to find any PEM data in key input');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new TlsSetupError(`x509: malformed certificate in ${certFile}: ${errorText(e)}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsSetupError('tls: failed to parse private key');
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new TlsSetupError('tls: private key does not match public key');
}

function load(
  config: TlsConfig,
  names: Names,
  urls: readonly string[],
  listenUrls: readonly string[],
  auto: AutoTlsContext | undefined,
): Loaded | undefined {
  const https = urls.filter((u) => u.toLowerCase().startsWith('https://'));
  const hasFiles = config.certFile !== '' || config.keyFile !== '';
  if (!hasFiles) {
    if (config.autoTls) {
      if (auto === undefined) throw new TlsSetupError(`${names.autoFlag} needs a data dir`);
      return autoCert(names, listenUrls, auto);
    }
    if (https.length === 0) return undefined;
    throw new TlsSetupError(
      `TLS key/cert (${names.certFlag}, ${names.keyFlag}) must be provided for ${names.side} url ${https[0]} with HTTPS scheme`,
    );
  }
  if (config.certFile === '' || config.keyFile === '') {
    throw new TlsSetupError(`${names.certFlag} and ${names.keyFlag} must be given together`);
  }
  if (config.autoTls) auto?.notes.push(`ignoring ${names.side} auto TLS since certs given`);
  const cert = readPem(config.certFile);
  const key = readPem(config.keyFile);
  const ca = config.trustedCaFile === '' ? undefined : readPem(config.trustedCaFile);
  checkMaterial({ key, cert, ca }, config);
  return { key, cert, ca, clientCertAuth: config.clientCertAuth };
}

/** The checks of files given by flag, at start-up and for every reload. */
function checkMaterial(material: TlsMaterial, config: TlsConfig): void {
  const { key, cert, ca } = material;
  checkPair(cert, key, config.certFile);
  if (ca !== undefined && !CERT_PEM.test(ca.toString('latin1'))) {
    throw new TlsSetupError(`tls: failed to find any PEM data in ${config.trustedCaFile}`);
  }
  try {
    createSecureContext({ key, cert, ca });
  } catch (e) {
    throw new TlsSetupError(`tls: ${errorText(e)}`);
  }
}

/**
 * Starts watching the files `loaded` came from, so new connections use rotated ones. Self-signed
 * certificates (--auto-tls, --peer-auto-tls) are ours and never change: not watched.
 */
function watched(loaded: Loaded, config: TlsConfig, side: Names['side'], watch?: TlsWatchContext): Loaded {
  if (watch === undefined || loaded.insecureSkipVerify === true || config.certFile === '') return loaded;
  const reload = startTlsReloader({
    side,
    files: { certFile: config.certFile, keyFile: config.keyFile, trustedCaFile: config.trustedCaFile },
    initial: { key: loaded.key, cert: loaded.cert, ca: loaded.ca },
    check: (material) => checkMaterial(material, config),
    logger: watch.logger,
    intervalMs: watch.intervalMs,
  });
  watch.reloaders.push(reload);
  return { ...loaded, reload };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The client port's security for --listen-client-urls and the client TLS flags; with `watch`, files
 * given by flag are watched for rotation.
 */
export function clientPortSecurity(
  config: TlsConfig,
  listenUrls: readonly string[],
  auto?: AutoTlsContext,
  watch?: TlsWatchContext,
): ClientPortSecurity {
  const loaded = load(config, CLIENT, listenUrls, listenUrls, auto);
  if (loaded === undefined) return { kind: 'insecure' };
  const { key, cert, ca, clientCertAuth, reload } = watched(loaded, config, CLIENT.side, watch);
  return { kind: 'tls', key, cert, ca, clientCertAuth, reload };
}

/**
 * TLS options of the peer port and of connections to peers, for --listen-peer-urls and
 * --initial-advertise-peer-urls with the peer TLS flags (undefined: cleartext). A self-signed
 * certificate (--peer-auto-tls) is made for the hosts of `listenUrls` (etcd: --listen-peer-urls).
 * With `watch`, files given by flag are watched for rotation.
 */
export function peerTlsOptions(
  config: TlsConfig,
  peerUrls: readonly string[],
  auto?: AutoTlsContext,
  listenUrls: readonly string[] = peerUrls,
  watch?: TlsWatchContext,
): PeerTlsOptions | undefined {
  const loaded = load(config, PEER, peerUrls, listenUrls, auto);
  // Peer TLS files with only http:// peer URLs: checked, but the peer port stays cleartext.
  if (loaded === undefined || !peerUrls.some((u) => u.toLowerCase().startsWith('https://'))) return undefined;
  return watched(loaded, config, PEER.side, watch);
}
