// Shared helpers for the transport tests: members wired to real sockets on 127.0.0.1, message
// builders, and condition waits (no timing assertions: only "eventually, within a generous limit").

import { setTimeout as sleep } from 'node:timers/promises';
import type { Entry, Message, MsgSnap, SnapshotStatus } from '../../../src/raft/types.js';
import { PeerServer, type PeerServerOptions } from '../../../src/transport/peer-server.js';
import { Transport, type TransportOptions } from '../../../src/transport/transport.js';
import type { TransportLogger } from '../../../src/transport/types.js';

export const CLUSTER = 0xc1a55e7n;

/** Polls `cond` until true; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface LogLine {
  readonly level: 'info' | 'warn';
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>> | undefined;
}

export function recordingLogger(): TransportLogger & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
  };
}

export function heartbeat(from: bigint, to: bigint, commit: number): Message {
  return { type: 'MsgHeartbeat', from, to, term: 3, commit, context: new Uint8Array(0) };
}

export function append(from: bigint, to: bigint, index: number, payloadBytes: number, count = 1): Message {
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(payloadBytes);
    for (let j = 0; j < payloadBytes; j++) data[j] = (index + i + j) & 0xff;
    entries.push({ term: 3, index: index + i + 1, type: 'normal', data });
  }
  return { type: 'MsgApp', from, to, term: 3, index, logTerm: 3, entries, commit: index };
}

export function snapMessage(from: bigint, to: bigint, index: number): MsgSnap {
  return {
    type: 'MsgSnap',
    from,
    to,
    term: 3,
    snapshot: {
      data: new TextEncoder().encode('{"members":[]}'),
      metadata: { index, term: 3, confState: { voters: [from, to], learners: [] } },
    },
  };
}

/** What a test member's callbacks saw. */
export interface Recorded {
  readonly batches: Message[][];
  readonly messages: Message[];
  readonly unreachable: bigint[];
  readonly snapshots: { id: bigint; status: SnapshotStatus }[];
  removed: number;
  readonly rtts: number[];
}

export function newRecorded(): Recorded {
  return { batches: [], messages: [], unreachable: [], snapshots: [], removed: 0, rtts: [] };
}

export interface TestServer {
  readonly server: PeerServer;
  readonly url: string;
  readonly rec: Recorded;
  readonly logger: ReturnType<typeof recordingLogger>;
}

export async function startServer(
  memberId: bigint,
  overrides: Partial<PeerServerOptions> = {},
  listenUrl = 'http://127.0.0.1:0',
): Promise<TestServer> {
  const rec = newRecorded();
  const logger = recordingLogger();
  const server = await PeerServer.start({
    clusterId: CLUSTER,
    memberId,
    listenUrls: [listenUrl],
    logger,
    isRemoved: () => false,
    onMessage: (ms) => {
      rec.batches.push(ms);
      for (const m of ms) rec.messages.push(m);
    },
    onSnapshot: async (_m, body) => {
      for await (const _chunk of body);
    },
    membersJson: () => '[]',
    versionJson: () => '{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}',
    ...overrides,
  });
  return { server, url: server.urls[0], rec, logger };
}

export interface TestTransport {
  readonly transport: Transport;
  readonly rec: Recorded;
  readonly logger: ReturnType<typeof recordingLogger>;
}

export function newTransport(memberId: bigint, overrides: Partial<TransportOptions> = {}): TestTransport {
  const rec = newRecorded();
  const logger = recordingLogger();
  const transport = new Transport({
    clusterId: CLUSTER,
    memberId,
    logger,
    reportUnreachable: (id) => rec.unreachable.push(id),
    reportSnapshot: (id, status) => rec.snapshots.push({ id, status }),
    onRemoved: () => rec.removed++,
    openSnapshotBody: () => (async function* () {})(),
    onRoundTrip: (_id, s) => rec.rtts.push(s),
    ...overrides,
  });
  return { transport, rec, logger };
}
