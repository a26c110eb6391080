// Command-line flags with the semantics of spf13/pflag, which etcdctl uses: flags and arguments may be
// interleaved, `--` ends the flags, booleans take an optional `=value`, integers accept Go's base
// prefixes, durations use Go's syntax, and the error texts are pflag's. (commander's option model differs
// on each of these points, and etcdctl's exact error messages are part of its interface.)

export type FlagKind = 'bool' | 'string' | 'int64' | 'duration' | 'stringSlice';

export interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  readonly kind: FlagKind;
  /** The default in its textual form. */
  readonly def: string;
  readonly usage: string;
}

export class FlagError extends Error {}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.ParseInt(s, 0, 64) */
export function parseGoInt(s: string, fn = 'ParseInt'): bigint {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*)$/.exec(s);
  if (m === null || /(^|[^0-9a-fA-F])_|_$|__/.test(m[2].replace(/^0[xXbBoO]/, '0'))) {
    throw new FlagError(`strconv.${fn}: parsing ${JSON.stringify(s)}: invalid syntax`);
  }
  let body = m[2].replace(/_/g, '');
  if (/^0[0-7]/.test(body)) body = `0o${body.slice(1)}`;
  const v = BigInt(body) * (m[1] === '-' ? -1n : 1n);
  if (v < INT64_MIN || v > INT64_MAX) {
    throw new FlagError(`strconv.${fn}: parsing ${JSON.stringify(s)}: value out of range`);
  }
  return v;
}

