// The public face of the consensus core: inputs in, Ready batches out. Not thread-safe and never
// blocking; the caller owns time (tick), the network (messages) and the disk (persisting Ready).

import type { RaftConfig } from './config.js';
import type { ProgressState } from './progress.js';
import type {
  ConfChange,
  ConfState,
  HardState,
  Message,
  NodeId,
  Ready,
  SnapshotStatus,
  SoftState,
  StepResult,
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
  constructor(_config: RaftConfig) {
    throw new Error('not implemented');
  }

  /** Advance the logical clock by one tick (heartbeats, election timeouts, check-quorum). */
  tick(): void {}

  /** Start an election now (pre-vote first when enabled). */
  campaign(): StepResult {
    return { ok: false, reason: 'no-leader' };
  }

  /**
   * Propose a command. `ok: true` means the proposal was appended (leader) or forwarded (follower);
   * it may still be lost on a leader change, so callers wait for it to be applied, with a timeout.
   */
  propose(_data: Uint8Array): StepResult {
    return { ok: false, reason: 'no-leader' };
  }

  /** Propose a membership change; refused while another change is not yet applied. */
  proposeConfChange(_change: ConfChange): StepResult {
    return { ok: false, reason: 'no-leader' };
  }

  /** Apply a committed membership change (call when applying its entry); returns the new configuration. */
  applyConfChange(_change: ConfChange): ConfState {
    throw new Error('not implemented');
  }

  /** Feed a message received from a peer. */
  step(_message: Message): void {}

  /** Request a linearizable read point; the answer comes back as a ReadState carrying `context`. */
  readIndex(_context: Uint8Array): StepResult {
    return { ok: false, reason: 'no-leader' };
  }

  /** Ask the leader to hand leadership to `transferee`. */
  transferLeadership(_transferee: NodeId): void {}

  /** The transport could not reach `id`: the leader goes back to probing it. */
  reportUnreachable(_id: NodeId): void {}

  /** Outcome of sending a snapshot to `id`. */
  reportSnapshot(_id: NodeId, _status: SnapshotStatus): void {}

  hasReady(): boolean {
    return false;
  }

  /** The next batch of work; must be followed by advance() once handled. */
  ready(): Ready {
    throw new Error('not implemented');
  }

  /** Acknowledge that the last Ready was fully handled (persisted, sent, applied). */
  advance(): void {}

  status(): Status {
    throw new Error('not implemented');
  }
}
