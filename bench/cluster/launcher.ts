// Starts a cluster of real server processes, `cairn` or etcd, for benchmarks: N members on
// 127.0.0.1 free ports, one temp dir each, default timing and fsync (no tuning flags at all, so
// both run as a user would start them). Members are stopped by pid and their dirs removed, also on
// SIGINT/SIGTERM or an uncaught error. (Their CPU time and peak RSS: see procfs.ts.)

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { putOnce } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';

export type Target = 'cairn' | 'etcd';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CAIRN_BIN = join(REPO, 'bin', 'cairn');
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

export interface ClusterOptions {
  readonly target: Target;
  readonly members: number;
  /** Node flags for cairn members, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/p']. */
  readonly nodeArgs?: readonly string[];
  readonly startTimeoutMs?: number;
}

export interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
  running(): boolean;
}

export interface Cluster {
  readonly target: Target;
  readonly members: readonly Member[];
  /** Stops every member (SIGTERM, then SIGKILL after a grace period) and removes the temp dir. */
  stop(): Promise<void>;
}

// Everything started and not yet stopped, for the signal and exit handlers.
const live = new Map<number, { root: string; pids: number[] }>();
let nextLiveId = 0;
let handlersInstalled = false;

function killAllNow(): void {
  for (const { root, pids } of live.values()) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
  live.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping the benchmark's servers\n`);
      killAllNow();
      process.exit(130);
    });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function logTail(file: string, bytes = 3000): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '';
  }
}

class StartError extends Error {
  constructor(
    message: string,
    readonly portClash: boolean,
  ) {
    super(message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts the cluster and resolves once a put through one of its members succeeded. */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  installHandlers();
  if (o.target === 'etcd' && !existsSync(ETCD_BIN)) throw new Error(`etcd not found at ${ETCD_BIN}`);
  // Ports are probed then bound by the server: another process may win the race, so try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(o);
    } catch (e) {
      if (!(e instanceof StartError && e.portClash) || attempt === 3) throw e;
    }
  }
}

async function startOnce(o: ClusterOptions): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), `cairn-bench-${o.target}-`));
  const liveId = nextLiveId++;
  const pids: number[] = [];
  live.set(liveId, { root, pids });

  const used = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!used.has(p)) {
        used.add(p);
        return p;
      }
    }
  };
  const plan: { name: string; client: string; peer: string }[] = [];
  for (let i = 1; i <= o.members; i++) {
    plan.push({
      name: `m${i}`,
      client: `http://127.0.0.1:${await port()}`,
      peer: `http://127.0.0.1:${await port()}`,
    });
  }
  const initialCluster = plan.map((p) => `${p.name}=${p.peer}`).join(',');
  const token = `bench-${o.target}-${process.pid}-${liveId}`;

  const members: Member[] = plan.map((p) => {
    const dataDir = join(root, `${p.name}.etcd`);
    const logFile = join(root, `${p.name}.log`);
    const flags = [
      `--name=${p.name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${p.client}`,
      `--advertise-client-urls=${p.client}`,
      `--listen-peer-urls=${p.peer}`,
      `--initial-advertise-peer-urls=${p.peer}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${token}`,
      '--initial-cluster-state=new',
    ];
    const [cmd, args] =
      o.target === 'cairn'
        ? [process.execPath, [...(o.nodeArgs ?? []), CAIRN_BIN, ...flags]]
        : [ETCD_BIN, flags];
    // Logs go to a file, not through a pipe: reading them would cost the load generator CPU.
    const fd = openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '' } });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    pids.push(child.pid);
    let running = true;
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => {
        running = false;
        resolve(code ?? signal ?? 'unknown');
      });
    });
    return {
      name: p.name,
      clientUrl: p.client,
      peerUrl: p.peer,
      dataDir,
      logFile,
      pid: child.pid,
      exited,
      running: () => running,
    };
  });

  const stop = async (): Promise<void> => {
    // cairn gets SIGTERM so that a --cpu-prof profile is written. etcd gets SIGKILL: its graceful
    // stop hands leadership over and waits for peers that are stopping too (7 s for 3 members),
    // and nothing in a benchmark's data dir is kept.
    const signal = o.target === 'cairn' ? 'SIGTERM' : 'SIGKILL';
    for (const m of members) {
      if (!m.running()) continue;
      try {
        process.kill(m.pid, signal);
      } catch {
        // Gone in between.
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 10_000)));
    for (const m of members) {
      if ((await Promise.race([m.exited, grace])) === 'timeout' && m.running()) {
        process.kill(m.pid, 'SIGKILL');
        await m.exited;
      }
    }
    clearTimeout(timer);
    rmSync(root, { recursive: true, force: true });
    live.delete(liveId);
  };

  try {
    await waitForPut(members, o.startTimeoutMs ?? 30_000);
  } catch (e) {
    const tails = members.map((m) => `--- ${m.name} (pid ${m.pid}) ---\n${logTail(m.logFile)}`).join('\n');
    await stop();
    const msg = e instanceof Error ? e.message : String(e);
    throw new StartError(
      `${o.target} cluster did not start: ${msg}\n${tails}`,
      /address already in use/i.test(tails),
    );
  }
  return { target: o.target, members, stop };
}

async function waitForPut(members: readonly Member[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  for (let i = 0; ; i++) {
    const dead = members.find((m) => !m.running());
    if (dead !== undefined) throw new Error(`${dead.name} exited (${String(await dead.exited)})`);
    if (Date.now() > deadline) throw new Error(`no put succeeded within ${timeoutMs} ms (last: ${last})`);
    const m = members[i % members.length];
    let conn: GrpcConnection | undefined;
    try {
      conn = await GrpcConnection.connect(m.clientUrl, 1000);
      await putOnce(conn, 'bench/ready', m.name, 2000);
      return;
    } catch (e) {
      last = `${m.name}: ${e instanceof Error ? e.message : String(e)}`;
      await sleep(100);
    } finally {
      conn?.close();
    }
  }
}

/** Which Cairn is measured: the commit of the checkout holding bin/cairn, and whether it is dirty. */
export function cairnRevision(): string {
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', ['-C', REPO, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes' : ''} (${REPO})`;
  } catch {
    return `${REPO} (not a git checkout)`;
  }
}

export function etcdVersion(): string {
  try {
    return execFileSync(ETCD_BIN, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return `${ETCD_BIN} (not runnable)`;
  }
}
