// The sending half of one (local -> peer) pair: a bounded queue of encoded messages and one long-lived
// connection that carries them as frames (an HTTP/1.1 request upgraded to a byte stream, see
// RAFT_STREAM_UPGRADE), with reconnects and round-trip measurement.
//
//   connecting --101--> open --failure--> backoff --timer--> connecting ...
//        \--failure--> backoff                 any state --410--> removed (terminal)
//
// While connecting or open, messages queue (bounded by count and bytes; overflow is dropped and the
// peer reported unreachable). In backoff the peer is known to be unreachable, so messages are dropped
// at once instead of piling up stale heartbeats to deliver after the outage. Raft copes with lost
// messages (it retries from its own state); it needs to hear that they were lost, which is what
// reportUnreachable tells it.

import type http from 'node:http';
import type { Socket } from 'node:net';
import { FRAME_SOFT_BYTES, RAFT_STREAM_UPGRADE, type TransportLogger } from './types.js';
import { PING_FRAME, PongReader, buildFrame } from './framing.js';
import { requestUpgrade } from './http2-endpoints.js';
import { backoffDelay, type TransportLimits } from './limits.js';
import {
  HEADER_CLUSTER_ID,
  HEADER_FROM,
  HEADER_PEER_URLS,
  HEADER_PROTOCOL,
  HEADER_REASON,
  HEADER_TO,
  PATH_RAFT_STREAM,
  PROTOCOL_VERSION,
  STATUS_GONE,
  errorText,
  idToHex,
  type PeerTlsOptions,
} from './types.js';

/** What a link needs from its transport. */
export interface LinkContext {
  readonly localId: bigint;
  readonly clusterId: bigint;
  readonly advertiseUrls: readonly string[];
  readonly tls: PeerTlsOptions | undefined;
  readonly logger: TransportLogger;
  readonly limits: TransportLimits;
  readonly now: () => number;
  /** Run link.flush() soon (once the current synchronous work is done, for all dirty links). */
  scheduleFlush(link: PeerLink): void;
  reportUnreachable(id: bigint): void;
  /** The peer says we were removed from the cluster. */
  removed(by: bigint): void;
  roundTrip(id: bigint, seconds: number): void;
  /** Bytes written to the connection (frames included), for the sent-bytes metric. */
  sent(id: bigint, bytes: number): void;
  /** Messages lost, for the sent-failures metric. */
  dropped(id: bigint, messages: number): void;
}

export type LinkState = 'connecting' | 'open' | 'backoff' | 'removed' | 'closed';

export interface PeerStats {
  readonly state: LinkState;
  /** Messages written to the connection. */
  readonly sentMessages: number;
  /** Frame bytes written to the connection (for etcd_network_peer_sent_bytes_total). */
  readonly sentBytes: number;
  /** Messages dropped: queue full, peer unreachable, or lost with a failed connection. */
  readonly dropped: number;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Last measured round-trip time in seconds, if any. */
  readonly roundTripSeconds: number | undefined;
}

export class PeerLink {
  private state: LinkState = 'connecting';
  private urls: readonly string[];
  private urlIndex = 0;
  /** Consecutive failed attempts, for the backoff. */
  private failures = 0;
  /** Set on any change of connection so callbacks of a discarded one are ignored. */
  private epoch = 0;
  private request: http.ClientRequest | undefined;
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  /** When each unanswered ping was sent (performance.now() ms), oldest first: answers come in order. */
  private pingsSent: number[] = [];
  private needDrain = false;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private unreachablePending = false;
  private since: number | undefined;
  private wasUp = false;
  private sentMessages = 0;
  private sentBytes = 0;
  private dropped = 0;
  private rtt: number | undefined;

  constructor(
    readonly id: bigint,
    urls: readonly string[],
    private readonly ctx: LinkContext,
  ) {
    this.urls = [...urls];
    this.connect();
  }

  /** Since when (ctx.now() ms) the current stream has been accepted; undefined while not open. */
  get activeSince(): number | undefined {
    return this.since;
  }

  /** The URL of the current or last attempted connection. */
  get currentUrl(): string | undefined {
    return this.urls.length === 0 ? undefined : this.urls[this.urlIndex % this.urls.length];
  }

  get stats(): PeerStats {
    return {
      state: this.state,
      sentMessages: this.sentMessages,
      sentBytes: this.sentBytes,
      dropped: this.dropped,
      queuedMessages: this.queue.length,
      queuedBytes: this.queuedBytes,
      roundTripSeconds: this.rtt,
    };
  }

