// --config-file: etcd's YAML layout (etcd.conf.yml.sample). Keys are the flag names; URL lists are
// comma-separated strings; TLS settings sit under client-transport-security / peer-transport-security.
// As in etcd 3.4, a config file replaces flags and ETCD_* variables entirely.
//
// etcd decodes YAML into a Go struct through JSON, so durations must be integer nanoseconds and
// retention must be a string there; we also accept Go duration strings and numeric retention,
// which etcd rejects, because being stricter than necessary only breaks hand-written files.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { FlagSet } from './argv.js';
import { convertFlagText, DEFAULT_INITIAL_CLUSTER, type FlagValue } from './flag-values.js';
import { FLAGS_BY_NAME, type FlagDef } from './flags.js';

export type FileOutcome =
  | { readonly ok: true; readonly warnings: readonly string[] }
  // `verifying`: etcd wraps the text as "error verifying flags, ..."; otherwise it is printed bare.
  | { readonly ok: false; readonly verifying: boolean; readonly message: string };

// Flags that are not top-level keys in etcd's YAML struct (TLS lives in the nested sections).
const NOT_TOP_LEVEL = new Set([
  'config-file',
  'version',
  'cert-file',
  'key-file',
  'client-cert-auth',
  'client-crl-file',
  'client-cert-allowed-hostname',
  'trusted-ca-file',
  'auto-tls',
  'peer-cert-file',
  'peer-key-file',
  'peer-client-cert-auth',
  'peer-trusted-ca-file',
  'peer-cert-allowed-cn',
  'peer-cert-allowed-hostname',
  'peer-auto-tls',
  'peer-crl-file',
  'experimental-peer-skip-client-san-verification',
]);

const SECURITY_KEYS: ReadonlyMap<string, string> = new Map([
  ['cert-file', 'cert-file'],
  ['key-file', 'key-file'],
  ['client-cert-auth', 'client-cert-auth'],
  ['trusted-ca-file', 'trusted-ca-file'],
  ['auto-tls', 'auto-tls'],
]);

// Go's encoding/json names the offending value's JSON type; for numbers aimed at integer fields it
// adds the literal ("number -5").
function jsonTypeOf(v: unknown, goType: string): string {
  if (typeof v === 'number') return /^u?int/.test(goType) ? `number ${v}` : 'number';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

const typeError = (field: string, v: unknown, goType: string): string =>
  'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ' +
  `${jsonTypeOf(v, goType)} into Go struct field configYAML.${field} of type ${goType}`;

type Converted =
  { ok: true; value: FlagValue | undefined } | { ok: false; message: string; verifying: boolean };

function convertYamlValue(def: FlagDef, field: string, v: unknown): Converted {
  const bad = (): Converted => ({ ok: false, verifying: true, message: typeError(field, v, def.goType) });
  switch (def.kind.type) {
    case 'string':
    case 'choice':
      if (typeof v === 'number' && def.name === 'auto-compaction-retention')
        return { ok: true, value: String(v) };
      return typeof v === 'string' ? { ok: true, value: v } : bad();
    case 'bool':
      return typeof v === 'boolean' ? { ok: true, value: v } : bad();
    case 'uint':
    case 'int': {
      if (typeof v !== 'number' || !Number.isInteger(v)) return bad();
      const big = BigInt(v);
      const bits = BigInt(def.kind.bits);
      const inRange =
        def.kind.type === 'uint'
          ? big >= 0n && big < 1n << bits
          : big >= -(1n << (bits - 1n)) && big < 1n << (bits - 1n);
      return inRange ? { ok: true, value: big } : bad();
    }
    case 'duration': {
      if (typeof v === 'number' && Number.isInteger(v)) return { ok: true, value: BigInt(v) };
      if (typeof v === 'string') {
        const r = convertFlagText(def, v);
        return r.ok ? { ok: true, value: r.value } : bad();
      }
      return bad();
    }
    case 'urls': {
      if (typeof v !== 'string') return bad();
      if (v === '') return { ok: true, value: undefined };
      const r = convertFlagText(def, v);
      if (r.ok) return { ok: true, value: r.value };
      return { ok: false, verifying: false, message: `unexpected error setting up ${def.name}: ${r.error}` };
    }
    case 'strings':
      if (typeof v === 'string') return convertFlagText(def, v) as Converted;
      if (Array.isArray(v) && v.every((x): x is string => typeof x === 'string'))
        return { ok: true, value: v };
      return bad();
    case 'ignored':
      return { ok: true, value: undefined };
  }
}

export function loadConfigFile(path: string, flags: FlagSet): FileOutcome {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : String(e);
    return { ok: false, verifying: true, message: `open ${path}: ${reason}` };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { ok: false, verifying: true, message: `error converting YAML to JSON: yaml: ${reason}` };
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    return {
      ok: false,
      verifying: true,
      message:
        'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ' +
        `${jsonTypeOf(doc, '')} into Go value of type embed.configYAML`,
    };
  const warnings: string[] = [];
  const set = (name: string, field: string, v: unknown): FileOutcome | undefined => {
    const def = FLAGS_BY_NAME.get(name);
    if (def === undefined) return undefined;
    if (v === null) return undefined; // JSON null leaves a Go field untouched
    const r = convertYamlValue(def, field, v);
    if (!r.ok) return { ok: false, verifying: r.verifying, message: r.message };
    if (r.value !== undefined) flags.values.set(name, r.value);
    flags.explicit.add(name);
    return undefined;
  };
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === 'client-transport-security' || key === 'peer-transport-security') {
      if (value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value))
        return { ok: false, verifying: true, message: typeError(key, value, 'embed.securityConfig') };
      const prefix = key === 'peer-transport-security' ? 'peer-' : '';
      for (const [sub, subValue] of Object.entries(value as Record<string, unknown>)) {
        const flag = SECURITY_KEYS.get(sub);
        if (flag === undefined) {
          warnings.push(
            `unrecognized configuration key ${JSON.stringify(`${key}.${sub}`)} in ${path} (ignored)`,
          );
          continue;
        }
        const failed = set(prefix + flag, `${key}.${sub}`, subValue);
        if (failed !== undefined) return failed;
      }
      continue;
    }
    const def = FLAGS_BY_NAME.get(key);
    if (def === undefined || NOT_TOP_LEVEL.has(key) || def.kind.type === 'ignored') {
      warnings.push(`unrecognized configuration key ${JSON.stringify(key)} in ${path} (ignored)`);
      continue;
    }
    const failed = set(key, key, value);
    if (failed !== undefined) return failed;
  }
  // A discovery setting replaces the default bootstrap cluster, as with flags.
  const discovery = flags.values.get('discovery') ?? '';
  const srv = flags.values.get('discovery-srv') ?? '';
  if ((discovery !== '' || srv !== '') && flags.values.get('initial-cluster') === DEFAULT_INITIAL_CLUSTER)
    flags.values.set('initial-cluster', '');
  if (flags.values.get('initial-cluster-state') === '') flags.values.set('initial-cluster-state', 'new');
  return { ok: true, warnings };
}