/** strconv.ParseInt(s, base, 64) for an explicit base (10 or 16), as etcdctl parses IDs and TTLs. */
export function parseIntBase(s: string, base: 10 | 16): bigint {
  const digits = base === 16 ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/;
  const m = /^([+-]?)(.*)$/.exec(s);
  const body = m?.[2] ?? '';
  if (!digits.test(body))
    throw new FlagError(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(base === 16 ? `0x${body}` : body) * (m?.[1] === '-' ? -1n : 1n);
  if (v < INT64_MIN || v > INT64_MAX) {
    throw new FlagError(`strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`);
  }
  return v;
}

/** strconv.ParseUint(s, 16, 64) (member IDs). */
export function parseUintHex(s: string): bigint {
  if (!/^[0-9a-fA-F]+$/.test(s))
    throw new FlagError(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(`0x${s}`);
  if (v > 2n ** 64n - 1n)
    throw new FlagError(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return v;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** time.ParseDuration, in milliseconds. */
export function parseGoDuration(s: string): number {
  const invalid = (): FlagError => new FlagError(`time: invalid duration ${JSON.stringify(s)}`);
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0;
  while (rest !== '') {
    const m = /^([0-9]*(?:\.[0-9]*)?)([^0-9.]+)/.exec(rest);
    if (m === null || m[1] === '' || m[1] === '.') throw invalid();
    const unit = DURATION_UNITS[m[2]];
    if (unit === undefined)
      throw new FlagError(`time: unknown unit ${JSON.stringify(m[2])} in duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * unit;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

const BOOL_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function parseGoBool(s: string): boolean {
  if (BOOL_TRUE.has(s)) return true;
  if (BOOL_FALSE.has(s)) return false;
  throw new FlagError(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

export class FlagSet {
  private readonly specs = new Map<string, FlagSpec>();
  private readonly shorts = new Map<string, FlagSpec>();
  private readonly values = new Map<string, string>();
  private readonly changed = new Set<string>();

  constructor(specs: readonly FlagSpec[]) {
    for (const spec of specs) {
      this.specs.set(spec.name, spec);
      if (spec.short !== undefined) this.shorts.set(spec.short, spec);
      this.values.set(spec.name, spec.def);
    }
  }

  has(name: string): boolean {
    return this.specs.has(name);
  }

  isChanged(name: string): boolean {
    return this.changed.has(name);
  }

  all(): readonly FlagSpec[] {
    return [...this.specs.values()];
  }

  /** Sets a flag from text, validating it as pflag's Value.Set would (the error text is the bare cause). */
  set(name: string, value: string): void {
    const spec = this.specs.get(name);
    if (spec === undefined) throw new FlagError(`no such flag -${name}`);
    switch (spec.kind) {
      case 'bool':
        parseGoBool(value);
        break;
      case 'int64':
        parseGoInt(value);
        break;
      case 'duration':
        parseGoDuration(value);
        break;
      case 'stringSlice':
        // pflag: the first Set replaces the default, later ones append.
        if (this.changed.has(name)) value = `${this.values.get(name) ?? ''},${value}`;
        break;
      case 'string':
        break;
    }
    this.values.set(name, value);
    this.changed.add(name);
  }

  private raw(name: string): string {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`flag accessed but not defined: ${name}`);
    return v;
  }

  bool(name: string): boolean {
    return parseGoBool(this.raw(name));
  }

  string(name: string): string {
    return this.raw(name);
  }

  int64(name: string): bigint {
    return parseGoInt(this.raw(name));
  }

  /** Milliseconds. */
  duration(name: string): number {
    return parseGoDuration(this.raw(name));
  }

  stringSlice(name: string): string[] {
    const v = this.raw(name);
    return v === '' ? [] : v.split(',');
  }

  /** Parses argv (flags interleaved with arguments); returns the positional arguments. */
  parse(args: readonly string[]): string[] {
    const positional: string[] = [];
    const rest = [...args];
    while (rest.length > 0) {
      const s = rest.shift() as string;
      if (s.length < 2 || s[0] !== '-') {
        positional.push(s);
        continue;
      }
      if (s === '--') {
        positional.push(...rest);
        break;
      }
      if (s.startsWith('--')) this.parseLong(s, rest);
      else this.parseShort(s, rest);
    }
    return positional;
  }

  private apply(spec: FlagSpec, value: string): void {
    try {
      this.set(spec.name, value);
    } catch (e) {
      const flagName = spec.short !== undefined ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
      const cause = e instanceof Error ? e.message : String(e);
      throw new FlagError(
        `invalid argument ${JSON.stringify(value)} for ${JSON.stringify(flagName)} flag: ${cause}`,
      );
    }
  }

  private parseLong(s: string, rest: string[]): void {
    const body = s.slice(2);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === '' || name[0] === '-' || name[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
    const spec = this.specs.get(name);
    if (spec === undefined) {
      if (name === 'help') throw new HelpRequested();
      throw new FlagError(`unknown flag: --${name}`);
    }
    if (eq >= 0) this.apply(spec, body.slice(eq + 1));
    else if (spec.kind === 'bool') this.apply(spec, 'true');
    else if (rest.length > 0) this.apply(spec, rest.shift() as string);
    else throw new FlagError(`flag needs an argument: ${s}`);
  }

  private parseShort(s: string, rest: string[]): void {
    let shorthands = s.slice(1);
    while (shorthands.length > 0) {
      const c = shorthands[0];
      const spec = this.shorts.get(c);
      if (spec === undefined) {
        if (c === 'h') throw new HelpRequested();
        throw new FlagError(`unknown shorthand flag: '${c}' in -${shorthands}`);
      }
      if (shorthands.length > 1 && shorthands[1] === '=') {
        this.apply(spec, shorthands.slice(2));
        return;
      }
      if (spec.kind === 'bool') {
        this.apply(spec, 'true');
        shorthands = shorthands.slice(1);
        continue;
      }
      if (shorthands.length > 1) {
        this.apply(spec, shorthands.slice(1));
        return;
      }
      if (rest.length > 0) {
        this.apply(spec, rest.shift() as string);
        return;
      }
      throw new FlagError(`flag needs an argument: '${c}' in -${shorthands}`);
    }
  }
}

/** `-h` / `--help` was given. */
export class HelpRequested extends Error {}
