import type { Storage } from './storage.js';
import type { NodeId } from './types.js';

export interface RaftLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const SILENT_LOGGER: RaftLogger = { info: () => {}, warn: () => {} };

export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  /** Ticks without hearing from a leader before a follower campaigns; the actual timeout is randomized in [electionTick, 2*electionTick). */
  readonly electionTick: number;
  /** Ticks between leader heartbeats; must be smaller than electionTick. */
  readonly heartbeatTick: number;
  /** The last index the application has applied (when restarting); committed entries start after it. */
  readonly applied?: number;
  /** Byte budget of the entries in one append message (one entry is always sent even if larger). */
  readonly maxSizePerMsg?: number;
  /** Append messages a leader may have in flight to one follower in the replicate state. */
  readonly maxInflightMsgs?: number;
  /** Byte budget of proposed-but-uncommitted entries at the leader; 0 means no limit. */
  readonly maxUncommittedEntriesSize?: number;
  /** Byte budget of committed entries handed out in one Ready. */
  readonly maxCommittedSizePerReady?: number;
  /** A leader that has not heard from a quorum within an election timeout steps down. */
  readonly checkQuorum?: boolean;
  /** Run a pre-election before raising the term, so a rejoining partitioned member cannot disrupt. */
  readonly preVote?: boolean;
  /** Seed of the generator that randomizes election timeouts. */
  readonly randomSeed: number;
  readonly logger?: RaftLogger;
}

export const DEFAULTS = {
  maxSizePerMsg: 1024 * 1024,
  maxInflightMsgs: 256,
  maxUncommittedEntriesSize: 0,
  maxCommittedSizePerReady: 16 * 1024 * 1024,
} as const;
