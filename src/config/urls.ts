// URL lists as etcd 3.4 reads them (pkg/types.NewURLs over Go's net/url): the same accept/reject
// decisions and the same error texts, since operators grep for them. Implemented here because no
// shared URL parser exists yet in src/membership; only the parts of net/url that decide these
// inputs are reproduced.

import { isIP } from 'node:net';

export type UrlListResult =
  { readonly ok: true; readonly urls: readonly string[] } | { readonly ok: false; readonly error: string };

interface ParsedUrl {
  readonly scheme: string;
  readonly host: string;
  readonly path: string;
  readonly text: string; // the normalized form etcd would print (scheme lower-cased)
}

const goQuote = (s: string): string => JSON.stringify(s);

// Characters net/url lets through unescaped in a host (RFC 3986 sub-delims, ':' and brackets, plus
// the few Go tolerates for zone identifiers).
function hostCharAllowed(c: string): boolean {
  return /[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"]/.test(c) || c.charCodeAt(0) >= 0x80;
}

function checkEscapes(s: string, inHost: boolean): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
      i += 2;
    } else if (inHost && !hostCharAllowed(c)) {
      return `invalid character ${goQuote(c)} in host name`;
    }
  }
  return undefined;
}

function validOptionalPort(port: string): boolean {
  return port === '' || /^:\d*$/.test(port);
}

/** A subset of Go's url.Parse: enough to reproduce its verdict on listen/advertise URLs. */
function goParseUrl(raw: string): { ok: true; url: ParsedUrl } | { ok: false; error: string } {
  const wrap = (e: string) => ({ ok: false as const, error: `parse ${goQuote(raw)}: ${e}` });
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) return wrap('net/url: invalid control character in URL');
  let rest = raw;
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);

  // Scheme: letters first, then letters/digits/+-. up to ':'; anything else means "no scheme".
  let scheme = '';
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i] ?? '';
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) return wrap('missing protocol scheme');
      scheme = rest.slice(0, i).toLowerCase();
      rest = rest.slice(i + 1);
    }
    break;
  }
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  const original = raw.slice(0, hash >= 0 ? hash : raw.length);
  const text = scheme === '' ? original : scheme + original.slice(scheme.length);

  if (!rest.startsWith('/')) {
    if (scheme !== '') return { ok: true, url: { scheme, host: '', path: '', text } }; // opaque form
    const slash = rest.indexOf('/');
    const first = slash < 0 ? rest : rest.slice(0, slash);
    if (first.includes(':')) return wrap('first path segment in URL cannot contain colon');
  }
  let host = '';
  if (rest.startsWith('//')) {
    const authorityEnd = rest.indexOf('/', 2);
    const authority = authorityEnd < 0 ? rest.slice(2) : rest.slice(2, authorityEnd);
    rest = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
    const at = authority.lastIndexOf('@');
    host = at < 0 ? authority : authority.slice(at + 1);
    if (host.startsWith('[')) {
      const close = host.lastIndexOf(']');
      if (close < 0) return wrap("missing ']' in host");
      const port = host.slice(close + 1);
      if (!validOptionalPort(port)) return wrap(`invalid port ${goQuote(port)} after host`);
    } else {
      const colon = host.lastIndexOf(':');
      if (colon >= 0) {
        const port = host.slice(colon);
        if (!validOptionalPort(port)) return wrap(`invalid port ${goQuote(port)} after host`);
      }
    }
    const hostError = checkEscapes(host, true);
    if (hostError !== undefined) return wrap(hostError);
  }
  const pathError = checkEscapes(rest, false);
  if (pathError !== undefined) return wrap(pathError);
  return { ok: true, url: { scheme, host, path: rest, text } };
}

/** Go's net.SplitHostPort, reduced to what our checks need. */
export function splitHostPort(hostport: string): { host: string; port: string } | undefined {
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0 || hostport[close + 1] !== ':') return undefined;
    const port = hostport.slice(close + 2);
    if (port.includes(':') || port.includes('[') || port.includes(']')) return undefined;
    return { host: hostport.slice(1, close), port };
  }
  const colon = hostport.lastIndexOf(':');
  if (colon < 0) return undefined;
  const host = hostport.slice(0, colon);
  if (host.includes(':') || host.includes('[') || host.includes(']')) return undefined;
  return { host, port: hostport.slice(colon + 1) };
}

function hostOf(url: string): string {
  const m = /^[a-z][a-z0-9+\-.]*:\/\/([^/?#]*)/.exec(url);
  const authority = m?.[1] ?? '';
  return authority.slice(authority.lastIndexOf('@') + 1);
}

/**
 * A comma-separated URL list as types.NewURLs reads it: each item trimmed, parsed, restricted to
 * http/https/unix/unixs with host:port and no path; the result sorted, duplicates dropped (etcd's
 * UniqueURLs flag keeps one of each).
 */
export function parseUrlList(list: string): UrlListResult {
  const out = new Set<string>();
  for (const item of list.split(',')) {
    const input = item.trim();
    const parsed = goParseUrl(input);
    if (!parsed.ok) return parsed;
    const u = parsed.url;
    if (!['http', 'https', 'unix', 'unixs'].includes(u.scheme))
      return { ok: false, error: `URL scheme must be http, https, unix, or unixs: ${input}` };
    if (splitHostPort(u.host) === undefined)
      return { ok: false, error: `URL address does not have the form "host:port": ${input}` };
    if (u.path !== '') return { ok: false, error: `URL must not contain a path: ${input}` };
    out.add(u.text);
  }
  return { ok: true, urls: [...out].sort() };
}

/** Listen URLs must name an IP (or localhost): etcd binds them literally, it never resolves names. */
export function checkBindUrls(urls: readonly string[]): string | undefined {
  for (const url of urls) {
    if (url.startsWith('unix://') || url.startsWith('unixs://')) continue;
    const hp = splitHostPort(hostOf(url));
    if (hp === undefined) return `address ${hostOf(url)}: missing port in address`;
    if (hp.host === 'localhost') continue;
    if (isIP(hp.host) === 0) return `expected IP in URL for binding (${url})`;
  }
  return undefined;
}

/** Advertised URLs must have a non-empty host, since peers and clients will dial them. */
export function checkHostUrls(urls: readonly string[]): string | undefined {
  for (const url of urls) {
    const hp = splitHostPort(hostOf(url));
    if (hp === undefined) return `address ${hostOf(url)}: missing port in address`;
    if (hp.host === '') return `unexpected empty host (${url})`;
  }
  return undefined;
}
