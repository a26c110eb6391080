// One client's watch stream (etcd's server-side watch stream): watch IDs, filters, previous values,
// progress notifications, and a bounded queue of responses for the transport to drain. When the
// queue is full the watchers stop being fed (the watchable store keeps them as victims) until the
// transport takes responses again, so memory stays bounded however slow the client is.

import { Event_EventType, type Event } from '../proto/mvccpb/kv.js';
import type { WatchBatch, WatchSink, Watcher, WatchableStore } from './watchable-store.js';
import { keyRange } from './kv-apply.js';
import { keyToString } from './tree-index.js';

/** etcd's WatchCreateRequest filter values. */
export const FILTER_NOPUT = 0;
export const FILTER_NODELETE = 1;

/** A response as the stream produces it; the API layer adds the header fields besides revision. */
export interface StreamResponse {
  readonly watchId: bigint;
  /** Header revision (0: none, as etcd sends for a compaction notice). */
  readonly revision: number;
  readonly created: boolean;
  readonly canceled: boolean;
  readonly cancelReason: string;
  readonly compactRevision: number;
  readonly fragment: boolean;
  readonly events: Event[];
}

export interface WatchCreate {
  /** 0n: the stream picks the next free ID. */
  readonly watchId: bigint;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly startRevision: bigint;
  readonly filters: readonly number[];
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
}

export interface WatchStreamOptions {
  /** Event responses queued before watchers are held back (etcd: 128). */
  readonly maxQueued?: number;
  /** A fragmenting watcher's responses are split above this many bytes of events. */
  readonly maxResponseBytes?: number;
}

/** The watch ID etcd uses for responses that belong to no single watcher (progress). */
export const NO_WATCH_ID = -1n;

const DUPLICATE_ID = 'mvcc: duplicate watch ID provided on the WatchStream';

interface StreamWatcher {
  readonly watcher: Watcher;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
  /** Something was sent since the last periodic progress tick. */
  active: boolean;
}

export class WatchStream implements WatchSink {
  private readonly watchers = new Map<bigint, StreamWatcher>();
  private readonly queue: StreamResponse[] = [];
  private eventResponses = 0;
  private nextId = 0n;
  private readonly maxQueued: number;
  private readonly maxResponseBytes: number;
  private wake: (() => void) | undefined;
  private progressWanted = false;
  private closed = false;

  constructor(
    private readonly ws: WatchableStore,
    options: WatchStreamOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? 128;
    this.maxResponseBytes = options.maxResponseBytes ?? 1.5 * 1024 * 1024;
  }

