// Parsers for flag values written the way Go's `flag`/`strconv`/`time` packages accept them, so a
// command line that etcd 3.4 accepts means the same thing to cairn, and one it rejects fails with
// the same reason ("parse error", "value out of range", Go's duration messages).

export type ValueResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): ValueResult<T> => ({ ok: true, value });
const fail = <T>(error: string): ValueResult<T> => ({ ok: false, error });

// Go's flag package reduces every strconv failure to one of these two words.
export const PARSE_ERROR = 'parse error';
export const RANGE_ERROR = 'value out of range';

/** strconv.ParseBool: the twelve spellings Go accepts. */
export function parseGoBool(text: string): ValueResult<boolean> {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return ok(true);
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return ok(false);
  return fail(PARSE_ERROR);
}

// Base-0 integer syntax (strconv.ParseInt(s, 0, n)): 0x/0o/0b prefixes, a bare leading 0 for octal,
// and underscores only between digits when a prefix or leading 0 is present.
function parseBase0Magnitude(text: string): bigint | undefined {
  if (text === '') return undefined;
  let base = 10;
  let digits = text;
  let prefixed = false;
  if (text.length > 1 && text[0] === '0') {
    const p = text[1]?.toLowerCase();
    if (p === 'x' || p === 'o' || p === 'b') {
      base = p === 'x' ? 16 : p === 'o' ? 8 : 2;
      digits = text.slice(2);
    } else {
      base = 8;
      digits = text.slice(1);
    }
    prefixed = true;
  }
  if (digits.includes('_')) {
    // Go: underscores only in prefixed literals, each one between digits (the prefix counts as one).
    if (!prefixed || !/^(_?[0-9a-zA-Z])+$/.test(digits)) return undefined;
    digits = digits.replaceAll('_', '');
  }
  if (digits === '') return undefined;
  const alphabet = '0123456789abcdef'.slice(0, base);
  let value = 0n;
  for (const ch of digits.toLowerCase()) {
    const d = alphabet.indexOf(ch);
    if (d < 0) return undefined;
    value = value * BigInt(base) + BigInt(d);
  }
  return value;
}

/** strconv.ParseUint(s, 0, bits) as used by flag.Uint/Uint64 (no sign allowed). */
export function parseGoUint(text: string, bits: 32 | 64): ValueResult<bigint> {
  const v = parseBase0Magnitude(text);
  if (v === undefined) return fail(PARSE_ERROR);
  if (v >= 1n << BigInt(bits)) return fail(RANGE_ERROR);
  return ok(v);
}

/** strconv.ParseInt(s, 0, bits) as used by flag.Int/Int64 (optional + or - sign). */
export function parseGoInt(text: string, bits: 32 | 64): ValueResult<bigint> {
  const negative = text.startsWith('-');
  const body = text.startsWith('-') || text.startsWith('+') ? text.slice(1) : text;
  const v = parseBase0Magnitude(body);
  if (v === undefined) return fail(PARSE_ERROR);
  const limit = 1n << BigInt(bits - 1);
  if (negative ? v > limit : v >= limit) return fail(RANGE_ERROR);
  return ok(negative ? -v : v);
}

const UNIT_NANOS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n], // U+00B5 micro sign
  ['μs', 1_000n], // U+03BC Greek mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);
const MAX_INT64 = (1n << 63n) - 1n;

/**
 * time.ParseDuration, returning nanoseconds. Errors carry Go's text (`time: invalid duration "x"`,
 * `time: missing unit in duration "1"`, `time: unknown unit "x" in duration "1x"`), which etcd
 * shows verbatim for --auto-compaction-retention.
 */
export function parseGoDuration(text: string): ValueResult<bigint> {
  const quoted = JSON.stringify(text);
  const invalid = fail<bigint>(`time: invalid duration ${quoted}`);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return ok(0n);
  if (s === '') return invalid;
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = m?.[1] ?? '';
    const frac = m?.[2];
    if (whole === '' && (frac === undefined || frac === '')) return invalid;
    s = s.slice(m?.[0].length ?? 0);
    const unitMatch = /^[^0-9.]*/.exec(s);
    const unit = unitMatch?.[0] ?? '';
    if (unit === '') return fail(`time: missing unit in duration ${quoted}`);
    const scale = UNIT_NANOS.get(unit);
    if (scale === undefined) return fail(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    s = s.slice(unit.length);
    let part = BigInt(whole === '' ? '0' : whole) * scale;
    if (frac !== undefined && frac !== '') {
      // Go truncates the fractional part toward zero at nanosecond precision.
      part += (BigInt(frac) * scale) / 10n ** BigInt(frac.length);
    }
    total += part;
    if (total > MAX_INT64 + (negative ? 1n : 0n)) return invalid;
  }
  return ok(negative ? -total : total);
}

/** Nanoseconds to (possibly fractional) milliseconds, the unit of every duration in ServerConfig. */
export function nanosToMs(nanos: bigint): number {
  return Number(nanos) / 1e6;
}

/** Go's time.Duration.String() for the durations we print in messages (whole units suffice). */
export function formatGoDuration(nanos: bigint): string {
  if (nanos === 0n) return '0s';
  const sign = nanos < 0n ? '-' : '';
  let n = nanos < 0n ? -nanos : nanos;
  if (n < 1_000_000_000n) {
    if (n < 1_000n) return `${sign}${n}ns`;
    if (n < 1_000_000n) return `${sign}${trimFraction(n, 1_000n)}µs`;
    return `${sign}${trimFraction(n, 1_000_000n)}ms`;
  }
  let out = '';
  const h = n / 3_600_000_000_000n;
  n -= h * 3_600_000_000_000n;
  const m = n / 60_000_000_000n;
  n -= m * 60_000_000_000n;
  if (h > 0n) out += `${h}h`;
  if (h > 0n || m > 0n) out += `${m}m`;
  out += `${trimFraction(n, 1_000_000_000n)}s`;
  return sign + out;
}

function trimFraction(n: bigint, unit: bigint): string {
  const whole = n / unit;
  const rest = n % unit;
  if (rest === 0n) return `${whole}`;
  const width = unit.toString().length - 1;
  return `${whole}.${rest.toString().padStart(width, '0').replace(/0+$/, '')}`;
}
