// compaction, defrag, alarm list | disarm, move-leader

import type { CommandSpec } from './command.js';
import { errorText, type Context } from './context.js';
import { endpointsFromCluster, CLUSTER_FLAG } from './cmd-endpoint.js';
import { ExitCode, ExitError, fail } from './exit.js';
import { parseIntBase, parseUintHex } from './flags.js';

export const compactionCommand: CommandSpec = {
  name: 'compaction',
  usage: 'compaction [options] <revision>',
  short: 'Compacts the event history in etcd',
  flags: [
    {
      name: 'physical',
      kind: 'bool',
      def: 'false',
      usage: "'true' to wait for compaction to physically remove all old revisions",
    },
  ],
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'compaction command needs 1 argument');
    let rev: bigint;
    try {
      rev = parseIntBase(ctx.args[0], 10);
    } catch (e) {
      fail(ExitCode.Error, (e as Error).message);
    }
    const client = await ctx.client();
    await ctx.call(
      client.kv.compact(rev, { physical: ctx.flags.bool('physical') }, { timeoutMs: ctx.commandTimeoutMs }),
    );
    ctx.o.out(`compacted revision ${rev}\n`);
  },
};

export const defragCommand: CommandSpec = {
  name: 'defrag',
  usage: 'defrag',
  short: 'Defragments the storage of the etcd members with given endpoints',
  flags: [
    CLUSTER_FLAG,
    {
      name: 'data-dir',
      kind: 'string',
      def: '',
      usage: 'Optional. If present, defragments a data directory not in use by etcd.',
    },
  ],
  run: async (ctx: Context) => {
    if (ctx.flags.string('data-dir') !== '')
      fail(ExitCode.Error, 'defrag --data-dir is not supported by cairnctl (use cairnutl)');
    const client = await ctx.client();
    let failures = 0;
    for (const ep of await endpointsFromCluster(ctx, ctx.flags.bool('cluster'))) {
      try {
        await client.maintenance.defragment({ endpoint: ep, timeoutMs: ctx.commandTimeoutMs });
        ctx.o.out(`Finished defragmenting etcd member[${ep}]\n`);
      } catch (e) {
        ctx.o.err(`Failed to defragment etcd member[${ep}] (${errorText(e)})\n`);
        failures++;
      }
    }
    if (failures !== 0) throw new ExitError(ExitCode.Error, undefined);
  },
};

export const alarmCommand: CommandSpec = {
  name: 'alarm',
  usage: 'alarm <subcommand>',
  short: 'Alarm related commands',
  children: [
    {
      name: 'disarm',
      usage: 'disarm',
      short: 'Disarms all alarms',
      run: async (ctx: Context) => {
        if (ctx.args.length !== 0) fail(ExitCode.BadArgs, 'alarm disarm command accepts no arguments');
        const client = await ctx.client();
        const resp = await ctx.call(
          client.maintenance.alarmDisarm(0n, undefined, { timeoutMs: ctx.commandTimeoutMs }),
        );
        ctx.display().alarm(resp);
      },
    },
    {
      name: 'list',
      usage: 'list',
      short: 'Lists all alarms',
      run: async (ctx: Context) => {
        if (ctx.args.length !== 0) fail(ExitCode.BadArgs, 'alarm list command accepts no arguments');
        const client = await ctx.client();
        const resp = await ctx.call(client.maintenance.alarmList({ timeoutMs: ctx.commandTimeoutMs }));
        ctx.display().alarm(resp);
      },
    },
  ],
};

export const moveLeaderCommand: CommandSpec = {
  name: 'move-leader',
  usage: 'move-leader <transferee-member-id>',
  short: 'Transfers leadership to another etcd cluster member.',
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'move-leader command needs 1 argument');
    let target: bigint;
    try {
      target = parseUintHex(ctx.args[0]);
    } catch (e) {
      fail(ExitCode.BadArgs, (e as Error).message);
    }
    const eps = ctx.endpoints();
    await ctx.client(); // environment, output format
    // The transfer must be asked of the leader: find it among the endpoints by their status.
    for (const ep of ctx.endpoints()) {
      const client = await ctx.client([ep]);
      const st = await ctx.call(client.maintenance.status({ endpoint: ep, timeoutMs: ctx.commandTimeoutMs }));
      if (st.header !== undefined && st.header.memberId === st.leader) {
        const resp = await ctx.call(
          client.maintenance.moveLeader(target, { timeoutMs: ctx.commandTimeoutMs }),
        );
        ctx.display().moveLeader(st.leader, target, resp);
        return;
      }
    }
    fail(ExitCode.BadArgs, `no leader endpoint given at [${eps.join(' ')}]`);
  },
};
