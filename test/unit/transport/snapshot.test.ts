import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { MsgSnap } from '../../../src/raft/types.js';
import type { PeerServerOptions } from '../../../src/transport/peer-server.js';
import type { TransportOptions } from '../../../src/transport/transport.js';
import {
  heartbeat,
  newTransport,
  snapMessage,
  startServer,
  waitFor,
  type TestServer,
  type TestTransport,
} from './helpers.js';

const A = 0xaan;
const B = 0xbbn;

/** `total` deterministic pseudo-random bytes in chunks of `chunk`. */
function database(total: number, chunk: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let x = 0x12345678;
  for (let at = 0; at < total; at += chunk) {
    const c = new Uint8Array(Math.min(chunk, total - at));
    for (let i = 0; i < c.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      c[i] = x & 0xff;
    }
    out.push(c);
  }
  return out;
}

function sha256(chunks: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

describe('snapshots', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  async function server(id: bigint, over: Partial<PeerServerOptions> = {}): Promise<TestServer> {
    const s = await startServer(id, over);
    cleanup.push(() => s.server.close());
    return s;
  }
  function transport(id: bigint, over: Partial<TransportOptions> = {}): TestTransport {
    const t = newTransport(id, over);
    cleanup.push(() => t.transport.close());
    return t;
  }

  it('streams a few megabytes intact and reports finish', async () => {
    const db = database(5 * 1024 * 1024 + 123, 64 * 1024);
    let received: { message: MsgSnap; hash: string; bytes: number } | undefined;
    const b = await server(B, {
      onSnapshot: async (message, body) => {
        const chunks: Uint8Array[] = [];
        let bytes = 0;
        for await (const c of body) {
          chunks.push(c);
          bytes += c.byteLength;
        }
        received = { message, hash: sha256(chunks), bytes };
      },
    });
    let opened = 0;
    const a = transport(A, {
      openSnapshotBody: (m) => {
        opened++;
        assert.equal(m.snapshot.metadata.index, 42);
        return (async function* () {
          yield* db;
        })();
      },
    });
    a.transport.addPeer(B, [b.url]);
    const msg = snapMessage(A, B, 42);
    a.transport.send([msg]);
    await waitFor(() => a.rec.snapshots.length === 1, 'reportSnapshot');
    assert.deepEqual(a.rec.snapshots, [{ id: B, status: 'finish' }]);
    assert.equal(opened, 1);
    assert.ok(received !== undefined);
    assert.deepEqual(received.message, msg);
    assert.equal(received.bytes, 5 * 1024 * 1024 + 123);
    assert.equal(received.hash, sha256(db));
    assert.equal(a.rec.unreachable.length, 0);
  });

  it('reports failure (and unreachable) when the receiver rejects, and closes the body', async () => {
    const db = database(4 * 1024 * 1024, 64 * 1024);
    const b = await server(B, {
      onSnapshot: async (_m, body) => {
        let n = 0;
        for await (const c of body) {
          n += c.byteLength;
          if (n > 256 * 1024) throw new Error('disk full');
        }
      },
    });
    let closedBody = false;
    const a = transport(A, {
      openSnapshotBody: () =>
        (async function* () {
          try {
            yield* db;
          } finally {
            closedBody = true;
          }
        })(),
    });
    a.transport.addPeer(B, [b.url]);
    a.transport.send([snapMessage(A, B, 7)]);
    await waitFor(() => a.rec.snapshots.length === 1, 'reportSnapshot');
    assert.deepEqual(a.rec.snapshots, [{ id: B, status: 'failure' }]);
    assert.ok(a.rec.unreachable.includes(B));
    assert.ok(closedBody, 'the provider was closed');
    await waitFor(() => b.logger.lines.some((l) => l.msg === 'receiving snapshot failed'), 'receiver log');
  });

  it('reports failure when the receiver rejects before reading anything', async () => {
    const b = await server(B, { onSnapshot: () => Promise.reject(new Error('no space')) });
    const a = transport(A, {
      openSnapshotBody: () =>
        (async function* () {
          yield* database(1 << 20, 1 << 16);
        })(),
    });
    a.transport.addPeer(B, [b.url]);
    a.transport.send([snapMessage(A, B, 7)]);
    await waitFor(() => a.rec.snapshots.length === 1, 'reportSnapshot');
    assert.deepEqual(a.rec.snapshots, [{ id: B, status: 'failure' }]);
  });

  it('reports failure when the provider fails, and the receiver sees an aborted body', async () => {
    let receiverError: unknown;
    const b = await server(B, {
      onSnapshot: async (_m, body) => {
        try {
          for await (const _c of body);
        } catch (e) {
          receiverError = e;
          throw e;
        }
      },
    });
    const a = transport(A, {
      openSnapshotBody: () =>
        (async function* () {
          yield new Uint8Array(100_000);
          throw new Error('backend read failed');
        })(),
    });
    a.transport.addPeer(B, [b.url]);
    a.transport.send([snapMessage(A, B, 9)]);
    await waitFor(() => a.rec.snapshots.length === 1, 'reportSnapshot');
    assert.deepEqual(a.rec.snapshots, [{ id: B, status: 'failure' }]);
    await waitFor(() => receiverError !== undefined, 'receiver body aborted');
  });

  it('a removed sender gets failure and onRemoved', async () => {
    const b = await server(B, { isRemoved: () => true });
    const a = transport(A);
    a.transport.addPeer(B, [b.url]);
    a.transport.send([snapMessage(A, B, 3)]);
    await waitFor(() => a.rec.snapshots.length === 1 && a.rec.removed === 1, 'failure and onRemoved');
    assert.deepEqual(a.rec.snapshots, [{ id: B, status: 'failure' }]);
  });

  it('refuses a second snapshot to the same peer while one is in flight; messages keep flowing', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const b = await server(B, {
      onSnapshot: async (_m, body) => {
        for await (const _c of body);
        await gate;
      },
    });
    const a = transport(A, {
      openSnapshotBody: () =>
        (async function* () {
          yield* database(1 << 20, 1 << 16);
        })(),
    });
    a.transport.addPeer(B, [b.url]);
    a.transport.send([snapMessage(A, B, 10)]);
    a.transport.send([snapMessage(A, B, 11)]);
    await waitFor(() => a.rec.snapshots.length === 1, 'second refused');
    assert.deepEqual(a.rec.snapshots, [{ id: B, status: 'failure' }]);
    // The upload is parked in the receiver; the message stream is independent of it.
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => b.rec.messages.length === 1, 'heartbeat during the upload');
    release();
    await waitFor(() => a.rec.snapshots.length === 2, 'first finished');
    assert.deepEqual(a.rec.snapshots[1], { id: B, status: 'finish' });
  });

  it('refuses an upload whose message is not a MsgSnap for this member', async () => {
    const b = await server(B);
    const a = transport(A);
    // Addressed to 0xcc but routed to B's URL: headers say to=cc, B refuses with 412.
    a.transport.addPeer(0xccn, [b.url]);
    a.transport.send([snapMessage(A, 0xccn, 5)]);
    await waitFor(() => a.rec.snapshots.length === 1, 'reportSnapshot');
    assert.deepEqual(a.rec.snapshots, [{ id: 0xccn, status: 'failure' }]);
  });
});
