// LeaseKeepAlive requests as a load Channel: several requests ride in flight on one bidirectional
// stream, and the server answers each stream's requests in order, so answers are matched to
// requests first-in first-out. Each answer is checked: it must name the lease that was renewed and
// carry a TTL above zero (a TTL of 0 is etcd's way to say the lease is gone).

import { LeaseKeepAliveRequest, LeaseKeepAliveResponse } from '../../src/proto/etcdserverpb/rpc.js';
import { LEASE_KEEPALIVE } from './etcd-api.js';
import {
  GRPC_DEADLINE_EXCEEDED,
  GRPC_OK,
  GRPC_UNAVAILABLE,
  type CallOptions,
  type Done,
  type GrpcConnection,
  type GrpcStream,
} from './grpc-h2.js';
import type { Channel, ChannelFactory } from './load.js';

/** Our code for an answer that arrived but is wrong (not a gRPC status). */
export const BAD_ANSWER = -2;

interface Pending {
  readonly id: bigint;
  readonly sentAt: number;
  readonly done: Done;
}

class KeepAliveChannel implements Channel {
  // Answered entries are cleared to undefined until the prefix is dropped.
  private readonly pending: (Pending | undefined)[] = [];
  private head = 0;
  private readonly stream: GrpcStream;
  private broken: string | undefined;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    conn: GrpcConnection,
    private readonly timeoutMs: number,
  ) {
    this.stream = conn.openStream(
      LEASE_KEEPALIVE,
      (msg) => this.answer(msg),
      (code, message) => this.fail(code === GRPC_OK ? GRPC_UNAVAILABLE : code, `stream ended: ${message}`),
    );
    // One timer per stream, not per request: a request older than the deadline breaks the stream.
    this.sweeper = setInterval(
      () => {
        const oldest = this.pending[this.head];
        if (oldest !== undefined && performance.now() - oldest.sentAt > this.timeoutMs) {
          this.fail(GRPC_DEADLINE_EXCEEDED, `no keepalive answer within ${this.timeoutMs} ms`);
          this.stream.cancel();
        }
      },
      Math.min(250, this.timeoutMs),
    );
  }

  private answer(msg: Buffer): void {
    const p = this.pending[this.head];
    if (p === undefined) {
      this.fail(BAD_ANSWER, 'a keepalive answer that no request asked for');
      return;
    }
    this.pending[this.head++] = undefined;
    // Drop the answered prefix now and then, so the queue does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    const r = LeaseKeepAliveResponse.decode(msg);
    if (r.ID !== p.id)
      p.done(
        BAD_ANSWER,
        `keepalive answer for lease ${r.ID.toString(16)}, asked ${p.id.toString(16)}`,
        undefined,
      );
    else if (r.TTL <= 0n)
      p.done(BAD_ANSWER, `lease ${p.id.toString(16)}: TTL ${r.TTL} (expired or unknown)`, undefined);
    else p.done(GRPC_OK, '', undefined);
  }

  private fail(code: number, message: string): void {
    this.broken ??= message;
    const waiting = this.pending.slice(this.head);
    this.pending.length = 0;
    this.head = 0;
    for (const p of waiting) p?.done(code, message, undefined);
  }

  call(_path: string, frame: Buffer, done: Done, _options?: CallOptions): void {
    if (!this.isOpen()) {
      done(GRPC_UNAVAILABLE, this.broken ?? 'keepalive stream closed', undefined);
      return;
    }
    const id = LeaseKeepAliveRequest.decode(frame.subarray(5)).ID;
    this.pending.push({ id, sentAt: performance.now(), done });
    this.stream.write(frame);
  }

  isOpen(): boolean {
    return this.broken === undefined && this.stream.isOpen();
  }

  close(): void {
    clearInterval(this.sweeper);
    this.stream.cancel();
  }
}

/** `streams` LeaseKeepAlive streams spread over the connections, for LoadOptions.channels. */
export function keepAliveChannels(streams: number, timeoutMs: number): ChannelFactory {
  return async (conns: readonly GrpcConnection[]): Promise<readonly Channel[]> =>
    Array.from({ length: streams }, (_, i) => new KeepAliveChannel(conns[i % conns.length], timeoutMs));
}
