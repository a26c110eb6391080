// Running the command-line tools (cairnctl, cairnutl, real etcdctl) as child processes, and temp dirs
// that go away with the test.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { CAIRN_BIN } from './cairn-cluster.js';

export const CAIRNUTL_BIN = join(dirname(CAIRN_BIN), 'cairnutl');

export interface ToolRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bin` to its end (at most 60 s) with only PATH and ETCDCTL_API=3 in its environment. */
export function runTool(bin: string, args: readonly string[], cwd?: string): Promise<ToolRun> {
  return new Promise((resolve) => {
    execFile(
      bin,
      [...args],
      { cwd, env: { PATH: process.env.PATH, ETCDCTL_API: '3' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A new temp dir, removed when the test ends. */
export function tempDir(t: { after(fn: () => void): void }, prefix = 'cairn-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
