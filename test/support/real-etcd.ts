// A real single-member etcd (the Debian etcd-server binary) for tests that compare Cairn with etcd or
// drive etcd's own tools. It listens on 127.0.0.1 only, on free random ports, keeps its data in a temp
// dir, and is killed by pid (and the dir removed) when the test ends.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { EtcdGateway } from './etcd-gateway.js';

export interface RealEtcdOptions {
  /** Member name (default 'default'). */
  readonly name?: string;
  /**
   * Extra flags, e.g. ['--auto-compaction-mode=revision', '--auto-compaction-retention=10',
   * '--quota-backend-bytes=16777216']. The URL, name, data-dir and cluster flags are set here.
   */
  readonly flags?: readonly string[];
  /** How long to wait for /health to answer true (default 20 s). */
  readonly startTimeoutMs?: number;
  /** The etcd binary (default $ETCD_BIN, else /usr/bin/etcd, else etcd on PATH). */
  readonly binary?: string;
  /**
   * An existing data dir to start on (e.g. one made by `etcdctl snapshot restore`), left in place when
   * etcd stops. Default: a new temp dir, removed at stop.
   */
  readonly dataDir?: string;
  /** The peer port (a restored member must listen where its data dir says it is). Default: a free one. */
  readonly peerPort?: number;
}

export interface RealEtcd {
  readonly pid: number;
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** http://127.0.0.1:<client port> */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The JSON gateway of the client port (`/v3/...`). */
  readonly gateway: EtcdGateway;
  /** The last part of etcd's log, for failure messages. */
  log(): string;
  /** Whether the process is still running (false after a crash or stop). */
  running(): boolean;
  /**
   * Stops the process by pid (SIGKILL unless told otherwise; SIGTERM lets etcd commit its backend
   * first) and removes the data dir it made; idempotent.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Flags that startRealEtcd owns: overriding them could move etcd off 127.0.0.1 or its temp dir. */
const MANAGED_FLAGS = [
  '--name',
  '--data-dir',
  '--wal-dir',
  '--listen-client-urls',
  '--advertise-client-urls',
  '--listen-peer-urls',
  '--initial-advertise-peer-urls',
  '--initial-cluster',
  '--initial-cluster-state',
  '--listen-metrics-urls',
  '--discovery',
  '--discovery-srv',
];

const LOG_LIMIT = 64 * 1024;
const START_ATTEMPTS = 3;

interface TestContext {
  after(fn: () => Promise<void>): void;
}

/** Starts etcd and waits until it is healthy; the test's `after` hook stops it. */
export async function startRealEtcd(t: TestContext, options: RealEtcdOptions = {}): Promise<RealEtcd> {
  for (const flag of options.flags ?? []) {
    const name = flag.split('=')[0];
    if (MANAGED_FLAGS.includes(name)) throw new Error(`real-etcd: ${name} is set by startRealEtcd`);
  }
  const binary = options.binary ?? findEtcd();
  let lastError: Error | undefined;
  // Another process may take a port between our probe and etcd's bind: try again with new ports.
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const etcd = await spawnEtcd(binary, options);
    t.after(() => etcd.stop());
    try {
      await waitHealthy(etcd, options.startTimeoutMs ?? 20_000);
      return etcd;
    } catch (e) {
      lastError = e instanceof Error ? e : new Error(String(e));
      await etcd.stop();
      if (!/address already in use/.test(etcd.log())) break;
    }
  }
  throw lastError ?? new Error('real-etcd: did not start');
}

function findEtcd(): string {
  const fromEnv = process.env['ETCD_BIN'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (existsSync('/usr/bin/etcd')) return '/usr/bin/etcd';
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, 'etcd'))) return join(dir, 'etcd');
  }
  throw new Error('real-etcd: no etcd binary (install the Debian package etcd-server or set ETCD_BIN)');
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('real-etcd: no free port'))));
    });
  });
}

async function spawnEtcd(binary: string, options: RealEtcdOptions): Promise<RealEtcd> {
  const name = options.name ?? 'default';
  let clientPort = await freePort();
  while (clientPort === options.peerPort) clientPort = await freePort();
  let peerPort = options.peerPort ?? (await freePort());
  while (peerPort === clientPort) peerPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const dir = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'cairn-real-etcd-')) : undefined;
  const dataDir = options.dataDir ?? join(dir ?? '', 'data');
  const args = [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${name}=${peerUrl}`,
    '--initial-cluster-state=new',
    '--initial-cluster-token=cairn-real-etcd',
    '--logger=zap',
    '--log-outputs=stderr',
    ...(options.flags ?? []),
  ];
  // ETCD_* variables of the environment would silently change the configuration.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;

  const child: ChildProcess = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };
  // Always drain the pipes: a full pipe would block etcd.
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      append(Buffer.from(`\n[etcd exited: code ${String(code)}, signal ${String(signal)}]\n`));
      resolve();
    });
    child.once('error', (e) => {
      exited = true;
      append(Buffer.from(`\n[etcd failed to start: ${e.message}]\n`));
      resolve();
    });
  });
  const pid = child.pid;
  let stopping: Promise<void> | undefined;
  return {
    pid: pid ?? -1,
    name,
    clientPort,
    peerPort,
    clientUrl,
    peerUrl,
    dataDir,
    gateway: new EtcdGateway(clientUrl),
    log: () => log,
    running: () => !exited,
    stop: (signal: NodeJS.Signals = 'SIGKILL') => {
      stopping ??= (async () => {
        if (!exited && pid !== undefined) {
          try {
            process.kill(pid, signal);
          } catch {
            // Already gone.
          }
          await exit;
        }
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

async function waitHealthy(etcd: RealEtcd, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!etcd.running()) throw new Error(`real-etcd: etcd exited while starting\n${etcd.log()}`);
    try {
      const res = await fetch(`${etcd.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await res.text();
      if (res.ok && (JSON.parse(body) as { health?: unknown }).health === 'true') return;
      last = `${res.status} ${body}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    // Poll interval, not a synchronization: the deadline above bounds the wait.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`real-etcd: not healthy after ${timeoutMs} ms (last: ${last})\n${etcd.log()}`);
}
