// The sending side of the peer transport: routes raft messages to per-peer links and snapshots to
// uploads. Nothing here blocks or throws into the raft loop: send() encodes and queues; a microtask,
// run as soon as the caller's synchronous work is done, writes every peer's queue as a frame (so all
// the messages of one Ready leave in one write per peer, at once rather than a loop phase later); and
// every callback into the member runs from that flush or from I/O events, never from inside send().

import { encodeMessage } from '../raft/codec.js';
import type { Message, MsgSnap, SnapshotStatus } from '../raft/types.js';
import { DEFAULT_LIMITS, type TransportLimits } from './limits.js';
import { PeerLink, type LinkContext, type PeerStats } from './peer-link.js';
import { uploadSnapshot } from './snapshot-sender.js';
import { errorText, idToHex, silentLogger, type PeerTlsOptions, type TransportLogger } from './types.js';

export interface TransportOptions {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  /** Our advertised peer URLs, told to peers so one that does not know us yet can answer. */
  readonly advertiseUrls?: readonly string[];
  readonly tls?: PeerTlsOptions;
  readonly logger?: TransportLogger;
  readonly limits?: Partial<TransportLimits>;
  /** Clock for activeSince (ms). */
  readonly now?: () => number;
  /** Messages to `id` were lost (dropped or the connection failed): raft should probe it. */
  readonly reportUnreachable: (id: bigint) => void;
  /** Outcome of a MsgSnap to `id`. */
  readonly reportSnapshot: (id: bigint, status: SnapshotStatus) => void;
  /** A peer refused us as removed from the cluster: the member must stop. Called once. */
  readonly onRemoved: () => void;
  /** The backend database to send after a MsgSnap. Iterated once; breaking out closes it. */
  readonly openSnapshotBody: (message: MsgSnap) => AsyncIterable<Uint8Array>;
  /** A round-trip time sample to `id` in seconds (etcd_network_peer_round_trip_time_seconds). */
  readonly onRoundTrip?: (id: bigint, seconds: number) => void;
  /**
   * Bytes just written to the connection to `id` (etcd_network_peer_sent_bytes_total). Called once
   * per flush, synchronously: keep it cheap. A throw is logged and ignored.
   */
  readonly onSent?: (id: bigint, bytes: number) => void;
  /** Messages to `id` lost (etcd_network_peer_sent_failures_total). A throw is logged and ignored. */
  readonly onSendFailures?: (id: bigint, messages: number) => void;
}

export interface TransportStats {
  /** Messages addressed to a member that is not a peer (dropped, as etcd does). */
  readonly unknownTarget: number;
  /** Messages that could not be encoded (a bug upstream; dropped and logged). */
  readonly unencodable: number;
}

interface Peer {
  readonly link: PeerLink;
  /** Aborts of snapshot uploads in flight (at most one, see sendSnapshot). */
  readonly uploads: Set<() => void>;
}

export class Transport {
  private readonly peers = new Map<bigint, Peer>();
  private readonly limits: TransportLimits;
  private readonly logger: TransportLogger;
  private readonly ctx: LinkContext;
  private readonly dirty = new Set<PeerLink>();
  private flushQueued = false;
  private removedReported = false;
  private closed = false;
  private unknownTarget = 0;
  private unencodable = 0;

  constructor(private readonly options: TransportOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.logger = options.logger ?? silentLogger;
    this.ctx = {
      localId: options.memberId,
      clusterId: options.clusterId,
      advertiseUrls: options.advertiseUrls ?? [],
      tls: options.tls,
      logger: this.logger,
      limits: this.limits,
      now: options.now ?? Date.now,
      scheduleFlush: (link) => this.scheduleFlush(link),
      reportUnreachable: (id) => this.call('reportUnreachable', () => options.reportUnreachable(id)),
      removed: () => this.removed(),
      roundTrip: (id, seconds) => {
        if (options.onRoundTrip !== undefined)
          this.call('onRoundTrip', () => options.onRoundTrip?.(id, seconds));
      },
      sent: (id, bytes) => this.count('onSent', options.onSent, id, bytes),
      dropped: (id, messages) => this.count('onSendFailures', options.onSendFailures, id, messages),
    };
  }

  /** Starts connecting to a peer. Adding a known peer updates its URLs. */
  addPeer(id: bigint, urls: readonly string[]): void {
    if (this.closed) return;
    if (id === this.options.memberId) return; // we never send to ourselves
    const existing = this.peers.get(id);
    if (existing !== undefined) {
      existing.link.updateUrls(urls);
      return;
    }
    this.peers.set(id, { link: new PeerLink(id, urls, this.ctx), uploads: new Set() });
  }

  updatePeer(id: bigint, urls: readonly string[]): void {
    this.peers.get(id)?.link.updateUrls(urls);
  }

