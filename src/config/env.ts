// ETCD_* environment variables, applied the way etcd 3.4's pkg/flags does it: each flag not given
// on the command line takes its variable's value when non-empty; a variable whose flag was also
// given on the command line is fatal (etcd refuses to guess which one was meant); any other ETCD_*
// variable only draws a warning.

import { ignoredFlagWarning, type FlagSet } from './argv.js';
import { convertFlagText } from './flag-values.js';
import { FLAG_DEFS, flagToEnv } from './flags.js';

export type EnvOutcome =
  | { readonly ok: true; readonly warnings: readonly string[] }
  // `fatal` errors are printed bare; the others are wrapped as "error verifying flags, ...".
  | {
      readonly ok: false;
      readonly fatal: boolean;
      readonly message: string;
      readonly warnings: readonly string[];
    };

export function shadowedEnvMessage(key: string): string {
  return (
    `conflicting environment variable ${JSON.stringify(key)} is shadowed by corresponding command-line flag ` +
    '(either unset environment variable or disable flag)'
  );
}

export function applyEnv(env: Readonly<Record<string, string | undefined>>, flags: FlagSet): EnvOutcome {
  const onCommandLine = new Set([...flags.explicit].map(flagToEnv));
  const used = new Set<string>();
  const warnings: string[] = [];
  let error: string | undefined;
  // Go visits flags in name order; the last bad value is the one reported.
  for (const def of [...FLAG_DEFS].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const key = flagToEnv(def.name);
    if (onCommandLine.has(key)) continue;
    const text = env[key];
    if (text === undefined || text === '') continue;
    used.add(key);
    const converted = convertFlagText(def, text);
    if (!converted.ok) {
      error = `invalid value ${JSON.stringify(text)} for ${key}: ${converted.error}`;
      continue;
    }
    if (def.kind.type === 'ignored') warnings.push(ignoredFlagWarning(def.name));
    else if (converted.value !== undefined) flags.values.set(def.name, converted.value);
    flags.explicit.add(def.name);
  }
  // Sorted so the warnings do not depend on how the process environment happened to be ordered.
  for (const key of Object.keys(env).sort()) {
    const value = env[key];
    if (value === undefined || used.has(key)) continue;
    if (onCommandLine.has(key)) return { ok: false, fatal: true, message: shadowedEnvMessage(key), warnings };
    if (key.startsWith('ETCD_')) warnings.push(`unrecognized environment variable ${key}=${value}`);
  }
  if (error !== undefined) return { ok: false, fatal: false, message: error, warnings };
  return { ok: true, warnings };
}
