// A small deterministic cluster for unit tests of the raft core through its public API: N RawNodes
// over MemoryStorages, and a synchronous "network" that handles every Ready as types.ts documents and
// delivers messages in FIFO order until nothing is left to do. Time only moves when a test ticks.
//
// Every message a member sends is recorded in `sent` (even when the network then drops or holds it),
// so tests can assert on traffic. Drop rules model partitions; hold rules park messages until
// releaseHeld(), to observe a member between a request and its answers.

import { decodeConfChange } from '../../../src/raft/codec.js';
import { SILENT_LOGGER, type RaftConfig } from '../../../src/raft/config.js';
import { RawNode, type ProgressStatus, type Status } from '../../../src/raft/rawnode.js';
import { MemoryStorage } from '../../../src/raft/storage.js';
import {
  EMPTY_BYTES,
  isEmptySnapshot,
  type ConfChange,
  type ConfChangeType,
  type ConfState,
  type Entry,
  type LogLoss,
  type Message,
  type MessageType,
  type NodeId,
  type ReadState,
  type Snapshot,
  type StateRole,
  type StepResult,
} from '../../../src/raft/types.js';

export const ELECTION_TICK = 10;
export const HEARTBEAT_TICK = 1;

/** The configuration knobs a test may set (the same for every member). */
export type MemberOptions = Partial<
  Pick<
    RaftConfig,
    | 'preVote'
    | 'checkQuorum'
    | 'maxSizePerMsg'
    | 'maxInflightMsgs'
    | 'maxUncommittedEntriesSize'
    | 'maxCommittedSizePerReady'
  >
>;

export type MessageOf<T extends MessageType> = Message & { readonly type: T };
export type MessagePredicate = (m: Message) => boolean;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(data: Uint8Array): string {
  return decoder.decode(data);
}

export function confChange(type: ConfChangeType, nodeId: NodeId): ConfChange {
  return { type, nodeId, context: EMPTY_BYTES };
}

