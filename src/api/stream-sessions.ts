// The two bidirectional streams of the client port (Watch and LeaseKeepAlive), independent of the
// wire: the gRPC server and the JSON gateway both feed requests in and hand over a sink for the
// responses. A sink that reports back-pressure is waited for, so a slow client holds back only its
// own stream (the watch stream then stops feeding its watchers; see mvcc/watch-stream.ts).

import type {
  WatchCreateRequest,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  WatchRequest,
  WatchResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { Credentials, ServerApi, ServerWatchStream } from '../server/api.js';
import type { StreamResponse } from '../mvcc/watch-stream.js';
import { failureOf, type CallFailure } from './status.js';

export interface ResponseSink<T> {
  /** False when the response was buffered beyond the high-water mark: wait for drained(). */
  write(response: T): boolean;
  drained(): Promise<void>;
  /** Ends the stream with an error status. */
  fail(failure: CallFailure): void;
}

/** A watch response as it goes on the wire: the stream's response with the member's header. */
export function toWatchResponse(sws: ServerWatchStream, r: StreamResponse): WatchResponse {
  return {
    header: sws.header(r.revision),
    watchId: r.watchId,
    created: r.created,
    canceled: r.canceled,
    compactRevision: BigInt(r.compactRevision),
    cancelReason: r.cancelReason,
    fragment: r.fragment,
    events: r.events,
  };
}

export class WatchSession {
  private readonly sws: ServerWatchStream;
  private closed = false;
  /** Requests waiting behind a permission check that needs a token verified, kept in order. */
  private backlog: Promise<void> | undefined;

  constructor(
    api: ServerApi,
    private readonly sink: ResponseSink<WatchResponse>,
    credentials?: Credentials,
  ) {
    this.sws = api.openWatchStream({ credentials });
    void this.pump();
  }

  handle(req: WatchRequest): void {
    if (this.closed) return;
    if (this.backlog !== undefined) {
      const mine = this.backlog.then(() => this.handleNow(req));
      this.backlog = mine;
      void mine.then(() => {
        if (this.backlog === mine) this.backlog = undefined;
      });
      return;
    }
    const pending = this.handleNow(req);
    if (pending !== undefined) {
      this.backlog = pending;
      void pending.then(() => {
        if (this.backlog === pending) this.backlog = undefined;
      });
    }
  }

  /** Handles `req`; returns a promise only when it had to wait for a permission check. */
  private handleNow(req: WatchRequest): Promise<void> | undefined {
    if (this.closed) return undefined;
    const u = req.requestUnion;
    const stream = this.sws.stream;
    switch (u?.$case) {
      case 'createRequest': {
        const c = u.value;
        const refusal = this.sws.refusal(c.key, c.rangeEnd);
        if (refusal instanceof Promise) {
          return refusal.then((reason) => {
            if (!this.closed) this.create(c, reason);
          });
        }
        this.create(c, refusal);
        break;
      }
      case 'cancelRequest':
        stream.cancel(u.value.watchId);
        break;
      case 'progressRequest':
        stream.requestProgress();
        break;
      default:
        // An empty request: etcd ignores it too.
        break;
    }
    return undefined;
  }

  /** Starts the watch, or answers that it is refused (created and canceled at once, as etcd does). */
  private create(c: WatchCreateRequest, refusal: string | undefined): void {
    const stream = this.sws.stream;
    if (refusal !== undefined) {
      stream.refuse(refusal);
      return;
    }
    stream.watch({
      watchId: c.watchId,
      key: c.key,
      rangeEnd: c.rangeEnd,
      startRevision: c.startRevision,
      filters: c.filters,
      prevKv: c.prevKv,
      progressNotify: c.progressNotify,
      fragment: c.fragment,
    });
  }

  /** Stops the watchers; idempotent. The client went away or the stream failed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sws.close();
  }

  private async pump(): Promise<void> {
    const stream = this.sws.stream;
    try {
      while (!this.closed) {
        await stream.waitForResponse();
        if (this.closed) return;
        for (const r of stream.take()) {
          if (!this.sink.write(toWatchResponse(this.sws, r))) await this.sink.drained();
          if (this.closed) return;
        }
      }
    } catch (e) {
      this.sink.fail(failureOf(e));
      this.close();
    }
  }
}

/**
 * One keepalive stream: each request renews its lease and is answered in order. An unknown lease
 * is answered with TTL 0 (the member's leaseRenew does that); any other error ends the stream.
 */
export class KeepAliveSession {
  private chain: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(
    private readonly api: ServerApi,
    private readonly sink: ResponseSink<LeaseKeepAliveResponse>,
  ) {}

  handle(req: LeaseKeepAliveRequest): void {
    if (this.closed) return;
    const id = req.ID;
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        const r = await this.api.leaseRenew(id, { signal: this.abort.signal });
        if (this.closed) return;
        if (!this.sink.write({ header: r.header, ID: r.ID, TTL: r.TTL })) await this.sink.drained();
      } catch (e) {
        if (this.closed) return;
        this.sink.fail(failureOf(e));
        this.close();
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
  }
}
