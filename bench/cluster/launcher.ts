// Starts a cluster of real server processes, `cairn` or etcd, for benchmarks: N members on
// 127.0.0.1 free ports, one temp dir each, default timing and fsync (no tuning flags at all, so
// both run as a user would start them). Members are stopped by pid and their dirs removed, also on
// SIGINT/SIGTERM or an uncaught error. (Their CPU time and peak RSS: see procfs.ts.)

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { putOnce } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';

export type Target = 'cairn' | 'etcd';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CAIRN_BIN = join(REPO, 'bin', 'cairn');
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

export interface ClusterOptions {
  readonly target: Target;
  readonly members: number;
  /** Node flags for cairn members, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/p']. */
  readonly nodeArgs?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Runs before any member starts, e.g. to restore a snapshot into the data dirs. */
  readonly prepare?: (layout: ClusterLayout) => Promise<void>;
}

/** Where a member will live, known before it starts. */
export interface MemberPlan {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface ClusterLayout {
  readonly target: Target;
  /** The temp dir holding every member's data dir and log; removed by stop(). */
  readonly root: string;
  readonly token: string;
  readonly initialCluster: string;
  readonly members: readonly MemberPlan[];
}

export interface Member extends MemberPlan {
  readonly pid: number;
  /** process.hrtime.bigint() when the process was spawned. */
  readonly spawnedAt: bigint;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
  running(): boolean;
}

export interface Cluster {
  readonly target: Target;
  readonly layout: ClusterLayout;
  /** The running members, in plan order (a restarted member replaces its old entry). */
  readonly members: readonly Member[];
  /** Stops every member (SIGTERM, then SIGKILL after a grace period) and removes the temp dir. */
  stop(): Promise<void>;
  /**
   * Stops one member with SIGTERM (a clean shutdown, as an operator restarts it), waits for it to
   * exit, and starts it again on the same data dir. Resolves once the new process is spawned; the
   * caller decides what "ready" means.
   */
  restart(name: string): Promise<Member>;
}

// Everything started and not yet stopped, for the signal and exit handlers.
const live = new Map<number, { root: string | undefined; pids: number[] }>();
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
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
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

/**
 * Registers something the benchmark created outside a cluster (a tool's process, a temp dir), so
 * that SIGINT, SIGTERM and exit remove it too. Returns the function that unregisters it.
 */
export function track(what: { readonly pid?: number; readonly dir?: string }): () => void {
  installHandlers();
  const id = nextLiveId++;
  live.set(id, { root: what.dir, pids: what.pid === undefined ? [] : [what.pid] });
  return () => live.delete(id);
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
  const plan: MemberPlan[] = [];
  for (let i = 1; i <= o.members; i++) {
    const name = `m${i}`;
    plan.push({
      name,
      clientUrl: `http://127.0.0.1:${await port()}`,
      peerUrl: `http://127.0.0.1:${await port()}`,
      dataDir: join(root, `${name}.etcd`),
      logFile: join(root, `${name}.log`),
    });
  }
  const layout: ClusterLayout = {
    target: o.target,
    root,
    token: `bench-${o.target}-${process.pid}-${liveId}`,
    initialCluster: plan.map((p) => `${p.name}=${p.peerUrl}`).join(','),
    members: plan,
  };

  const spawnMember = (p: MemberPlan): Member => {
    const flags = [
      `--name=${p.name}`,
      `--data-dir=${p.dataDir}`,
      `--listen-client-urls=${p.clientUrl}`,
      `--advertise-client-urls=${p.clientUrl}`,
      `--listen-peer-urls=${p.peerUrl}`,
      `--initial-advertise-peer-urls=${p.peerUrl}`,
      `--initial-cluster=${layout.initialCluster}`,
      `--initial-cluster-token=${layout.token}`,
      // Ignored by both once the data dir holds a WAL (a restart, a restored snapshot).
      '--initial-cluster-state=new',
    ];
    const [cmd, args] =
      o.target === 'cairn'
        ? [process.execPath, [...(o.nodeArgs ?? []), CAIRN_BIN, ...flags]]
        : [ETCD_BIN, flags];
    // Logs go to a file, not through a pipe: reading them would cost the load generator CPU.
    const fd = openSync(p.logFile, 'a');
    const spawnedAt = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '' } });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    pids.push(child.pid);
    const pid = child.pid;
    let running = true;
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => {
        running = false;
        pids.splice(pids.indexOf(pid), 1);
        resolve(code ?? signal ?? 'unknown');
      });
    });
    return { ...p, pid, spawnedAt, exited, running: () => running };
  };

  /** Sends `signal`, and SIGKILL if the member is still there after the grace period. */
  const stopMember = async (m: Member, signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (!m.running()) return;
    try {
      process.kill(m.pid, signal);
    } catch {
      // Gone in between.
    }
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)));
    if ((await Promise.race([m.exited, grace])) === 'timeout' && m.running()) {
      process.kill(m.pid, 'SIGKILL');
      await m.exited;
    }
    clearTimeout(timer);
  };

  const members: Member[] = [];
  const stop = async (): Promise<void> => {
    // cairn gets SIGTERM so that a --cpu-prof profile is written. etcd gets SIGKILL: its graceful
    // stop hands leadership over and waits for peers that are stopping too (7 s for 3 members),
    // and nothing in a benchmark's data dir is kept.
    const signal = o.target === 'cairn' ? 'SIGTERM' : 'SIGKILL';
    await Promise.all(members.map((m) => stopMember(m, signal, 10_000)));
    rmSync(root, { recursive: true, force: true });
    live.delete(liveId);
  };

  try {
    await o.prepare?.(layout);
    for (const p of plan) members.push(spawnMember(p));
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
  const restart = async (name: string): Promise<Member> => {
    const at = members.findIndex((m) => m.name === name);
    if (at < 0) throw new Error(`no member ${name}`);
    await stopMember(members[at], 'SIGTERM', 30_000);
    members[at] = spawnMember(members[at]);
    return members[at];
  };
  return { target: o.target, layout, members, stop, restart };
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

/**
 * Which Cairn is measured: the commit checked out where bin/cairn lives, read from the .git files
 * (no git process: the benchmark must not touch a shared checkout's index). Uncommitted changes are
 * not detected, so a report from a working tree says so.
 */
export function cairnRevision(): string {
  try {
    let gitDir = join(REPO, '.git');
    // A worktree or submodule: .git is a file naming the real git dir.
    const pointer = /^gitdir: (.*)$/m.exec(readFileOrEmpty(gitDir));
    if (pointer !== null) gitDir = resolve(REPO, pointer[1].trim());
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    const ref = /^ref: (.*)$/.exec(head)?.[1];
    let commit = head;
    if (ref !== undefined) {
      const packed = readFileOrEmpty(join(gitDir, 'packed-refs'))
        .split('\n')
        .map((l) => l.split(' '))
        .find((f) => f[1] === ref)?.[0];
      commit = readFileOrEmpty(join(gitDir, ref)).trim() || (packed ?? '?');
    }
    return `${commit.slice(0, 7)} plus whatever the working tree changed (${REPO})`;
  } catch {
    return `${REPO} (not a git checkout)`;
  }
}

function readFileOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function etcdVersion(): string {
  try {
    return execFileSync(ETCD_BIN, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return `${ETCD_BIN} (not runnable)`;
  }
}
