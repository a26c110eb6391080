// Automatic compaction (--auto-compaction-mode / --auto-compaction-retention), as etcd 3.4 runs it:
// only on the leader, through an ordinary Compaction request (so it is replicated like any other).
//
// - periodic: keep `retention` worth of history. Every tenth of min(retention, 1 h) the current
//   revision is sampled, a retention's worth of samples kept; once a retention has passed, the oldest
//   sample is compacted to (taken a retention, plus at most one sampling interval, ago), then again
//   every min(retention, 1 h).
// - revision: every 5 minutes, compact to (current revision - retention), unless that is where the
//   last compaction went already.
// A refusal because that revision is already compacted counts as done; any other failure is retried
// at the next turn.

/** The policy as the flags give it (the config module's AutoCompaction has this shape). */
export type CompactionPolicy =
  | { readonly mode: 'periodic'; readonly retentionMs: number }
  | { readonly mode: 'revision'; readonly retentionRevisions: number };

export interface CompactorTimers {
  now(): number;
  /** Calls `fn` once after `ms`; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export interface CompactorParts {
  readonly policy: CompactionPolicy;
  /** The keyspace's current revision. */
  revision(): number;
  /** Proposes a compaction to `revision`; resolves once it is applied. */
  compact(revision: number): Promise<void>;
  /** Whether this member leads now (followers keep sampling but never compact). */
  isLeader(): boolean;
  /** Whether an error means "already compacted" (treated as success, as etcd does). */
  isCompacted(e: unknown): boolean;
  readonly logger: { info(msg: string): void; warn(msg: string): void };
  readonly timers?: CompactorTimers;
}

const HOUR_MS = 3_600_000;
const REVISION_INTERVAL_MS = 5 * 60_000;
const RETRY_DIVISOR = 10;

const realTimers: CompactorTimers = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export class AutoCompactor {
  private readonly timers: CompactorTimers;
  private cancel: (() => void) | undefined;
  private stopped = false;
  /** periodic: revisions sampled every retry interval, oldest first (a retention's worth). */
  private readonly samples: number[] = [];
  private lastSuccess = 0;
  private waitMs = 0;
  /** revision: where the last compaction went. */
  private previous = 0;

  private constructor(private readonly parts: CompactorParts) {
    this.timers = parts.timers ?? realTimers;
  }

  /** Starts compacting by the policy; undefined when the retention is 0 (off, etcd's default). */
  static start(parts: CompactorParts): AutoCompactor | undefined {
    const p = parts.policy;
    if ((p.mode === 'periodic' ? p.retentionMs : p.retentionRevisions) <= 0) return undefined;
    const c = new AutoCompactor(parts);
    c.lastSuccess = c.timers.now();
    if (p.mode === 'periodic') {
      c.waitMs = p.retentionMs;
      c.periodicTurn();
    } else c.schedule(REVISION_INTERVAL_MS, () => c.revisionTurn());
    return c;
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private schedule(ms: number, fn: () => void): void {
    if (this.stopped) return;
    this.cancel = this.timers.after(ms, fn);
  }

  private periodicTurn(): void {
    const retentionMs = (this.parts.policy as { retentionMs: number }).retentionMs;
    const cappedMs = Math.min(retentionMs, HOUR_MS);
    const retryMs = cappedMs / RETRY_DIVISOR;
    this.samples.push(this.parts.revision());
    // samples[0] is the revision of a retention ago.
    const keep = Math.floor(retentionMs / retryMs) + 1;
    if (this.samples.length > keep) this.samples.shift();
    this.schedule(retryMs, () => {
      if (!this.parts.isLeader() || this.timers.now() - this.lastSuccess < this.waitMs) {
        this.periodicTurn();
        return;
      }
      // After the first compaction, compact every min(retention, 1 h).
      this.waitMs = cappedMs;
      const target = this.samples[0];
      void this.run(target, 'periodic').then((ok) => {
        if (ok) this.lastSuccess = this.timers.now();
        this.periodicTurn();
      });
    });
  }

  private revisionTurn(): void {
    const retention = (this.parts.policy as { retentionRevisions: number }).retentionRevisions;
    const target = this.parts.revision() - retention;
    if (!this.parts.isLeader() || target <= 0 || target === this.previous) {
      this.schedule(REVISION_INTERVAL_MS, () => this.revisionTurn());
      return;
    }
    void this.run(target, 'revision').then((ok) => {
      if (ok) this.previous = target;
      this.schedule(REVISION_INTERVAL_MS, () => this.revisionTurn());
    });
  }

  private async run(revision: number, mode: string): Promise<boolean> {
    if (revision <= 0) return true;
    this.parts.logger.info(`starting auto ${mode} compaction (revision ${revision})`);
    try {
      await this.parts.compact(revision);
    } catch (e) {
      if (!this.parts.isCompacted(e)) {
        this.parts.logger.warn(`failed auto ${mode} compaction to revision ${revision}: ${String(e)}`);
        return false;
      }
    }
    this.parts.logger.info(`completed auto ${mode} compaction (revision ${revision})`);
    return true;
  }
}
