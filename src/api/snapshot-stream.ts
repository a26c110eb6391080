// Maintenance.Snapshot on the wire, as etcd sends it: the backend image in 32 KiB messages, each with
// the bytes still to come after it in `remaining_bytes`, then one last message whose blob is the
// SHA-256 of the whole image (remaining 0). etcdctl concatenates the blobs, so the saved file is the
// image followed by its digest. Shared by the gRPC service and the JSON gateway.

import { createHash } from 'node:crypto';

import type { SnapshotResponse } from '../proto/etcdserverpb/rpc.js';
import type { CallContext, ServerApi } from '../server/api.js';
import { failureOf } from './status.js';
import type { ResponseSink } from './stream-sessions.js';

/** etcd's snapshot message size. */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;
/**
 * While the image is being built (seconds for a large keyspace), an empty message this often shows
 * the client the member is at work: clients append blobs, so an empty one changes nothing, and a
 * client that gives up on a silent stream does not give up on a slow build.
 */
export const SNAPSHOT_HEARTBEAT_MS = 1000;

/**
 * Streams one snapshot into `sink`, waiting for it to drain; `end` closes the stream after the digest.
 * Stops early, without `end`, once `signal` aborts (the client went away). Failures go to sink.fail.
 */
export async function streamSnapshot(
  api: ServerApi,
  sink: ResponseSink<SnapshotResponse>,
  end: () => void,
  ctx: CallContext & { readonly signal: AbortSignal },
): Promise<void> {
  const { signal } = ctx;
  let snapshot;
  const heartbeat = setInterval(() => {
    sink.write({ header: undefined, remainingBytes: 0n, blob: new Uint8Array(0), version: '' });
  }, SNAPSHOT_HEARTBEAT_MS);
  try {
    snapshot = await api.snapshot(ctx);
  } catch (e) {
    sink.fail(failureOf(e));
    return;
  } finally {
    clearInterval(heartbeat);
  }
  try {
    const digest = createHash('sha256');
    let sent = 0;
    for await (const blob of snapshot.chunks(SNAPSHOT_CHUNK_BYTES)) {
      if (signal.aborted) return;
      digest.update(blob);
      sent += blob.byteLength;
      if (
        !sink.write({ header: undefined, remainingBytes: BigInt(snapshot.size - sent), blob, version: '' })
      ) {
        await sink.drained();
      }
    }
    if (signal.aborted) return;
    if (sent !== snapshot.size) throw new Error(`snapshot: sent ${sent} bytes of ${snapshot.size}`);
    sink.write({ header: undefined, remainingBytes: 0n, blob: digest.digest(), version: '' });
    end();
  } catch (e) {
    if (!signal.aborted) sink.fail(failureOf(e));
  } finally {
    await snapshot.close();
  }
}
