// What the leader knows about each member's log, and how fast it may send to it.

import { assert } from './assert.js';

/**
 * probe: the leader does not know where the follower's log matches; it sends one append per
 *   heartbeat interval and waits for the answer.
 * replicate: the match is known; appends stream optimistically, bounded by the inflight window.
 * snapshot: a snapshot is on its way; nothing else is sent until it is reported.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded ring of the last indexes of append messages not yet acknowledged. */
export class Inflights {
  private readonly buffer: number[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    assert(capacity > 0, 'inflight window must be positive');
    this.buffer = new Array<number>(capacity).fill(0);
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  size(): number {
    return this.count;
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'inflight window overflow');
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Forget every message whose last index is <= `index` (they are acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  freeFirst(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export class Progress {
  /** Highest index known to be replicated on the member. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append was sent this heartbeat interval; wait before sending another. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from within the current election timeout (for check-quorum). */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflight: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it (the follower has at least that much).
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An append with entries up to `lastIndex` was sent. */
  sentEntries(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** The member acknowledged up to `index`; returns whether that was news. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The member rejected an append at `rejected`; `hint` is where its log might match.
   * Returns false when the rejection is stale (a reply to an older message).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back appends to this member for now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
