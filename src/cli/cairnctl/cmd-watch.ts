// watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...], and the interactive form.

import { spawnSync } from 'node:child_process';

import { EtcdError } from '../../client/errors.js';
import type { WatchStream } from '../../client/watch.js';
import type { WatchResponse } from '../../proto/etcdserverpb/rpc.js';
import type { CommandSpec } from './command.js';
import { errorText, type Context } from './context.js';
import { ExitCode, ExitError, fail } from './exit.js';
import { FlagSet, type FlagSpec } from './flags.js';
import { goQuote } from './go-text.js';
import { argify, LineReader } from './lines.js';
import { eventTypeName } from './print-simple.js';
import type { WatchView } from './printer.js';

const WATCH_FLAGS: readonly FlagSpec[] = [
  { name: 'interactive', short: 'i', kind: 'bool', def: 'false', usage: 'Interactive mode' },
  { name: 'prefix', kind: 'bool', def: 'false', usage: 'Watch on a prefix if prefix is set' },
  { name: 'rev', kind: 'int64', def: '0', usage: 'Revision to start watching' },
  {
    name: 'prev-kv',
    kind: 'bool',
    def: 'false',
    usage: 'get the previous key-value pair before the event happens',
  },
];

const BAD_ARGS = 'bad number of arguments';
const BAD_ARGS_CONFLICT_ENV = 'bad number of arguments (found conflicting environment key)';
const BAD_ARGS_SEPARATOR = 'bad number of arguments (found separator --, but no commands)';

interface WatchArgs {
  readonly watchArgs: string[];
  readonly execArgs: string[];
}

/** etcdctl's parseWatchArgs for the command line (not interactive). */
function parseWatchArgs(
  argv: readonly string[],
  commandArgs: readonly string[],
  envKey: string,
  envRange: string,
): WatchArgs {
  const at = argv.indexOf('watch');
  const raw = at >= 0 ? argv.slice(at + 1) : [...argv];
  const sep = raw.indexOf('--');
  if (sep >= 0 && sep === raw.length - 1) fail(ExitCode.BadArgs, BAD_ARGS_SEPARATOR);
  if (sep < 0 && raw.length < 1 && envKey === '') fail(ExitCode.BadArgs, BAD_ARGS);
  let watchArgs = [...commandArgs];
  if (sep < 0 && watchArgs.length > 0 && envKey !== '') fail(ExitCode.BadArgs, BAD_ARGS_CONFLICT_ENV);
  const execArgs = sep >= 0 ? raw.slice(sep + 1) : [];
  if (sep >= 0 && envKey !== '') {
    // The words before `--` must all come from the environment.
    const before = watchArgs.length - execArgs.length;
    if (before > 0) fail(ExitCode.BadArgs, BAD_ARGS_CONFLICT_ENV);
  }
  if (envKey !== '') watchArgs = [envKey, ...(envRange !== '' ? [envRange] : []), ...watchArgs];
  if (sep >= 0) {
    let end = watchArgs.length - 1;
    while (end >= 0 && watchArgs[end] !== execArgs[0]) end--;
    watchArgs = watchArgs.slice(0, Math.max(end, 0));
  }
  return { watchArgs, execArgs };
}

/** The text clientv3's WatchResponse.Err() gives a canceled watch. */
function cancelText(r: WatchResponse): string {
  if (r.compactRevision !== 0n) return 'etcdserver: mvcc: required revision has been compacted';
  if (r.cancelReason !== '') return new EtcdError(9, r.cancelReason).message;
  return 'etcdserver: mvcc: required revision is a future revision';
}

function view(r: WatchResponse): WatchView {
  return {
    header: r.header ?? { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n },
    events: r.events,
    compactRevision: r.compactRevision,
    canceled: r.canceled,
    created: false,
  };
}

const EMPTY_CANCELED: WatchView = {
  header: { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n },
  events: [],
  compactRevision: 0n,
  canceled: true,
  created: false,
  eventsNil: true,
};

async function openWatch(ctx: Context, args: readonly string[], flags: FlagSet): Promise<WatchStream> {
  if (args.length < 1) throw new ExitError(ExitCode.BadArgs, BAD_ARGS);
  const prefix = flags.bool('prefix');
  if (args.length === 2 && prefix)
    throw new ExitError(ExitCode.BadArgs, '`range_end` and `--prefix` are mutually exclusive');
  const client = await ctx.client();
  return ctx.call(
    client.watch.watch(args[0], {
      rangeEnd: args.length === 2 ? args[1] : undefined,
      prefix,
      startRevision: flags.int64('rev'),
      prevKv: flags.bool('prev-kv'),
    }),
    ExitCode.BadConnection,
  );
}

