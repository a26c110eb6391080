// The public face of the consensus core: inputs in, Ready batches out. Not thread-safe and never
// blocking; the caller owns time (tick), the network (messages) and the disk (persisting Ready).

import { assert } from './assert.js';
import type { RaftConfig } from './config.js';
import type { ProgressState } from './progress.js';
import { Raft } from './raft.js';
import {
  type BootstrapPeer,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type SnapshotStatus,
  type SoftState,
  type StepResult,
} from './types.js';

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly leadTransferee: NodeId;
  readonly confState: ConfState;
  /** Replication progress of every member; only on the leader (empty elsewhere). */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** What the Ready currently being handled contained, so advance() knows what became durable. */
  private inFlight:
    | {
        lastEntry: Entry | undefined;
        snapshotIndex: number;
        lastCommitted: number;
        committed: readonly Entry[];
        hardState: HardState | undefined;
      }
    | undefined = undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /** Start a member of a brand-new cluster with these initial members (storage must be empty). */
  bootstrap(peers: readonly BootstrapPeer[]): void {
    this.raft.bootstrap(peers);
  }

  /** Advance the logical clock by one tick (heartbeats, election timeouts, check-quorum). */
  tick(): void {
    this.raft.tick();
  }

  /** Start an election now (pre-vote first when enabled). */
  campaign(): StepResult {
    return this.raft.hup('pre-election');
  }

  /**
   * Propose a command. `ok: true` means the proposal was appended (leader) or forwarded (follower);
   * it may still be lost on a leader change, so callers wait for it to be applied, with a timeout.
   */
  propose(data: Uint8Array): StepResult {
    return this.raft.propose([{ term: 0, index: 0, type: 'normal', data }]);
  }

  /** Propose a membership change; refused while another change is not yet applied. */
  proposeConfChange(change: ConfChange): StepResult {
    return this.raft.proposeConfChange(change);
  }

  /** Apply a committed membership change (call when applying its entry); returns the new configuration. */
  applyConfChange(change: ConfChange): ConfState {
    return this.raft.applyConfChange(change);
  }

  /** Feed a message received from a peer. */
  step(message: Message): void {
    // Requests that only make sense locally must not arrive from the network as if they were ours.
    if (message.from === this.raft.id && message.type !== 'MsgProp') return;
    this.raft.step(message);
  }

  /** Request a linearizable read point; the answer comes back as a ReadState carrying `context`. */
  readIndex(context: Uint8Array): StepResult {
    return this.raft.readIndex(context);
  }

  /** Ask the leader to hand leadership to `transferee`. */
  transferLeadership(transferee: NodeId): StepResult {
    return this.raft.transferLeadership(transferee);
  }

  /** The transport could not reach `id`: the leader goes back to probing it. */
  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  /** Outcome of sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    this.raft.reportSnapshot(id, status);
  }

  hasReady(): boolean {
    if (this.inFlight !== undefined) return false;
    const r = this.raft;
    r.flushPendingAppends();
    if (!softStateEqual(r.softState(), this.prevSoftState)) return true;
    if (!hardStateEqual(r.hardState(), this.prevHardState)) return true;
    if (r.log.unstableSnapshot() !== undefined) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0 || r.logLoss !== undefined) return true;
    if (r.log.unstableEntries().length > 0) return true;
    return r.log.hasNextCommittedEntries();
  }

  /** The next batch of work; must be followed by advance() once handled. */
  ready(): Ready {
    assert(this.inFlight === undefined, 'ready() called again before advance()');
    const r = this.raft;
    r.flushPendingAppends();
    const softState = r.softState();
    const hardState = r.hardState();
    const entries = r.log.unstableEntries().slice();
    const snapshot = r.log.unstableSnapshot();
    const committedEntries = r.log.nextCommittedEntries();
    const hardChanged = !hardStateEqual(hardState, this.prevHardState);
    const rd: Ready = {
      ...(r.logLoss === undefined ? {} : { logLoss: r.logLoss }),
      softState: softStateEqual(softState, this.prevSoftState) ? undefined : softState,
      hardState: hardChanged ? hardState : undefined,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      mustSync:
        entries.length > 0 ||
        hardState.term !== this.prevHardState.term ||
        hardState.vote !== this.prevHardState.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (rd.softState !== undefined) this.prevSoftState = softState;
    const last = committedEntries[committedEntries.length - 1];
    this.inFlight = {
      lastEntry: entries[entries.length - 1],
      snapshotIndex: snapshot?.metadata.index ?? 0,
      lastCommitted: last?.index ?? 0,
      committed: committedEntries,
      hardState: rd.hardState,
    };
    return rd;
  }

  /** Acknowledge that the last Ready was fully handled (persisted, sent, applied). */
  advance(): void {
    const done = this.inFlight;
    assert(done !== undefined, 'advance() without a ready()');
    this.inFlight = undefined;
    const r = this.raft;
    if (done.hardState !== undefined) this.prevHardState = done.hardState;
    if (done.snapshotIndex > 0) {
      r.log.stableSnapTo(done.snapshotIndex);
      if (r.log.applied < done.snapshotIndex) r.log.applied = done.snapshotIndex;
    }
    if (done.lastCommitted > 0) r.log.appliedTo(done.lastCommitted);
    if (done.lastEntry !== undefined) r.log.stableTo(done.lastEntry.index, done.lastEntry.term);
    r.reduceUncommittedSize(done.committed);
    r.selfPersisted(r.log.stableLastIndex());
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (r.role === 'leader') {
      for (const [id, pr] of r.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
        });
      }
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.log.applied,
      leadTransferee: r.leadTransferee,
      confState: r.confState(),
      progress,
    };
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.role === b.role;
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
