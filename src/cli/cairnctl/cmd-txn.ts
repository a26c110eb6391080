// txn: compares, success ops and failure ops read from stdin in etcdctl's line syntax, each block ended
// by an empty line; `-i` prints the prompts.

import { cmp } from '../../client/kv.js';
import type { Compare, RequestOp } from '../../proto/etcdserverpb/rpc.js';
import { delOp, DEL_FLAGS, getOp, GET_FLAGS, putOp, PUT_FLAGS } from './cmd-kv.js';
import type { CommandSpec } from './command.js';
import type { Context } from './context.js';
import { ExitCode, ExitError, fail } from './exit.js';
import { FlagError, FlagSet, HelpRequested, parseIntBase } from './flags.js';
import { goQuote } from './go-text.js';
import { argify, goUnquote, LineReader, trimSpace } from './lines.js';

/** One step of Go's Sscanf(text, "%q) %s %q"): returns the fields parsed before the first mismatch. */
function scanCompare(text: string): { n: number; key: string; op: string; val: string } {
  const r = { n: 0, key: '', op: '', val: '' };
  let rest = text;
  const skipSpace = (): void => {
    rest = rest.replace(/^[ \t\r]+/, '');
  };
  const quoted = (): string | undefined => {
    skipSpace();
    const m = /^"(?:[^"\\\n]|\\.)*"|^`[^`]*`/.exec(rest);
    if (m === null) return undefined;
    rest = rest.slice(m[0].length);
    return goUnquote(m[0]);
  };
  const key = quoted();
  if (key === undefined) return r;
  r.key = key;
  r.n = 1;
  if (!rest.startsWith(')')) return r;
  rest = rest.slice(1);
  skipSpace();
  const op = /^\S+/.exec(rest);
  if (op === null) return r;
  r.op = op[0];
  r.n = 2;
  rest = rest.slice(op[0].length);
  const val = quoted();
  if (val === undefined) return r;
  r.val = val;
  r.n = 3;
  return r;
}

export function parseCompare(line: string): Compare {
  const paren = line.indexOf('(');
  if (paren < 0) throw new ExitError(ExitCode.InvalidInput, `malformed comparison: ${line}`);
  const target = line.slice(0, paren);
  const { n, key, op, val } = scanCompare(line.slice(paren + 1));
  if (n !== 3) {
    throw new ExitError(
      ExitCode.InvalidInput,
      `malformed comparison: ${line}; got ${target}(${goQuote(key)}) ${op} ${goQuote(val)}`,
    );
  }
  if (op !== '=' && op !== '!=' && op !== '<' && op !== '>') {
    // clientv3.Compare panics here; cairnctl reports the bad operator instead.
    throw new ExitError(ExitCode.InvalidInput, `malformed comparison: ${line} (unknown result op ${op})`);
  }
  const invalid = (): ExitError =>
    new ExitError(ExitCode.InvalidInput, `invalid txn compare request: ${line}`);
  const int = (): bigint => {
    try {
      return parseIntBase(val, 10);
    } catch {
      throw invalid();
    }
  };
  switch (target) {
    case 'ver':
    case 'version':
      return cmp.version(key, op, int());
    case 'c':
    case 'create':
      return cmp.createRevision(key, op, int());
    case 'm':
    case 'mod':
      return cmp.modRevision(key, op, int());
    case 'val':
    case 'value':
      return cmp.value(key, op, val);
    case 'lease':
      // etcdctl 3.4 panics on lease compares; cairnctl compares the key's lease ID (hex, like --lease).
      try {
        return cmp.lease(key, op, parseIntBase(val, 16));
      } catch {
        throw invalid();
      }
    default:
      throw new ExitError(ExitCode.InvalidInput, `malformed comparison: ${line} (unknown target ${target})`);
  }
}

export async function parseRequestOp(line: string): Promise<RequestOp> {
  const args = argify(line);
  if (!Array.isArray(args)) throw new ExitError(ExitCode.InvalidInput, args.error);
  if (args.length < 2) throw new ExitError(ExitCode.InvalidInput, `invalid txn compare request: ${line}`);
  const invalid = (): ExitError => new ExitError(ExitCode.InvalidInput, `invalid txn request: ${line}`);
  const specs = { put: PUT_FLAGS, get: GET_FLAGS, del: DEL_FLAGS }[args[0]];
  if (specs === undefined) throw invalid();
  const flags = new FlagSet(specs);
  let positional: string[];
  try {
    positional = flags.parse(args.slice(1));
  } catch (e) {
    if (e instanceof FlagError || e instanceof HelpRequested) throw invalid();
    throw e;
  }
  switch (args[0]) {
    case 'put': {
      // Like etcdctl, a put without a value would read the rest of stdin; there is none left to give.
      const value = await putOp(positional, flags, async () => Buffer.alloc(0));
      return { request: { $case: 'requestPut', value } };
    }
    case 'get':
      return { request: { $case: 'requestRange', value: getOp(positional, flags) } };
    default:
      return { request: { $case: 'requestDeleteRange', value: delOp(positional, flags) } };
  }
}

async function readBlock<T>(reader: LineReader, parse: (line: string) => Promise<T>): Promise<T[]> {
  const items: T[] = [];
  for (;;) {
    const raw = await reader.readLine();
    if (raw === undefined) fail(ExitCode.InvalidInput, 'EOF');
    const line = trimSpace(raw);
    if (line.length === 0) return items;
    items.push(await parse(line));
  }
}

export const txnCommand: CommandSpec = {
  name: 'txn',
  usage: 'txn [options]',
  short: 'Txn processes all the requests in one transaction',
  flags: [
    {
      name: 'interactive',
      short: 'i',
      kind: 'bool',
      def: 'false',
      usage: 'Input transaction in interactive mode',
    },
  ],
  run: async (ctx: Context) => {
    if (ctx.args.length !== 0) fail(ExitCode.BadArgs, 'txn command does not accept argument');
    const interactive = ctx.flags.bool('interactive');
    const prompt = (s: string): void => {
      if (interactive) ctx.o.out(`${s}\n`);
    };
    const client = await ctx.client();
    const reader = new LineReader(ctx.reader.remaining());
    prompt('compares:');
    const compare = await readBlock(reader, async (l) => parseCompare(l));
    prompt('success requests (get, put, del):');
    const success = await readBlock(reader, parseRequestOp);
    prompt('failure requests (get, put, del):');
    const failure = await readBlock(reader, parseRequestOp);
    // etcdctl gives txn no deadline (it can hang forever); cairnctl applies --command-timeout.
    const resp = await ctx.call(
      client.kv.txn({ compare, success, failure }, { timeoutMs: ctx.commandTimeoutMs }),
    );
    ctx.display().txn(resp);
  },
};