/** Prints a watch stream until it ends (server cancel or stream error); runs `execArgs` per event. */
async function printWatch(ctx: Context, stream: WatchStream, execArgs: readonly string[]): Promise<void> {
  try {
    for await (const r of stream) {
      if (r.created && !r.canceled) continue; // clientv3 does not pass the creation on
      if (r.canceled) ctx.o.err(`watch was canceled (${cancelText(r)})\n`);
      const isProgress = r.events.length === 0 && !r.canceled && !r.created && r.compactRevision === 0n;
      if (isProgress && (r.header?.revision ?? 0n) !== 0n)
        ctx.o.out(`progress notify: ${r.header?.revision}\n`);
      ctx.display().watch(view(r));
      if (execArgs.length > 0) runExec(ctx, r, execArgs);
      if (r.canceled) {
        stream.close();
        return;
      }
    }
  } catch (e) {
    ctx.o.err(`watch was canceled (${errorText(e)})\n`);
    ctx.display().watch(EMPTY_CANCELED);
  }
}

function runExec(ctx: Context, r: WatchResponse, execArgs: readonly string[]): void {
  for (const ev of r.events) {
    const env = {
      ...ctx.env,
      ETCD_WATCH_REVISION: String(r.header?.revision ?? 0n),
      ETCD_WATCH_EVENT_TYPE: goQuote(eventTypeName(ev.type)),
      ETCD_WATCH_KEY: goQuote(ev.kv?.key ?? new Uint8Array(0)),
      ETCD_WATCH_VALUE: goQuote(ev.kv?.value ?? new Uint8Array(0)),
    };
    const res = spawnSync(execArgs[0], execArgs.slice(1), { env, stdio: 'inherit' });
    if (res.error !== undefined || res.status !== 0) {
      const why =
        res.error !== undefined
          ? res.error.message
          : res.signal !== null
            ? `signal: ${res.signal}`
            : `exit status ${res.status}`;
      ctx.o.err(`command [${execArgs.map((a) => goQuote(a)).join(' ')}] error (${why})\n`);
      throw new ExitError(ExitCode.Error, undefined);
    }
  }
}

async function interactive(ctx: Context, envKey: string): Promise<void> {
  const reader = new LineReader(ctx.reader.remaining());
  const streams: WatchStream[] = [];
  const running: Promise<void>[] = [];
  for (;;) {
    const raw = await reader.readLine();
    if (raw === undefined) {
      fail(ExitCode.InvalidInput, 'Error reading watch request line: EOF');
    }
    const l = raw.replace(/\n$/, '');
    const args = argify(l);
    if (!Array.isArray(args) || args.length < 1) {
      ctx.o.err(`Invalid command: ${l} (watch and progress supported)\n`);
      continue;
    }
    if (args[0] === 'watch') {
      if (args.length < 2 && envKey === '') {
        ctx.o.err(`Invalid command ${l} (command type or key is not provided)\n`);
        continue;
      }
      const rest = args.slice(1);
      const sep = rest.indexOf('--');
      if (sep >= 0 && sep === rest.length - 1) fail(ExitCode.BadArgs, BAD_ARGS_SEPARATOR);
      const flags = new FlagSet(WATCH_FLAGS);
      let positional: string[];
      try {
        positional = flags.parse(sep >= 0 ? rest.slice(0, sep) : rest);
      } catch (e) {
        fail(ExitCode.BadArgs, (e as Error).message);
      }
      if (sep < 0 && envKey === '' && positional.length < 1) fail(ExitCode.BadArgs, BAD_ARGS);
      if (sep < 0 && positional.length > 0 && envKey !== '') fail(ExitCode.BadArgs, BAD_ARGS_CONFLICT_ENV);
      if (envKey !== '') positional = [envKey, ...positional];
      let stream: WatchStream;
      try {
        stream = await openWatch(ctx, positional, flags);
      } catch (e) {
        ctx.o.err(`Invalid command ${l} (${errorText(e)})\n`);
        continue;
      }
      streams.push(stream);
      running.push(printWatch(ctx, stream, sep >= 0 ? rest.slice(sep + 1) : []));
    } else if (args[0] === 'progress') {
      for (const s of streams) s.requestProgress();
    } else ctx.o.err(`Invalid command ${l} (only support watch)\n`);
  }
}

export const watchCommand: CommandSpec = {
  name: 'watch',
  usage: 'watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]',
  short: 'Watches events stream on keys or prefixes',
  flags: WATCH_FLAGS,
  run: async (ctx: Context) => {
    const envKey = ctx.env['ETCDCTL_WATCH_KEY'] ?? '';
    const envRange = ctx.env['ETCDCTL_WATCH_RANGE_END'] ?? '';
    if (envKey === '' && envRange !== '') {
      fail(
        ExitCode.BadArgs,
        `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${JSON.stringify(envRange)}`,
      );
    }
    if (ctx.flags.bool('interactive')) {
      await ctx.client();
      await interactive(ctx, envKey);
      return;
    }
    const { watchArgs, execArgs } = parseWatchArgs(ctx.argv, ctx.args, envKey, envRange);
    const stream = await openWatch(ctx, watchArgs, ctx.flags);
    await printWatch(ctx, stream, execArgs);
    fail(ExitCode.Interrupted, 'watch is canceled by the server');
  },
};
