// role add | delete | get | list | grant-permission | revoke-permission

import { parsePermissionType } from '../../client/auth.js';
import { FROM_KEY_END, prefixEnd, toBytes } from '../../client/bytes.js';
import type { CommandSpec } from './command.js';
import type { Context } from './context.js';
import { ExitCode, fail } from './exit.js';

export interface PermRange {
  readonly key: Uint8Array;
  /** Empty for a single key, "\0" for every key from `key` on. */
  readonly rangeEnd: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const MUTUALLY_EXCLUSIVE = '--from-key and --prefix flags are mutually exclusive';

/**
 * The key range of `grant-permission` / `revoke-permission` from `<key> [endKey]` and the flags, as
 * etcdctl computes it. An empty key stands for the whole key space: the server only accepts ranges
 * starting at "\0" for it, so the key becomes "\0" (and the end "\0" with --prefix or --from-key).
 */
export function permRange(args: readonly string[], prefix: boolean, fromKey: boolean): PermRange {
  if (args[0] === '') {
    if (prefix && fromKey) fail(ExitCode.BadArgs, MUTUALLY_EXCLUSIVE);
    return { key: FROM_KEY_END, rangeEnd: prefix || fromKey ? FROM_KEY_END : EMPTY };
  }
  const key = toBytes(args[0]);
  if (args.length === 1) {
    if (prefix && fromKey) fail(ExitCode.BadArgs, MUTUALLY_EXCLUSIVE);
    if (prefix) return { key, rangeEnd: prefixEnd(key) };
    return { key, rangeEnd: fromKey ? FROM_KEY_END : EMPTY };
  }
  if (prefix) fail(ExitCode.BadArgs, 'unexpected endkey argument with --prefix flag');
  if (fromKey) fail(ExitCode.BadArgs, 'unexpected endkey argument with --from-key flag');
  return { key, rangeEnd: toBytes(args[1]) };
}

function requireArgs(ctx: Context, count: number, text: string): void {
  if (ctx.args.length !== count) fail(ExitCode.BadArgs, text);
}

const add: CommandSpec = {
  name: 'add',
  usage: 'add <role name>',
  short: 'Adds a new role',
  run: async (ctx: Context) => {
    requireArgs(ctx, 1, 'role add command requires role name as its argument');
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.roleAdd(ctx.args[0], { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().roleAdd(ctx.args[0], resp);
  },
};

const remove: CommandSpec = {
  name: 'delete',
  usage: 'delete <role name>',
  short: 'Deletes a role',
  run: async (ctx: Context) => {
    requireArgs(ctx, 1, 'role delete command requires role name as its argument');
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.roleDelete(ctx.args[0], { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().roleDelete(ctx.args[0], resp);
  },
};

const get: CommandSpec = {
  name: 'get',
  usage: 'get <role name>',
  short: 'Gets detailed information of a role',
  run: async (ctx: Context) => {
    requireArgs(ctx, 1, 'role get command requires role name as its argument');
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.roleGet(ctx.args[0], { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().roleGet(ctx.args[0], resp);
  },
};

const list: CommandSpec = {
  name: 'list',
  usage: 'list',
  short: 'Lists all roles',
  run: async (ctx: Context) => {
    requireArgs(ctx, 0, 'role list command requires no arguments');
    const client = await ctx.client();
    const resp = await ctx.call(client.auth.roleList({ timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().roleList(resp);
  },
};

const grantPermission: CommandSpec = {
  name: 'grant-permission',
  usage: 'grant-permission [options] <role name> <permission type> <key> [endkey]',
  short: 'Grants a key to a role',
  flags: [
    { name: 'prefix', kind: 'bool', def: 'false', usage: 'grant a prefix permission' },
    {
      name: 'from-key',
      kind: 'bool',
      def: 'false',
      usage: 'grant a permission of keys that are greater than or equal to the given key using byte compare',
    },
  ],
  run: async (ctx: Context) => {
    if (ctx.args.length < 3) {
      fail(
        ExitCode.BadArgs,
        'role grant command requires role name, permission type, and key [endkey] as its argument',
      );
    }
    const [role, typeName] = ctx.args;
    const permType = parsePermissionType(typeName);
    if (permType === undefined) fail(ExitCode.BadArgs, `invalid permission type: ${typeName}`);
    const { key, rangeEnd } = permRange(
      ctx.args.slice(2),
      ctx.flags.bool('prefix'),
      ctx.flags.bool('from-key'),
    );
    const client = await ctx.client();
    const resp = await ctx.call(
      client.auth.roleGrantPermission(role, key, rangeEnd, permType, { timeoutMs: ctx.commandTimeoutMs }),
    );
    ctx.display().roleGrantPermission(role, resp);
  },
};

const revokePermission: CommandSpec = {
  name: 'revoke-permission',
  usage: 'revoke-permission <role name> <key> [endkey]',
  short: 'Revokes a key from a role',
  flags: [
    { name: 'prefix', kind: 'bool', def: 'false', usage: 'revoke a prefix permission' },
    {
      name: 'from-key',
      kind: 'bool',
      def: 'false',
      usage: 'revoke a permission of keys that are greater than or equal to the given key using byte compare',
    },
  ],
  run: async (ctx: Context) => {
    if (ctx.args.length < 2) {
      fail(
        ExitCode.BadArgs,
        'role revoke-permission command requires role name and key [endkey] as its argument',
      );
    }
    const role = ctx.args[0];
    const { key, rangeEnd } = permRange(
      ctx.args.slice(1),
      ctx.flags.bool('prefix'),
      ctx.flags.bool('from-key'),
    );
    const client = await ctx.client();
    const resp = await ctx.call(
      client.auth.roleRevokePermission(role, key, rangeEnd, { timeoutMs: ctx.commandTimeoutMs }),
    );
    // The message names the key as typed (an empty key stays empty, though "\0" was sent).
    ctx.display().roleRevokePermission(role, ctx.args[1], rangeEnd, resp);
  },
};

export const roleCommand: CommandSpec = {
  name: 'role',
  usage: 'role <subcommand>',
  short: 'Role related commands',
  children: [add, remove, get, list, grantPermission, revokePermission],
};
