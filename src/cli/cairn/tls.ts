// TLS material for the client and peer ports: read, parsed and checked (key matches certificate) at
// start-up, before the data dir is touched, with etcd's wording for the errors it has words for.
// --auto-tls / --peer-auto-tls without key/cert files: a self-signed certificate in
// <data-dir>/fixtures/{client,peer} (reused when there, else made here and written by main once every
// check passed), as etcd's ClientSelfCert / PeerSelfCert. Files given by flag are then watched (see
// tls-reloader.ts): rotated ones pass the same checks before new connections use them.
// The policy flags are resolved here too: --cipher-suites (Go names -> OpenSSL's), the CRL files
// (read and checked like the certificates) and --peer-cert-allowed-cn / --*-cert-allowed-hostname,
// which only mean something when the other side's certificates are verified.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';

import type { ClientPortSecurity } from '../../api/index.js';
import { goFileError } from '../go-errors.js';
import type { TlsConfig } from '../../config/index.js';
import {
  UnknownCipherSuiteError,
  caSubjects,
  cipherChoice,
  crlProblem,
  readCrlFile,
  type PeerTlsOptions,
} from '../../transport/index.js';
import { hostOf, prepareAutoCert, type AutoCert } from './self-signed-cert.js';
import {
  crlBlocks,
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
  /** One PEM CRL per element (--client-crl-file / --peer-crl-file). */
  readonly crl?: readonly Buffer[];
  /** Ask for the other side's certificate and verify it (see verifiesCertificates). */
  readonly clientCertAuth: boolean;
  readonly allowedCn?: string;
  readonly allowedHostname?: string;
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
  /**
   * Messages for the log: etcd's "ignoring ... auto TLS since certs given", and TLS flags that have no
   * effect in this configuration (main logs them as warnings).
   */
  readonly notes: string[];
}

interface Names {
  /** 'client' or 'peer', as in etcd's "... must be provided for client url ..." */
  readonly side: 'client' | 'peer';
  readonly certFlag: string;
  readonly keyFlag: string;
  readonly autoFlag: string;
  readonly caFlag: string;
  readonly certAuthFlag: string;
  readonly crlFlag: string;
  readonly cnFlag: string;
  readonly hostnameFlag: string;
}

const CLIENT: Names = {
  side: 'client',
  certFlag: '--cert-file',
  keyFlag: '--key-file',
  autoFlag: '--auto-tls',
  caFlag: '--trusted-ca-file',
  certAuthFlag: '--client-cert-auth',
  crlFlag: '--client-crl-file',
  cnFlag: '', // etcd 3.4 has no allowed CN for clients
  hostnameFlag: '--client-cert-allowed-hostname',
};
const PEER: Names = {
  side: 'peer',
  certFlag: '--peer-cert-file',
  keyFlag: '--peer-key-file',
  autoFlag: '--peer-auto-tls',
  caFlag: '--peer-trusted-ca-file',
  certAuthFlag: '--peer-client-cert-auth',
  crlFlag: '--peer-crl-file',
  cnFlag: '--peer-cert-allowed-cn',
  hostnameFlag: '--peer-cert-allowed-hostname',
};

/** `config` with the policy fields set ('' for those a caller built it without). */
function filled(config: TlsConfig): TlsConfig {
  const given: Partial<TlsConfig> = config;
  return {
    ...config,
    crlFile: given.crlFile ?? '',
    allowedCn: given.allowedCn ?? '',
    allowedHostname: given.allowedHostname ?? '',
  };
}

/** The policy flags given for a port, by flag name: CRL, allowed CN, allowed hostname. */
function policyFlags(config: TlsConfig, names: Names): string[] {
  return [
    config.crlFile !== '' ? names.crlFlag : '',
    config.allowedCn !== '' ? names.cnFlag : '',
    config.allowedHostname !== '' ? names.hostnameFlag : '',
  ].filter((f) => f !== '');
}

