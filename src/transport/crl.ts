// --client-crl-file / --peer-crl-file: certificate revocation lists for Node's secure context (`crl`),
// which makes OpenSSL refuse revoked certificates during verification. This module turns a CRL file
// into what that option takes and reads just enough of each list to check it before it is used:
// Node reads only the first CRL of a PEM buffer and no DER at all, and OpenSSL refuses *every*
// certificate when its CRL has expired or when no CRL comes from the issuing CA, so those mistakes are
// found at start-up (or reload) rather than as a member that suddenly refuses everyone.

import { X509Certificate } from 'node:crypto';

/** What the checks need of one CRL. */
export interface CrlSummary {
  /** DER of the issuer Name, to compare with CA subjects byte for byte. */
  readonly issuer: Buffer;
  readonly thisUpdate: Date;
  /** Absent when the CRL gives none (it then never expires). */
  readonly nextUpdate?: Date;
  /** How many certificates it revokes. */
  readonly revoked: number;
}

export interface CrlFile {
  /** One PEM block per CRL, as Node's `crl` option takes them (each element is read separately). */
  readonly pems: readonly Buffer[];
  readonly lists: readonly CrlSummary[];
}

const CRL_PEM = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]*?)-----END X509 CRL-----/g;
const CERT_PEM = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

/**
 * Reads a CRL file's bytes: PEM (one or more `X509 CRL` blocks) or a single DER list, as Go's
 * x509.ParseCRL accepts both. Throws an Error saying what is wrong.
 */
export function readCrlFile(bytes: Buffer): CrlFile {
  const text = bytes.toString('latin1');
  const ders: Buffer[] = [...text.matchAll(CRL_PEM)].map((m) => Buffer.from(m[1] ?? '', 'base64'));
  if (ders.length === 0) {
    if (bytes[0] !== 0x30) throw new Error('failed to find any CRL data');
    ders.push(bytes);
  }
  const lists = ders.map((der) => parseCrl(der));
  return { pems: ders.map(toPem), lists };
}

function toPem(der: Buffer): Buffer {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return Buffer.from(`-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`);
}

/** Parses the tbsCertList of a DER CertificateList (RFC 5280 §5.1). */
export function parseCrl(der: Buffer): CrlSummary {
  const outer = readTlv(der, 0, 'CertificateList');
  if (outer.tag !== SEQUENCE || outer.end !== der.length)
    throw new Error('malformed CRL: not one DER sequence');
  const tbs = readTlv(der, outer.start, 'tbsCertList');
  if (tbs.tag !== SEQUENCE) throw new Error('malformed CRL: tbsCertList is not a sequence');
  // The fields in order; the optional ones are told apart by their tags.
  const fields: Tlv[] = [];
  for (let at = tbs.start; at < tbs.end; at = fields[fields.length - 1]?.end ?? tbs.end)
    fields.push(readTlv(der, at, 'tbsCertList field', tbs.end));
  if (fields[0]?.tag === INTEGER) fields.shift(); // version
  const [signature, issuer, thisUpdate, ...rest] = fields;
  if (signature?.tag !== SEQUENCE) throw new Error('malformed CRL: no signature algorithm');
  if (issuer?.tag !== SEQUENCE) throw new Error('malformed CRL: no issuer');
  if (thisUpdate === undefined) throw new Error('malformed CRL: no thisUpdate');
  const next = rest[0]?.tag === UTC_TIME || rest[0]?.tag === GENERALIZED_TIME ? rest.shift() : undefined;
  // Then revokedCertificates (a SEQUENCE, absent when empty) and crlExtensions ([0]).
  const list = rest[0]?.tag === SEQUENCE ? rest[0] : undefined;
  let revoked = 0;
  for (let e = list?.start ?? 0; list !== undefined && e < list.end; revoked++)
    e = readTlv(der, e, 'revoked entry', list.end).end;
  return {
    issuer: der.subarray(issuer.header, issuer.end),
    thisUpdate: readTime(der, thisUpdate),
    ...(next === undefined ? {} : { nextUpdate: readTime(der, next) }),
    revoked,
  };
}

/** The DER subject of every certificate in a PEM bundle (for the issuer check). */
export function caSubjects(bundle: Buffer): Buffer[] {
  const subjects: Buffer[] = [];
  for (const m of bundle.toString('latin1').matchAll(CERT_PEM)) {
    const der = Buffer.from(m[1] ?? '', 'base64');
    try {
      new X509Certificate(der); // only well-formed certificates count
      subjects.push(certSubject(der));
    } catch {
      // An unreadable entry is the CA checks' business, not this one's.
    }
  }
  return subjects;
}

/** TBSCertificate: [0] version, serial, signature, issuer, validity, subject (RFC 5280 §4.1). */
function certSubject(der: Buffer): Buffer {
  const cert = readTlv(der, 0, 'Certificate');
  const tbs = readTlv(der, cert.start, 'tbsCertificate');
  let f = readTlv(der, tbs.start, 'version', tbs.end);
  if (f.tag === 0xa0) f = readTlv(der, f.end, 'serial', tbs.end);
  for (let i = 0; i < 4; i++) f = readTlv(der, f.end, 'field', tbs.end); // signature, issuer, validity, subject
  return der.subarray(f.header, f.end);
}

/**
 * Why OpenSSL would refuse every certificate with these CRLs at `now`, or undefined: one has expired,
 * or none was issued by a CA of the trusted bundle (with CRL checks on, a certificate whose issuer
 * has no CRL is refused, and the anchor of every chain is in the bundle).
 */
export function crlProblem(
  crls: CrlFile,
  now: Date,
  trustedSubjects?: readonly Buffer[],
): string | undefined {
  for (const l of crls.lists) {
    if (l.nextUpdate !== undefined && l.nextUpdate.getTime() < now.getTime())
      return `has expired (next update was ${l.nextUpdate.toISOString()}); every certificate would be refused`;
  }
  if (
    trustedSubjects !== undefined &&
    !crls.lists.some((l) => trustedSubjects.some((s) => s.equals(l.issuer)))
  )
    return 'is not issued by a CA of the trusted CA file; every certificate would be refused';
  return undefined;
}

// ---- A minimal DER reader ---------------------------------------------------------------------------

const INTEGER = 0x02;
const SEQUENCE = 0x30;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly header: number;
  /** Offset of the content. */
  readonly start: number;
  /** Offset just past the content. */
  readonly end: number;
}

function readTlv(der: Buffer, at: number, what: string, limit = der.length): Tlv {
  const bad = (): never => {
    throw new Error(`malformed CRL: truncated ${what}`);
  };
  if (at + 2 > limit) bad();
  const tag = der[at] ?? 0;
  let len = der[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) bad();
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  if (start + len > limit) bad();
  return { tag, header: at, start, end: start + len };
}

/** UTCTime (YYMMDDHHMMSSZ, years 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z). */
function readTime(der: Buffer, t: Tlv): Date {
  const s = der.toString('latin1', t.start, t.end);
  const m =
    t.tag === UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : t.tag === GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s)
        : null;
  if (m === null) throw new Error(`malformed CRL: bad time ${JSON.stringify(s)}`);
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const year = t.tag === UTC_TIME ? (y < 50 ? 2000 + y : 1900 + y) : y;
  return new Date(Date.UTC(year, mo - 1, d, h, mi, se));
}
