// put, get and del; their argument parsing is shared with txn's operation lines.

import {
  rangeRequest,
  putRequest,
  deleteRequest,
  SortOrder,
  SortTarget,
  type RangeOptions,
} from '../../client/kv.js';
import type { DeleteRangeRequest, PutRequest, RangeRequest } from '../../proto/etcdserverpb/rpc.js';
import type { CommandSpec } from './command.js';
import type { Context } from './context.js';
import { ExitCode, fail } from './exit.js';
import { FlagSet, parseIntBase, type FlagSpec } from './flags.js';
import { SimplePrinter } from './print-simple.js';

const bool = (name: string, usage: string): FlagSpec => ({ name, kind: 'bool', def: 'false', usage });

export const PUT_FLAGS: readonly FlagSpec[] = [
  { name: 'lease', kind: 'string', def: '0', usage: 'lease ID (in hexadecimal) to attach to the key' },
  bool('prev-kv', 'return the previous key-value pair before modification'),
  bool('ignore-value', 'updates the key using its current value'),
  bool('ignore-lease', 'updates the key using its current lease'),
];

export const GET_FLAGS: readonly FlagSpec[] = [
  { name: 'consistency', kind: 'string', def: 'l', usage: 'Linearizable(l) or Serializable(s)' },
  {
    name: 'order',
    kind: 'string',
    def: '',
    usage: 'Order of results; ASCEND or DESCEND (ASCEND by default)',
  },
  { name: 'sort-by', kind: 'string', def: '', usage: 'Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION' },
  { name: 'limit', kind: 'int64', def: '0', usage: 'Maximum number of results' },
  bool('prefix', 'Get keys with matching prefix'),
  bool('from-key', 'Get keys that are greater than or equal to the given key using byte compare'),
  { name: 'rev', kind: 'int64', def: '0', usage: 'Specify the kv revision' },
  bool('keys-only', 'Get only the keys'),
  bool('print-value-only', 'Only write values when using the "simple" output format'),
];

export const DEL_FLAGS: readonly FlagSpec[] = [
  bool('prefix', 'delete keys with matching prefix'),
  bool('prev-kv', 'return deleted key-value pairs'),
  bool('from-key', 'delete keys that are greater than or equal to the given key using byte compare'),
];

const PUT_ARGS = 'put command needs 1 argument and input from stdin or 2 arguments';

/** etcdctl's getPutOp; `readStdin` supplies the value when only the key is given. */
export async function putOp(
  args: readonly string[],
  flags: FlagSet,
  readStdin: () => Promise<Buffer>,
): Promise<PutRequest> {
  if (args.length === 0) fail(ExitCode.BadArgs, PUT_ARGS);
  const key = args[0];
  const ignoreValue = flags.bool('ignore-value');
  if (ignoreValue && args.length > 1)
    fail(ExitCode.BadArgs, "put command needs only 1 argument when 'ignore-value' is set");
  let value: Uint8Array = new Uint8Array(0);
  if (!ignoreValue) {
    if (args.length > 1) value = Buffer.from(args[1], 'utf8');
    else {
      value = await readStdin();
      if (value.length === 0) fail(ExitCode.BadArgs, PUT_ARGS);
    }
  }
  let lease: bigint;
  try {
    lease = parseIntBase(flags.string('lease'), 16);
  } catch (e) {
    fail(ExitCode.BadArgs, `bad lease ID (${(e as Error).message}), expecting ID in Hex`);
  }
  return putRequest(key, value, {
    lease,
    prevKv: flags.bool('prev-kv'),
    ignoreValue,
    ignoreLease: flags.bool('ignore-lease'),
  });
}

const SORT_ORDERS: Record<string, SortOrder> = {
  ASCEND: SortOrder.ASCEND,
  DESCEND: SortOrder.DESCEND,
  '': SortOrder.NONE,
};
const SORT_TARGETS: Record<string, SortTarget> = {
  CREATE: SortTarget.CREATE,
  KEY: SortTarget.KEY,
  MODIFY: SortTarget.MOD,
  VALUE: SortTarget.VALUE,
  VERSION: SortTarget.VERSION,
  '': SortTarget.KEY,
};

