// member add | remove | update | list | promote

import type { CommandSpec } from './command.js';
import type { Context } from './context.js';
import { ExitCode, fail } from './exit.js';
import { parseUintHex } from './flags.js';
import { goQuote } from './go-text.js';
import { SimplePrinter } from './print-simple.js';

function memberIdFromArgs(ctx: Context): bigint {
  if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'member ID is not provided');
  try {
    return parseUintHex(ctx.args[0]);
  } catch (e) {
    fail(ExitCode.BadArgs, `bad member ID arg (${(e as Error).message}), expecting ID in Hex`);
  }
}

const add: CommandSpec = {
  name: 'add',
  usage: 'add <memberName> [options]',
  short: 'Adds a member into the cluster',
  flags: [
    { name: 'peer-urls', kind: 'string', def: '', usage: 'comma separated peer URLs for the new member.' },
    { name: 'learner', kind: 'bool', def: 'false', usage: 'indicates if the new member is raft learner' },
  ],
  run: async (ctx: Context) => {
    if (ctx.args.length < 1) fail(ExitCode.BadArgs, 'member name not provided');
    if (ctx.args.length > 1) {
      let text = 'too many arguments';
      for (const s of ctx.args)
        if (s.toLowerCase().startsWith('http')) text += `, did you mean --peer-urls=${s}`;
      fail(ExitCode.BadArgs, text);
    }
    const name = ctx.args[0];
    const peerURLs = ctx.flags.string('peer-urls');
    if (peerURLs.length === 0) fail(ExitCode.BadArgs, 'member peer urls not provided');
    const urls = peerURLs.split(',');
    const client = await ctx.client();
    const resp = await ctx.call(
      client.cluster.add(urls, { learner: ctx.flags.bool('learner') }, { timeoutMs: ctx.commandTimeoutMs }),
    );
    const newId = resp.member?.ID ?? 0n;
    const display = ctx.display();
    display.memberAdd(resp);
    if (display instanceof SimplePrinter) {
      const conf: string[] = [];
      for (const m of resp.members) {
        for (const u of m.peerURLs) conf.push(`${m.ID === newId ? name : m.name}=${u}`);
      }
      ctx.o.out(
        `\nETCD_NAME=${goQuote(name)}\nETCD_INITIAL_CLUSTER=${goQuote(conf.join(','))}\n` +
          `ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerURLs)}\nETCD_INITIAL_CLUSTER_STATE="existing"\n`,
      );
    }
  },
};

const remove: CommandSpec = {
  name: 'remove',
  usage: 'remove <memberID>',
  short: 'Removes a member from the cluster',
  run: async (ctx: Context) => {
    const id = memberIdFromArgs(ctx);
    const client = await ctx.client();
    const resp = await ctx.call(client.cluster.remove(id, { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().memberRemove(id, resp);
  },
};

const update: CommandSpec = {
  name: 'update',
  usage: 'update <memberID> [options]',
  short: 'Updates a member in the cluster',
  flags: [
    {
      name: 'peer-urls',
      kind: 'string',
      def: '',
      usage: 'comma separated peer URLs for the updated member.',
    },
  ],
  run: async (ctx: Context) => {
    const id = memberIdFromArgs(ctx);
    const peerURLs = ctx.flags.string('peer-urls');
    if (peerURLs.length === 0) fail(ExitCode.BadArgs, 'member peer urls not provided');
    const client = await ctx.client();
    const resp = await ctx.call(
      client.cluster.update(id, peerURLs.split(','), { timeoutMs: ctx.commandTimeoutMs }),
    );
    ctx.display().memberUpdate(id, resp);
  },
};

const list: CommandSpec = {
  name: 'list',
  usage: 'list',
  short: 'Lists all members in the cluster',
  run: async (ctx: Context) => {
    const client = await ctx.client();
    const resp = await ctx.call(client.cluster.list({ timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().memberList(resp);
  },
};

const promote: CommandSpec = {
  name: 'promote',
  usage: 'promote <memberID>',
  short: 'Promotes a non-voting member in the cluster',
  run: async (ctx: Context) => {
    const id = memberIdFromArgs(ctx);
    const client = await ctx.client();
    const resp = await ctx.call(client.cluster.promote(id, { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().memberPromote(id, resp);
  },
};

export const memberCommand: CommandSpec = {
  name: 'member',
  usage: 'member <subcommand>',
  short: 'Membership related commands',
  children: [add, remove, update, list, promote],
};
