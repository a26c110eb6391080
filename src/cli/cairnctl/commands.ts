// The command tree, as etcdctl 3.4 lays it out.

import { authCommand } from './cmd-auth.js';
import { delCommand, getCommand, putCommand } from './cmd-kv.js';
import { endpointCommand } from './cmd-endpoint.js';
import { leaseCommand } from './cmd-lease.js';
import { alarmCommand, compactionCommand, defragCommand, moveLeaderCommand } from './cmd-maintenance.js';
import { memberCommand } from './cmd-member.js';
import { roleCommand } from './cmd-role.js';
import { snapshotCommand } from './cmd-snapshot.js';
import { txnCommand } from './cmd-txn.js';
import { userCommand } from './cmd-user.js';
import { versionCommand } from './cmd-version.js';
import { watchCommand } from './cmd-watch.js';
import type { CommandSpec } from './command.js';
import { ExitCode, fail } from './exit.js';

/** etcdctl commands cairnctl does not implement yet: they exist so the error says so plainly. */
function notYet(name: string): CommandSpec {
  return {
    name,
    short: `(not implemented in cairnctl yet)`,
    run: async () => fail(ExitCode.BadFeature, `${name} is not implemented by cairnctl yet`),
  };
}

export const ROOT: CommandSpec = {
  name: 'cairnctl',
  short: 'A simple command line client for Cairn (etcdctl 3.4 compatible).',
  children: [
    getCommand,
    putCommand,
    delCommand,
    txnCommand,
    compactionCommand,
    alarmCommand,
    defragCommand,
    endpointCommand,
    moveLeaderCommand,
    watchCommand,
    versionCommand,
    leaseCommand,
    memberCommand,
    snapshotCommand,
    notYet('make-mirror'),
    notYet('migrate'),
    notYet('lock'),
    notYet('elect'),
    authCommand,
    userCommand,
    roleCommand,
    notYet('check'),
  ],
};
