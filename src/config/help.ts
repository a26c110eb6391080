// `cairn --help` and `cairn --version`. The help is laid out like etcd's (usage, then flags by
// group with their defaults) so etcd users find things where they expect them; the words are ours.

import { FLAG_DEFS, type HelpGroup } from './flags.js';

/** Kept equal to package.json's version (a unit test checks). */
export const CAIRN_VERSION = '0.1.0';
/** The etcd API level cairn implements, reported like etcd's cluster version. */
export const API_VERSION = '3.4';

export const USAGE_TEXT = `Usage:

  cairn [flags]
    Start a cairn server (an etcd-compatible member).

  cairn --version
    Print version information and exit.

  cairn -h | --help
    Print this help and exit.

  cairn --config-file FILE
    Read the server configuration from a YAML file. When a file is given, all other flags and
    ETCD_* environment variables are ignored.

Every flag can also be given as an environment variable: ETCD_ followed by the flag name in upper
case with dashes as underscores (--initial-cluster-state -> ETCD_INITIAL_CLUSTER_STATE). A flag on
the command line and its variable must not both be set.
`;

const GROUP_ORDER: readonly HelpGroup[] = [
  'Member',
  'Clustering',
  'Security',
  'Auth',
  'Profiling and Monitoring',
  'Logging',
  'Experimental',
  'Unsafe',
  'Accepted for etcd compatibility (no effect in cairn)',
];

export function helpText(): string {
  const parts = [USAGE_TEXT];
  for (const group of GROUP_ORDER) {
    parts.push(`\n${group}:\n`);
    for (const d of FLAG_DEFS.filter((f) => f.group === group))
      parts.push(`  --${d.name} '${d.defaultText}'\n    ${d.help}\n`);
  }
  parts.push(
    '\nUnsafe flags can break the guarantees of the consensus protocol: use them only to recover.\n',
  );
  return parts.join('');
}

export function versionText(gitSha: string | undefined): string {
  return [
    `cairn Version: ${CAIRN_VERSION}`,
    `Git SHA: ${gitSha ?? 'Not provided'}`,
    `Node Version: ${process.version}`,
    `Node OS/Arch: ${process.platform}/${process.arch}`,
    `API Version: ${API_VERSION}`,
    '',
  ].join('\n');
}
