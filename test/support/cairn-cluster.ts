// Real `cairn` processes for end-to-end tests: members on 127.0.0.1 with free ports and temp data
// dirs, stopped by pid (SIGKILL or SIGTERM) and cleaned up when the test ends.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

import { freePort } from './real-etcd.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CAIRN_BIN = join(REPO, 'bin', 'cairn');
export const CAIRNCTL_BIN = join(REPO, 'bin', 'cairnctl');

export interface CairnMember {
  readonly name: string;
  readonly clientUrl: string;
  /** Changes when a test moves the member (member update). */
  peerUrl: string;
  readonly dataDir: string;
  /** The running process (undefined once stopped). */
  process: ChildProcess | undefined;
  log: string;
  /** Resolves with the exit code when the current process ends. */
  exited: Promise<number | null>;
}

export interface CairnCluster {
  readonly members: CairnMember[];
  readonly token: string;
  /** --initial-cluster of the current members. */
  initialCluster(): string;
  start(m: CairnMember, extra?: readonly string[]): void;
  kill(m: CairnMember, signal?: NodeJS.Signals): Promise<number | null>;
  /** A new member description (not started) for member add; `dirName` names its data dir (default: name). */
  newMember(name: string, dirName?: string): Promise<CairnMember>;
  endpoints(): string;
}

export interface CairnClusterOptions {
  /** Scheme of the client / peer URLs (default http; https needs TLS flags, see `flags`). */
  readonly clientScheme?: 'http' | 'https';
  readonly peerScheme?: 'http' | 'https';
  /** Extra flags for every start of a member (e.g. --cert-file ...), before start()'s own extras. */
  readonly flags?: (m: CairnMember) => readonly string[];
}

/** The flags that place one member (name, data dir, URLs, initial cluster), for cairn and etcd alike. */
export function memberFlags(
  m: {
    readonly name: string;
    readonly dataDir: string;
    readonly clientUrl: string;
    readonly peerUrl: string;
  },
  initialCluster = `${m.name}=${m.peerUrl}`,
): string[] {
  return [
    '--name',
    m.name,
    '--data-dir',
    m.dataDir,
    '--listen-client-urls',
    m.clientUrl,
    '--advertise-client-urls',
    m.clientUrl,
    '--listen-peer-urls',
    m.peerUrl,
    '--initial-advertise-peer-urls',
    m.peerUrl,
    '--initial-cluster',
    initialCluster,
  ];
}

export async function cairnCluster(
  t: TestContext,
  names: readonly string[],
  token = 'e2e-token',
  options: CairnClusterOptions = {},
): Promise<CairnCluster> {
  const clientScheme = options.clientScheme ?? 'http';
  const peerScheme = options.peerScheme ?? 'http';
  const root = mkdtempSync(join(tmpdir(), 'cairn-e2e-'));
  const members: CairnMember[] = [];
  const describe = async (name: string, dirName = name): Promise<CairnMember> => {
    const client = await freePort();
    let peer = await freePort();
    while (peer === client) peer = await freePort();
    return {
      name,
      clientUrl: `${clientScheme}://127.0.0.1:${client}`,
      peerUrl: `${peerScheme}://127.0.0.1:${peer}`,
      dataDir: join(root, `${dirName}.etcd`),
      process: undefined,
      log: '',
      exited: Promise.resolve(null),
    };
  };
  for (const n of names) members.push(await describe(n));
  const cluster: CairnCluster = {
    members,
    token,
    initialCluster: () => members.map((m) => `${m.name}=${m.peerUrl}`).join(','),
    endpoints: () =>
      members
        .filter((m) => m.process !== undefined)
        .map((m) => m.clientUrl.replace(/^https?:\/\//, ''))
        .join(','),
    start(m, extra = []) {
      const args = [
        CAIRN_BIN,
        ...memberFlags(m, cluster.initialCluster()),
        '--initial-cluster-token',
        token,
        ...(options.flags?.(m) ?? []),
        ...extra,
      ];
      const child = spawn(process.execPath, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH },
      });
      m.process = child;
      const keep = (d: Buffer): void => {
        m.log = (m.log + d.toString()).slice(-20000);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      m.exited = new Promise((resolve) =>
        child.once('exit', (code) => {
          if (m.process === child) m.process = undefined;
          resolve(code);
        }),
      );
    },
    async kill(m, signal = 'SIGKILL') {
      const child = m.process;
      if (child?.pid === undefined) return null;
      process.kill(child.pid, signal);
      return m.exited;
    },
    newMember: async (name, dirName) => {
      const m = await describe(name, dirName);
      members.push(m);
      return m;
    },
  };
  t.after(async () => {
    for (const m of members) await cluster.kill(m);
    rmSync(root, { recursive: true, force: true });
  });
  return cluster;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
