// cairnutl's command tree, as etcdutl 3.5 lays it out.

import { offlineSnapshotCommand } from '../cairnctl/cmd-snapshot.js';
import { backupCommand } from './cmd-backup.js';
import { offlineDefragCommand } from './cmd-defrag.js';
import { inspectCommand } from './cmd-inspect.js';
import { versionCommand } from '../cairnctl/cmd-version.js';
import type { CommandSpec } from '../cairnctl/command.js';
import type { FlagSpec } from '../cairnctl/flags.js';

export const CAIRNUTL_GLOBALS: readonly FlagSpec[] = [
  {
    name: 'write-out',
    short: 'w',
    kind: 'string',
    def: 'simple',
    usage: 'set the output format (fields, json, protobuf, simple, table)',
  },
];

export const CAIRNUTL_ROOT: CommandSpec = {
  name: 'cairnutl',
  short: 'An administrative command line tool for Cairn data files (etcdutl compatible).',
  children: [backupCommand, offlineDefragCommand, inspectCommand, offlineSnapshotCommand, versionCommand],
};