  /** Disconnects and forgets a peer; queued messages are discarded, uploads aborted. */
  removePeer(id: bigint): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    this.dirty.delete(peer.link);
    peer.link.close();
    for (const abort of peer.uploads) abort();
  }

  hasPeer(id: bigint): boolean {
    return this.peers.has(id);
  }

  /** Since when (ms, from `now`) the stream to `id` has been up; undefined if it is not. */
  activeSince(id: bigint): number | undefined {
    return this.peers.get(id)?.link.activeSince;
  }

  peerStats(id: bigint): PeerStats | undefined {
    return this.peers.get(id)?.link.stats;
  }

  stats(): TransportStats {
    return { unknownTarget: this.unknownTarget, unencodable: this.unencodable };
  }

  /** Queues messages for their peers. Never blocks, never throws; losses reach reportUnreachable. */
  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (peer === undefined) {
        this.unknownTarget++;
        // Raft waits for the outcome of every MsgSnap before it sends the follower anything else.
        if (m.type === 'MsgSnap') setImmediate(() => this.reportSnapshot(m.to, 'failure'));
        continue;
      }
      if (m.type === 'MsgSnap') {
        this.sendSnapshot(peer, m);
        continue;
      }
      let encoded: Uint8Array;
      try {
        encoded = encodeMessage(m);
      } catch (e) {
        this.unencodable++;
        this.logger.warn('dropping a message that cannot be encoded', {
          to: idToHex(m.to),
          type: m.type,
          error: errorText(e),
        });
        peer.link.drop(1);
        continue;
      }
      peer.link.enqueue(encoded);
    }
  }

  /** Disconnects from every peer and aborts uploads; no callback fires afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dirty.clear();
    for (const peer of this.peers.values()) {
      peer.link.close();
      for (const abort of peer.uploads) abort();
    }
    this.peers.clear();
    // Let destroyed sockets emit their close events before the caller checks for leaks.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // ---- Internals --------------------------------------------------------------------------------

  private scheduleFlush(link: PeerLink): void {
    if (this.closed) return;
    this.dirty.add(link);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flushAll());
  }

  private flushAll(): void {
    this.flushQueued = false;
    if (this.closed) return;
    const links = [...this.dirty];
    this.dirty.clear();
    for (const link of links) {
      try {
        link.flush();
      } catch (e) {
        this.logger.warn('peer flush failed', { peer: idToHex(link.id), error: errorText(e) });
      }
    }
  }

  /** Runs a member callback, keeping its exceptions out of the transport (and after close, skips it). */
  private call(what: string, fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (e) {
      this.logger.warn(`${what} callback failed`, { error: errorText(e) });
    }
  }

  /** A counting callback, without the closure call() would allocate: it runs once per flush. */
  private count(
    what: string,
    fn: ((id: bigint, n: number) => void) | undefined,
    id: bigint,
    n: number,
  ): void {
    if (fn === undefined || this.closed) return;
    try {
      fn(id, n);
    } catch (e) {
      this.logger.warn(`${what} callback failed`, { error: errorText(e) });
    }
  }

  private removed(): void {
    if (this.removedReported) return;
    this.removedReported = true;
    this.call('onRemoved', () => this.options.onRemoved());
  }

  private reportSnapshot(id: bigint, status: SnapshotStatus): void {
    this.call('reportSnapshot', () => this.options.reportSnapshot(id, status));
  }

  private sendSnapshot(peer: Peer, m: MsgSnap): void {
    const id = peer.link.id;
    const url = peer.link.currentUrl;
    // Raft sends one snapshot per follower and waits for its status; a second one while the first is
    // in flight is refused rather than doubling the load on the backend and the link.
    if (peer.uploads.size > 0 || url === undefined) {
      setImmediate(() => this.reportSnapshot(id, 'failure'));
      return;
    }
    let encoded: Uint8Array;
    try {
      encoded = encodeMessage(m);
    } catch (e) {
      this.unencodable++;
      this.logger.warn('cannot encode MsgSnap', { to: idToHex(id), error: errorText(e) });
      setImmediate(() => this.reportSnapshot(id, 'failure'));
      return;
    }
    let abort: (() => void) | undefined;
    let aborted = false;
    const entry = (): void => {
      aborted = true;
      abort?.();
    };
    peer.uploads.add(entry);
    this.logger.info('sending snapshot', { to: idToHex(id), index: m.snapshot.metadata.index, url });
    void uploadSnapshot({
      url,
      tls: this.options.tls,
      clusterId: this.options.clusterId,
      from: this.options.memberId,
      to: id,
      advertiseUrls: this.ctx.advertiseUrls,
      message: encoded,
      openBody: () => this.options.openSnapshotBody(m),
      idleTimeoutMs: this.limits.snapshotIdleTimeoutMs,
      onAbortable: (fn) => {
        abort = fn;
        if (aborted) fn();
      },
    }).then((result) => {
      peer.uploads.delete(entry);
      if (aborted || this.closed) return;
      switch (result.kind) {
        case 'finish':
          this.logger.info('snapshot sent', { to: idToHex(id), index: m.snapshot.metadata.index });
          this.reportSnapshot(id, 'finish');
          return;
        case 'removed':
          this.reportSnapshot(id, 'failure');
          this.removed();
          return;
        case 'failure':
          this.logger.warn('sending snapshot failed', {
            to: idToHex(id),
            index: m.snapshot.metadata.index,
            reason: result.reason,
          });
          this.reportSnapshot(id, 'failure');
          this.count('onSendFailures', this.options.onSendFailures, id, 1);
          this.call('reportUnreachable', () => this.options.reportUnreachable(id));
      }
    });
  }
}
