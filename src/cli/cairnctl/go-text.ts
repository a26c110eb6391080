// Text renderings that etcdctl gets from Go's standard library and must be reproduced byte for byte:
// strconv.Quote (%q), encoding/json string escaping, time.Duration.String, go-humanize's Bytes,
// and the hex forms etcdctl prints.

/** Decodes one UTF-8 sequence at `i`: [code point, length], or [-1, 1] for an invalid byte (Go's RuneError). */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c0 = b[i];
  if (c0 < 0x80) return [c0, 1];
  const cont = (k: number): number => (i + k < b.length && (b[i + k] & 0xc0) === 0x80 ? b[i + k] & 0x3f : -1);
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    const c1 = cont(1);
    return c1 < 0 ? [-1, 1] : [((c0 & 0x1f) << 6) | c1, 2];
  }
  if (c0 >= 0xe0 && c0 <= 0xef) {
    const c1 = cont(1);
    const c2 = cont(2);
    if (c1 < 0 || c2 < 0) return [-1, 1];
    const r = ((c0 & 0x0f) << 12) | (c1 << 6) | c2;
    if (r < 0x800 || (r >= 0xd800 && r <= 0xdfff)) return [-1, 1];
    return [r, 3];
  }
  if (c0 >= 0xf0 && c0 <= 0xf4) {
    const c1 = cont(1);
    const c2 = cont(2);
    const c3 = cont(3);
    if (c1 < 0 || c2 < 0 || c3 < 0) return [-1, 1];
    const r = ((c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
    if (r < 0x10000 || r > 0x10ffff) return [-1, 1];
    return [r, 4];
  }
  return [-1, 1];
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isPrint(r: number): boolean {
  return r === 0x20 || (r > 0x20 && r !== 0x7f && PRINTABLE.test(String.fromCodePoint(r)));
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** Go's strconv.Quote of a byte string (what `%q` prints). */
export function goQuote(value: Uint8Array | string): string {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '"';
  for (let i = 0; i < b.length;) {
    const [r, w] = decodeRune(b, i);
    if (r < 0) {
      out += `\\x${hex2(b[i])}`;
      i += 1;
      continue;
    }
    i += w;
    if (r === 0x22 || r === 0x5c) out += `\\${String.fromCharCode(r)}`;
    else if (isPrint(r)) out += String.fromCodePoint(r);
    else if (r === 0x07) out += '\\a';
    else if (r === 0x08) out += '\\b';
    else if (r === 0x0c) out += '\\f';
    else if (r === 0x0a) out += '\\n';
    else if (r === 0x0d) out += '\\r';
    else if (r === 0x09) out += '\\t';
    else if (r === 0x0b) out += '\\v';
    else if (r < 0x20 || r === 0x7f) out += `\\x${hex2(r)}`;
    else if (r < 0x10000) out += `\\u${r.toString(16).padStart(4, '0')}`;
    else out += `\\U${r.toString(16).padStart(8, '0')}`;
  }
  return out + '"';
}

/** Go's encoding/json string literal (HTML-safe escaping, as json.Marshal does). */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const r = ch.codePointAt(0) ?? 0;
    if (r === 0x22) out += '\\"';
    else if (r === 0x5c) out += '\\\\';
    else if (r === 0x0a) out += '\\n';
    else if (r === 0x0d) out += '\\r';
    else if (r === 0x09) out += '\\t';
    else if (r < 0x20 || r === 0x3c || r === 0x3e || r === 0x26) out += `\\u00${hex2(r)}`;
    else if (r === 0x2028 || r === 0x2029) out += `\\u${r.toString(16)}`;
    else if (r >= 0xd800 && r <= 0xdfff)
      out += '\\ufffd'; // lone surrogate: not valid UTF-8
    else out += ch;
  }
  return out + '"';
}

/** Go's time.Duration.String for a non-negative number of nanoseconds. */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const frac = (value: bigint, unit: bigint): string => {
    const whole = value / unit;
    const rest = value % unit;
    if (rest === 0n) return whole.toString();
    const digits = unit.toString().length - 1;
    return `${whole}.${rest.toString().padStart(digits, '0').replace(/0+$/, '')}`;
  };
  if (ns < 1000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${frac(ns, 1000n)}µs`;
  if (ns < 1_000_000_000n) return `${frac(ns, 1_000_000n)}ms`;
  const hours = ns / 3_600_000_000_000n;
  const minutes = (ns / 60_000_000_000n) % 60n;
  const seconds = ns % 60_000_000_000n;
  let out = `${frac(seconds, 1_000_000_000n)}s`;
  if (hours > 0n || minutes > 0n) out = `${minutes}m${out}`;
  if (hours > 0n) out = `${hours}h${out}`;
  return out;
}

/** Rounds like Go's %.0f: to nearest, ties to even (exact ties only occur at .5 here). */
function goRound0(v: number): string {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff === 0.5) return String(floor % 2 === 0 ? floor : floor + 1);
  return String(Math.round(v));
}

/** go-humanize's Bytes: SI units, e.g. `25 kB`, `1.2 MB`. */
export function humanizeBytes(size: bigint): string {
  if (size < 10n) return `${size} B`;
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const s = Number(size);
  const e = Math.floor(Math.log(s) / Math.log(1000));
  const val = Math.floor((s / Math.pow(1000, e)) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${sizes[e]}` : `${goRound0(val)} ${sizes[e]}`;
}

/** `%016x` of a 64-bit value (lease IDs print as signed int64 in Go, but are never negative in practice). */
export function hex16(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, '0');
}

/** `%16x`: space-padded to 16 characters (member add/remove/update/promote messages). */
export function hexPadded(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, ' ');
}

/** `%x` */
export function hex(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16);
}

/** etcdctl's --hex rendering of bytes: `\x66\x6f\x6f`. */
export function hexEscaped(b: Uint8Array): string {
  let out = '';
  for (const byte of b) out += `\\x${hex2(byte)}`;
  return out;
}

/** ISO-8601 local time with milliseconds and zone, as zap's ISO8601TimeEncoder writes it. */
export function zapTimestamp(d: Date): string {
  const offset = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offset * 60_000);
  const base = local.toISOString().slice(0, 23);
  if (offset === 0) return `${base}Z`;
  const sign = offset > 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${base}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}

/** capnslog's timestamp: `2006-01-02 15:04:05.000000` in local time. */
export function capnslogTimestamp(d: Date): string {
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  const iso = local.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}