  /** Queues one encoded message (never throws, never blocks). */
  enqueue(encoded: Uint8Array): void {
    if (this.state === 'backoff' || this.state === 'removed' || this.state === 'closed') {
      this.drop(1);
      return;
    }
    const cost = 4 + encoded.byteLength;
    const { maxQueuedMessages, maxQueuedBytes } = this.ctx.limits;
    if (this.queue.length >= maxQueuedMessages || this.queuedBytes + cost > maxQueuedBytes) {
      this.drop(1);
      return;
    }
    this.queue.push(encoded);
    this.queuedBytes += cost;
    if (this.state === 'open' && !this.needDrain && this.queue.length === 1) this.ctx.scheduleFlush(this);
  }

  /** Counts lost messages; raft hears about it on the next flush. */
  drop(count: number): void {
    if (this.state === 'closed') return;
    this.dropped += count;
    if (count > 0) this.ctx.dropped(this.id, count);
    if (!this.unreachablePending) {
      this.unreachablePending = true;
      this.ctx.scheduleFlush(this);
    }
  }

  /** Writes everything queued (in as few frames as FRAME_SOFT_BYTES allows) and reports losses. */
  flush(): void {
    if (this.unreachablePending) {
      this.unreachablePending = false;
      this.ctx.reportUnreachable(this.id);
    }
    const socket = this.socket;
    if (this.state !== 'open' || this.needDrain || socket === undefined || this.queue.length === 0) return;
    const q = this.queue;
    const total = this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    let ok: boolean;
    let frames = 1;
    if (total <= FRAME_SOFT_BYTES) {
      ok = socket.write(buildFrame(q, 0, q.length, total));
    } else {
      frames = 0;
      ok = true;
      socket.cork();
      let i = 0;
      while (i < q.length) {
        let j = i;
        let bytes = 0;
        while (j < q.length && (j === i || bytes + 4 + q[j].byteLength <= FRAME_SOFT_BYTES)) {
          bytes += 4 + q[j].byteLength;
          j++;
        }
        ok = socket.write(buildFrame(q, i, j, bytes)) && ok;
        frames++;
        i = j;
      }
      socket.uncork();
    }
    this.sentMessages += q.length;
    this.sentBytes += total + 4 * frames;
    this.ctx.sent(this.id, total + 4 * frames);
    if (!ok) {
      // The connection is behind: hold further messages here (bounded) until it catches up.
      this.needDrain = true;
      const epoch = this.epoch;
      socket.once('drain', () => {
        if (epoch !== this.epoch) return;
        this.needDrain = false;
        if (this.queue.length > 0) this.ctx.scheduleFlush(this);
      });
    }
  }

  /** New URLs for the peer. A live connection to a URL still listed is kept. */
  updateUrls(urls: readonly string[]): void {
    const current = this.currentUrl;
    this.urls = [...urls];
    const keep = current === undefined ? -1 : this.urls.indexOf(current);
    this.urlIndex = Math.max(keep, 0);
    if (keep >= 0 || this.state === 'removed' || this.state === 'closed') return;
    this.ctx.logger.info('peer URLs changed; reconnecting', { peer: idToHex(this.id), urls: this.urls });
    this.teardown();
    this.failures = 0;
    this.connect();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.teardown();
    this.queue = [];
    this.queuedBytes = 0;
  }

  // ---- Connection lifecycle ---------------------------------------------------------------------

