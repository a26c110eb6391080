// The consensus state machine: roles, terms, elections, replication, commit, reads, transfers
// and membership. Pure and deterministic: every input is a method call, every output is queued
// (messages, read states, log changes) for RawNode to hand out in a Ready.

import { assert } from './assert.js';
import { decodeConfChange, encodeConfChange } from './codec.js';
import { DEFAULTS, SILENT_LOGGER, type RaftConfig, type RaftLogger } from './config.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { seededRandom, type Random } from './random.js';
import { ReadOnly } from './read-only.js';
import { StorageError, entriesSize } from './storage.js';
import {
  EMPTY_BYTES,
  NONE,
  OK,
  isEmptyHardState,
  type BootstrapPeer,
  type ConfChange,
  type ConfState,
  type DropReason,
  type Entry,
  type HardState,
  type LogLoss,
  type Message,
  type MsgApp,
  type MsgHeartbeat,
  type MsgSnap,
  type MsgVote,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SnapshotStatus,
  type SoftState,
  type StateRole,
  type StepResult,
} from './types.js';

/** Bound on read requests a new leader holds until it has committed an entry of its term. */
const MAX_PENDING_READS = 4096;

type Campaign = 'pre-election' | 'election' | 'transfer';

function drop(reason: DropReason): StepResult {
  return { ok: false, reason };
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: StateRole = 'follower';
  readonly log: RaftLog;

  /** Every member of the configuration (voters and learners), keyed by ID. */
  readonly progress = new Map<NodeId, Progress>();
  private members: readonly NodeId[] = [];
  private voters: readonly NodeId[] = [];
  private readonly votes = new Map<NodeId, boolean>();

  /** Outputs waiting for the next Ready. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Set when a heartbeat shows this member lost entries it had acknowledged (see LogLoss). */
  logLoss: LogLoss | undefined = undefined;

  private readonly readOnly = new ReadOnly();
  /** Read requests that arrived before this leader committed an entry of its own term. */
  private pendingReads: { from: NodeId; context: Uint8Array }[] = [];

  leadTransferee: NodeId = NONE;
  /** Index of the newest conf change the leader may have in its log; no new one until it is applied. */
  pendingConfIndex = 0;
  private uncommittedSize = 0;
  private appendsPending = false;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private readonly maxMsgSize: number;
  private readonly maxInflight: number;
  private readonly maxUncommittedSize: number;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  private readonly random: Random;
  private readonly logger: RaftLogger;

  constructor(config: RaftConfig) {
    assert(config.id !== NONE, 'member ID must not be 0');
    assert(config.heartbeatTick > 0, 'heartbeatTick must be positive');
    assert(config.electionTick > config.heartbeatTick, 'electionTick must be greater than heartbeatTick');
    this.id = config.id;
    this.electionTimeout = config.electionTick;
    this.heartbeatTimeout = config.heartbeatTick;
    this.maxMsgSize = config.maxSizePerMsg ?? DEFAULTS.maxSizePerMsg;
    this.maxInflight = config.maxInflightMsgs ?? DEFAULTS.maxInflightMsgs;
    this.maxUncommittedSize = config.maxUncommittedEntriesSize ?? DEFAULTS.maxUncommittedEntriesSize;
    this.checkQuorum = config.checkQuorum ?? false;
    this.preVote = config.preVote ?? false;
    this.random = seededRandom(config.randomSeed);
    this.logger = config.logger ?? SILENT_LOGGER;
    this.log = new RaftLog(
      config.storage,
      config.maxCommittedSizePerReady ?? DEFAULTS.maxCommittedSizePerReady,
    );

    const { hardState, confState } = config.storage.initialState();
    this.restoreConfiguration(confState);
    if (!isEmptyHardState(hardState)) this.loadHardState(hardState);
    if (config.applied !== undefined && config.applied > 0) {
      this.log.appliedTo(config.applied);
      this.replayConfChanges(config.applied);
    }
    this.becomeFollower(this.term, NONE);
  }

  // ---- Queries ----------------------------------------------------------------------------------

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  confState(): ConfState {
    const voters: NodeId[] = [];
    const learners: NodeId[] = [];
    for (const id of this.sortedIds()) (this.progress.get(id)!.isLearner ? learners : voters).push(id);
    return { voters, learners };
  }

  /** A member that may campaign: part of the configuration and not a learner. */
  private promotable(): boolean {
    const pr = this.progress.get(this.id);
    return pr !== undefined && !pr.isLearner;
  }

  private voterIds(): readonly NodeId[] {
    return this.voters;
  }

  /** Member IDs in ascending order, so that every loop over members is deterministic. */
  private sortedIds(): readonly NodeId[] {
    return this.members;
  }

  private quorum(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  /** Recompute the cached member lists; call after every change to the configuration. */
  private configurationChanged(): void {
    this.members = [...this.progress.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.voters = this.members.filter((id) => !this.progress.get(id)!.isLearner);
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  // ---- Role transitions -------------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + this.random.int(this.electionTimeout);
    this.leadTransferee = NONE;
    this.votes.clear();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.progress) {
      const fresh = new Progress(last + 1, this.maxInflight, pr.isLearner);
      if (id === this.id) fresh.match = this.log.stableLastIndex();
      this.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly.reset();
    this.pendingReads = [];
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // A pre-election changes neither term nor vote: a lost pre-vote must leave no trace.
    this.role = 'preCandidate';
    this.votes.clear();
    this.lead = NONE;
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role !== 'follower', 'a follower cannot become leader directly');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.progress.get(this.id)!.becomeReplicate();
    this.progress.get(this.id)!.match = this.log.stableLastIndex();
    const empty: Entry = {
      term: this.term,
      index: this.log.lastIndex() + 1,
      type: 'normal',
      data: EMPTY_BYTES,
    };
    this.log.append([empty]);
    // Any conf change in the log may still be unapplied, and a change proposed before this term
    // has committed anything could clash with one of an earlier leader that we never saw: refuse
    // new changes until this term's first entry is applied.
    this.pendingConfIndex = empty.index;
    this.logger.info(`${this.id.toString(16)} became leader at term ${this.term}`);
  }

  // ---- Time ---------------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup('pre-election');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.logger.warn(`${this.id.toString(16)} stepped down: no quorum heard within an election timeout`);
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(EMPTY_BYTES);
    }
  }

  /** Whether a quorum of voters was heard from since the last check; resets the marks. */
  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.voterIds()) {
      const pr = this.progress.get(id)!;
      if (id === this.id || pr.recentActive) active++;
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active >= this.quorum();
  }

  // ---- Elections ----------------------------------------------------------------------------------

  /** Start an election unless this member must not (leader already, learner, or config change pending). */
  hup(kind: Campaign): StepResult {
    if (this.role === 'leader') return OK;
    if (!this.promotable()) return drop('not-a-member');
    if (this.hasUnappliedConfChange()) {
      this.logger.warn(`${this.id.toString(16)} cannot campaign: a committed conf change is not applied yet`);
      return drop('conf-change-pending');
    }
    this.campaign(kind === 'pre-election' && !this.preVote ? 'election' : kind);
    return OK;
  }

  private hasUnappliedConfChange(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    for (const e of this.log.slice(lo, this.log.committed + 1, Number.MAX_SAFE_INTEGER)) {
      if (e.type === 'confChange') return true;
    }
    return false;
  }

  private campaign(kind: Campaign): void {
    let term: number;
    let type: 'MsgVote' | 'MsgPreVote';
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      type = 'MsgPreVote';
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = 'MsgVote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single voter wins at once.
      if (kind === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    for (const id of this.voterIds()) {
      if (id === this.id) continue;
      this.send({
        type,
        from: this.id,
        to: id,
        term,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        leaderTransfer: kind === 'transfer',
      });
    }
  }

  /** Record a vote and tally it over the voters of the current configuration only. */
  private poll(from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    const voters = this.voterIds();
    for (const id of voters) {
      const v = this.votes.get(id);
      if (v === true) yes++;
      else if (v === false) no++;
    }
    const q = this.quorum();
    if (yes >= q) return 'won';
    if (no > voters.length - q) return 'lost';
    return 'pending';
  }

  private handleVoteRequest(m: MsgVote): void {
    const respType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      // A pre-vote for a future term does not bind us.
      (m.type === 'MsgPreVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Reply in the term of the request: for a pre-vote our own term may be lower, and the
      // candidate must recognise the grant as belonging to its pre-election.
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  // ---- Input ------------------------------------------------------------------------------------

  step(m: Message): StepResult {
    if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        // Leader stickiness: while we hear from a live leader, ignore campaigns (unless the leader
        // itself asked for this one by transferring leadership).
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!m.leaderTransfer && inLease) return OK;
      }
      if (m.type === 'MsgPreVote') {
        // Never change term on a pre-vote request.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // The term in a granted pre-vote is the one we asked for, not one we must adopt.
      } else if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term && m.term !== 0) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
        // A leader from an older term: tell it our term so it steps down. Needed because, with
        // check-quorum or pre-vote, a member whose term ran ahead can no longer depose it by voting.
        this.send({
          type: 'MsgAppResp',
          from: this.id,
          to: m.from,
          term: this.term,
          index: 0,
          reject: false,
          rejectHint: 0,
          logTerm: 0,
        });
      } else if (m.type === 'MsgPreVote') {
        this.send({ type: 'MsgPreVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return OK;
    }

    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      this.handleVoteRequest(m);
      return OK;
    }
    switch (this.role) {
      case 'leader':
        return this.stepLeader(m);
      case 'candidate':
      case 'preCandidate':
        return this.stepCandidate(m);
      case 'follower':
        return this.stepFollower(m);
    }
  }

  /** A proposal from the local application. */
  propose(entries: Entry[]): StepResult {
    return this.step({ type: 'MsgProp', to: this.id, from: this.id, term: 0, entries });
  }

  proposeConfChange(change: ConfChange): StepResult {
    if (this.role === 'leader' && this.pendingConfIndex > this.log.applied)
      return drop('conf-change-pending');
    // A configuration without voters can never elect a leader again.
    const pr = this.progress.get(change.nodeId);
    if (change.type === 'removeNode' && pr !== undefined && !pr.isLearner && this.voters.length === 1) {
      return drop('removes-all-voters');
    }
    const entry: Entry = { term: 0, index: 0, type: 'confChange', data: encodeConfChange(change) };
    return this.propose([entry]);
  }

  readIndex(context: Uint8Array): StepResult {
    return this.step({ type: 'MsgReadIndex', to: this.id, from: this.id, term: 0, context });
  }

  transferLeadership(transferee: NodeId): StepResult {
    return this.step({ type: 'MsgTransferLeader', to: this.id, from: transferee, term: 0 });
  }

  // ---- Leader -----------------------------------------------------------------------------------

  private stepLeader(m: Message): StepResult {
    switch (m.type) {
      case 'MsgProp':
        return this.leaderPropose(m.entries);
      case 'MsgReadIndex':
        this.leaderReadIndex(m.from, m.context);
        return OK;
      case 'MsgTransferLeader':
        this.leaderTransfer(m.from);
        return OK;
    }
    const pr = this.progress.get(m.from);
    if (pr === undefined) return OK; // not (or no longer) a member
    switch (m.type) {
      case 'MsgAppResp':
        pr.recentActive = true;
        if (m.reject) this.handleAppendRejection(m.from, pr, m.index, m.rejectHint, m.logTerm);
        else this.handleAppendSuccess(m.from, pr, m.index);
        return OK;
      case 'MsgHeartbeatResp':
        pr.recentActive = true;
        pr.probeSent = false;
        // If every append in the window was lost, nothing would ever free it: the heartbeat
        // answer proves the follower is reachable, so let one more append through.
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.context.length > 0) this.acknowledgeRead(m.from, m.context);
        return OK;
      default:
        return OK;
    }
  }

  private leaderPropose(entries: readonly Entry[]): StepResult {
    if (!this.progress.has(this.id)) return drop('not-a-member');
    if (this.leadTransferee !== NONE) return drop('leader-transfer-in-progress');
    const size = entriesSize(entries);
    if (
      this.maxUncommittedSize > 0 &&
      this.uncommittedSize > 0 &&
      this.uncommittedSize + size > this.maxUncommittedSize
    ) {
      return drop('too-many-uncommitted');
    }
    const first = this.log.lastIndex() + 1;
    const stamped: Entry[] = entries.map((e, i) => {
      let entry: Entry = { term: this.term, index: first + i, type: e.type, data: e.data };
      if (e.type === 'confChange') {
        // One change at a time: a forwarded second change becomes a no-op entry.
        if (this.pendingConfIndex > this.log.applied) entry = { ...entry, type: 'normal', data: EMPTY_BYTES };
        else this.pendingConfIndex = entry.index;
      }
      return entry;
    });
    this.uncommittedSize += size;
    this.log.append(stamped);
    // Our own match advances only when the caller reports the entries durable (advance). The
    // append to followers waits for the next Ready, so that proposals arriving together travel
    // in one message per follower.
    this.appendsPending = true;
    return OK;
  }

  /** Send the appends that proposals since the last Ready made necessary. */
  flushPendingAppends(): void {
    if (!this.appendsPending) return;
    this.appendsPending = false;
    if (this.role === 'leader') this.broadcastAppend();
  }

  /** Forget the budget of entries that have been committed and handed out. */
  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - entriesSize(entries));
  }

  private leaderReadIndex(from: NodeId, context: Uint8Array): void {
    if (this.voterIds().length === 1) {
      this.answerRead(from, this.log.committed, context);
      return;
    }
    // The commit index of a new leader may lag: it serves no read before committing in its term.
    if (!this.committedInCurrentTerm()) {
      if (this.pendingReads.length < MAX_PENDING_READS) this.pendingReads.push({ from, context });
      else
        this.logger.warn(
          `${this.id.toString(16)} dropped a read: ${MAX_PENDING_READS} reads already wait for the first commit of the term`,
        );
      return;
    }
    if (this.readOnly.add(this.log.committed, from, context)) this.broadcastHeartbeat(context);
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private acknowledgeRead(from: NodeId, context: Uint8Array): void {
    const released = this.readOnly.acknowledge(from, context, this.id, this.voterIds(), this.quorum());
    for (const r of released) this.answerRead(r.from, r.index, r.context);
  }

  private answerRead(from: NodeId, index: number, context: Uint8Array): void {
    if (from === this.id || from === NONE) this.readStates.push({ index, context });
    else this.send({ type: 'MsgReadIndexResp', from: this.id, to: from, term: this.term, index, context });
  }

  private releasePendingReads(): void {
    if (this.pendingReads.length === 0 || !this.committedInCurrentTerm()) return;
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const r of reads) this.leaderReadIndex(r.from, r.context);
  }

  private handleAppendRejection(
    from: NodeId,
    pr: Progress,
    rejected: number,
    hint: number,
    hintTerm: number,
  ): void {
    // Skip back past every entry of ours whose term cannot match what the follower has at `hint`.
    const next = hintTerm > 0 ? this.log.findConflictByTerm(hint, hintTerm) : hint;
    if (pr.maybeDecrTo(rejected, next)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      this.sendAppend(from);
    }
  }

  private handleAppendSuccess(from: NodeId, pr: Progress, index: number): void {
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(from);
      return;
    }
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(index);
    }
    if (this.maybeCommit()) {
      this.broadcastAppend();
    } else if (wasPaused) {
      this.sendAppend(from);
    }
    // Fill the window while there is more to send.
    while (this.maybeSendAppend(from, false)) {
      /* keep sending */
    }
    if (from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(from);
  }

  /** Advance commit to what a quorum has replicated (current-term entries only); true if it moved. */
  maybeCommit(): boolean {
    const matches = this.voterIds()
      .map((id) => this.progress.get(id)!.match)
      .sort((a, b) => b - a);
    const quorumMatch = matches[this.quorum() - 1] ?? 0;
    if (!this.log.maybeCommit(quorumMatch, this.term)) return false;
    this.releasePendingReads();
    return true;
  }

  /** The caller made our own entries durable up to `index`: count ourselves toward the quorum. */
  selfPersisted(index: number): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(this.id);
    if (pr === undefined || !pr.maybeUpdate(index)) return;
    if (this.maybeCommit()) this.broadcastAppend();
  }

  private leaderTransfer(transferee: NodeId): void {
    const pr = this.progress.get(transferee);
    if (pr === undefined || pr.isLearner) {
      this.logger.warn(`${this.id.toString(16)} ignored transfer to ${transferee.toString(16)}: not a voter`);
      return;
    }
    if (transferee === this.id) return;
    if (this.leadTransferee === transferee) return; // already under way
    this.leadTransferee = transferee;
    // The transfer must finish within one election timeout or it is abandoned (tickHeartbeat).
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'MsgTimeoutNow', from: this.id, to, term: this.term });
  }

  reportUnreachable(id: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(id);
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(id);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (status === 'failure') pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat) before probing again.
    pr.probeSent = true;
  }

  // ---- Sending ------------------------------------------------------------------------------------

  private broadcastAppend(): void {
    for (const id of this.sortedIds()) if (id !== this.id) this.sendAppend(id);
  }

  private broadcastHeartbeat(context: Uint8Array): void {
    for (const id of this.sortedIds()) {
      if (id === this.id) continue;
      const pr = this.progress.get(id)!;
      // Never tell a follower to commit past what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'MsgHeartbeat', from: this.id, to: id, term: this.term, commit, context });
    }
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Send the next append (or a snapshot) to `to` if its progress allows; true if something was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let entries: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        entries = this.log.entriesFrom(pr.next, this.maxMsgSize);
      } catch (err) {
        if (!(err instanceof StorageError && err.kind === 'compacted')) throw err;
      }
    }
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: 'MsgApp',
      from: this.id,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.log.committed,
    });
    pr.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (err) {
      if (err instanceof StorageError && err.kind === 'snapshot-temporarily-unavailable') return false;
      throw err;
    }
    assert(snapshot.metadata.index > 0, 'need a non-empty snapshot to catch up a follower');
    this.send({ type: 'MsgSnap', from: this.id, to, term: this.term, snapshot });
    pr.becomeSnapshot(snapshot.metadata.index);
    return true;
  }

  // ---- Candidate ----------------------------------------------------------------------------------

  private stepCandidate(m: Message): StepResult {
    switch (m.type) {
      case 'MsgProp':
        return drop('no-leader');
      case 'MsgReadIndex':
        return drop('no-leader');
      case 'MsgTransferLeader':
        return drop('no-leader');
      case 'MsgApp':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return OK;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return OK;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return OK;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp': {
        const expected = this.role === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
        if (m.type !== expected) return OK;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === 'preCandidate') this.campaign('election');
          else {
            this.becomeLeader();
            this.broadcastAppend();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return OK;
      }
      default:
        return OK;
    }
  }

  // ---- Follower -----------------------------------------------------------------------------------

  private stepFollower(m: Message): StepResult {
    switch (m.type) {
      case 'MsgProp':
        if (this.lead === NONE) return drop('no-leader');
        this.send({ type: 'MsgProp', from: this.id, to: this.lead, term: 0, entries: m.entries });
        return OK;
      case 'MsgReadIndex':
        if (this.lead === NONE) return drop('no-leader');
        this.send({ type: 'MsgReadIndex', from: this.id, to: this.lead, term: 0, context: m.context });
        return OK;
      case 'MsgTransferLeader':
        if (this.lead === NONE) return drop('no-leader');
        this.msgs.push({ type: 'MsgTransferLeader', to: this.lead, from: m.from, term: 0 });
        return OK;
      case 'MsgApp':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return OK;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return OK;
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return OK;
      case 'MsgTimeoutNow':
        // Leadership is being handed to us: campaign at once, skipping the pre-election.
        this.hup('transfer');
        return OK;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return OK;
      default:
        return OK;
    }
  }

  private handleAppend(m: MsgApp): void {
    if (m.index < this.log.committed) {
      this.send({
        type: 'MsgAppResp',
        from: this.id,
        to: m.from,
        term: this.term,
        index: this.log.committed,
        reject: false,
        rejectHint: 0,
        logTerm: 0,
      });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({
        type: 'MsgAppResp',
        from: this.id,
        to: m.from,
        term: this.term,
        index: lastNew,
        reject: false,
        rejectHint: 0,
        logTerm: 0,
      });
      return;
    }
    // Point the leader at the last entry of ours that could match: at most m.index, and with a
    // term no greater than the one the leader has there.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    const hintTerm = this.log.term(hintIndex) ?? 0;
    this.send({
      type: 'MsgAppResp',
      from: this.id,
      to: m.from,
      term: this.term,
      index: m.index,
      reject: true,
      rejectHint: hintIndex,
      logTerm: hintTerm,
    });
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    // A heartbeat's commit never exceeds what this member acknowledged to this leader in this term,
    // and acknowledged entries are durable: a log ending before it has lost them (etcd panics here).
    if (m.commit > this.log.lastIndex() && this.logLoss === undefined) {
      this.logLoss = { leader: m.from, acknowledged: m.commit, lastIndex: this.log.lastIndex() };
      this.logger.warn(
        `${this.id.toString(16)} lost acknowledged log entries: leader ${m.from.toString(16)} commits to ${m.commit}, the log ends at ${this.log.lastIndex()}`,
      );
    }
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'MsgHeartbeatResp', from: this.id, to: m.from, term: this.term, context: m.context });
  }

  private handleSnapshot(m: MsgSnap): void {
    const index = this.restore(m.snapshot) ? this.log.lastIndex() : this.log.committed;
    this.send({
      type: 'MsgAppResp',
      from: this.id,
      to: m.from,
      term: this.term,
      index,
      reject: false,
      rejectHint: 0,
      logTerm: 0,
    });
  }

  /** Install a snapshot from the leader; false if we already have everything it covers. */
  private restore(snap: Snapshot): boolean {
    const { index, term } = snap.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already hold the entry the snapshot ends at: just commit up to it.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snap);
    this.restoreConfiguration(snap.metadata.confState);
    return true;
  }

  private restoreConfiguration(cs: ConfState): void {
    this.progress.clear();
    const next = this.log.lastIndex() + 1;
    for (const id of cs.voters) this.progress.set(id, new Progress(next, this.maxInflight, false));
    for (const id of cs.learners) this.progress.set(id, new Progress(next, this.maxInflight, true));
    this.configurationChanged();
  }

  /**
   * The snapshot's configuration is the one at its index; membership changes between it and the
   * applied index were applied before the restart and will not be handed out again, so take them
   * from the log here. The caller then only applies what comes after `applied`.
   */
  private replayConfChanges(applied: number): void {
    const from = this.log.firstIndex();
    if (applied < from) return;
    for (const e of this.log.slice(from, applied + 1, Number.MAX_SAFE_INTEGER)) {
      if (e.type === 'confChange') this.applyConfChange(decodeConfChange(e.data));
    }
  }

  private loadHardState(hs: HardState): void {
    assert(
      hs.commit >= this.log.committed && hs.commit <= this.log.lastIndex(),
      `hard state commit ${hs.commit} outside [${this.log.committed}, ${this.log.lastIndex()}]`,
    );
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---- Membership ---------------------------------------------------------------------------------

  /**
   * Start a brand-new member of a brand-new cluster. As etcd does, the initial members become
   * committed 'addNode' entries 1..n of term 1 instead of a configuration hidden in an index-0
   * snapshot, so a member that later replays the log from the start learns the same configuration.
   * The entries reach the caller in the next Ready, to persist and apply like any other.
   */
  bootstrap(peers: readonly BootstrapPeer[]): void {
    assert(peers.length > 0, 'bootstrap needs at least one member');
    assert(
      this.log.lastIndex() === 0 && this.term === 0 && this.progress.size === 0,
      'bootstrap needs empty storage',
    );
    assert(new Set(peers.map((p) => p.id)).size === peers.length, 'bootstrap members must be distinct');
    this.becomeFollower(1, NONE);
    const changes: ConfChange[] = peers.map((p) => ({
      type: 'addNode',
      nodeId: p.id,
      context: p.context ?? EMPTY_BYTES,
    }));
    this.log.append(
      changes.map((cc, i) => ({ term: 1, index: i + 1, type: 'confChange', data: encodeConfChange(cc) })),
    );
    this.log.commitTo(changes.length);
    for (const cc of changes) this.applyConfChange(cc);
  }

  applyConfChange(cc: ConfChange): ConfState {
    // The application refused the change (etcd's convention): it still leaves the log, changing nothing.
    if (cc.nodeId === NONE) return this.confState();
    const pr = this.progress.get(cc.nodeId);
    switch (cc.type) {
      case 'addNode':
        if (pr === undefined) this.addProgress(cc.nodeId, false);
        else pr.isLearner = false; // promotion of a learner (no-op for a voter)
        break;
      case 'addLearnerNode':
        if (pr === undefined) this.addProgress(cc.nodeId, true);
        else if (!pr.isLearner)
          this.logger.warn(`ignored demoting voter ${cc.nodeId.toString(16)} to learner`);
        break;
      case 'removeNode':
        this.removeProgress(cc.nodeId);
        break;
      case 'updateNode':
        break;
    }
    this.configurationChanged();
    return this.confState();
  }

  private addProgress(id: NodeId, isLearner: boolean): void {
    const pr = new Progress(this.log.lastIndex() + 1, this.maxInflight, isLearner);
    // Give the new member a full election timeout before check-quorum counts it as silent.
    pr.recentActive = true;
    this.progress.set(id, pr);
  }

  private removeProgress(id: NodeId): void {
    if (!this.progress.delete(id)) return;
    this.configurationChanged();
    if (id === this.id && this.role === 'leader') {
      // A leader that is no longer a member must not keep the cluster from electing a new one.
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.role !== 'leader' || this.progress.size === 0) return;
    if (this.leadTransferee === id) this.leadTransferee = NONE;
    // The quorum may be smaller now.
    if (this.maybeCommit()) this.broadcastAppend();
  }
}
