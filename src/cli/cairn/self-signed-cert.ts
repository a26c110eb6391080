// Self-signed certificates for --auto-tls and --peer-auto-tls, as etcd's transport.SelfCert makes them:
// an ECDSA key, subject O=etcd, valid for a year, CA:FALSE, key usage digitalSignature +
// keyEncipherment, extended key usage serverAuth + clientAuth, and the listen URLs' hosts as
// subject alternative names (IP SANs for IP addresses, DNS SANs otherwise). node:crypto makes the key
// and the signature; the X.509 structure is encoded here with a small DER encoder.

import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

// ---- DER ----------------------------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
const octetString = (b: Buffer): Buffer => tlv(0x04, b);
const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
/** A BIT STRING of whole bytes (no unused bits). */
const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
const TRUE = tlv(0x01, Buffer.from([0xff]));

/** A non-negative INTEGER from its big-endian magnitude (minimal, with a 0 byte when the top bit is set). */
function unsignedInteger(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return tlv(0x02, (m[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : m);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const first = parts[0] ?? 0;
  const second = parts[1] ?? 0;
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...parts.slice(2)]) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, no fractions, Z. */
function time(d: Date): Buffer {
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  const year = d.getUTCFullYear();
  if (year < 2050) return tlv(0x17, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'));
  return tlv(0x18, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'));
}

// ---- X.509 --------------------------------------------------------------------------------------

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  organizationName: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [TRUE] : []), octetString(value));
}

/** The host of a URL's host:port (brackets of an IPv6 literal removed); '' when there is none. */
export function hostOf(hostPort: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(hostPort);
  if (bracketed !== null) return bracketed[1] ?? '';
  const colon = hostPort.lastIndexOf(':');
  return colon < 0 ? hostPort : hostPort.slice(0, colon);
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand '::' and an embedded IPv4 tail.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4 !== null && v4[1] !== undefined) {
    tail = v4[1].split('.').map(Number);
    text = text.slice(0, text.length - v4[1].length) + '0:0';
  }
  const [head = '', rest] = text.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tail.length === 4) Buffer.from(tail).copy(out, 12);
  // As Go: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is written as the 4-byte IPv4 address.
  const mapped = out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff;
  return mapped ? out.subarray(12) : out;
}

function subjectAltNames(hosts: readonly string[]): Buffer {
  const names: Buffer[] = [];
  for (const h of hosts) {
    if (h === '') continue;
    // GeneralName: [7] iPAddress OCTET STRING, [2] dNSName IA5String (both implicit, primitive).
    names.push(isIP(h) !== 0 ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'latin1')));
  }
  return sequence(...names);
}

export interface SelfSignedCert {
  /** PEM "CERTIFICATE". */
  readonly cert: string;
  /** PEM "EC PRIVATE KEY" (SEC 1), as etcd writes it. */
  readonly key: string;
}

export interface SelfSignedOptions {
  /** Hosts for the subjectAltName: IP addresses become IP SANs, anything else DNS SANs. */
  readonly hosts: readonly string[];
  /** Start of the validity (default: now). */
  readonly now?: Date;
  /** Validity in days (etcd: 365). */
  readonly days?: number;
  /** The key to certify (default: a new P-256 key). */
  readonly privateKey?: KeyObject;
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Makes a self-signed certificate and its key (see the file comment for what it holds). */
export function makeSelfSignedCert(options: SelfSignedOptions): SelfSignedCert {
  const privateKey = options.privateKey ?? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const spki = createPublicKeyDer(privateKey);
  const notBefore = options.now ?? new Date();
  const notAfter = new Date(notBefore.getTime() + (options.days ?? 365) * 24 * 3600 * 1000);
  // 128 random bits, positive (etcd: rand.Int below 2^128); never zero.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) | (serial.every((b) => b === 0) ? 1 : 0);
  const algorithm = sequence(oid(OID.ecdsaWithSHA256));
  const name = sequence(set(sequence(oid(OID.organizationName), utf8String('etcd'))));
  // keyUsage: digitalSignature (bit 0) + keyEncipherment (bit 2) = 0b101 in the first byte, 5 unused bits.
  const keyUsage = tlv(0x03, Buffer.from([0x05, 0xa0]));
  const extensions = [
    extension(OID.keyUsage, true, keyUsage),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
    // BasicConstraints with cA absent (FALSE), critical, as Go writes BasicConstraintsValid without IsCA.
    extension(OID.basicConstraints, true, sequence()),
  ];
  if (options.hosts.some((h) => h !== '')) {
    extensions.push(extension(OID.subjectAltName, false, subjectAltNames(options.hosts)));
  }
  const tbs = sequence(
    explicit(0, tlv(0x02, Buffer.from([2]))), // version v3
    unsignedInteger(serial),
    algorithm,
    name, // issuer
    sequence(time(notBefore), time(notAfter)),
    name, // subject
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const cert = sequence(tbs, algorithm, bitString(signature));
  return {
    cert: pem('CERTIFICATE', cert),
    key: privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
  };
}

/** SubjectPublicKeyInfo (DER) of a private key's public half: the certificate's key field as is. */
function createPublicKeyDer(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
}

// ---- The fixtures directory ---------------------------------------------------------------------

/** A self-signed certificate for one port: read from `dir`, or made and still to be written there. */
export interface AutoCert {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** False when the files already existed (a restart reuses them, as etcd does). */
  readonly created: boolean;
}

/**
 * etcd's SelfCert without the writes: the certificate and key in `dir` (cert.pem, key.pem) when both
 * exist, or new ones for `hosts`. Nothing is written here; see writeAutoCert.
 */
export function prepareAutoCert(dir: string, hosts: readonly string[]): AutoCert {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    return {
      dir,
      certFile,
      keyFile,
      cert: readFileSync(certFile),
      key: readFileSync(keyFile),
      created: false,
    };
  }
  const made = makeSelfSignedCert({ hosts });
  return { dir, certFile, keyFile, cert: Buffer.from(made.cert), key: Buffer.from(made.key), created: true };
}

/** Writes a made certificate into its dir (created 0700, files 0600); nothing for reused ones. */
export function writeAutoCert(auto: AutoCert): void {
  if (!auto.created) return;
  mkdirSync(auto.dir, { recursive: true, mode: 0o700 });
  writeFileSync(auto.certFile, auto.cert, { mode: 0o600 });
  writeFileSync(auto.keyFile, auto.key, { mode: 0o600 });
}
