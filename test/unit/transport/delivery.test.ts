import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Message } from '../../../src/raft/types.js';
import {
  append,
  heartbeat,
  snapMessage,
  newTransport,
  startServer,
  waitFor,
  type TestServer,
  type TestTransport,
} from './helpers.js';

const A = 0xaan;
const B = 0xbbn;
const C = 0xccn;

describe('message delivery', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  async function server(id: bigint): Promise<TestServer> {
    const s = await startServer(id);
    cleanup.push(() => s.server.close());
    return s;
  }
  function transport(id: bigint): TestTransport {
    const t = newTransport(id);
    cleanup.push(() => t.transport.close());
    return t;
  }

  it('delivers in order per pair, from several senders, over many turns', async () => {
    const b = await server(B);
    const fromA = transport(A);
    const fromC = transport(C);
    fromA.transport.addPeer(B, [b.url]);
    fromC.transport.addPeer(B, [b.url]);
    await waitFor(() => fromA.transport.activeSince(B) !== undefined, 'A connected');
    await waitFor(() => fromC.transport.activeSince(B) !== undefined, 'C connected');

    const turns = 50;
    const perTurn = 40;
    for (let t = 0; t < turns; t++) {
      const batchA: Message[] = [];
      const batchC: Message[] = [];
      for (let i = 0; i < perTurn; i++) {
        const n = t * perTurn + i;
        batchA.push(n % 3 === 0 ? append(A, B, n, 64) : heartbeat(A, B, n));
        batchC.push(heartbeat(C, B, n));
      }
      fromA.transport.send(batchA);
      fromC.transport.send(batchC);
      await new Promise((r) => setImmediate(r));
    }
    const total = turns * perTurn;
    await waitFor(() => b.rec.messages.length === 2 * total, 'all messages');
    const indexOf = (m: Message): number =>
      m.type === 'MsgHeartbeat' ? m.commit : m.type === 'MsgApp' ? m.index : -1;
    const seenA = b.rec.messages.filter((m) => m.from === A).map(indexOf);
    const seenC = b.rec.messages.filter((m) => m.from === C).map(indexOf);
    const expected = Array.from({ length: total }, (_, i) => i);
    assert.deepEqual(seenA, expected);
    assert.deepEqual(seenC, expected);
    // The payload arrives intact.
    const app = b.rec.messages.find((m) => m.type === 'MsgApp' && m.index === 3);
    assert.deepEqual(app, append(A, B, 3, 64));
    assert.equal(fromA.rec.unreachable.length, 0);
    assert.equal(fromA.transport.peerStats(B)?.dropped, 0);
    assert.equal(fromA.transport.peerStats(B)?.sentMessages, total);
    assert.equal(b.server.receivedStats().get(A)?.messages, total);
  });

  it('coalesces all messages sent in one synchronous run into one frame', async () => {
    const b = await server(B);
    const a = transport(A);
    a.transport.addPeer(B, [b.url]);
    await waitFor(() => a.transport.activeSince(B) !== undefined, 'connected');

    // Many separate send() calls: the flush runs once the caller's synchronous work is done.
    for (let i = 0; i < 1000; i++) a.transport.send([heartbeat(A, B, i)]);
    await waitFor(() => b.rec.messages.length === 1000, '1000 messages');
    assert.equal(b.rec.batches.length, 1, 'one frame');
    assert.equal(b.rec.batches[0].length, 1000);

    // Sends after an await are a new frame: the flush does not wait for the event loop's next phase.
    a.transport.send([heartbeat(A, B, 1000)]);
    await Promise.resolve();
    a.transport.send([heartbeat(A, B, 1001)]);
    await waitFor(() => b.rec.messages.length === 1002, 'two more messages');
    assert.deepEqual(
      b.rec.batches.map((batch) => batch.length),
      [1000, 1, 1],
    );
  });

  it('splits a very large turn into several frames, still in order', async () => {
    const b = await server(B);
    const a = transport(A);
    a.transport.addPeer(B, [b.url]);
    // 12 appends of 1 MiB: above the 4 MiB soft frame size.
    const big: Message[] = [];
    for (let i = 0; i < 12; i++) big.push(append(A, B, i * 10, 1024 * 1024));
    a.transport.send(big);
    await waitFor(() => b.rec.messages.length === 12, 'large appends');
    assert.ok(b.rec.batches.length >= 3, `${b.rec.batches.length} frames`);
    assert.deepEqual(
      b.rec.messages.map((m) => (m.type === 'MsgApp' ? m.index : -1)),
      big.map((_, i) => i * 10),
    );
    assert.deepEqual(b.rec.messages[11], big[11]);
  });

  it('queues messages sent before the stream is up and delivers them once connected', async () => {
    const b = await server(B);
    const a = transport(A);
    a.transport.addPeer(B, [b.url]);
    a.transport.send([heartbeat(A, B, 1), heartbeat(A, B, 2)]);
    await waitFor(() => b.rec.messages.length === 2, 'early messages');
    assert.equal(a.rec.unreachable.length, 0);
  });

  it('drops messages to members that are not peers, and messages to itself', async () => {
    const a = transport(A);
    a.transport.addPeer(A, ['http://127.0.0.1:1']);
    assert.equal(a.transport.hasPeer(A), false);
    a.transport.send([heartbeat(A, 0x99n, 1)]);
    assert.equal(a.transport.stats().unknownTarget, 1);
    // A snapshot to an unknown member still gets its outcome, so raft does not wait for it forever.
    a.transport.send([snapMessage(A, 0x99n, 5)]);
    await waitFor(() => a.rec.snapshots.length === 1, 'snapshot failure');
    assert.deepEqual(a.rec.snapshots, [{ id: 0x99n, status: 'failure' }]);
  });

  it('measures round-trip time with pings', async () => {
    const b = await server(B);
    const a = transport(A);
    a.transport.addPeer(B, [b.url]);
    await waitFor(() => a.rec.rtts.length > 0, 'a round-trip sample');
    // A real round trip over loopback: more than nothing, far less than a second.
    assert.ok(a.rec.rtts[0] > 0 && a.rec.rtts[0] < 1, `${a.rec.rtts[0]} s`);
    assert.equal(a.transport.peerStats(B)?.roundTripSeconds, a.rec.rtts[a.rec.rtts.length - 1]);
  });

  it('activeSince is set while connected and cleared when the peer is removed', async () => {
    const b = await server(B);
    let clock = 1_000_000;
    const a = newTransport(A, { now: () => clock });
    cleanup.push(() => a.transport.close());
    a.transport.addPeer(B, [b.url]);
    assert.equal(a.transport.activeSince(B), undefined);
    await waitFor(() => a.transport.activeSince(B) !== undefined, 'connected');
    assert.equal(a.transport.activeSince(B), 1_000_000);
    clock += 5000;
    assert.equal(a.transport.activeSince(B), 1_000_000);
    a.transport.removePeer(B);
    assert.equal(a.transport.activeSince(B), undefined);
    assert.equal(a.transport.hasPeer(B), false);
  });
});