/** Member IDs in ascending order, for comparing configurations. */
export function sorted(ids: readonly NodeId[]): NodeId[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A fixed, distinct seed per member, so runs are reproducible. */
export function seedOf(id: NodeId): number {
  return Number(id) * 7919 + 17;
}

/** One member: the raft node, its storage and a tiny application (the list of applied commands). */
export class Member {
  /** Application state: the data of every non-empty 'normal' entry applied, in order. */
  commands: string[] = [];
  appliedIndex = 0;
  readonly readStates: ReadState[] = [];
  /** How many committed entries each Ready handed out (Readies without any are not counted). */
  readonly commitBatches: number[] = [];
  /** Snapshots installed from a Ready. */
  readonly snapshots: Snapshot[] = [];
  /** Set when a Ready reported lost acknowledged entries: the member then takes no further part. */
  logLoss: LogLoss | undefined;

  constructor(
    readonly id: NodeId,
    readonly node: RawNode,
    readonly storage: MemoryStorage,
  ) {}
}

export class Network {
  readonly members = new Map<NodeId, Member>();
  /** Every message sent by any member, in order, including dropped and held ones. */
  readonly sent: Message[] = [];
  private readonly queue: Message[] = [];
  private drops: MessagePredicate[] = [];
  private holds: MessagePredicate[] = [];
  private held: Message[] = [];

  /**
   * `bootstrap`: start the voters from empty storage with RawNode.bootstrap, as a real cluster does,
   * instead of handing them the configuration in an index-0 snapshot.
   */
  constructor(
    conf: {
      readonly voters: readonly NodeId[];
      readonly learners?: readonly NodeId[];
      readonly bootstrap?: boolean;
    },
    private readonly options: MemberOptions = {},
  ) {
    if (conf.bootstrap === true) {
      for (const id of conf.voters) this.addMember(id).node.bootstrap(conf.voters.map((p) => ({ id: p })));
      this.deliver();
      return;
    }
    const confState: ConfState = { voters: conf.voters, learners: conf.learners ?? [] };
    for (const id of [...confState.voters, ...confState.learners]) this.addMember(id, confState);
  }

  /**
   * Start a new member with empty storage; `confState` is its initial configuration, given in an
   * index-0 snapshot (without it the member learns its configuration from the leader).
   */
  addMember(id: NodeId, confState?: ConfState): Member {
    const storage = new MemoryStorage(confState);
    const member = new Member(id, new RawNode(this.config(id, storage, 0)), storage);
    this.members.set(id, member);
    return member;
  }

  /** Crash and restart `id`: a new RawNode over the same storage, keeping the application state. */
  restart(id: NodeId): Member {
    const old = this.member(id);
    const node = new RawNode(this.config(id, old.storage, old.appliedIndex));
    const member = new Member(id, node, old.storage);
    member.commands = old.commands;
    member.appliedIndex = old.appliedIndex;
    this.members.set(id, member);
    return member;
  }

  /**
   * Restart `id` over other storage (an out-of-date copy of its data dir): a new RawNode that applies
   * the committed entries of that storage from the start.
   */
  restartWith(id: NodeId, storage: MemoryStorage): Member {
    const member = new Member(id, new RawNode(this.config(id, storage, 0)), storage);
    this.members.set(id, member);
    return member;
  }

  private config(id: NodeId, storage: MemoryStorage, applied: number): RaftConfig {
    return {
      id,
      storage,
      applied,
      electionTick: ELECTION_TICK,
      heartbeatTick: HEARTBEAT_TICK,
      randomSeed: seedOf(id),
      logger: SILENT_LOGGER,
      ...this.options,
    };
  }

  // ---- Inspection ---------------------------------------------------------------------------------

  member(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  node(id: NodeId): RawNode {
    return this.member(id).node;
  }

  storage(id: NodeId): MemoryStorage {
    return this.member(id).storage;
  }

  status(id: NodeId): Status {
    return this.node(id).status();
  }

  role(id: NodeId): StateRole {
    return this.status(id).softState.role;
  }

  lead(id: NodeId): NodeId {
    return this.status(id).softState.lead;
  }

  term(id: NodeId): number {
    return this.status(id).hardState.term;
  }

  commit(id: NodeId): number {
    return this.status(id).hardState.commit;
  }

  /** The leader's view of `of`'s replication progress. */
  progress(leader: NodeId, of: NodeId): ProgressStatus {
    const pr = this.status(leader).progress.get(of);
    if (pr === undefined) throw new Error(`member ${leader} has no progress for ${of}`);
    return pr;
  }

  /** The persisted log of a member (entries still available in its storage). */
  log(id: NodeId): Entry[] {
    const s = this.storage(id);
    if (s.lastIndex() < s.firstIndex()) return [];
    return s.entries(s.firstIndex(), s.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
  }

  /** Messages sent so far of one type, optionally by sender, receiver and position in `sent`. */
  messages<T extends MessageType>(
    type: T,
    where: { from?: NodeId; to?: NodeId; since?: number } = {},
  ): MessageOf<T>[] {
    return this.sent
      .slice(where.since ?? 0)
      .filter(
        (m): m is MessageOf<T> =>
          m.type === type &&
          (where.from === undefined || m.from === where.from) &&
          (where.to === undefined || m.to === where.to),
      );
  }

  // ---- Driving --------------------------------------------------------------------------------------

  /** Campaign at `id` and deliver everything; throws unless it became leader. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.deliver();
    if (this.role(id) !== 'leader') throw new Error(`member ${id} did not win the election`);
  }

  propose(id: NodeId, command: string): StepResult {
    const result = this.node(id).propose(bytes(command));
    this.deliver();
    return result;
  }

  /** Tick `id` n times, delivering everything after each tick. */
  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.node(id).tick();
      this.deliver();
    }
  }

  /** Tick every member once per round, delivering everything after each round. */
  tickAll(rounds = 1): void {
    for (let i = 0; i < rounds; i++) {
      for (const m of this.members.values()) m.node.tick();
      this.deliver();
    }
  }

  /** Tick `id` (delivering after each tick) until `done()`; the number of ticks it took, or undefined. */
  tickUntil(id: NodeId, done: () => boolean, limit: number): number | undefined {
    for (let i = 1; i <= limit; i++) {
      this.tick(id);
      if (done()) return i;
    }
    return undefined;
  }

  /** Handle Readies and deliver messages until every member is quiet and no message is in flight. */
  deliver(): void {
    for (let steps = 0; ; steps++) {
      if (steps > 100_000) throw new Error('the network did not settle');
      for (const m of this.members.values()) {
        while (m.logLoss === undefined && m.node.hasReady()) this.handleReady(m);
      }
      const msg = this.queue.shift();
      if (msg === undefined) return;
      const to = this.members.get(msg.to);
      if (to?.logLoss === undefined) to?.node.step(msg);
    }
  }

  private handleReady(m: Member): void {
    const rd = m.node.ready();
    // 0. A member that lost acknowledged entries stops: nothing of this Ready is persisted or sent.
    if (rd.logLoss !== undefined) {
      m.logLoss = rd.logLoss;
      return;
    }
    // 1. Persist.
    if (!isEmptySnapshot(rd.snapshot)) m.storage.applySnapshot(rd.snapshot!);
    m.storage.append(rd.entries);
    if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
    // 2. Send.
    for (const msg of rd.messages) this.send(msg);
    // 3. Install the snapshot, then apply committed entries in order.
    if (!isEmptySnapshot(rd.snapshot)) {
      const snap = rd.snapshot!;
      m.commands = decodeCommands(snap.data);
      m.appliedIndex = snap.metadata.index;
      m.snapshots.push(snap);
    }
    if (rd.committedEntries.length > 0) m.commitBatches.push(rd.committedEntries.length);
    for (const e of rd.committedEntries) {
      if (e.index !== m.appliedIndex + 1) {
        throw new Error(`member ${m.id} was given entry ${e.index} to apply after ${m.appliedIndex}`);
      }
      if (e.type === 'confChange') m.node.applyConfChange(decodeConfChange(e.data));
      else if (e.data.length > 0) m.commands.push(text(e.data));
      m.appliedIndex = e.index;
    }
    // 4. Collect read states.
    m.readStates.push(...rd.readStates);
    // 5. Done.
    m.node.advance();
  }

  private send(msg: Message): void {
    this.sent.push(msg);
    if (this.drops.some((drop) => drop(msg))) return;
    if (this.holds.some((hold) => hold(msg))) this.held.push(msg);
    else this.queue.push(msg);
  }

  /** Inject a message as if it came from the network (subject to no rules), and deliver. */
  inject(msg: Message): void {
    this.node(msg.to).step(msg);
    this.deliver();
  }

  // ---- Faults ---------------------------------------------------------------------------------------

  /** Drop every message matching `predicate` from now on; returns a function that lifts the rule. */
  drop(predicate: MessagePredicate): () => void {
    this.drops.push(predicate);
    return () => {
      this.drops = this.drops.filter((d) => d !== predicate);
    };
  }

  /** Cut `id` off from everyone, both ways. */
  isolate(id: NodeId): () => void {
    return this.drop((m) => m.from === id || m.to === id);
  }

  /** Cut the link from `from` to `to` (one way). */
  cut(from: NodeId, to: NodeId): () => void {
    return this.drop((m) => m.from === from && m.to === to);
  }

  dropType(type: MessageType): () => void {
    return this.drop((m) => m.type === type);
  }

  /** Lift every drop rule. */
  heal(): void {
    this.drops = [];
  }

  /** Park messages matching `predicate` instead of delivering them, until releaseHeld(). */
  hold(predicate: MessagePredicate): void {
    this.holds.push(predicate);
  }

  /** Lift every hold rule and deliver the parked messages (then everything that follows). */
  releaseHeld(): void {
    this.holds = [];
    this.queue.push(...this.held);
    this.held = [];
    this.deliver();
  }

  // ---- Application ----------------------------------------------------------------------------------

  /** Snapshot `id`'s application state at its applied index and compact its log up to there. */
  compact(id: NodeId): Snapshot {
    const m = this.member(id);
    const snap = m.storage.createSnapshot(
      m.appliedIndex,
      m.node.status().confState,
      bytes(JSON.stringify(m.commands)),
    );
    m.storage.compact(m.appliedIndex);
    return snap;
  }
}

function decodeCommands(data: Uint8Array): string[] {
  if (data.length === 0) return [];
  const parsed: unknown = JSON.parse(text(data));
  if (!Array.isArray(parsed)) throw new Error('snapshot data is not a command list');
  return parsed.map((c) => String(c));
}