/** etcdctl's getGetOp. */
export function getOp(args: readonly string[], flags: FlagSet): RangeRequest {
  if (args.length === 0) {
    fail(ExitCode.BadArgs, 'get command needs one argument as key and an optional argument as range_end');
  }
  const prefix = flags.bool('prefix');
  const fromKey = flags.bool('from-key');
  if (prefix && fromKey)
    fail(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  const consistency = flags.string('consistency');
  if (consistency !== 's' && consistency !== 'l') {
    fail(ExitCode.BadFeature, `unknown consistency flag ${JSON.stringify(consistency)}`);
  }
  let key = args[0];
  const options: { -readonly [K in keyof RangeOptions]: RangeOptions[K] } = {
    serializable: consistency === 's',
  };
  if (args.length > 1) {
    if (prefix || fromKey) {
      fail(
        ExitCode.BadArgs,
        'too many arguments, only accept one argument when `--prefix` or `--from-key` is set',
      );
    }
    options.rangeEnd = args[1];
  }
  options.limit = flags.int64('limit');
  const rev = flags.int64('rev');
  if (rev > 0n) options.revision = rev;
  const orderText = flags.string('order');
  let order = SORT_ORDERS[orderText.toUpperCase()];
  if (order === undefined) fail(ExitCode.BadFeature, `bad sort order ${orderText}`);
  const targetText = flags.string('sort-by');
  const target = SORT_TARGETS[targetText.toUpperCase()];
  if (target === undefined) fail(ExitCode.BadFeature, `bad sort target ${targetText}`);
  // Keys come back in ascending key order anyway; clientv3 drops that sort so the server need not sort.
  if (target === SortTarget.KEY && order === SortOrder.ASCEND) order = SortOrder.NONE;
  options.sortOrder = order;
  options.sortTarget = target;
  if (prefix) {
    if (key.length === 0) {
      key = '\x00';
      options.fromKey = true;
    } else options.prefix = true;
  }
  if (fromKey) {
    if (key.length === 0) key = '\x00';
    options.fromKey = true;
  }
  options.keysOnly = flags.bool('keys-only');
  return rangeRequest(key, options);
}

/** etcdctl's getDelOp. */
export function delOp(args: readonly string[], flags: FlagSet): DeleteRangeRequest {
  if (args.length === 0 || args.length > 2) {
    fail(ExitCode.BadArgs, 'del command needs one argument as key and an optional argument as range_end');
  }
  const prefix = flags.bool('prefix');
  const fromKey = flags.bool('from-key');
  if (prefix && fromKey)
    fail(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  let key = args[0];
  let rangeEnd: string | undefined;
  if (args.length > 1) {
    if (prefix || fromKey) {
      fail(
        ExitCode.BadArgs,
        'too many arguments, only accept one argument when `--prefix` or `--from-key` is set',
      );
    }
    rangeEnd = args[1];
  }
  let usePrefix = false;
  let useFromKey = false;
  if (prefix) {
    if (key.length === 0) {
      key = '\x00';
      useFromKey = true;
    } else usePrefix = true;
  }
  if (fromKey) {
    if (key.length === 0) key = '\x00';
    useFromKey = true;
  }
  return deleteRequest(key, {
    rangeEnd,
    prefix: usePrefix,
    fromKey: useFromKey,
    prevKv: flags.bool('prev-kv'),
  });
}

export const putCommand: CommandSpec = {
  name: 'put',
  usage: 'put [options] <key> <value> (<value> can also be given from stdin)',
  short: 'Puts the given key into the store',
  flags: PUT_FLAGS,
  run: async (ctx: Context) => {
    const req = await putOp(ctx.args, ctx.flags, () => ctx.readStdin());
    const client = await ctx.client();
    const resp = await ctx.call(client.kv.put(req.key, req.value, req, { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().put(resp);
  },
};

export const getCommand: CommandSpec = {
  name: 'get',
  usage: 'get [options] <key> [range_end]',
  short: 'Gets the key or a range of keys',
  flags: GET_FLAGS,
  run: async (ctx: Context) => {
    const req = getOp(ctx.args, ctx.flags);
    const client = await ctx.client();
    const resp = await ctx.call(client.kv.rangeRaw(req, { timeoutMs: ctx.commandTimeoutMs }));
    const display = ctx.display();
    if (ctx.flags.bool('print-value-only')) {
      if (!(display instanceof SimplePrinter))
        fail(ExitCode.BadArgs, 'print-value-only is only for `--write-out=simple`');
      display.valueOnly = true;
    }
    display.get(resp);
  },
};

export const delCommand: CommandSpec = {
  name: 'del',
  usage: 'del [options] <key> [range_end]',
  short: 'Removes the specified key or range of keys [key, range_end)',
  flags: DEL_FLAGS,
  run: async (ctx: Context) => {
    const req = delOp(ctx.args, ctx.flags);
    const client = await ctx.client();
    const options = { rangeEnd: req.rangeEnd, prevKv: req.prevKv };
    const resp = await ctx.call(client.kv.delete(req.key, options, { timeoutMs: ctx.commandTimeoutMs }));
    ctx.display().del(resp);
  },
};
