import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  append,
  heartbeat,
  newTransport,
  startServer,
  waitFor,
  type TestServer,
  type TestTransport,
} from './helpers.js';
import type { TransportOptions } from '../../../src/transport/transport.js';

const A = 0xaan;
const B = 0xbbn;
const C = 0xccn;

/** A URL on which nothing listens (a port that was just free). */
async function deadUrl(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

/** Accepts TCP connections and never answers: a hung peer. */
async function blackHole(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.pause();
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const so of sockets) so.destroy();
        s.close(() => r());
      }),
  };
}

describe('reconnects and unreachable peers', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  async function server(id: bigint, url?: string): Promise<TestServer> {
    const s = await startServer(id, {}, url);
    cleanup.push(() => s.server.close());
    return s;
  }
  function transport(id: bigint, overrides: Partial<TransportOptions> = {}): TestTransport {
    const t = newTransport(id, overrides);
    cleanup.push(() => t.transport.close());
    return t;
  }

  /** A peer port that accepts every raft stream (101) and hands the socket to `onStream`. */
  async function acceptingPeer(onStream: (socket: Duplex) => void): Promise<string> {
    const h1 = http.createServer();
    const sockets = new Set<Duplex>();
    h1.on('upgrade', (_req: http.IncomingMessage, socket: Duplex) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: cairn-raft\r\n\r\n');
      onStream(socket);
    });
    await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
    cleanup.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          h1.close(() => r());
        }),
    );
    return `http://127.0.0.1:${(h1.address() as net.AddressInfo).port}`;
  }

  it('reconnects after the receiving server restarts', async () => {
    const first = await server(B);
    const a = transport(A);
    a.transport.addPeer(B, [first.url]);
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => first.rec.messages.length === 1, 'first delivery');

    await first.server.close();
    await waitFor(() => a.transport.activeSince(B) === undefined, 'link noticed the outage');
    // Messages during the outage are lost and reported.
    a.transport.send([heartbeat(A, B, 2)]);
    await waitFor(() => a.rec.unreachable.includes(B), 'reportUnreachable');

    const second = await server(B, first.url);
    let n = 3;
    while (second.rec.messages.length === 0) {
      a.transport.send([heartbeat(A, B, n++)]);
      await sleep(20);
      if (n > 1000) assert.fail('no delivery after restart');
    }
    assert.ok(a.transport.activeSince(B) !== undefined);
    // Once up again, nothing more is lost: the next sends all arrive in order.
    const before = second.rec.messages.length;
    a.transport.send([heartbeat(A, B, 5000), heartbeat(A, B, 5001)]);
    await waitFor(() => second.rec.messages.length === before + 2, 'in order after restart');
    const tail = second.rec.messages.slice(-2).map((m) => (m.type === 'MsgHeartbeat' ? m.commit : -1));
    assert.deepEqual(tail, [5000, 5001]);
    assert.ok(a.logger.lines.some((l) => l.level === 'warn' && l.msg === 'peer stream failed'));
  });

  it('reports a peer that is down as unreachable and drops its messages', async () => {
    const a = transport(A, { limits: { initialBackoffMs: 10, maxBackoffMs: 20 } });
    a.transport.addPeer(B, [await deadUrl()]);
    for (let i = 0; i < 20; i++) {
      a.transport.send([heartbeat(A, B, i)]);
      await sleep(5);
    }
    await waitFor(() => a.rec.unreachable.length > 0, 'reportUnreachable');
    assert.ok(a.rec.unreachable.every((id) => id === B));
    await waitFor(() => a.transport.peerStats(B)?.dropped === 20, 'all 20 counted as dropped');
    assert.equal(a.transport.peerStats(B)?.queuedMessages, 0);
    assert.equal(a.transport.activeSince(B), undefined);
  });

  it('bounds the queue of a hung peer by count and by bytes', async () => {
    const hole = await blackHole();
    cleanup.push(hole.close);
    const a = transport(A, { limits: { maxQueuedMessages: 100, dialTimeoutMs: 60_000 } });
    a.transport.addPeer(B, [hole.url]);
    const burst = Array.from({ length: 1000 }, (_, i) => heartbeat(A, B, i));
    a.transport.send(burst);
    let stats = a.transport.peerStats(B);
    assert.equal(stats?.state, 'connecting');
    assert.equal(stats?.queuedMessages, 100);
    assert.equal(stats?.dropped, 900);
    await waitFor(() => a.rec.unreachable.length > 0, 'reportUnreachable for the overflow');
    // Once per turn, not once per dropped message.
    assert.equal(a.rec.unreachable.length, 1);

    const b2 = transport(B, { limits: { maxQueuedBytes: 10_000, dialTimeoutMs: 60_000 } });
    b2.transport.addPeer(A, [hole.url]);
    b2.transport.send(Array.from({ length: 1000 }, (_, i) => heartbeat(B, A, i)));
    stats = b2.transport.peerStats(A);
    assert.ok(stats !== undefined && stats.queuedBytes <= 10_000 && stats.queuedMessages > 0);
    assert.equal(stats.queuedMessages + stats.dropped, 1000);
  });

  it('bounds the queue of a peer that accepted the stream but stopped reading', async () => {
    // A peer that accepts the stream and then never reads: TCP back-pressure stops the writes.
    const url = await acceptingPeer((socket) => socket.pause());
    const a = transport(A, { limits: { maxQueuedMessages: 200 } });
    a.transport.addPeer(B, [url]);
    await waitFor(() => a.transport.activeSince(B) !== undefined, 'stream accepted');
    let turns = 0;
    while ((a.transport.peerStats(B)?.dropped ?? 0) === 0) {
      a.transport.send(Array.from({ length: 100 }, (_, i) => append(A, B, i, 1024)));
      await new Promise((r) => setImmediate(r));
      if (++turns > 10_000) assert.fail('the queue never filled');
    }
    const stats = a.transport.peerStats(B);
    assert.equal(stats?.state, 'open');
    assert.ok(stats !== undefined && stats.queuedMessages <= 200);
    await waitFor(() => a.rec.unreachable.includes(B), 'reportUnreachable');
  });

  it('gives up on a hung peer after the dial timeout and drops what was queued', async () => {
    const hole = await blackHole();
    cleanup.push(hole.close);
    const a = transport(A, { limits: { dialTimeoutMs: 100, initialBackoffMs: 1000, maxBackoffMs: 1000 } });
    a.transport.addPeer(B, [hole.url]);
    a.transport.send([heartbeat(A, B, 1), heartbeat(A, B, 2)]);
    await waitFor(() => a.transport.peerStats(B)?.state === 'backoff', 'dial timeout');
    assert.equal(a.transport.peerStats(B)?.dropped, 2);
    await waitFor(() => a.rec.unreachable.length > 0, 'reportUnreachable');
  });

  it('a hung peer does not hold up the others', async () => {
    const hole = await blackHole();
    cleanup.push(hole.close);
    const c = await server(C);
    const a = transport(A, { limits: { maxQueuedMessages: 50, dialTimeoutMs: 60_000 } });
    a.transport.addPeer(B, [hole.url]);
    a.transport.addPeer(C, [c.url]);
    await waitFor(() => a.transport.activeSince(C) !== undefined, 'C connected');
    for (let t = 0; t < 20; t++) {
      const batch = [];
      for (let i = 0; i < 50; i++) batch.push(heartbeat(A, B, t * 50 + i), heartbeat(A, C, t * 50 + i));
      a.transport.send(batch);
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => c.rec.messages.length === 1000, 'all messages to C');
    assert.equal(a.transport.peerStats(C)?.dropped, 0);
    assert.equal(a.transport.peerStats(B)?.queuedMessages, 50);
  });

  it("tries the peer's URLs in turn", async () => {
    const b = await server(B);
    const a = transport(A, { limits: { initialBackoffMs: 10, maxBackoffMs: 20 } });
    a.transport.addPeer(B, [await deadUrl(), b.url]);
    await waitFor(() => a.transport.activeSince(B) !== undefined, 'connected via the second URL');
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => b.rec.messages.length === 1, 'delivery');
  });

  it('drops a stream whose receiver writes anything but ping answers, and dials again', async () => {
    let upgrades = 0;
    const url = await acceptingPeer((socket) => {
      upgrades++;
      socket.write('hello');
    });
    const a = transport(A, { limits: { initialBackoffMs: 10, maxBackoffMs: 20 } });
    a.transport.addPeer(B, [url]);
    await waitFor(() => upgrades >= 2, 'a second connection after the first was dropped');
    const line = a.logger.lines.find((l) => l.msg === 'peer stream failed');
    assert.equal(line?.fields?.reason, 'unexpected bytes from the peer');
  });

  it('follows a peer to its new URL on updatePeer', async () => {
    const b1 = await server(B);
    const b2 = await server(B);
    const a = transport(A);
    a.transport.addPeer(B, [b1.url]);
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => b1.rec.messages.length === 1, 'delivery to the old URL');
    a.transport.updatePeer(B, [b2.url]);
    a.transport.send([heartbeat(A, B, 2)]);
    await waitFor(() => b2.rec.messages.length === 1, 'delivery to the new URL');
    assert.equal(b1.rec.messages.length, 1);
  });
});
