// Peer and client URL lists as etcd reads them (pkg/types NewURLs over Go's net/url): each URL is
// trimmed, parsed, checked (scheme http/https/unix/unixs, a host:port, no path) and kept in the form
// Go's url.URL.String() gives back, because that string is what etcd hashes into member IDs, stores in
// member JSON, sorts and compares. Error texts are the ones etcd 3.4.23 prints (observed with real etcd;
// see test/unit/membership/urls.test.ts).

export class UrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UrlError';
  }
}

export interface ParsedUrl {
  /** The normalised form (lower-case scheme, Go's escaping); what etcd stores and compares. */
  readonly href: string;
  readonly scheme: 'http' | 'https' | 'unix' | 'unixs';
  /** The host without brackets (an IPv6 literal's zone, if any, unescaped: `fe80::1%eth0`). */
  readonly hostname: string;
  /** The port text; may be empty (`http://h:` is accepted by etcd). */
  readonly port: string;
  /** Go's `u.Host`: hostname (bracketed for IPv6) plus `:port`. */
  readonly host: string;
}

const SCHEMES = new Set(['http', 'https', 'unix', 'unixs']);

/** Go's %q for the strings that occur here: printable text as is, escapes for the rest. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c === 0x07) out += '\\a';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0b) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0x80 && c < 0xa0) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's %q of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return '[' + list.map(goQuote).join(' ') + ']';
}

/** Byte-wise comparison of the UTF-8 forms, as Go's sort.Strings orders strings. */
export function compareStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function sortStrings(list: readonly string[]): string[] {
  return [...list].sort(compareStrings);
}

// ---- A subset of Go's net/url, enough to accept, reject and print exactly what etcd does -------------

type Mode = 'host' | 'zone' | 'userPassword' | 'path' | 'fragment';

const isAlnum = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isHex = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

function shouldEscape(c: number, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  const ch = String.fromCharCode(c);
  if ((mode === 'host' || mode === 'zone') && `!$&'()*+,;=:[]<>"`.includes(ch)) return false;
  if ('-_.~'.includes(ch)) return false;
  if ('$&+,/:;=?@'.includes(ch)) {
    if (mode === 'fragment') return false;
    if (mode === 'userPassword') return '@/?:'.includes(ch);
    if (mode === 'path') return ch === '?';
  }
  if (mode === 'fragment' && '!()*'.includes(ch)) return false;
  return true;
}

function escapeError(s: string, i: number): UrlError {
  return new UrlError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
}

/** Go's url.unescape on UTF-8 bytes; returns the unescaped text. */
function unescape(s: string, mode: Mode): string {
  const bytes = Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x25) {
      if (i + 2 >= bytes.length || !isHex(bytes[i + 1]) || !isHex(bytes[i + 2])) {
        throw escapeError(bytes.subarray(i).toString('latin1'), 0);
      }
      const v = parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16);
      const seq = String.fromCharCode(bytes[i], bytes[i + 1], bytes[i + 2]);
      // Go allows %XX in a host only for non-ASCII bytes (and %25 before a zone).
      if (mode === 'host' && parseInt(String.fromCharCode(bytes[i + 1]), 16) < 8 && seq !== '%25') {
        throw new UrlError(`invalid URL escape ${goQuote(seq)}`);
      }
      out.push(v);
      i += 2;
      continue;
    }
    if ((mode === 'host' || mode === 'zone') && c < 0x80 && shouldEscape(c, mode)) {
      throw new UrlError(`invalid character ${goQuote(String.fromCharCode(c))} in host name`);
    }
    out.push(c);
  }
  return Buffer.from(out).toString('utf8');
}

function escape(s: string, mode: Mode): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += shouldEscape(b, mode)
      ? '%' + b.toString(16).toUpperCase().padStart(2, '0')
      : String.fromCharCode(b);
  }
  return out;
}

function validEncoded(s: string, mode: Mode): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if ("!$&'()*+,;=:@[]%".includes(ch)) continue;
    const c = s.charCodeAt(i);
    if (c >= 0x80 || shouldEscape(c, mode)) return false;
  }
  return true;
}

const validOptionalPort = (p: string): boolean => p === '' || /^:[0-9]*$/.test(p);

