// Entry point: argv + environment (or a --config-file) -> a validated ServerConfig, or the help,
// version or error text `cairn` should print, following etcd 3.4's order of decisions.

import { parseArgv, type FlagSet } from './argv.js';
import { loadConfigFile } from './config-file.js';
import { applyEnv } from './env.js';
import { defaultValue } from './flag-values.js';
import { FLAG_DEFS } from './flags.js';
import { helpText, USAGE_TEXT, versionText } from './help.js';
import { resolveConfig } from './resolve.js';
import type { ConfigResult } from './types.js';

export interface ParseOptions {
  /** Commit shown by --version (the launcher may pass it from the build). */
  readonly gitSha?: string;
}

/** etcd's wrapper for configuration errors (exit status 1). */
export function verifyingError(message: string): string {
  return `error verifying flags, ${message}. See 'cairn --help'.`;
}

function freshFlags(): FlagSet {
  return { values: new Map(FLAG_DEFS.map((d) => [d.name, defaultValue(d)])), explicit: new Set() };
}

const error = (message: string, exitCode: number): ConfigResult => ({ kind: 'error', message, exitCode });

export function parseServerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: ParseOptions = {},
): ConfigResult {
  const flags = freshFlags();
  const parsed = parseArgv(argv, flags);
  // Go's flag package prints the reason, then the usage, and etcd exits with 2.
  if (parsed.kind === 'error') return error(`${parsed.message}\n${USAGE_TEXT}`, 2);
  if (parsed.kind === 'help') return { kind: 'help', text: helpText() };
  const warnings = [...parsed.warnings];
  const stray = parsed.rest[0];
  if (stray !== undefined) return error(verifyingError(`'${stray}' is not a valid flag`), 1);
  if (flags.values.get('version') === true) return { kind: 'version', text: versionText(options.gitSha) };

  const flagFile = flags.values.get('config-file');
  const configFile =
    typeof flagFile === 'string' && flagFile !== '' ? flagFile : (env['ETCD_CONFIG_FILE'] ?? '');
  if (configFile !== '') {
    const fileFlags = freshFlags();
    const loaded = loadConfigFile(configFile, fileFlags);
    if (!loaded.ok) return error(loaded.verifying ? verifyingError(loaded.message) : loaded.message, 1);
    warnings.push(...loaded.warnings);
    const ignored = [...flags.explicit].filter((n) => n !== 'config-file');
    if (ignored.length > 0)
      warnings.push(
        `loaded server configuration from ${JSON.stringify(configFile)}; command-line flags ignored: --${ignored.join(', --')}`,
      );
    return finish(resolveConfig(fileFlags, 'config-file', configFile, false), warnings);
  }

  const fromEnv = applyEnv(env, flags);
  warnings.push(...fromEnv.warnings);
  if (!fromEnv.ok) return error(fromEnv.fatal ? fromEnv.message : verifyingError(fromEnv.message), 1);
  // Listening on chosen client URLs without saying what to advertise must not publish localhost.
  const clientAdvertiseUnset =
    flags.explicit.has('listen-client-urls') && !flags.explicit.has('advertise-client-urls');
  const discovery = flags.values.get('discovery') ?? '';
  const srv = flags.values.get('discovery-srv') ?? '';
  const srvName = flags.values.get('discovery-srv-name') ?? '';
  if ((discovery !== '' || srv !== '' || srvName !== '') && !flags.explicit.has('initial-cluster'))
    flags.values.set('initial-cluster', '');
  return finish(resolveConfig(flags, 'flags', '', clientAdvertiseUnset), warnings);
}

function finish(resolution: ReturnType<typeof resolveConfig>, warnings: string[]): ConfigResult {
  if (!resolution.ok) {
    const text = resolution.verifying ? verifyingError(resolution.message) : resolution.message;
    return error(resolution.hint === undefined ? text : `${text}\n${resolution.hint}`, 1);
  }
  return { kind: 'config', config: resolution.config, warnings: [...warnings, ...resolution.warnings] };
}
