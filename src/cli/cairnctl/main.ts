// cairnctl: etcdctl 3.4's command-line interface on the Cairn client library.

import { pathToFileURL } from 'node:url';

import { logVerbosity, setLogVerbosity } from '@grpc/grpc-js';

import type { CommandSpec } from './command.js';
import { ROOT } from './commands.js';
import { Context, errorText } from './context.js';
import { ExitCode, ExitError } from './exit.js';
import { FlagError, FlagSet, HelpRequested, type FlagSpec } from './flags.js';
import { GLOBAL_FLAGS } from './globals.js';
import { processOutput, type Output } from './output.js';

/** A command-line program on this framework: cairnctl (etcdctl) or cairnutl (etcdutl). */
export interface Program {
  readonly name: string;
  readonly root: CommandSpec;
  readonly globals: readonly FlagSpec[];
}

const CAIRNCTL: Program = { name: 'cairnctl', root: ROOT, globals: GLOBAL_FLAGS };

interface Resolved {
  readonly chain: CommandSpec[];
  /** argv with the command words removed. */
  readonly rest: string[];
  /** A word where a subcommand was expected but none matched. */
  readonly unknown?: string;
}

function valueTaking(flags: readonly FlagSpec[]): { long: Set<string>; short: Set<string> } {
  const long = new Set<string>();
  const short = new Set<string>();
  for (const f of flags) {
    if (f.kind === 'bool') continue;
    long.add(f.name);
    if (f.short !== undefined) short.add(f.short);
  }
  return { long, short };
}

/** Finds the command the words of argv name (unique prefixes allowed, as etcdctl enables), skipping flags. */
function resolve(program: Program, argv: readonly string[]): Resolved {
  const chain: CommandSpec[] = [program.root];
  const rest: string[] = [];
  const takesValue = valueTaking(program.globals);
  let unknown: string | undefined;
  let searching = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!searching) {
      rest.push(a);
      continue;
    }
    if (a === '--') {
      searching = false;
      rest.push(a);
      continue;
    }
    if (a.startsWith('--') && a.length > 2) {
      rest.push(a);
      if (!a.includes('=') && takesValue.long.has(a.slice(2)) && i + 1 < argv.length) rest.push(argv[++i]);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      rest.push(a);
      if (a.length === 2 && takesValue.short.has(a[1]) && i + 1 < argv.length) rest.push(argv[++i]);
      continue;
    }
    const current = chain[chain.length - 1];
    const children = current.children ?? [];
    if (children.length === 0) {
      searching = false;
      rest.push(a);
      continue;
    }
    const exact = children.find((c) => c.name === a);
    const prefixed = children.filter((c) => c.name.startsWith(a));
    const match = exact ?? (prefixed.length === 1 ? prefixed[0] : undefined);
    if (match === undefined) {
      unknown = a;
      searching = false;
      rest.push(a);
      continue;
    }
    chain.push(match);
  }
  return { chain, rest, unknown };
}

function usage(program: Program, chain: readonly CommandSpec[]): string {
  const cmd = chain[chain.length - 1];
  const path = chain.map((c) => c.name).join(' ');
  let text = `NAME:\n\t${path} - ${cmd.short ?? ''}\n\nUSAGE:\n\t${program.name} ${chain
    .slice(1)
    .map((c) => c.name)
    .join(' ')} ${cmd.usage?.split(' ').slice(1).join(' ') ?? ''}\n`;
  if (cmd.children !== undefined) {
    text += '\nCOMMANDS:\n';
    for (const c of cmd.children) text += `\t${c.name.padEnd(16)}${c.short ?? ''}\n`;
  }
  const flags = cmd.flags ?? [];
  if (flags.length > 0) {
    text += '\nOPTIONS:\n';
    for (const f of flags)
      text += `  ${f.short !== undefined ? `-${f.short}, ` : '    '}--${f.name}\t${f.usage}\n`;
  }
  return text;
}

/** Runs one cairnctl command line; resolves to the exit code. */
export function run(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  o: Output,
  stdin: NodeJS.ReadableStream,
): Promise<number> {
  return runProgram(CAIRNCTL, argv, env, o, stdin);
}

/** Runs one command line of `program`; resolves to the exit code. */
export async function runProgram(
  program: Program,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  o: Output,
  stdin: NodeJS.ReadableStream,
): Promise<number> {
  const PROGRAM = program.name;
  const api = env['ETCDCTL_API'];
  const cleanEnv = { ...env };
  delete cleanEnv['ETCDCTL_API'];
  if (api !== undefined && api !== '' && api !== '3') {
    o.err(`unsupported API version ${api}\n`);
    return ExitCode.Error;
  }
  const { chain, rest, unknown } = resolve(program, argv);
  const cmd = chain[chain.length - 1];
  if (unknown !== undefined && chain.length === 1) {
    const msg = `unknown command ${JSON.stringify(unknown)} for ${JSON.stringify(PROGRAM)}`;
    o.err(`Error: ${msg}\nRun '${PROGRAM} --help' for usage.\nError: ${msg}\n`);
    return ExitCode.Error;
  }
  const specs: FlagSpec[] = [...program.globals];
  for (const c of chain) specs.push(...(c.persistentFlags ?? []));
  specs.push(...(cmd.flags ?? []));
  const flags = new FlagSet(specs);
  let args: string[];
  try {
    args = flags.parse(rest);
  } catch (e) {
    if (e instanceof HelpRequested) {
      o.out(usage(program, chain));
      return ExitCode.Success;
    }
    if (e instanceof FlagError) {
      o.out(usage(program, chain));
      o.err(`Error: ${e.message}\n\nError: ${e.message}\n`);
      return ExitCode.Error;
    }
    throw e;
  }
  if (cmd.run === undefined) {
    o.out(usage(program, chain));
    return ExitCode.Success;
  }
  const ctx = new Context({
    path: chain.slice(1).map((c) => c.name),
    args,
    flags,
    env: cleanEnv,
    o,
    argv,
    stdin,
  });
  try {
    await cmd.run(ctx);
    return ExitCode.Success;
  } catch (e) {
    if (e instanceof ExitError) {
      if (e.text !== undefined) o.err(`Error: ${e.text}\n`);
      return e.code;
    }
    o.err(`Error: ${errorText(e)}\n`);
    return ExitCode.Error;
  } finally {
    ctx.close();
  }
}

export async function main(program: Program = CAIRNCTL): Promise<void> {
  // etcdctl keeps gRPC's own logging quiet (only errors reach the user, through its messages).
  setLogVerbosity(logVerbosity.NONE);
  // grpc-js sets the TLS server name to the endpoint's host even when it is an IP address (Node warns
  // DEP0123 on stderr); etcdctl prints nothing of the kind.
  process.noDeprecation = true;
  const code = await runProgram(program, process.argv.slice(2), process.env, processOutput, process.stdin);
  // Streams and channels may still hold the event loop; the command is over.
  process.exit(code);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
