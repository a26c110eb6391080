// user add | delete | get | list | passwd | grant-role | revoke-role

import type { CommandSpec } from './command.js';
import type { Context } from './context.js';
import { ExitCode, fail } from './exit.js';
import { askNewPassword } from './password.js';

/** etcdctl's per-command error texts for a wrong number of arguments (exit 128). */
function requireArgs(ctx: Context, count: number, text: string): void {
  if (ctx.args.length !== count) fail(ExitCode.BadArgs, text);
}

/** The new password: asked twice on the terminal, or (--interactive=false) the first word of stdin. */
function newPassword(ctx: Context, name: string): Promise<string> {
  return ctx.flags.bool('interactive') ? askNewPassword(ctx, name) : ctx.reader.readWord();
}

interface NewUser {
  readonly name: string;
  readonly password: string;
  readonly noPassword: boolean;
}

/** `user add` argument handling: `name:password`, --new-user-password, --no-password, or a prompt. */
export async function newUserFromArgs(ctx: Context): Promise<NewUser> {
  const arg = ctx.args[0];
  if (ctx.flags.bool('no-password')) return { name: arg, password: '', noPassword: true };
  const fromFlag = ctx.flags.string('new-user-password');
  if (fromFlag !== '') return { name: arg, password: fromFlag, noPassword: false };
  const colon = arg.indexOf(':');
  if (colon < 0) return { name: arg, password: await newPassword(ctx, arg), noPassword: false };
  const name = arg.slice(0, colon);
  if (name === '') fail(ExitCode.BadArgs, 'empty user name is not allowed');
  return { name, password: arg.slice(colon + 1), noPassword: false };
}

const add: CommandSpec = {
  name: 'add',
  usage: 'add <user name or user:password> [options]',
  short: 'Adds a new user',
  flags: [
    {
      name: 'interactive',
      kind: 'bool',
      def: 'true',
      usage: 'Read password from stdin instead of interactive terminal',
    },
    {
      name: 'new-user-password',
      kind: 'string',
      def: '',
      usage: 'Supply password from the command line flag',
    },
    {
      name: 'no-password',
      kind: 'bool',
      def: 'false',
      usage: 'Create a user without password (CN based auth only)',
    },
  ],
  run: async (ctx: Context) => {
    requireArgs(ctx, 1, 'user add command requires user name as its argument');
    const user = await newUserFromArgs(ctx);
    const client = await ctx.client();
    const resp = await ctx.call(
      client.auth.userAdd(
        user.name,
        user.password,
        { noPassword: user.noPassword },
        { timeoutMs: ctx.commandTimeoutMs },
      ),
    );
    ctx.display().userAdd(user.name, resp);
  },
};

const remove: CommandSpec = {
  name: 'delete',
  usage: 'delete <user name>',
  short: 'Deletes a user',
  run: async (ctx: Context) => {
    requireArgs(ctx, 1, 'user delete command requires user name as its argument');
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.userDelete(ctx.args[0], { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().userDelete(ctx.args[0], resp);
  },
};

const get: CommandSpec = {
  name: 'get',
  usage: 'get <user name> [options]',
  short: 'Gets detailed information of a user',
  flags: [
    { name: 'detail', kind: 'bool', def: 'false', usage: 'Show permissions of roles granted to the user' },
  ],
  run: async (ctx: Context) => {
    requireArgs(ctx, 1, 'user get command requires user name as its argument');
    const name = ctx.args[0];
    const client = await ctx.client();
    const timeoutMs = ctx.commandTimeoutMs;
    const resp = await ctx.call(client.auth.userGet(name, { timeoutMs }));
    if (!ctx.flags.bool('detail')) {
      ctx.display().userGet(name, resp);
      return;
    }
    // etcdctl writes these lines itself, whatever the output format; each role then prints in it.
    ctx.o.out(`User: ${name}\n`);
    for (const role of resp.roles) {
      ctx.o.out('\n');
      const roleResp = await ctx.call(client.auth.roleGet(role, { timeoutMs }));
      ctx.display().roleGet(role, roleResp);
    }
  },
};

const list: CommandSpec = {
  name: 'list',
  usage: 'list',
  short: 'Lists all users',
  run: async (ctx: Context) => {
    requireArgs(ctx, 0, 'user list command requires no arguments');
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.userList({ timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().userList(resp);
  },
};

const passwd: CommandSpec = {
  name: 'passwd',
  usage: 'passwd <user name> [options]',
  short: 'Changes password of user',
  flags: [
    {
      name: 'interactive',
      kind: 'bool',
      def: 'true',
      usage: 'If true, read password from stdin instead of interactive terminal',
    },
  ],
  run: async (ctx: Context) => {
    requireArgs(ctx, 1, 'user passwd command requires user name as its argument');
    const password = await newPassword(ctx, ctx.args[0]);
    const client = await ctx.client();
    const resp = await ctx.call(
      client.auth.userChangePassword(ctx.args[0], password, { timeoutMs: ctx.commandTimeoutMs }),
    );
    ctx.display().userChangePassword(resp);
  },
};

const grantRole: CommandSpec = {
  name: 'grant-role',
  usage: 'grant-role <user name> <role name>',
  short: 'Grants a role to a user',
  run: async (ctx: Context) => {
    requireArgs(ctx, 2, 'user grant command requires user name and role name as its argument');
    const [user, role] = ctx.args;
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.userGrantRole(user, role, { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().userGrantRole(user, role, resp);
  },
};

const revokeRole: CommandSpec = {
  name: 'revoke-role',
  usage: 'revoke-role <user name> <role name>',
  short: 'Revokes a role from a user',
  run: async (ctx: Context) => {
    requireArgs(ctx, 2, 'user revoke-role requires user name and role name as its argument');
    const [user, role] = ctx.args;
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.userRevokeRole(user, role, { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().userRevokeRole(user, role, resp);
  },
};

export const userCommand: CommandSpec = {
  name: 'user',
  usage: 'user <subcommand>',
  short: 'User related commands',
  children: [add, remove, get, list, passwd, grantRole, revokeRole],
};
