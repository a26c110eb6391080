// etcdctl's global flags and their ETCDCTL_* environment variables (pkg/flags semantics: a variable sets
// a flag not given on the command line; one shadowed by a given flag is fatal; unknown ETCDCTL_* warn).

import { capnslogTimestamp } from './go-text.js';
import { ExitCode, ExitError } from './exit.js';
import type { FlagSet, FlagSpec } from './flags.js';
import type { Output } from './output.js';

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'endpoints', kind: 'stringSlice', def: '127.0.0.1:2379', usage: 'gRPC endpoints' },
  { name: 'debug', kind: 'bool', def: 'false', usage: 'enable client-side debug logging' },
  {
    name: 'write-out',
    short: 'w',
    kind: 'string',
    def: 'simple',
    usage: 'set the output format (fields, json, protobuf, simple, table)',
  },
  { name: 'hex', kind: 'bool', def: 'false', usage: 'print byte strings as hex encoded strings' },
  { name: 'dial-timeout', kind: 'duration', def: '2s', usage: 'dial timeout for client connections' },
  {
    name: 'command-timeout',
    kind: 'duration',
    def: '5s',
    usage: 'timeout for short running command (excluding dial timeout)',
  },
  { name: 'keepalive-time', kind: 'duration', def: '2s', usage: 'keepalive time for client connections' },
  {
    name: 'keepalive-timeout',
    kind: 'duration',
    def: '6s',
    usage: 'keepalive timeout for client connections',
  },
  {
    name: 'insecure-transport',
    kind: 'bool',
    def: 'true',
    usage: 'disable transport security for client connections',
  },
  {
    name: 'insecure-discovery',
    kind: 'bool',
    def: 'true',
    usage: 'accept insecure SRV records describing cluster endpoints',
  },
  {
    name: 'insecure-skip-tls-verify',
    kind: 'bool',
    def: 'false',
    usage: 'skip server certificate verification',
  },
  { name: 'cert', kind: 'string', def: '', usage: 'identify secure client using this TLS certificate file' },
  { name: 'key', kind: 'string', def: '', usage: 'identify secure client using this TLS key file' },
  {
    name: 'cacert',
    kind: 'string',
    def: '',
    usage: 'verify certificates of TLS-enabled secure servers using this CA bundle',
  },
  {
    name: 'user',
    kind: 'string',
    def: '',
    usage: 'username[:password] for authentication (prompt if password is not supplied)',
  },
  {
    name: 'password',
    kind: 'string',
    def: '',
    usage: "password for authentication (if this option is used, --user option shouldn't include password)",
  },
  {
    name: 'discovery-srv',
    short: 'd',
    kind: 'string',
    def: '',
    usage: 'domain name to query for SRV records describing cluster endpoints',
  },
  {
    name: 'discovery-srv-name',
    kind: 'string',
    def: '',
    usage: 'service name to query when using DNS discovery',
  },
];

export function envKey(flagName: string): string {
  return `ETCDCTL_${flagName.replace(/-/g, '_').toUpperCase()}`;
}

/**
 * Applies ETCDCTL_* variables to the global flags. `extraNames` are accepted silently (watch's
 * ETCDCTL_WATCH_KEY / ETCDCTL_WATCH_RANGE_END). Values that do not parse are ignored, as etcdctl does.
 */
export function applyEnv(
  flags: FlagSet,
  env: NodeJS.ProcessEnv,
  o: Output,
  extraNames: readonly string[] = [],
): void {
  const used = new Set<string>();
  const alreadySet = new Set<string>();
  for (const spec of GLOBAL_FLAGS) {
    const key = envKey(spec.name);
    if (flags.isChanged(spec.name)) {
      alreadySet.add(key);
      continue;
    }
    const value = env[key];
    if (value !== undefined && value !== '') {
      used.add(key);
      try {
        flags.set(spec.name, value);
      } catch {
        // pkg/flags returns the error and etcdctl drops it: the default stays.
      }
    }
  }
  for (const name of extraNames) {
    const key = envKey(name);
    if (env[key] !== undefined && env[key] !== '') used.add(key);
  }
  for (const [key, value] of Object.entries(env)) {
    if (used.has(key)) continue;
    if (alreadySet.has(key)) {
      o.err(
        `${capnslogTimestamp(new Date())} C | pkg/flags: conflicting environment variable ${JSON.stringify(key)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)\n`,
      );
      throw new ExitError(ExitCode.Error, undefined);
    }
    if (key.startsWith('ETCDCTL_')) {
      o.err(
        `${capnslogTimestamp(new Date())} W | pkg/flags: unrecognized environment variable ${key}=${value ?? ''}\n`,
      );
    }
  }
}