function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) throw new UrlError("missing ']' in host");
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${goQuote(colonPort)} after host`);
    const zone = host.slice(0, i).indexOf('%25');
    if (zone >= 0) {
      return (
        unescape(host.slice(0, zone), 'host') +
        unescape(host.slice(zone, i), 'zone') +
        unescape(host.slice(i), 'host')
      );
    }
  } else {
    const i = host.lastIndexOf(':');
    if (i >= 0 && !validOptionalPort(host.slice(i))) {
      throw new UrlError(`invalid port ${goQuote(host.slice(i))} after host`);
    }
  }
  return unescape(host, 'host');
}

const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

interface GoUrl {
  scheme: string;
  opaque: string;
  user: { name: string; password?: string } | undefined;
  host: string;
  path: string;
  forceQuery: boolean;
  rawQuery: string;
  fragment: string;
  rawFragment: string;
}

/** Go's url.Parse for an absolute URL or a relative path; throws the text after `parse "<url>": `. */
function goParse(raw: string): GoUrl {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) throw new UrlError('net/url: invalid control character in URL');
  const u: GoUrl = {
    scheme: '',
    opaque: '',
    user: undefined,
    host: '',
    path: '',
    forceQuery: false,
    rawQuery: '',
    fragment: '',
    rawFragment: '',
  };
  let rest = raw;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    const frag = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
    u.fragment = unescape(frag, 'fragment');
    u.rawFragment = frag;
  }
  if (rest === '*') {
    u.path = '*';
    return u;
  }
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (letter) continue;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) break;
      continue;
    }
    if (c === 0x3a) {
      if (i === 0) throw new UrlError('missing protocol scheme');
      u.scheme = rest.slice(0, i).toLowerCase();
      rest = rest.slice(i + 1);
    }
    break;
  }
  if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) {
    u.forceQuery = true;
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      u.rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith('/')) {
    if (u.scheme !== '') {
      u.opaque = rest;
      return u;
    }
    const slash = rest.indexOf('/');
    const segment = slash < 0 ? rest : rest.slice(0, slash);
    if (segment.includes(':')) throw new UrlError('first path segment in URL cannot contain colon');
  }
  if ((u.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
    const at = authority.lastIndexOf('@');
    u.host = parseHost(at < 0 ? authority : authority.slice(at + 1));
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (!USERINFO_OK.test(userinfo)) throw new UrlError('net/url: invalid userinfo');
      const colon = userinfo.indexOf(':');
      u.user =
        colon < 0
          ? { name: unescape(userinfo, 'userPassword') }
          : {
              name: unescape(userinfo.slice(0, colon), 'userPassword'),
              password: unescape(userinfo.slice(colon + 1), 'userPassword'),
            };
    }
  }
  u.path = unescape(rest, 'path');
  return u;
}

/** Go's url.URL.String() for the URLs that pass etcd's checks (no path, not opaque). */
function goString(u: GoUrl): string {
  let s = u.scheme + '://';
  if (u.user !== undefined) {
    s += escape(u.user.name, 'userPassword');
    if (u.user.password !== undefined) s += ':' + escape(u.user.password, 'userPassword');
    s += '@';
  }
  s += escape(u.host, 'host');
  if (u.forceQuery || u.rawQuery !== '') s += '?' + u.rawQuery;
  if (u.fragment !== '') {
    s += '#' + (validEncoded(u.rawFragment, 'fragment') ? u.rawFragment : escape(u.fragment, 'fragment'));
  }
  return s;
}

/** Go's net.SplitHostPort; undefined where it fails. */
export function splitHostPort(hostport: string): { host: string; port: string } | undefined {
  const i = hostport.lastIndexOf(':');
  if (i < 0) return undefined;
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0 || end + 1 !== i) return undefined;
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return undefined;
  }
  if (hostport.slice(j).includes('[') || hostport.slice(k).includes(']')) return undefined;
  return { host, port: hostport.slice(i + 1) };
}

/** One URL as etcd's NewURLs checks it (after trimming surrounding white space). */
export function parseUrl(input: string): ParsedUrl {
  const raw = input.trim();
  let u: GoUrl;
  try {
    u = goParse(raw);
  } catch (e) {
    if (e instanceof UrlError) throw new UrlError(`parse ${goQuote(raw)}: ${e.message}`);
    throw e;
  }
  if (!SCHEMES.has(u.scheme)) throw new UrlError(`URL scheme must be http, https, unix, or unixs: ${raw}`);
  const hp = splitHostPort(u.host);
  if (hp === undefined) throw new UrlError(`URL address does not have the form "host:port": ${raw}`);
  if (u.path !== '') throw new UrlError(`URL must not contain a path: ${raw}`);
  return {
    href: goString(u),
    scheme: u.scheme as ParsedUrl['scheme'],
    hostname: hp.host,
    port: hp.port,
    host: u.host,
  };
}

/**
 * etcd's types.NewURLs: every URL checked, the list sorted by normalised form (duplicates kept, as
 * etcd keeps them). An empty list is an error.
 */
export function parseUrls(inputs: readonly string[]): ParsedUrl[] {
  if (inputs.length === 0) throw new UrlError('no valid URLs given');
  return inputs.map(parseUrl).sort((a, b) => compareStrings(a.href, b.href));
}

/** The normalised, sorted strings of a URL list (what member JSON and ID hashing use). */
export function normalizeUrls(inputs: readonly string[]): string[] {
  return parseUrls(inputs).map((u) => u.href);
}

/** A comma-separated flag value as etcd's URL flags split it (`""` is one empty URL, an error). */
export function parseUrlsFlag(value: string): string[] {
  return normalizeUrls(value.split(','));
}

/** The text etcd prints (then exits 2) for a bad URL flag, e.g. flag `listen-peer-urls`. */
export function urlFlagErrorMessage(flag: string, value: string, error: UrlError): string {
  return `invalid value ${goQuote(value)} for flag -${flag}: ${error.message}`;
}
