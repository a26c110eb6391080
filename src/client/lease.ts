// The Lease service: grant, revoke, time-to-live, list, and keep-alive over the bidirectional stream.

import type { ClientDuplexStream } from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';

import {
  LeaseService,
  type LeaseGrantResponse,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
} from '../proto/etcdserverpb/rpc.js';
import { EtcdError, toEtcdError } from './errors.js';
import { AsyncQueue } from './queue.js';
import type { CallOptions, Transport } from './transport.js';

/** What a keep-alive of a lease the server does not know answers with (clientv3 reports it so). */
export function leaseNotFound(): EtcdError {
  return new EtcdError(Status.NOT_FOUND, 'etcdserver: requested lease not found', { local: true });
}

/** A running keep-alive: responses as they come; ends when the lease is gone or `close()` is called. */
export class KeepAlive implements AsyncIterable<LeaseKeepAliveResponse> {
  private readonly queue = new AsyncQueue<LeaseKeepAliveResponse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly call: ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>,
    private readonly id: bigint,
  ) {
    call.on('data', (res: LeaseKeepAliveResponse) => {
      if (res.TTL <= 0n) {
        this.close();
        return;
      }
      this.queue.push(res);
      // Renew a third of the way into the TTL, as clientv3 does.
      const ms = Math.max(500, Number(res.TTL * 1000n) / 3);
      this.timer = setTimeout(() => this.send(), ms);
    });
    call.on('error', (e: unknown) => this.finish(toEtcdError(e)));
    call.on('end', () => this.finish());
    this.send();
  }

  private send(): void {
    if (!this.queue.isEnded) this.call.write({ ID: this.id });
  }

  private finish(error?: EtcdError): void {
    clearTimeout(this.timer);
    this.queue.end(error);
  }

  close(): void {
    this.finish();
    this.call.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<LeaseKeepAliveResponse> {
    return this.queue[Symbol.asyncIterator]();
  }
}

export class Lease {
  constructor(private readonly transport: Transport) {}

  /** `id` 0 lets the server choose. */
  grant(ttlSeconds: bigint, id = 0n, call: CallOptions = {}): Promise<LeaseGrantResponse> {
    return this.transport.unary(LeaseService.leaseGrant, { TTL: ttlSeconds, ID: id }, call);
  }

  revoke(id: bigint, call: CallOptions = {}): Promise<LeaseRevokeResponse> {
    return this.transport.unary(LeaseService.leaseRevoke, { ID: id }, call);
  }

  timeToLive(
    id: bigint,
    options: { keys?: boolean } = {},
    call: CallOptions = {},
  ): Promise<LeaseTimeToLiveResponse> {
    return this.transport.unary(
      LeaseService.leaseTimeToLive,
      { ID: id, keys: options.keys ?? false },
      { ...call, retryUnavailable: true },
    );
  }

  leases(call: CallOptions = {}): Promise<LeaseLeasesResponse> {
    return this.transport.unary(LeaseService.leaseLeases, {}, { ...call, retryUnavailable: true });
  }

  async keepAlive(id: bigint, call: CallOptions = {}): Promise<KeepAlive> {
    return new KeepAlive(await this.transport.bidi(LeaseService.leaseKeepAlive, {}, call), id);
  }

  /** One renewal; rejects with "requested lease not found" when the server no longer has the lease. */
  async keepAliveOnce(id: bigint, call: CallOptions = {}): Promise<LeaseKeepAliveResponse> {
    const stream = await this.transport.bidi(LeaseService.leaseKeepAlive, {}, call);
    try {
      return await new Promise<LeaseKeepAliveResponse>((resolve, reject) => {
        const timer =
          call.timeoutMs === undefined
            ? undefined
            : setTimeout(
                () =>
                  reject(
                    new EtcdError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded', { local: true }),
                  ),
                call.timeoutMs,
              );
        stream.on('data', (res: LeaseKeepAliveResponse) => {
          clearTimeout(timer);
          if (res.TTL <= 0n) reject(leaseNotFound());
          else resolve(res);
        });
        stream.on('error', (e: unknown) => {
          clearTimeout(timer);
          reject(toEtcdError(e));
        });
        stream.on('end', () => {
          clearTimeout(timer);
          reject(new EtcdError(Status.UNAVAILABLE, 'keep-alive stream ended', { local: true }));
        });
        stream.write({ ID: id });
      });
    } finally {
      stream.cancel();
    }
  }
}