  private connect(): void {
    this.state = 'connecting';
    const epoch = ++this.epoch;
    const url = this.currentUrl;
    if (url === undefined) {
      this.fail(epoch, 'no peer URLs');
      return;
    }
    let request: http.ClientRequest;
    try {
      request = requestUpgrade(new URL(url), this.ctx.tls, PATH_RAFT_STREAM, RAFT_STREAM_UPGRADE, {
        [HEADER_PROTOCOL]: PROTOCOL_VERSION,
        [HEADER_CLUSTER_ID]: idToHex(this.ctx.clusterId),
        [HEADER_FROM]: idToHex(this.ctx.localId),
        [HEADER_TO]: idToHex(this.id),
        [HEADER_PEER_URLS]: this.ctx.advertiseUrls.join(','),
      });
      this.request = request;
    } catch (e) {
      this.fail(epoch, errorText(e));
      return;
    }
    request.on('error', (e: Error) => this.fail(epoch, e.message));
    request.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
      if (epoch !== this.epoch) {
        socket.destroy();
        return;
      }
      this.socket = socket;
      socket.on('error', (e: Error) => this.fail(epoch, e.message));
      socket.on('close', () => this.fail(epoch, 'connection closed'));
      if (res.headers.upgrade !== RAFT_STREAM_UPGRADE) {
        this.fail(epoch, `upgraded to ${String(res.headers.upgrade)} instead of ${RAFT_STREAM_UPGRADE}`);
        return;
      }
      this.opened(epoch);
      // The peer writes nothing but answers to pings.
      const pongs = new PongReader();
      const onData = (chunk: Buffer): void => {
        const answered = pongs.push(chunk);
        if (answered < 0) this.fail(epoch, 'unexpected bytes from the peer');
        else this.pongs(epoch, answered);
      };
      socket.on('data', onData);
      if (head.byteLength > 0) onData(head);
    });
    request.on('response', (res: http.IncomingMessage) => {
      res.resume();
      if (epoch !== this.epoch) return;
      const status = res.statusCode ?? 0;
      const reason = res.headers[HEADER_REASON];
      if (status === STATUS_GONE) return this.removedByPeer(String(reason ?? 'member removed'));
      this.fail(epoch, `refused with ${status}: ${String(reason ?? 'no reason given')}`);
    });
    this.timer = setTimeout(() => this.fail(epoch, 'dial timeout'), this.ctx.limits.dialTimeoutMs);
  }

  private opened(epoch: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = 'open';
    this.failures = 0;
    this.since = this.ctx.now();
    if (this.wasUp)
      this.ctx.logger.info('peer stream reconnected', { peer: idToHex(this.id), url: this.currentUrl });
    else this.ctx.logger.info('peer stream connected', { peer: idToHex(this.id), url: this.currentUrl });
    this.wasUp = true;
    this.ping(epoch);
    this.pingTimer = setInterval(() => this.ping(epoch), this.ctx.limits.pingIntervalMs);
    if (this.queue.length > 0) this.ctx.scheduleFlush(this);
  }

  private ping(epoch: number): void {
    const socket = this.socket;
    if (epoch !== this.epoch || socket === undefined) return;
    if (this.pingsSent.length >= 2) {
      this.fail(epoch, 'no answer to two pings');
      return;
    }
    this.pingsSent.push(performance.now());
    socket.write(PING_FRAME);
  }

  /** `count` pings were answered: the round trip of the latest one is the one to report. */
  private pongs(epoch: number, count: number): void {
    if (epoch !== this.epoch || count === 0) return;
    if (count > this.pingsSent.length) {
      this.fail(epoch, 'more ping answers than pings');
      return;
    }
    const sent = this.pingsSent.splice(0, count);
    this.rtt = (performance.now() - sent[sent.length - 1]) / 1000;
    this.ctx.roundTrip(this.id, this.rtt);
  }

  /** A connection attempt or an open connection failed: drop what was queued, back off, retry. */
  private fail(epoch: number, reason: string): void {
    if (epoch !== this.epoch || this.state === 'closed' || this.state === 'removed') return;
    if (this.state === 'backoff') return;
    const wasOpen = this.state === 'open';
    this.teardown();
    const lost = this.queue.length;
    this.queue = [];
    this.queuedBytes = 0;
    // Also when nothing was queued: frames written just before the failure may be lost.
    this.drop(lost);
    this.failures++;
    const delay = backoffDelay(this.ctx.limits, this.failures);
    // Log the start of an outage, not every attempt during it.
    if (wasOpen || this.failures === 1) {
      this.ctx.logger.warn('peer stream failed', {
        peer: idToHex(this.id),
        url: this.currentUrl,
        reason,
        dropped: lost,
        retryInMs: delay,
      });
    }
    this.state = 'backoff';
    if (this.urls.length > 0) this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const next = this.epoch;
    this.timer = setTimeout(() => {
      if (next !== this.epoch || this.state !== 'backoff') return;
      this.connect();
    }, delay);
  }

  private removedByPeer(reason: string): void {
    this.ctx.logger.warn('peer refused our stream: this member was removed from the cluster', {
      peer: idToHex(this.id),
      reason,
    });
    this.teardown();
    const lost = this.queue.length;
    this.queue = [];
    this.queuedBytes = 0;
    this.drop(lost);
    this.state = 'removed';
    this.ctx.removed(this.id);
  }

  /** Releases the connection and timers; leaves the queue alone. */
  private teardown(): void {
    this.epoch++;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.pingsSent = [];
    this.needDrain = false;
    this.since = undefined;
    const socket = this.socket;
    const request = this.request;
    this.socket = undefined;
    this.request = undefined;
    if (socket !== undefined && !socket.destroyed) socket.destroy();
    if (request !== undefined && !request.destroyed) request.destroy();
  }
}
