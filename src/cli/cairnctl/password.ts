// Password prompts as etcdctl shows them (it uses the speakeasy package): the prompt on stdout, echo
// turned off on a terminal while the line is typed, the line read from stdin (a pipe works too), a
// newline on stdout afterwards, and surrounding blanks trimmed.

import { spawnSync } from 'node:child_process';

import { ExitCode, fail } from './exit.js';
import { trimSpace } from './lines.js';
import type { Output } from './output.js';
import type { StdinReader } from './stdin-reader.js';

export interface PasswordSource {
  readonly o: Output;
  readonly stdin: NodeJS.ReadableStream;
  readonly reader: StdinReader;
}

function isTerminal(stream: NodeJS.ReadableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/** Runs stty on our terminal; false when it cannot (no stty): the password is then echoed. */
function stty(setting: string): boolean {
  const r = spawnSync('stty', [setting], { stdio: ['inherit', 'ignore', 'ignore'] });
  return r.status === 0;
}

/** Asks once. On a terminal, echo is off while reading and comes back even on Ctrl-C. */
export async function askPassword(src: PasswordSource, prompt: string): Promise<string> {
  src.o.out(prompt);
  let line: string;
  if (isTerminal(src.stdin) && stty('-echo')) {
    // The terminal stays in line mode (editing keys work); only the echo is off, as with speakeasy.
    const restore = (): void => {
      stty('echo');
      process.exit(255);
    };
    process.once('SIGINT', restore);
    try {
      line = await src.reader.readLine();
    } finally {
      process.removeListener('SIGINT', restore);
      stty('echo');
    }
  } else {
    line = await src.reader.readLine();
  }
  src.o.out('\n');
  return trimSpace(line);
}

/** `user add` / `user passwd`: the password twice; empty or different answers end the command (exit 128). */
export async function askNewPassword(src: PasswordSource, name: string): Promise<string> {
  const first = await askPassword(src, `Password of ${name}: `);
  if (first.length === 0) fail(ExitCode.BadArgs, 'empty password');
  const second = await askPassword(src, `Type password of ${name} again for confirmation: `);
  if (first !== second) fail(ExitCode.BadArgs, 'given passwords are different');
  return first;
}
