// lease grant | revoke | timetolive | list | keep-alive

import type { CommandSpec } from './command.js';
import type { Context } from './context.js';
import { ExitCode, fail } from './exit.js';
import { parseIntBase } from './flags.js';
import { hex16 } from './go-text.js';
import { SimplePrinter } from './print-simple.js';

function leaseFromArgs(arg: string): bigint {
  try {
    return parseIntBase(arg, 16);
  } catch (e) {
    fail(ExitCode.BadArgs, `bad lease ID arg (${(e as Error).message}), expecting ID in Hex`);
  }
}

const grant: CommandSpec = {
  name: 'grant',
  usage: 'grant <ttl>',
  short: 'Creates leases',
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'lease grant command needs TTL argument');
    let ttl: bigint;
    try {
      ttl = parseIntBase(ctx.args[0], 10);
    } catch (e) {
      fail(ExitCode.BadArgs, `bad TTL (${(e as Error).message})`);
    }
    const client = await ctx.client();
    const resp = await ctx.call(
      client.lease.grant(ttl, 0n, { timeoutMs: ctx.commandTimeoutMs }),
      ExitCode.Error,
      (t) => `failed to grant lease (${t})`,
    );
    ctx.display().grant(resp);
  },
};

const revoke: CommandSpec = {
  name: 'revoke',
  usage: 'revoke <leaseID>',
  short: 'Revokes leases',
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'lease revoke command needs 1 argument');
    const id = leaseFromArgs(ctx.args[0]);
    const client = await ctx.client();
    const resp = await ctx.call(
      client.lease.revoke(id, { timeoutMs: ctx.commandTimeoutMs }),
      ExitCode.Error,
      (t) => `failed to revoke lease (${t})`,
    );
    ctx.display().revoke(id, resp);
  },
};

const timetolive: CommandSpec = {
  name: 'timetolive',
  usage: 'timetolive <leaseID> [options]',
  short: 'Get lease information',
  flags: [{ name: 'keys', kind: 'bool', def: 'false', usage: 'Get keys attached to this lease' }],
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'lease timetolive command needs lease ID as argument');
    const keys = ctx.flags.bool('keys');
    const id = leaseFromArgs(ctx.args[0]);
    const client = await ctx.client();
    // etcdctl gives this call no deadline; cairnctl applies --command-timeout.
    const resp = await ctx.call(
      client.lease.timeToLive(id, { keys }, { timeoutMs: ctx.commandTimeoutMs }),
      ExitCode.BadConnection,
    );
    ctx.display().timeToLive(resp, keys);
  },
};

const list: CommandSpec = {
  name: 'list',
  usage: 'list',
  short: 'List all active leases',
  run: async (ctx: Context) => {
    const client = await ctx.client();
    const resp = await ctx.call(
      client.lease.leases({ timeoutMs: ctx.commandTimeoutMs }),
      ExitCode.BadConnection,
    );
    ctx.display().leases(resp);
  },
};

const keepAlive: CommandSpec = {
  name: 'keep-alive',
  usage: 'keep-alive [options] <leaseID>',
  short: 'Keeps leases alive (renew)',
  flags: [
    {
      name: 'once',
      kind: 'bool',
      def: 'false',
      usage: 'Resets the keep-alive time to its original value and exits immediately',
    },
  ],
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'lease keep-alive command needs lease ID as argument');
    const id = leaseFromArgs(ctx.args[0]);
    if (ctx.flags.bool('once')) {
      const client = await ctx.client();
      const resp = await ctx.call(
        client.lease.keepAliveOnce(id, { timeoutMs: ctx.commandTimeoutMs }),
        ExitCode.BadConnection,
      );
      ctx.display().keepAlive(resp);
      return;
    }
    const client = await ctx.client();
    const stream = await ctx.call(client.lease.keepAlive(id), ExitCode.BadConnection);
    try {
      for await (const resp of stream) ctx.display().keepAlive(resp);
    } catch {
      // The stream broke: clientv3 closes the channel the same way as for an expired lease.
    }
    if (ctx.display() instanceof SimplePrinter) ctx.o.out(`lease ${hex16(id)} expired or revoked.\n`);
  },
};

export const leaseCommand: CommandSpec = {
  name: 'lease',
  usage: 'lease <subcommand>',
  short: 'Lease related commands',
  children: [grant, revoke, timetolive, list, keepAlive],
};
