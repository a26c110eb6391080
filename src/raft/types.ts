// The data the consensus core reads and writes. Member IDs are 64-bit and therefore bigint;
// terms and log indexes are plain numbers (2^53 entries is far beyond any real log).

export type NodeId = bigint;

/** The absent member: no leader known, no vote cast. */
export const NONE: NodeId = 0n;

export type EntryType = 'normal' | 'confChange';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** For 'normal': the application's command (empty for the leader's no-op). For 'confChange': an encoded ConfChange. */
  readonly data: Uint8Array;
}

export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  /** The application state as of metadata.index, opaque to raft. */
  readonly data: Uint8Array;
  readonly metadata: SnapshotMetadata;
}

/**
 * A membership change. Promoting a learner is 'addNode' for an ID that is currently a learner;
 * 'updateNode' changes nothing in raft and only carries context to the application.
 */
export type ConfChangeType = 'addNode' | 'removeNode' | 'updateNode' | 'addLearnerNode';

export interface ConfChange {
  /** The proposer's request ID, so it can recognise its change when applied; opaque to raft. */
  readonly id?: bigint;
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to raft (etcd puts the member's JSON here). */
  readonly context: Uint8Array;
}

/** One member of a new cluster's initial configuration; `context` travels in its 'addNode' entry. */
export interface BootstrapPeer {
  readonly id: NodeId;
  readonly context?: Uint8Array;
}

export type StateRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly lead: NodeId;
  readonly role: StateRole;
}

/** A linearizable read point: the read for `context` may be served once applied index >= `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

// ---- Messages between members -------------------------------------------------------------------
// Every message carries sender, receiver and the sender's term (0 for the term-less ones: forwarded
// proposals, forwarded read requests and leader-transfer requests).

interface Envelope {
  readonly to: NodeId;
  readonly from: NodeId;
  readonly term: number;
}

/** A proposal forwarded from a follower to the leader. */
export interface MsgProp extends Envelope {
  readonly type: 'MsgProp';
  readonly entries: readonly Entry[];
}

/** Append entries after (index, logTerm); `commit` is the leader's commit index. */
export interface MsgApp extends Envelope {
  readonly type: 'MsgApp';
  readonly index: number;
  readonly logTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Reply to MsgApp. On success `index` is the last index the follower now matches. On rejection
 * `index` echoes the rejected MsgApp index and (rejectHint, logTerm) point at the follower's best
 * guess of a matching position, so the leader can skip whole terms at once.
 */
export interface MsgAppResp extends Envelope {
  readonly type: 'MsgAppResp';
  readonly index: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly logTerm: number;
}

/** Vote request (real or pre-vote). `term` of a pre-vote is the term the candidate would take. */
export interface MsgVote extends Envelope {
  readonly type: 'MsgVote' | 'MsgPreVote';
  readonly index: number;
  readonly logTerm: number;
  /** Set when the election was started by a leader transfer: voters must not ignore it for stickiness. */
  readonly leaderTransfer: boolean;
}

export interface MsgVoteResp extends Envelope {
  readonly type: 'MsgVoteResp' | 'MsgPreVoteResp';
  readonly reject: boolean;
}

export interface MsgSnap extends Envelope {
  readonly type: 'MsgSnap';
  readonly snapshot: Snapshot;
}

export interface MsgHeartbeat extends Envelope {
  readonly type: 'MsgHeartbeat';
  readonly commit: number;
  /** The ReadIndex round this heartbeat confirms, empty if none. */
  readonly context: Uint8Array;
}

export interface MsgHeartbeatResp extends Envelope {
  readonly type: 'MsgHeartbeatResp';
  readonly context: Uint8Array;
}

/** Ask the leader to hand leadership to `from` (sent by or on behalf of the transferee). */
export interface MsgTransferLeader extends Envelope {
  readonly type: 'MsgTransferLeader';
}

/** The leader tells the transferee to campaign at once. */
export interface MsgTimeoutNow extends Envelope {
  readonly type: 'MsgTimeoutNow';
}

/** A read request forwarded from a follower to the leader. */
export interface MsgReadIndex extends Envelope {
  readonly type: 'MsgReadIndex';
  readonly context: Uint8Array;
}

export interface MsgReadIndexResp extends Envelope {
  readonly type: 'MsgReadIndexResp';
  readonly index: number;
  readonly context: Uint8Array;
}

export type Message =
  | MsgProp
  | MsgApp
  | MsgAppResp
  | MsgVote
  | MsgVoteResp
  | MsgSnap
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgTransferLeader
  | MsgTimeoutNow
  | MsgReadIndex
  | MsgReadIndexResp;

export type MessageType = Message['type'];

// ---- The output of the state machine ------------------------------------------------------------

/**
 * What the caller must do, in this order:
 * 1. persist `hardState`, `entries` and `snapshot` durably (fsync when `mustSync`);
 * 2. send `messages` (a leader may send before step 1 completes; see docs/raft.md);
 * 3. install `snapshot` into the state machine, then apply `committedEntries` in order;
 * 4. serve `readStates` once the applied index reaches each one's index;
 * 5. call advance().
 */
/**
 * Evidence that this member lost log entries it had acknowledged: the leader, which counts only
 * entries a member reported durable, tells it to commit past the end of its log. Its data dir was
 * replaced by an older copy (or its disk lost synced writes): its votes and acknowledgements can no
 * longer be trusted, so it must stop taking part (the server refuses to run on).
 */
export interface LogLoss {
  readonly leader: NodeId;
  /** The index the leader knows this member acknowledged (the heartbeat's commit). */
  readonly acknowledged: number;
  readonly lastIndex: number;
}

export interface Ready {
  /** Set once this member has lost acknowledged entries (see LogLoss); handle it before anything else. */
  readonly logLoss?: LogLoss;
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly mustSync: boolean;
}

export type SnapshotStatus = 'finish' | 'failure';

/** Why a proposal, read or transfer request was refused on the spot. */
export type DropReason =
  | 'no-leader'
  | 'leader-transfer-in-progress'
  | 'conf-change-pending'
  | 'not-a-member'
  | 'too-many-uncommitted'
  | 'removes-all-voters'
  | 'not-leader';

export type StepResult = { readonly ok: true } | { readonly ok: false; readonly reason: DropReason };

export const OK: StepResult = { ok: true };

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

export function isEmptySnapshot(snap: Snapshot | undefined): boolean {
  return snap === undefined || snap.metadata.index === 0;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };
export const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);
