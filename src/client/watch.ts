// Watch streams: one bidirectional gRPC stream carrying any number of watchers, read as an async iterable
// of the server's WatchResponse messages (created, events, progress, canceled) in arrival order.

import type { ClientDuplexStream } from '@grpc/grpc-js';

import {
  WatchCreateRequest,
  WatchCreateRequest_FilterType,
  WatchService,
  type WatchRequest,
  type WatchResponse,
} from '../proto/etcdserverpb/rpc.js';
import { FROM_KEY_END, prefixEnd, toBytes, type Bytes } from './bytes.js';
import { toEtcdError } from './errors.js';
import type { KeyRange } from './kv.js';
import { AsyncQueue } from './queue.js';
import type { CallOptions, Transport } from './transport.js';

export { WatchCreateRequest_FilterType as WatchFilter };

export interface WatchOptions extends KeyRange {
  readonly startRevision?: bigint;
  readonly prevKv?: boolean;
  readonly progressNotify?: boolean;
  readonly filters?: readonly WatchCreateRequest_FilterType[];
  /** Ask the server to split large revisions into fragments (the caller reassembles them). */
  readonly fragment?: boolean;
  /** A caller-chosen watch id (0 = the server picks). */
  readonly watchId?: bigint;
}

export interface OpenWatchOptions extends CallOptions {
  /**
   * Send `hasleader: true` metadata, as clientv3's WithRequireLeader (etcdctl watch) does: the server then
   * refuses or cancels the stream with "etcdserver: no leader" while the member has no leader. Default true.
   */
  readonly requireLeader?: boolean;
}

export function watchCreateRequest(key: Bytes, options: WatchOptions = {}): WatchCreateRequest {
  const k = toBytes(key);
  let rangeEnd = options.rangeEnd === undefined ? new Uint8Array(0) : toBytes(options.rangeEnd);
  if (options.prefix === true) rangeEnd = k.length === 0 ? FROM_KEY_END : prefixEnd(k);
  else if (options.fromKey === true) rangeEnd = FROM_KEY_END;
  return WatchCreateRequest.fromPartial({
    key: k,
    rangeEnd,
    startRevision: options.startRevision ?? 0n,
    progressNotify: options.progressNotify ?? false,
    filters: [...(options.filters ?? [])],
    prevKv: options.prevKv ?? false,
    watchId: options.watchId ?? 0n,
    fragment: options.fragment ?? false,
  });
}

export class WatchStream implements AsyncIterable<WatchResponse> {
  private readonly queue = new AsyncQueue<WatchResponse>();

  constructor(private readonly call: ClientDuplexStream<WatchRequest, WatchResponse>) {
    call.on('data', (res: WatchResponse) => this.queue.push(res));
    call.on('error', (e: unknown) => this.queue.end(toEtcdError(e)));
    call.on('end', () => this.queue.end());
  }

  /** Starts a watcher; its `created` response (with the watch id) arrives on the stream. */
  create(key: Bytes, options: WatchOptions = {}): void {
    this.send({ requestUnion: { $case: 'createRequest', value: watchCreateRequest(key, options) } });
  }

  cancel(watchId: bigint): void {
    this.send({ requestUnion: { $case: 'cancelRequest', value: { watchId } } });
  }

  /** Asks for a progress notification (a response with no events carrying the current revision). */
  requestProgress(): void {
    this.send({ requestUnion: { $case: 'progressRequest', value: {} } });
  }

  private send(request: WatchRequest): void {
    if (!this.queue.isEnded) this.call.write(request);
  }

  /** Ends the stream; iteration finishes after what already arrived. */
  close(): void {
    this.call.cancel();
    this.queue.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    return this.queue[Symbol.asyncIterator]();
  }
}

export class Watch {
  constructor(private readonly transport: Transport) {}

  /** Opens an empty watch stream. */
  async open(options: OpenWatchOptions = {}): Promise<WatchStream> {
    const metadata: Record<string, string> = options.requireLeader === false ? {} : { hasleader: 'true' };
    return new WatchStream(await this.transport.bidi(WatchService.watch, metadata, options));
  }

  /** Opens a stream with one watcher on it. */
  async watch(key: Bytes, options: WatchOptions = {}, open: OpenWatchOptions = {}): Promise<WatchStream> {
    const stream = await this.open(open);
    stream.create(key, options);
    return stream;
  }
}