/**
 * Whether the port asks for the other side's certificate and verifies it. etcd 3.4 does so with
 * --client-cert-auth, and also whenever a trusted CA is given; here the second case applies when a
 * CRL or an allowed CN / hostname needs it, so a policy flag is never accepted without effect.
 */
function verifiesCertificates(config: TlsConfig, names: Names): boolean {
  if (config.clientCertAuth) return true;
  const policy = policyFlags(config, names);
  if (policy.length === 0) return false;
  if (config.trustedCaFile === '') {
    throw new TlsSetupError(
      `${policy.join(', ')} needs ${names.certAuthFlag} or ${names.caFlag}: without them ${names.side} certificates are not verified`,
    );
  }
  return true;
}

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
function autoCert(
  config: TlsConfig,
  names: Names,
  listenUrls: readonly string[],
  auto: AutoTlsContext,
): Loaded {
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
  // As etcd (the self-signed TLSInfo replaces the configured one), but said in the log.
  for (const flag of policyFlags(config, names))
    auto.notes.push(`ignoring ${flag} with ${names.autoFlag}: self-signed certificates are not verified`);
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
      return autoCert(config, names, listenUrls, auto);
    }
    if (https.length === 0) {
      for (const flag of policyFlags(config, names))
        auto?.notes.push(`ignoring ${flag}: the ${names.side} port does not use TLS`);
      return undefined;
    }
    throw new TlsSetupError(
      `TLS key/cert (${names.certFlag}, ${names.keyFlag}) must be provided for ${names.side} url ${https[0]} with HTTPS scheme`,
    );
  }
  if (config.certFile === '' || config.keyFile === '') {
    throw new TlsSetupError(`${names.certFlag} and ${names.keyFlag} must be given together`);
  }
  if (config.autoTls) auto?.notes.push(`ignoring ${names.side} auto TLS since certs given`);
  if (config.allowedCn !== '' && config.allowedHostname !== '') {
    // etcd's words (pkg/transport's baseConfig).
    throw new TlsSetupError(
      `AllowedCN and AllowedHostname are mutually exclusive (cn=${JSON.stringify(config.allowedCn)}, hostname=${JSON.stringify(config.allowedHostname)})`,
    );
  }
  const clientCertAuth = verifiesCertificates(config, names);
  const cert = readPem(config.certFile);
  const key = readPem(config.keyFile);
  const ca = config.trustedCaFile === '' ? undefined : readPem(config.trustedCaFile);
  const crl = config.crlFile === '' ? undefined : readCrl(config.crlFile);
  checkMaterial({ key, cert, ca, crl }, config);
  return {
    key,
    cert,
    ca,
    crl,
    clientCertAuth,
    ...(config.allowedCn === '' ? {} : { allowedCn: config.allowedCn }),
    ...(config.allowedHostname === '' ? {} : { allowedHostname: config.allowedHostname }),
  };
}

function readCrl(path: string): readonly Buffer[] {
  try {
    return crlBlocks(readPem(path), path);
  } catch (e) {
    if (e instanceof TlsSetupError) throw e;
    throw new TlsSetupError(errorText(e));
  }
}

/** The checks of files given by flag, at start-up and for every reload. */
function checkMaterial(material: TlsMaterial, config: TlsConfig): void {
  const { key, cert, ca, crl } = material;
  checkPair(cert, key, config.certFile);
  if (ca !== undefined && !CERT_PEM.test(ca.toString('latin1'))) {
    throw new TlsSetupError(`tls: failed to find any PEM data in ${config.trustedCaFile}`);
  }
  try {
    createSecureContext({ key, cert, ca });
  } catch (e) {
    throw new TlsSetupError(`tls: ${errorText(e)}`);
  }
  if (crl !== undefined) checkCrl(crl, ca, config.crlFile);
}

/**
 * A CRL must parse (OpenSSL's view), be current and come from a trusted CA: with CRL checks on,
 * OpenSSL refuses every certificate otherwise, which would cut a member off from its peers.
 */
