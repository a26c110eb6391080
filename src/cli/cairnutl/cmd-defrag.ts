// defrag --data-dir (etcdutl 3.5; etcdctl 3.4's `defrag --data-dir`): defragments the backend of a
// member that is not running.
//
// Output as etcd's: nothing on stdout; on stderr the backend's two log lines ("defragmenting" and
// "finished defragmenting directory", with etcd's field names: the sizes before and after). Failures
// are `Error: Failed to defragment etcd data[DIR] (...)`, exit 1, as etcdutl's, except a missing
// backend file: `Error: cannot open database at DIR/member/snap/db (open ...: no such file or
// directory)` (etcd's words, which it panics with). Unlike etcd, which waits without end for a running
// member to release the file, a data dir in use is refused at once and left untouched.

import { defragmentDataDir, OfflineDefragError } from '../../server/offline-defrag.js';
import type { CommandSpec } from '../cairnctl/command.js';
import { errorText, type Context } from '../cairnctl/context.js';
import { ExitCode, fail } from '../cairnctl/exit.js';
import { goDuration, goJsonString, humanizeBytes } from '../cairnctl/go-text.js';
import type { Output } from '../cairnctl/output.js';

/** One zap-style JSON log line on stderr (as cairnutl's snapshot commands write them). */
function logLine(
  o: Output,
  level: 'info' | 'warn',
  msg: string,
  fields: Readonly<Record<string, string | number>> = {},
): void {
  let line = `{"level":"${level}","ts":${(Date.now() / 1000).toFixed(7)},"msg":${goJsonString(msg)}`;
  for (const [k, v] of Object.entries(fields)) {
    line += `,${goJsonString(k)}:${typeof v === 'string' ? goJsonString(v) : String(v)}`;
  }
  o.err(`${line}}\n`);
}

const human = (n: number): string => humanizeBytes(BigInt(n));

export const offlineDefragCommand: CommandSpec = {
  name: 'defrag',
  usage: 'defrag',
  short: 'Defragments the storage of the etcd',
  flags: [
    {
      name: 'data-dir',
      kind: 'string',
      def: '',
      usage: 'Required. Defragments a data directory not in use by etcd.',
    },
  ],
  run: async (ctx: Context) => {
    const dataDir = ctx.flags.string('data-dir');
    if (dataDir === '') fail(ExitCode.Error, 'required flag(s) "data-dir" not set');
    let result;
    try {
      result = await defragmentDataDir(dataDir, {
        warn: (m) => logLine(ctx.o, 'warn', m),
        onStart: (s) =>
          logLine(ctx.o, 'info', 'defragmenting', {
            path: s.path,
            'current-db-size-bytes': s.size,
            'current-db-size': human(s.size),
            'current-db-size-in-use-bytes': s.sizeInUse,
            'current-db-size-in-use': human(s.sizeInUse),
          }),
      });
    } catch (e) {
      if (e instanceof OfflineDefragError && e.kind === 'no-database') fail(ExitCode.Error, e.message);
      fail(ExitCode.Error, `Failed to defragment etcd data[${dataDir}] (${errorText(e)})`);
    }
    logLine(ctx.o, 'info', 'finished defragmenting directory', {
      path: result.path,
      'current-db-size-bytes-diff': result.sizeAfter - result.sizeBefore,
      'current-db-size-bytes': result.sizeAfter,
      'current-db-size': human(result.sizeAfter),
      'current-db-size-in-use-bytes-diff': result.sizeInUseAfter - result.sizeInUseBefore,
      'current-db-size-in-use-bytes': result.sizeInUseAfter,
      'current-db-size-in-use': human(result.sizeInUseAfter),
      took: goDuration(BigInt(Math.round(result.durationMs * 1e6))),
    });
  },
};
