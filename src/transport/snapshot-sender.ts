// Uploads one raft snapshot: POST /raft/snapshot carrying the length-prefixed MsgSnap and then the
// backend database as it streams from the provider.
//
// Each upload gets its own connection. On the message stream's connection a multi-megabyte upload
// would sit in the same TCP window as heartbeats and could delay them past the election timeout.

import type http2 from 'node:http2';
import { connectPeer } from './http2-endpoints.js';
import {
  HEADER_CLUSTER_ID,
  HEADER_FROM,
  HEADER_PEER_URLS,
  HEADER_PROTOCOL,
  HEADER_REASON,
  HEADER_TO,
  PATH_RAFT_SNAPSHOT,
  PROTOCOL_VERSION,
  STATUS_GONE,
  STATUS_OK,
  errorText,
  idToHex,
  type PeerTlsOptions,
} from './types.js';

export type UploadResult =
  | { readonly kind: 'finish' }
  | { readonly kind: 'removed' }
  | { readonly kind: 'failure'; readonly reason: string };

export interface SnapshotUpload {
  readonly url: string;
  readonly tls: PeerTlsOptions | undefined;
  readonly clusterId: bigint;
  readonly from: bigint;
  readonly to: bigint;
  readonly advertiseUrls: readonly string[];
  /** The encoded MsgSnap. */
  readonly message: Uint8Array;
  /** Opened only once the request is on its way, so a failed connect never opens a backend read. */
  readonly openBody: () => AsyncIterable<Uint8Array>;
  readonly idleTimeoutMs: number;
  /** Called with a function that aborts the upload (used by Transport.close). */
  readonly onAbortable: (abort: () => void) => void;
}

export async function uploadSnapshot(u: SnapshotUpload): Promise<UploadResult> {
  let session: http2.ClientHttp2Session | undefined;
  try {
    const s = connectPeer(new URL(u.url), u.tls);
    session = s;
    let sessionError: Error | undefined;
    s.on('error', (e: Error) => {
      sessionError = e;
    });
    const req = s.request(
      {
        ':method': 'POST',
        ':path': PATH_RAFT_SNAPSHOT,
        [HEADER_PROTOCOL]: PROTOCOL_VERSION,
        [HEADER_CLUSTER_ID]: idToHex(u.clusterId),
        [HEADER_FROM]: idToHex(u.from),
        [HEADER_TO]: idToHex(u.to),
        [HEADER_PEER_URLS]: u.advertiseUrls.join(','),
        'content-type': 'application/octet-stream',
      },
      { endStream: false },
    );
    u.onAbortable(() => s.destroy());
    req.setTimeout(u.idleTimeoutMs, () => req.destroy(new Error('snapshot upload idle timeout')));
    req.resume(); // read (and ignore) the answer's body so the stream can finish

    const answered = new Promise<{ status: number; reason: string }>((resolve, reject) => {
      req.on('response', (h: http2.IncomingHttpHeaders) =>
        resolve({ status: Number(h[':status']), reason: String(h[HEADER_REASON] ?? '') }),
      );
      req.on('error', (e: Error) => reject(e));
      req.on('close', () => reject(sessionError ?? new Error('connection closed before an answer')));
    });
    // The answer may come (and usually does, on a refusal) before the body is written.
    answered.catch(() => {});
    let early = false;
    void answered.then(
      () => {
        early = true;
      },
      () => {
        early = true;
      },
    );

    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(u.message.byteLength, 0);
    req.write(head);
    req.write(u.message);
    for await (const chunk of u.openBody()) {
      if (early || req.destroyed) break;
      if (!req.write(chunk)) await drained(req);
    }
    if (!req.destroyed) req.end();

    const { status, reason } = await answered;
    if (status === STATUS_OK) return { kind: 'finish' };
    if (status === STATUS_GONE) return { kind: 'removed' };
    return { kind: 'failure', reason: `refused with ${status}: ${reason}` };
  } catch (e) {
    return { kind: 'failure', reason: errorText(e) };
  } finally {
    session?.destroy();
  }
}

/** Resolves when the stream can take more data or is gone (the caller checks which). */
function drained(stream: http2.ClientHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
