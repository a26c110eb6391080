// Child process for close.test.ts: runs two members with traffic in every state (open streams, a
// snapshot upload in flight, a peer in backoff, a peer hanging mid-connect), closes everything, prints
// the handles still active, and must then exit by itself. Usage: node child-close.js

import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { heartbeat, newTransport, snapMessage, startServer, waitFor } from './helpers.js';

const A = 0xaan;
const B = 0xbbn;

async function main(): Promise<void> {
  const holeSockets = new Set<net.Socket>();
  const hole = net.createServer((s) => {
    holeSockets.add(s);
    s.pause();
  });
  await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
  const holeUrl = `http://127.0.0.1:${(hole.address() as net.AddressInfo).port}`;

  const a = await startServer(A, {
    onSnapshot: async (_m, body) => {
      for await (const _c of body) await sleep(50); // slow: the upload is still running at close
    },
  });
  const b = await startServer(B);
  const ta = newTransport(A, {
    openSnapshotBody: () =>
      (async function* () {
        for (let i = 0; i < 1000; i++) yield new Uint8Array(64 * 1024);
      })(),
  });
  const tb = newTransport(B, {
    openSnapshotBody: () =>
      (async function* () {
        for (let i = 0; i < 1000; i++) yield new Uint8Array(64 * 1024);
      })(),
  });
  ta.transport.addPeer(B, [b.url]);
  tb.transport.addPeer(A, [a.url]);
  ta.transport.addPeer(0xdeadn, ['http://127.0.0.1:1']); // refused: backoff timers
  ta.transport.addPeer(0xbeefn, [holeUrl]); // hangs: dial timer

  ta.transport.send([heartbeat(A, B, 1)]);
  tb.transport.send([heartbeat(B, A, 1)]);
  await waitFor(() => a.rec.messages.length === 1 && b.rec.messages.length === 1, 'both directions');
  tb.transport.send([snapMessage(B, A, 5)]);
  await sleep(100);

  await ta.transport.close();
  await tb.transport.close();
  await a.server.close();
  await b.server.close();
  for (const s of holeSockets) s.destroy();
  await new Promise<void>((r) => hole.close(() => r()));
  // Closed sockets report their close on a later turn.
  await sleep(50);
  process.stdout.write(JSON.stringify({ resources: process.getActiveResourcesInfo() }) + '\n');
}

main().catch((e: unknown) => {
  process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
  process.exitCode = 1;
});
