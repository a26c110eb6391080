// Command-line parsing with the rules of Go's `flag` package, which etcd uses.
//
// Why not commander (our CLI library elsewhere): etcd users write `-name x` as often as `--name x`,
// Go stops at the first non-flag argument, a non-boolean flag takes the next argument even when it
// starts with '-', booleans take a value only as `-flag=false`, and a repeated flag silently wins.
// commander treats single-dash words as short-option clusters and has none of the other rules, so
// reproducing etcd's behaviour (and its error texts) is simpler with this small parser.

import type { FlagValue } from './flag-values.js';
import { convertFlagText } from './flag-values.js';
import { FLAGS_BY_NAME } from './flags.js';

/** Flag values by name; `explicit` holds the names set by a command-line flag or variable. */
export interface FlagSet {
  readonly values: Map<string, FlagValue>;
  readonly explicit: Set<string>;
}

export type ArgvOutcome =
  | { readonly kind: 'parsed'; readonly rest: readonly string[]; readonly warnings: readonly string[] }
  | { readonly kind: 'help' }
  // The line Go's flag package prints before the usage text; etcd then exits with status 2.
  | { readonly kind: 'error'; readonly message: string };

/** etcd's warning when a flag from etcd 2 is given. */
export function ignoredFlagWarning(name: string): string {
  return `flag "-${name}" is no longer supported - ignoring.`;
}

export function parseArgv(argv: readonly string[], flags: FlagSet): ArgvOutcome {
  const warnings: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] ?? '';
    if (arg.length < 2 || arg[0] !== '-') break;
    i++;
    let dashes = 1;
    if (arg[1] === '-') {
      dashes = 2;
      if (arg.length === 2) break; // "--" ends the flags
    }
    let name = arg.slice(dashes);
    if (name === '' || name[0] === '-' || name[0] === '=')
      return { kind: 'error', message: `bad flag syntax: ${arg}` };
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const def = FLAGS_BY_NAME.get(name);
    if (def === undefined) {
      if (name === 'help' || name === 'h') return { kind: 'help' };
      return { kind: 'error', message: `flag provided but not defined: -${name}` };
    }
    const isBool = def.kind.type === 'bool' || def.kind.type === 'ignored';
    if (isBool) {
      const converted = convertFlagText(def, value ?? 'true');
      if (!converted.ok)
        return {
          kind: 'error',
          message: `invalid boolean value ${JSON.stringify(value)} for -${name}: ${converted.error}`,
        };
      if (def.kind.type === 'ignored') warnings.push(ignoredFlagWarning(name));
      else if (converted.value !== undefined) flags.values.set(name, converted.value);
    } else {
      if (value === undefined) {
        if (i >= argv.length) return { kind: 'error', message: `flag needs an argument: -${name}` };
        value = argv[i] ?? '';
        i++;
      }
      const converted = convertFlagText(def, value);
      if (!converted.ok)
        return {
          kind: 'error',
          message: `invalid value ${JSON.stringify(value)} for flag -${name}: ${converted.error}`,
        };
      if (converted.value !== undefined) flags.values.set(name, converted.value);
    }
    flags.explicit.add(name);
  }
  return { kind: 'parsed', rest: argv.slice(i), warnings };
}