function checkCrl(crl: readonly Buffer[], ca: Buffer | undefined, file: string): void {
  try {
    createSecureContext({ crl: [...crl] });
  } catch (e) {
    throw new TlsSetupError(`tls: failed to parse CRL in ${file}: ${errorText(e)}`);
  }
  const problem = crlProblem(readCrlFile(Buffer.concat([...crl])), new Date(), ca && caSubjects(ca));
  if (problem !== undefined) throw new TlsSetupError(`tls: CRL in ${file} ${problem}`);
}

/**
 * Starts watching the files `loaded` came from, so new connections use rotated ones. Self-signed
 * certificates (--auto-tls, --peer-auto-tls) are ours and never change: not watched.
 */
function watched(loaded: Loaded, config: TlsConfig, side: Names['side'], watch?: TlsWatchContext): Loaded {
  if (watch === undefined || loaded.insecureSkipVerify === true || config.certFile === '') return loaded;
  const reload = startTlsReloader({
    side,
    files: {
      certFile: config.certFile,
      keyFile: config.keyFile,
      trustedCaFile: config.trustedCaFile,
      crlFile: config.crlFile,
    },
    initial: { key: loaded.key, cert: loaded.cert, ca: loaded.ca, crl: loaded.crl },
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
 * --cipher-suites as Node's `ciphers` for both ports (undefined: the runtime defaults), with notes for
 * the log. An unknown name stops the start with etcd's words, TLS or not, as etcd does.
 */
export function cipherSuitesOption(names: readonly string[]): {
  readonly ciphers?: string;
  readonly notes: readonly string[];
} {
  try {
    return cipherChoice(names);
  } catch (e) {
    if (e instanceof UnknownCipherSuiteError) throw new TlsSetupError(e.message);
    throw e;
  }
}

/**
 * The client port's security for --listen-client-urls and the client TLS flags; with `watch`, files
 * given by flag are watched for rotation. `ciphers`: from cipherSuitesOption.
 */
export function clientPortSecurity(
  config: TlsConfig,
  listenUrls: readonly string[],
  auto?: AutoTlsContext,
  watch?: TlsWatchContext,
  ciphers?: string,
): ClientPortSecurity {
  config = filled(config);
  const loaded = load(config, CLIENT, listenUrls, listenUrls, auto);
  if (loaded === undefined) return { kind: 'insecure' };
  const { key, cert, ca, crl, clientCertAuth, reload, allowedHostname } = watched(
    loaded,
    config,
    CLIENT.side,
    watch,
  );
  return {
    kind: 'tls',
    key,
    cert,
    ca,
    clientCertAuth,
    reload,
    ...(crl === undefined ? {} : { crl }),
    ...(ciphers === undefined ? {} : { ciphers }),
    ...(allowedHostname === undefined ? {} : { allowedHostname }),
  };
}

/**
 * TLS options of the peer port and of connections to peers, for --listen-peer-urls and
 * --initial-advertise-peer-urls with the peer TLS flags (undefined: cleartext). A self-signed
 * certificate (--peer-auto-tls) is made for the hosts of `listenUrls` (etcd: --listen-peer-urls).
 * With `watch`, files given by flag are watched for rotation. `ciphers`: from cipherSuitesOption.
 */
export function peerTlsOptions(
  config: TlsConfig,
  peerUrls: readonly string[],
  auto?: AutoTlsContext,
  listenUrls: readonly string[] = peerUrls,
  watch?: TlsWatchContext,
  ciphers?: string,
): PeerTlsOptions | undefined {
  config = filled(config);
  const loaded = load(config, PEER, peerUrls, listenUrls, auto);
  if (loaded === undefined) return undefined;
  // Peer TLS files with only http:// peer URLs: checked, but the peer port stays cleartext.
  if (!peerUrls.some((u) => u.toLowerCase().startsWith('https://'))) {
    for (const flag of policyFlags(config, PEER))
      auto?.notes.push(`ignoring ${flag}: the peer port does not use TLS`);
    return undefined;
  }
  const options = watched(loaded, config, PEER.side, watch);
  return ciphers === undefined ? options : { ...options, ciphers };
}
