// `cairnutl backup`: etcdutl 3.5's backup (the v2 API's `etcdctl backup`), a copy of a stopped member's
// data dir under a new member and cluster ID, to start with --force-new-cluster. See server/backup.ts.
// Progress goes to stderr in etcdutl's log format (zap console: time, level, message, fields); stdout
// stays empty, as etcdutl's.

import { BackupError, backupDataDir } from '../../server/backup.js';
import type { CommandSpec } from '../cairnctl/command.js';
import { errorText, type Context } from '../cairnctl/context.js';
import { ExitCode, fail } from '../cairnctl/exit.js';
import type { Output } from '../cairnctl/output.js';

function logLine(o: Output, msg: string, fields?: Readonly<Record<string, unknown>>): void {
  const ts = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const rest = fields === undefined || Object.keys(fields).length === 0 ? '' : `\t${JSON.stringify(fields)}`;
  o.err(`${ts}\tinfo\t${msg}${rest}\n`);
}

export const backupCommand: CommandSpec = {
  name: 'backup',
  usage: 'backup --data-dir DIR --backup-dir DIR',
  short: '[legacy] offline backup of etcd directory',
  flags: [
    { name: 'data-dir', kind: 'string', def: '', usage: 'Path to the etcd data dir' },
    { name: 'wal-dir', kind: 'string', def: '', usage: 'Path to the etcd wal dir' },
    { name: 'backup-dir', kind: 'string', def: '', usage: 'Path to the backup dir' },
    { name: 'backup-wal-dir', kind: 'string', def: '', usage: 'Path to the backup wal dir' },
    { name: 'with-v3', kind: 'bool', def: 'true', usage: 'Backup v3 backend data' },
  ],
  run: async (ctx: Context) => {
    if (ctx.args.length !== 0) fail(ExitCode.BadArgs, 'backup command accepts no arguments');
    const missing = ['backup-dir', 'data-dir'].filter((f) => ctx.flags.string(f) === '');
    if (missing.length > 0) {
      fail(ExitCode.Error, `required flag(s) ${missing.map((f) => `"${f}"`).join(', ')} not set`);
    }
    try {
      await backupDataDir({
        dataDir: ctx.flags.string('data-dir'),
        walDir: ctx.flags.string('wal-dir'),
        backupDir: ctx.flags.string('backup-dir'),
        backupWalDir: ctx.flags.string('backup-wal-dir'),
        withV3: ctx.flags.bool('with-v3'),
        log: (msg, fields) => logLine(ctx.o, msg, fields),
      });
    } catch (e) {
      if (e instanceof BackupError) fail(ExitCode.Error, e.message);
      fail(ExitCode.Error, errorText(e));
    }
  },
};
