// Maintenance.Snapshot's stream while the member is still building the image: empty messages at a
// steady pace (so clients that give up on a silent stream wait), then the image and its digest as
// before. The build is held open by the test, and the interval runs on mocked timers.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { SNAPSHOT_HEARTBEAT_MS, streamSnapshot } from '../../../src/api/snapshot-stream.js';
import type { SnapshotResponse } from '../../../src/proto/etcdserverpb/rpc.js';
import type { ServerApi } from '../../../src/server/api.js';
import type { BackendSnapshot } from '../../../src/server/backend-snapshot.js';

test('empty messages keep the stream alive while the image is built, then the image and its digest', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const image = new Uint8Array(70_000).map((_, i) => i % 251);
  let built: (s: BackendSnapshot) => void = () => {};
  const building = new Promise<BackendSnapshot>((resolve) => (built = resolve));
  const api = { snapshot: () => building } as Pick<ServerApi, 'snapshot'> as ServerApi;
  const got: SnapshotResponse[] = [];
  let ended = false;
  const sink = {
    write: (r: SnapshotResponse) => got.push(r) > 0,
    drained: async () => {},
    fail: (f: { message: string }) => assert.fail(f.message),
  };
  const done = streamSnapshot(api, sink, () => (ended = true), { signal: new AbortController().signal });

  t.mock.timers.tick(SNAPSHOT_HEARTBEAT_MS);
  t.mock.timers.tick(SNAPSHOT_HEARTBEAT_MS);
  t.mock.timers.tick(SNAPSHOT_HEARTBEAT_MS - 1);
  assert.equal(got.length, 2, 'one empty message per second of building');
  assert.ok(got.every((r) => r.blob.byteLength === 0));
  built({
    size: image.byteLength,
    async *chunks(n: number) {
      for (let i = 0; i < image.byteLength; i += n) yield image.subarray(i, i + n);
    },
    close: async () => {},
  });
  await done;
  t.mock.timers.tick(10 * SNAPSHOT_HEARTBEAT_MS);
  assert.ok(ended);
  const data = got.slice(2);
  // 32 KiB messages (3 for 70,000 bytes), then the digest; no heartbeat once the image exists.
  assert.deepEqual(
    data.map((r) => r.blob.byteLength),
    [32768, 32768, 4464, 32],
  );
  assert.deepEqual(
    data.map((r) => r.remainingBytes),
    [37232n, 4464n, 0n, 0n],
  );
  const content = Buffer.concat(data.slice(0, -1).map((r) => r.blob));
  assert.ok(content.equals(image));
  assert.ok(Buffer.from(data[3].blob).equals(createHash('sha256').update(image).digest()));
});
