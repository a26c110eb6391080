// The command-line tools of both targets, run as a user would: `etcdctl` for etcd, `cairnctl` and
// `cairnutl` for Cairn. Each run is timed, tracked for cleanup on SIGINT, and killed after a deadline.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO, track, type Target } from './launcher.js';

export const ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';
const CAIRNCTL_BIN = join(REPO, 'bin', 'cairnctl');
const CAIRNUTL_BIN = join(REPO, 'bin', 'cairnutl');

export interface ToolRun {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** The client tool of a target (`snapshot save` and the like). */
export function ctl(target: Target): readonly string[] {
  return target === 'etcd' ? [ETCDCTL_BIN] : [process.execPath, CAIRNCTL_BIN];
}

/** The offline data-dir tool of a target (`snapshot restore`); etcd 3.4 keeps it in etcdctl. */
export function utl(target: Target): readonly string[] {
  return target === 'etcd' ? [ETCDCTL_BIN] : [process.execPath, CAIRNUTL_BIN];
}

/** Runs a tool to its end; the time is wall time from spawn to exit. */
export function runTool(
  command: readonly string[],
  args: readonly string[],
  timeoutMs = 600_000,
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command[0], [...command.slice(1), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', ETCDCTL_API: '3' },
    });
    if (child.pid === undefined) {
      reject(new Error(`could not start ${command.join(' ')}`));
      return;
    }
    const untrack = track({ pid: child.pid });
    const pid = child.pid;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      untrack();
      resolve({
        code: code ?? signal ?? 'unknown',
        stdout,
        stderr,
        seconds: (performance.now() - started) / 1000,
      });
    });
  });
}

/** Runs a tool and rejects unless it exits with 0. */
export async function runToolOk(command: readonly string[], args: readonly string[]): Promise<ToolRun> {
  const r = await runTool(command, args);
  if (r.code !== 0) throw new Error(`${command.join(' ')} ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return r;
}

/** A temp dir removed by `remove()`, or on SIGINT, SIGTERM and exit. */
export function benchTempDir(prefix: string): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const untrack = track({ dir: path });
  return {
    path,
    remove: () => {
      rmSync(path, { recursive: true, force: true });
      untrack();
    },
  };
}