  /** Creates a watcher; its `created` response is queued before any of its events. */
  watch(req: WatchCreate): bigint {
    let id = req.watchId;
    if (id === 0n) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      this.push(
        control(id, this.ws.store.revision, { created: true, canceled: true, cancelReason: DUPLICATE_ID }),
      );
      return id;
    }
    this.push(control(id, this.ws.store.revision, { created: true }));
    const watcher = this.ws.watch({
      id,
      range: keyRange(req.key, req.rangeEnd),
      startRevision: Number(req.startRevision),
      sink: this,
    });
    this.watchers.set(id, {
      watcher,
      noPut: req.filters.includes(FILTER_NOPUT),
      noDelete: req.filters.includes(FILTER_NODELETE),
      prevKv: req.prevKv,
      progressNotify: req.progressNotify,
      fragment: req.fragment,
      active: false,
    });
    return id;
  }

  /**
   * Answers a create request that may not start (the caller lacks permission): created and canceled
   * at once, with no watch ID and `reason` as the cancel reason.
   */
  refuse(reason: string): void {
    this.push(
      control(NO_WATCH_ID, this.ws.store.revision, { created: true, canceled: true, cancelReason: reason }),
    );
  }

  /** Cancels a watcher of this stream; etcd answers with `canceled` for a known ID only. */
  cancel(id: bigint): boolean {
    const sw = this.watchers.get(id);
    if (sw === undefined) return false;
    this.ws.cancel(sw.watcher);
    this.watchers.delete(id);
    this.push(control(id, this.ws.store.revision, { canceled: true }));
    return true;
  }

  /**
   * A progress notification on request: the current revision, once every watcher of the stream
   * has delivered everything before it (otherwise it would claim a revision not yet delivered).
   */
  requestProgress(): void {
    this.progressWanted = true;
    this.maybeSendProgress();
  }

  /** The periodic progress tick: watchers asking for it that were idle get the current revision. */
  tickProgress(): void {
    const rev = this.ws.store.revision;
    for (const [id, sw] of this.watchers) {
      if (!sw.progressNotify) continue;
      if (!sw.active && this.ws.isSynced(sw.watcher)) this.push(control(id, rev, {}));
      sw.active = false;
    }
  }

  // ---- WatchSink ----------------------------------------------------------------------------------

  deliver(batch: WatchBatch): boolean {
    if (this.closed) return true;
    const sw = this.watchers.get(batch.watcher.id);
    if (sw === undefined || sw.watcher !== batch.watcher) return true;
    if (this.eventResponses >= this.maxQueued) return false;
    if (batch.compactRevision !== 0) {
      this.watchers.delete(batch.watcher.id);
      this.push(control(batch.watcher.id, 0, { canceled: true, compactRevision: batch.compactRevision }));
      return true;
    }
    const events = batch.events.filter((e) => (e.type === Event_EventType.PUT ? !sw.noPut : !sw.noDelete));
    if (events.length > 0) {
      if (sw.prevKv) for (let i = 0; i < events.length; i++) events[i] = this.withPrevKv(events[i]);
      sw.active = true;
      const parts = sw.fragment ? this.fragments(events) : [events];
      for (let i = 0; i < parts.length; i++) {
        this.eventResponses++;
        this.push({
          watchId: batch.watcher.id,
          revision: batch.revision,
          created: false,
          canceled: false,
          cancelReason: '',
          compactRevision: 0,
          // Every part but the last says more of the same response follows.
          fragment: i < parts.length - 1,
          events: parts[i],
        });
      }
    }
    this.maybeSendProgress();
    return true;
  }

  caughtUp(): void {
    this.maybeSendProgress();
  }

  // ---- Consumer side ------------------------------------------------------------------------------

  /** Takes every queued response (oldest first); watchers held back resume feeding. */
  take(): StreamResponse[] {
    const out = this.queue.splice(0);
    const hadBacklog = this.eventResponses >= this.maxQueued;
    this.eventResponses = 0;
    if (hadBacklog) this.ws.syncNow();
    return out;
  }

  /** Resolves when a response is queued (or the stream closes). */
  waitForResponse(): Promise<void> {
    if (this.queue.length > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  async *responses(): AsyncGenerator<StreamResponse> {
    while (!this.closed) {
      await this.waitForResponse();
      for (const r of this.take()) yield r;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sw of this.watchers.values()) this.ws.cancel(sw.watcher);
    this.watchers.clear();
    this.wakeUp();
  }

  // ---- Internals ----------------------------------------------------------------------------------

  private push(r: StreamResponse): void {
    this.queue.push(r);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private maybeSendProgress(): void {
    if (!this.progressWanted) return;
    for (const sw of this.watchers.values()) if (!this.ws.isSynced(sw.watcher)) return;
    this.progressWanted = false;
    this.push(control(NO_WATCH_ID, this.ws.store.revision, {}));
  }

  private withPrevKv(e: Event): Event {
    const kv = e.kv!;
    try {
      const r = this.ws.store.range(
        { start: keyToString(kv.key), end: undefined },
        { rev: Number(kv.modRevision) - 1 },
      );
      return r.kvs.length > 0 ? { ...e, prevKv: r.kvs[0] } : e;
    } catch {
      // Compacted meanwhile: no previous value to give, as etcd.
      return e;
    }
  }

  /** Splits events into parts of at most maxResponseBytes (at least one event each). */
  private fragments(events: Event[]): Event[][] {
    const parts: Event[][] = [];
    let part: Event[] = [];
    let size = 0;
    for (const e of events) {
      const s = eventSize(e);
      if (part.length > 0 && size + s > this.maxResponseBytes) {
        parts.push(part);
        part = [];
        size = 0;
      }
      part.push(e);
      size += s;
    }
    parts.push(part);
    return parts;
  }
}

function control(
  watchId: bigint,
  revision: number,
  fields: Partial<Pick<StreamResponse, 'created' | 'canceled' | 'cancelReason' | 'compactRevision'>>,
): StreamResponse {
  return {
    watchId,
    revision,
    created: fields.created ?? false,
    canceled: fields.canceled ?? false,
    cancelReason: fields.cancelReason ?? '',
    compactRevision: fields.compactRevision ?? 0,
    fragment: false,
    events: [],
  };
}

function eventSize(e: Event): number {
  const kv = e.kv;
  const prev = e.prevKv;
  return (
    (kv === undefined ? 0 : kv.key.byteLength + kv.value.byteLength + 40) +
    (prev === undefined ? 0 : prev.key.byteLength + prev.value.byteLength + 40)
  );
}
