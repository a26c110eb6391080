// Throughput check of the peer transport on loopback (not a test: no assertions on time).
//
//   node dist/test/unit/transport/bench.js [seconds-per-case] [--split]
//
// By default sender and receiver share this process (and its one thread), so the CPU figure is the
// cost of both ends of a message together. With --split the receiver runs in a child process and the
// CPU of each side is reported separately.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeMessage } from '../../../src/raft/codec.js';
import type { Message } from '../../../src/raft/types.js';
import { append, heartbeat, newTransport, startServer } from './helpers.js';

const A = 0xaan;
const B = 0xbbn;
const args = process.argv.slice(2);
const split = args.includes('--split');
const seconds = Number(args.find((a) => !a.startsWith('--')) ?? '3');
/** Sent but not yet received, at most: keeps the sender within the bounded queue (no drops). */
const WINDOW_MESSAGES = 32_768;
const WINDOW_BYTES = 16 * 1024 * 1024;

interface Case {
  readonly name: string;
  /** Messages per send() call and per event-loop turn (one Ready batch). */
  readonly perTurn: number;
  readonly make: (i: number) => Message;
}

const cases: Case[] = [
  { name: 'MsgHeartbeat', perTurn: 256, make: (i) => heartbeat(A, B, i) },
  { name: 'MsgApp 1 x 128 B', perTurn: 256, make: (i) => append(A, B, i, 128) },
  { name: 'MsgApp 1 x 128 B', perTurn: 8, make: (i) => append(A, B, i, 128) },
  { name: 'MsgApp 1 x 128 B', perTurn: 1, make: (i) => append(A, B, i, 128) },
  { name: 'MsgApp 10 x 1 KiB', perTurn: 64, make: (i) => append(A, B, i, 1024, 10) },
];

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The receiving member, here or in a child process. */
interface Receiver {
  readonly url: string;
  received(): number;
  /** Receiver CPU (µs) since start, or undefined when it shares this process. */
  cpu(): Promise<number | undefined>;
  close(): Promise<void>;
}

async function localReceiver(): Promise<Receiver> {
  let count = 0;
  const b = await startServer(B, { onMessage: (ms) => (count += ms.length) });
  return { url: b.url, received: () => count, cpu: async () => undefined, close: () => b.server.close() };
}

interface ChildReport {
  readonly url?: string;
  readonly received?: number;
  readonly cpu?: number;
}

async function childReceiver(): Promise<Receiver> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--receiver']);
  let count = 0;
  let cpuWaiter: ((us: number) => void) | undefined;
  const url = await new Promise<string>((resolve) => {
    child.on('message', (m: ChildReport) => {
      if (m.url !== undefined) resolve(m.url);
      if (m.received !== undefined) count = m.received;
      if (m.cpu !== undefined) cpuWaiter?.(m.cpu);
    });
  });
  return {
    url,
    received: () => count,
    cpu: () =>
      new Promise((resolve) => {
        cpuWaiter = resolve;
        child.send('cpu');
      }),
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('exit');
      }),
  };
}

/** Child side of --split: a member that counts messages and reports to the parent. */
async function runReceiver(): Promise<void> {
  let count = 0;
  let cpu0 = process.cpuUsage();
  const b = await startServer(B, { onMessage: (ms) => (count += ms.length) });
  const report = setInterval(() => process.send?.({ received: count }), 2);
  process.on('message', (m: string) => {
    if (m === 'cpu') {
      const u = process.cpuUsage(cpu0);
      process.send?.({ cpu: u.user + u.system });
      cpu0 = process.cpuUsage();
    } else if (m === 'exit') {
      clearInterval(report);
      void b.server.close().then(() => process.disconnect());
    }
  });
  process.send?.({ url: b.url });
}

async function run(c: Case): Promise<void> {
  const rx = split ? await childReceiver() : await localReceiver();
  const a = newTransport(A);
  a.transport.addPeer(B, [rx.url]);
  while (a.transport.activeSince(B) === undefined) await turn();

  // Pre-built messages: the benchmark measures the transport (encoding included), not message building.
  const batch: Message[] = [];
  for (let i = 0; i < c.perTurn; i++) batch.push(c.make(i));
  const encodedSize = encodeMessage(batch[0]).byteLength;
  const window = Math.min(WINDOW_MESSAGES, Math.floor(WINDOW_BYTES / encodedSize));

  let sent = 0;
  await rx.cpu(); // resets the child's CPU counter
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    if (sent - rx.received() < window) {
      a.transport.send(batch);
      sent += c.perTurn;
    }
    await turn();
  }
  while (rx.received() < sent - (a.transport.peerStats(B)?.dropped ?? 0)) await turn();
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const rxCpu = await rx.cpu();
  const stats = a.transport.peerStats(B);
  const received = rx.received();
  const rate = received / elapsed;
  const mbs = (stats?.sentBytes ?? 0) / elapsed / 1e6;
  const txUs = (cpu.user + cpu.system) / received;
  const cpuText =
    rxCpu === undefined
      ? `${txUs.toFixed(2).padStart(6)} us CPU/msg (both ends)`
      : `${txUs.toFixed(2).padStart(6)} us send + ${(rxCpu / received).toFixed(2).padStart(6)} us receive CPU/msg`;
  console.log(
    `${c.name.padEnd(18)} x${String(c.perTurn).padEnd(4)} ${encodedSize.toString().padStart(6)} B/msg ` +
      `${Math.round(rate).toLocaleString('en').padStart(10)} msg/s ${mbs.toFixed(1).padStart(7)} MB/s  ` +
      `${cpuText}  dropped ${stats?.dropped ?? 0}`,
  );
  await a.transport.close();
  await rx.close();
}

async function main(): Promise<void> {
  const where = split ? 'receiver in a child process' : 'one process';
  console.log(`node ${process.version}, ${seconds} s per case, xN = messages per turn, ${where}`);
  for (const c of cases) await run(c);
}

if (args.includes('--receiver')) void runReceiver();
else void main();
