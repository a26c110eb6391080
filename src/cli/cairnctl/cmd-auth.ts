// auth enable | disable | status

import type { Client } from '../../client/client.js';
import { EtcdError } from '../../client/errors.js';
import type { CallOptions } from '../../client/transport.js';
import type { CommandSpec } from './command.js';
import type { Context } from './context.js';
import { ExitCode, fail } from './exit.js';

const ROOT_ROLE_MISSING = 'etcdserver: root user does not have root role';
const ROLE_EXISTS = 'etcdserver: role name already exists';

function isServerError(e: unknown, details: string): boolean {
  return e instanceof EtcdError && e.details === details;
}

/**
 * AuthEnable as etcdctl runs it: when the server refuses because user root lacks role root, create
 * the role, grant it and try again. Unlike etcdctl 3.4, an existing role root is not an error (etcdctl
 * gives up with "role name already exists" although granting it is all that is missing).
 */
export async function enableAuth(client: Client, call: () => CallOptions): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.auth.authEnable(call());
      return;
    } catch (e) {
      if (attempt > 0 || !isServerError(e, ROOT_ROLE_MISSING)) throw e;
    }
    try {
      await client.auth.roleAdd('root', call());
    } catch (e) {
      if (!isServerError(e, ROLE_EXISTS)) throw e;
    }
    await client.auth.userGrantRole('root', 'root', call());
  }
}

/** One --command-timeout for all the calls of a command (etcdctl's commandCtx). */
function commandDeadline(ctx: Context): () => CallOptions {
  const deadline = Date.now() + ctx.commandTimeoutMs;
  return () => ({ timeoutMs: Math.max(0, deadline - Date.now()) });
}

const enable: CommandSpec = {
  name: 'enable',
  usage: 'enable',
  short: 'Enables authentication',
  run: async (ctx: Context) => {
    if (ctx.args.length !== 0) fail(ExitCode.BadArgs, 'auth enable command does not accept any arguments');
    const client = await ctx.client();
    await ctx.call(enableAuth(client, commandDeadline(ctx)));
    ctx.o.out('Authentication Enabled\n');
  },
};

const disable: CommandSpec = {
  name: 'disable',
  usage: 'disable',
  short: 'Disables authentication',
  run: async (ctx: Context) => {
    if (ctx.args.length !== 0) fail(ExitCode.BadArgs, 'auth disable command does not accept any arguments');
    const client = await ctx.client();
    await ctx.call(client.auth.authDisable({ timeoutMs: ctx.commandTimeoutMs }));
    ctx.o.out('Authentication Disabled\n');
  },
};

/** etcdctl 3.5's command (a 3.4 server does not know the call: "unknown method AuthStatus"). */
const status: CommandSpec = {
  name: 'status',
  usage: 'status',
  short: 'Returns authentication status',
  run: async (ctx: Context) => {
    if (ctx.args.length !== 0) fail(ExitCode.BadArgs, 'auth status command does not accept any arguments');
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.authStatus({ timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().authStatus(resp);
  },
};

export const authCommand: CommandSpec = {
  name: 'auth',
  usage: 'auth <enable or disable>',
  short: 'Enable or disable authentication',
  children: [enable, disable, status],
};
