// A deterministic simulation of a Cairn cluster: members running the raft core over MemoryStorage,
// a lossy reordering network, clients doing put/get/cas, and a fault schedule (partitions, crashes,
// membership changes, leader transfers, log compaction), all derived from one seed. Safety
// invariants are checked after every event; at the end every fault is healed, the cluster must make
// progress and converge, and the client history must be linearizable.

import { decodeConfChange, decodeMessage, encodeMessage } from '../../src/raft/codec.js';
import { RawNode } from '../../src/raft/rawnode.js';
import { MemoryStorage, StorageError } from '../../src/raft/storage.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  MessageType,
  NodeId,
  Ready,
  Snapshot,
  StateRole,
} from '../../src/raft/types.js';
import { NONE } from '../../src/raft/types.js';
import { Invariants, SimulationFailure, type FailureKind } from './invariants.js';
import { decodeCommand, describeCommand, encodeCommand, KvStateMachine, type Command } from './kv.js';
import { checkLinearizable, type Operation } from './linearizability.js';
import { EventQueue, Links } from './network.js';
import { Rng } from './rng.js';

export const ALL_FAULTS = [
  'drop',
  'dup',
  'delay',
  'partition',
  'pause',
  'crash',
  'membership',
  'transfer',
  'compact',
] as const;
export type Fault = (typeof ALL_FAULTS)[number];

/** A deliberately broken variant, to prove the harness can fail. */
export type Bug =
  /** Serve gets from the contacted member's state machine right away, without ReadIndex. */
  | 'local-reads'
  /** Acknowledge puts as soon as they are proposed, before they commit. */
  | 'early-ack'
  /**
   * Keep the initial configuration only in an index-0 snapshot instead of bootstrapping it into the
   * log, so a member added later that replays the log from index 1 starts from a wrong configuration.
   */
  | 'snapshot-bootstrap';

export const ALL_BUGS: readonly Bug[] = ['local-reads', 'early-ack', 'snapshot-bootstrap'];

export interface SimOptions {
  readonly seed: number;
  readonly members: number;
  readonly faults: ReadonlySet<Fault>;
  readonly bug?: Bug | undefined;
  /** 0: none, 1: events, role changes, commits and client operations; 2: also every message and apply. */
  readonly trace?: number;
  /** Simulated time units of the faulty phase (clients run throughout it). */
  readonly duration?: number;
}

export interface SimStats {
  operations: number;
  completed: number;
  unknown: number;
  refused: number;
  leaders: number;
  commitIndex: number;
  messages: number;
  dropped: number;
  crashes: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  confChanges: number;
  transfers: number;
  retries: number;
  endTime: number;
}

export type SimResult =
  | { readonly ok: true; readonly stats: SimStats; readonly trace: readonly string[] }
  | {
      readonly ok: false;
      readonly kind: FailureKind;
      readonly message: string;
      readonly stats: SimStats;
      readonly trace: readonly string[];
    };

// ---- Timing (simulated units) -------------------------------------------------------------------

const TICK_INTERVAL = 10;
const ELECTION_TICK = 10;
const HEARTBEAT_TICK = 1;
const MIN_DELAY = 1;
/** Per seed, the network is fast, normal or slow (slow: a round trip can exceed the heartbeat interval many times). */
const MAX_DELAYS = [8, 30, 30, 70];
/** Occasional stragglers (with the 'delay' fault) arrive up to this late, long after newer messages. */
const LONG_DELAY = 600;
const OP_TIMEOUT = 500;
/**
 * A client retries an unanswered request (same client and request id, so the session table applies
 * it at most once) at another member, up to this many attempts in all, then gives up: unknown outcome.
 */
const MAX_ATTEMPTS = 3;
const DEFAULT_DURATION = 25_000;
/** Time allowed after healing for a leader, the final put and convergence. */
const LIVENESS_BUDGET = 8_000;
const KEYS = ['a', 'b', 'c', 'd'];

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

type OpInput = Operation['input'];
type OpOutput = Operation['output'];

interface PendingOp {
  readonly client: Client;
  readonly requestId: number;
  readonly input: OpInput;
  readonly call: number;
  /** Key in the members' pendingWrites / pendingReads; also the ReadIndex context. */
  readonly key: string;
  /** The command, for writes (every attempt proposes the very same bytes). */
  readonly data: Uint8Array | undefined;
  /** Attempts made so far; the token of the current one. */
  attempts: number;
  /** The member of the current attempt. */
  at: Member | undefined;
  /** Every member an attempt went to (any of them may still answer). */
  readonly tried: Set<Member>;
  /** A retry is scheduled. */
  retrying: boolean;
  done: boolean;
}

interface Client {
  readonly id: number;
  readonly final: boolean;
  requestSeq: number;
  current: PendingOp | undefined;
  /** The last value this client saw for each key (for plausible cas expectations). */
  readonly seen: Map<string, string | null>;
}

/**
 * The member's disk. With `flaky` set, raft's requests for a snapshot to send sometimes fail with
 * 'snapshot-temporarily-unavailable' (as when the application is still producing one).
 */
class SimStorage extends MemoryStorage {
  flaky: Rng | undefined;

  override snapshot(): Snapshot {
    if (this.flaky !== undefined && this.flaky.chance(0.3))
      throw new StorageError('snapshot-temporarily-unavailable');
    return super.snapshot();
  }

  /** What is on disk, for the harness itself. */
  stored(): Snapshot {
    return super.snapshot();
  }
}

class Member {
  node: RawNode | undefined;
  incarnation = 0;
  kv = new KvStateMachine();
  applied = 0;
  confState: ConfState;
  role: StateRole = 'follower';
  lead: NodeId = NONE;
  /** Highest index whose persisted entry was compared with the committed log. */
  checkedCommit = 0;
  /** Was a voter in its own configuration at some point in this incarnation. */
  everVoter = false;
  /** Its removal is committed: it is shut down and never restarted. */
  removalCommitted = false;
  shutDown = false;
  /** Crash in the middle of the next Ready, after persisting it. */
  crashMidReady = false;
  /** A stalled process (GC pause, overloaded host): no ticks, messages queue up until then. */
  pausedUntil = 0;
  /** The initial members, for a member of the initial cluster that starts with nothing persisted. */
  bootstrapPeers: readonly NodeId[] | undefined;
  readonly pendingWrites = new Map<string, PendingOp>();
  readonly pendingReads = new Map<string, PendingOp>();
  /** Reads whose read index is known, waiting for the state machine to reach it. */
  readWait: { index: number; op: PendingOp }[] = [];

  constructor(
    readonly id: NodeId,
    readonly storage: SimStorage,
    /** Nominal interval between ticks (each member's clock runs at a slightly different rate). */
    readonly tickInterval: number,
  ) {
    this.confState = storage.initialState().confState;
  }

  get alive(): boolean {
    return this.node !== undefined;
  }
}

interface PendingChange {
  readonly cc: ConfChange;
  readonly tag: string;
  readonly proposer: NodeId;
  index: number | undefined;
  readonly since: number;
}

function isVoter(cs: ConfState, id: NodeId): boolean {
  return cs.voters.includes(id);
}

function idList(ids: Iterable<NodeId>): string {
  return [...ids]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map(String)
    .join(',');
}

function describeConf(cs: ConfState): string {
  return `voters=[${idList(cs.voters)}] learners=[${idList(cs.learners)}]`;
}

function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'MsgApp':
      return `${head} idx=${m.index} logTerm=${m.logTerm} n=${m.entries.length} commit=${m.commit}`;
    case 'MsgAppResp':
      return `${head} idx=${m.index}${m.reject ? ` reject hint=${m.rejectHint} logTerm=${m.logTerm}` : ''}`;
    case 'MsgVote':
    case 'MsgPreVote':
      return `${head} idx=${m.index} logTerm=${m.logTerm}${m.leaderTransfer ? ' transfer' : ''}`;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return `${head}${m.reject ? ' reject' : ''}`;
    case 'MsgSnap':
      return `${head} snap=${m.snapshot.metadata.index}@${m.snapshot.metadata.term}`;
    case 'MsgHeartbeat':
      return `${head} commit=${m.commit} ctx=${m.context.length}`;
    case 'MsgReadIndexResp':
      return `${head} idx=${m.index}`;
    case 'MsgProp':
      return `${head} n=${m.entries.length}`;
    default:
      return head;
  }
}

function describeEntryData(e: Entry): string {
  if (e.type === 'confChange') {
    const cc = decodeConfChange(e.data);
    return `conf ${cc.type} ${cc.nodeId}`;
  }
  if (e.data.length === 0) return 'noop';
  return describeCommand(decodeCommand(e.data));
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation {
  private readonly seed: number;
  private readonly faults: ReadonlySet<Fault>;
  private readonly bug: Bug | undefined;
  private readonly traceLevel: number;
  private readonly duration: number;
  private readonly traceLines: string[] = [];

  private readonly q = new EventQueue();
  private readonly links = new Links();
  private readonly inv: Invariants;
  private readonly members = new Map<NodeId, Member>();
  /** Members in ID order (IDs only grow, so insertion order is ID order). */
  private readonly order: Member[] = [];
  private readonly clients: Client[] = [];
  private readonly history: Operation[] = [];

  private readonly netRng: Rng;
  private readonly clientRng: Rng;
  private readonly faultRng: Rng;
  private readonly nodeRng: Rng;

  private readonly pDrop: number;
  private readonly pDup: number;
  private readonly pLongDelay: number;
  private readonly pReorder: number;
  /** Delivery time of the last in-order message on each directed link. */
  private readonly linkClock = new Map<string, number>();
  private readonly flakySnapshots: boolean;
  private readonly pCrashNewLeader: number;
  private readonly pCrashLeaderAppend: number;
  private readonly maxDelay: number;
  private readonly maxSizePerMsg: number;
  private readonly maxInflightMsgs: number;
  private readonly maxUncommittedEntriesSize: number;
  private readonly maxCommittedSizePerReady: number;

  private phase: 'chaos' | 'heal' = 'chaos';
  private finalDone = false;
  private stampTime = -1;
  private stampSub = 0;

  /** The configuration as of the highest committed index. */
  private readonly clusterVoters = new Set<NodeId>();
  private readonly clusterLearners = new Set<NodeId>();
  private pendingChange: PendingChange | undefined;
  private changeSeq = 0;
  private nextMemberId: bigint;
  private readonly maxVoters: number;
  /** Recent values written per key, for cas expectations. */
  private readonly written = new Map<string, string[]>();

  private readonly stats: SimStats = {
    operations: 0,
    completed: 0,
    unknown: 0,
    refused: 0,
    leaders: 0,
    commitIndex: 0,
    messages: 0,
    dropped: 0,
    crashes: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    confChanges: 0,
    transfers: 0,
    retries: 0,
    endTime: 0,
  };

  constructor(options: SimOptions) {
    this.seed = options.seed;
    this.faults = options.faults;
    this.bug = options.bug;
    this.traceLevel = options.trace ?? 0;
    this.duration = options.duration ?? DEFAULT_DURATION;
    const root = new Rng(options.seed);
    this.netRng = root.fork();
    this.clientRng = root.fork();
    this.faultRng = root.fork();
    this.nodeRng = root.fork();
    const config = root.fork();
    this.pDrop = this.faults.has('drop') ? config.pick([0.01, 0.03, 0.08]) : 0;
    this.pDup = this.faults.has('dup') ? config.pick([0.01, 0.03, 0.06]) : 0;
    this.pLongDelay = this.faults.has('delay') ? config.pick([0.005, 0.02, 0.05]) : 0;
    this.pReorder = this.faults.has('delay') ? config.pick([0.05, 0.3, 1]) : 0;
    this.flakySnapshots = this.faults.has('compact') && config.chance(0.5);
    this.pCrashNewLeader = this.faults.has('crash') ? config.pick([0, 0.1, 0.3, 0.5]) : 0;
    this.pCrashLeaderAppend = this.faults.has('crash') ? config.pick([0, 0, 0.01, 0.03, 0.06]) : 0;
    this.maxSizePerMsg = config.pick([1, 200, 2_000, 1024 * 1024]);
    this.maxInflightMsgs = config.pick([1, 4, 256]);
    this.maxDelay = config.pick(MAX_DELAYS);
    this.maxUncommittedEntriesSize = config.pick([0, 0, 1_000]);
    this.maxCommittedSizePerReady = config.pick([16 * 1024 * 1024, 300]);
    const clientCount = config.range(3, 5);

    this.inv = new Invariants(
      this.seed,
      () => this.q.now,
      (e) => this.onNewCommit(e),
    );
    const n = options.members;
    const voters: NodeId[] = [];
    for (let i = 1; i <= n; i++) voters.push(BigInt(i));
    for (const id of voters) this.clusterVoters.add(id);
    this.nextMemberId = BigInt(n + 1);
    this.maxVoters = n <= 3 ? n + 1 : n;
    for (const id of voters) {
      if (this.bug === 'snapshot-bootstrap') this.addMember(id, new SimStorage({ voters, learners: [] }));
      else this.addMember(id, new SimStorage()).bootstrapPeers = voters;
    }
    for (let i = 1; i <= clientCount; i++) {
      this.clients.push({ id: i, final: false, requestSeq: 0, current: undefined, seen: new Map() });
    }
    this.trace(
      `start seed=${this.seed} members=${n} faults=${[...this.faults].join(',') || 'none'} ` +
        `pDrop=${this.pDrop} pDup=${this.pDup} pCrashNewLeader=${this.pCrashNewLeader} pCrashLeaderAppend=${this.pCrashLeaderAppend} pLongDelay=${this.pLongDelay} pReorder=${this.pReorder} flakySnapshots=${this.flakySnapshots} maxSizePerMsg=${this.maxSizePerMsg} ` +
        `maxInflight=${this.maxInflightMsgs} maxDelay=${this.maxDelay} ` +
        `maxUncommitted=${this.maxUncommittedEntriesSize} maxCommittedPerReady=${this.maxCommittedSizePerReady} clients=${clientCount}${this.bug ? ` bug=${this.bug}` : ''}`,
    );
  }

  // ---- Driver ----------------------------------------------------------------------------------

  run(): SimResult {
    try {
      for (const m of this.order) this.start(m, this.nodeRng.int(TICK_INTERVAL));
      for (const c of this.clients) this.q.after(this.clientRng.range(50, 150), () => this.nextOp(c));
      this.scheduleFaults();
      this.runUntil(this.duration);
      this.heal();
      const deadline = this.duration + LIVENESS_BUDGET;
      while (!this.converged()) {
        if (this.q.now >= deadline) {
          throw new SimulationFailure(
            'liveness',
            `seed ${this.seed}: no convergence within ${LIVENESS_BUDGET} time units after healing (t=${this.q.now}): ` +
              this.describeCluster(),
          );
        }
        this.runUntil(this.q.now + 50);
      }
      this.trace(`converged at commit ${this.inv.commitIndex}: ${this.describeCluster()}`);
      // Whatever is still outstanding never got an answer.
      for (const c of this.clients) if (c.current !== undefined) this.complete(c.current, undefined);
      this.stats.endTime = this.q.now;
      this.stats.leaders = this.inv.leaderCount;
      this.stats.commitIndex = this.inv.commitIndex;
      const verdict = checkLinearizable(this.history);
      if (verdict.ok === false) {
        throw new SimulationFailure(
          'linearizability',
          `seed ${this.seed}: history of ${this.history.length} operations is not linearizable on key ` +
            `${JSON.stringify(verdict.key)}: ${verdict.explanation}`,
        );
      }
      if (verdict.ok === 'timeout') {
        throw new SimulationFailure(
          'checker-timeout',
          `seed ${this.seed}: the linearizability checker timed out on key ${JSON.stringify(verdict.key)} ` +
            `(${this.history.length} operations)`,
        );
      }
      this.trace(`done: ${JSON.stringify(this.stats)}`);
      return { ok: true, stats: this.stats, trace: this.traceLines };
    } catch (err: unknown) {
      this.stats.endTime = this.q.now;
      this.stats.leaders = this.inv.leaderCount;
      this.stats.commitIndex = this.inv.commitIndex;
      let kind: FailureKind;
      let message: string;
      if (err instanceof SimulationFailure) {
        kind = err.kind;
        message = err.message;
      } else {
        kind = 'exception';
        message = `seed ${this.seed}, t=${this.q.now}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      }
      this.trace(`FAILED (${kind}): ${message}`);
      return { ok: false, kind, message, stats: this.stats, trace: this.traceLines };
    }
  }

  private runUntil(t: number): void {
    for (;;) {
      const next = this.q.peekTime();
      if (next === undefined || next > t) break;
      this.q.step();
    }
    if (this.q.now < t) this.q.now = t;
  }

  private trace(line: string, level = 1): void {
    if (this.traceLevel >= level) this.traceLines.push(`${String(this.q.now).padStart(6)} ${line}`);
  }

  /** A strictly increasing timestamp for client history (time * 10000 + order within that time). */
  private stamp(): number {
    if (this.q.now !== this.stampTime) {
      this.stampTime = this.q.now;
      this.stampSub = 0;
    }
    this.stampSub++;
    if (this.stampSub >= 10_000) throw new Error('too many client events in one time unit');
    return this.q.now * 10_000 + this.stampSub;
  }

  private describeCluster(): string {
    const parts: string[] = [];
    for (const m of this.order) {
      if (m.shutDown) continue;
      const hs = m.storage.initialState().hardState;
      parts.push(
        `n${m.id}{${m.alive ? m.role : 'down'} term=${hs.term} lead=${m.lead} commit=${hs.commit} ` +
          `applied=${m.applied} last=${m.storage.lastIndex()} ${describeConf(m.confState)}}`,
      );
    }
    return (
      `${parts.join(' ')} committed=${this.inv.commitIndex} finalPut=${this.finalDone}` +
      (this.links.partitioned ? ` cut=${this.links.describe()}` : '')
    );
  }

  // ---- Members ---------------------------------------------------------------------------------

  private addMember(id: NodeId, storage: SimStorage): Member {
    const m = new Member(id, storage, TICK_INTERVAL - 1 + this.nodeRng.int(3));
    if (this.flakySnapshots) storage.flaky = this.nodeRng.fork();
    this.members.set(id, m);
    this.order.push(m);
    return m;
  }

  /** Start (or restart) a member from what its storage holds. */
  private start(m: Member, firstTickDelay: number): void {
    const snap = m.storage.stored();
    m.kv = KvStateMachine.deserialize(snap.data);
    m.applied = snap.metadata.index;
    m.confState = snap.metadata.confState;
    m.role = 'follower';
    m.lead = NONE;
    m.everVoter = isVoter(m.confState, m.id);
    m.crashMidReady = false;
    m.pausedUntil = 0;
    m.incarnation++;
    m.node = new RawNode({
      id: m.id,
      storage: m.storage,
      electionTick: ELECTION_TICK,
      heartbeatTick: HEARTBEAT_TICK,
      checkQuorum: true,
      preVote: true,
      randomSeed: this.nodeRng.int(0x7fff_ffff),
      applied: m.applied,
      maxSizePerMsg: this.maxSizePerMsg,
      maxInflightMsgs: this.maxInflightMsgs,
      maxUncommittedEntriesSize: this.maxUncommittedEntriesSize,
      maxCommittedSizePerReady: this.maxCommittedSizePerReady,
    });
    // A crash before the first Ready was persisted leaves nothing behind: bootstrap again, as etcd does.
    if (m.bootstrapPeers !== undefined && m.storage.lastIndex() === 0) {
      m.node.bootstrap(m.bootstrapPeers.map((id) => ({ id })));
    }
    const status = m.node.status();
    if (status.applied !== m.applied) {
      this.inv.fail(
        `member ${m.id} restarted with applied=${m.applied} but status().applied=${status.applied}`,
      );
    }
    this.trace(`n${m.id} start #${m.incarnation} applied=${m.applied} ${describeConf(m.confState)}`);
    const inc = m.incarnation;
    const tick = (): void => {
      if (m.node === undefined || m.incarnation !== inc) return;
      if (m.pausedUntil > this.q.now) {
        // Ticks missed during a pause are lost, as with a stalled process.
        this.q.at(m.pausedUntil, tick);
        return;
      }
      m.node.tick();
      this.process(m);
      this.q.after(m.tickInterval + this.nodeRng.int(3) - 1, tick);
    };
    this.q.after(firstTickDelay, tick);
    this.process(m);
  }

  /** Lose everything but the storage; the member's clients get unknown outcomes. */
  private crash(m: Member, why: string): void {
    if (m.node === undefined) return;
    m.node = undefined;
    m.role = 'follower';
    m.lead = NONE;
    m.crashMidReady = false;
    m.pausedUntil = 0;
    m.kv = new KvStateMachine();
    this.stats.crashes++;
    this.trace(`n${m.id} ${why}`);
    const orphaned = [
      ...m.pendingWrites.values(),
      ...m.pendingReads.values(),
      ...m.readWait.map((w) => w.op),
    ];
    m.pendingWrites.clear();
    m.pendingReads.clear();
    m.readWait = [];
    // The connection breaks: clients whose current attempt was here retry elsewhere (or give up).
    for (const op of orphaned) {
      if (!op.done && op.at === m) {
        op.at = undefined;
        this.retryOrGiveUp(op, op.attempts);
      }
    }
  }

  private shutDown(m: Member, why: string): void {
    if (m.shutDown) return;
    m.shutDown = true;
    if (m.alive) this.crash(m, `shut down (${why})`);
    else this.trace(`n${m.id} stays down (${why})`);
  }

  private restart(m: Member): void {
    if (m.alive || m.shutDown || m.removalCommitted) return;
    this.start(m, this.nodeRng.int(TICK_INTERVAL));
  }

  /** Handle every Ready the member has, then check the member's invariants. */
  private process(m: Member): void {
    const node = m.node;
    if (node === undefined) return;
    while (m.node === node && node.hasReady()) {
      const rd = node.ready();
      this.handleReady(m, node, rd);
      if (m.node !== node) return; // crashed in the middle of the Ready
      node.advance();
    }
  }

  private handleReady(m: Member, node: RawNode, rd: Ready): void {
    const id = m.id;
    // Note where a membership change we proposed landed in the log.
    const pc = this.pendingChange;
    if (pc !== undefined && pc.index === undefined && pc.proposer === id) {
      for (const e of rd.entries) {
        if (e.type === 'confChange' && textDecoder.decode(decodeConfChange(e.data).context) === pc.tag) {
          pc.index = e.index;
          this.trace(
            `conf change ${pc.tag} (${pc.cc.type} ${pc.cc.nodeId}) is at index ${e.index} term ${e.term}`,
          );
        }
      }
    }

    // The simulation never loses synced writes, so no member may ever see itself as having lost any.
    if (rd.logLoss !== undefined) {
      this.inv.fail(
        `member ${id} reports lost acknowledged entries: ${JSON.stringify(rd.logLoss, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`,
      );
    }

    // (1) Persist.
    const prevHs = m.storage.initialState().hardState;
    if (rd.snapshot !== undefined) {
      this.inv.checkSnapshot(id, rd.snapshot.metadata.index, rd.snapshot.metadata.term);
      m.storage.applySnapshot(rd.snapshot);
      m.checkedCommit = Math.max(m.checkedCommit, rd.snapshot.metadata.index);
    }
    m.storage.append(rd.entries);
    if (rd.hardState !== undefined) {
      this.inv.checkHardState(id, prevHs, rd.hardState);
      m.storage.setHardState(rd.hardState);
    }
    const hs = m.storage.initialState().hardState;
    this.checkPersistedLog(m, rd.entries, hs.commit, hs.term);

    if (rd.softState !== undefined) {
      const { role, lead } = rd.softState;
      if (role !== m.role) this.trace(`n${id} ${m.role} -> ${role} term ${hs.term} lead ${lead}`);
      else if (lead !== m.lead) this.trace(`n${id} lead ${m.lead} -> ${lead} term ${hs.term}`, 2);
      m.role = role;
      m.lead = lead;
    }
    if (m.role === 'leader') this.inv.observeLeader(id, hs.term);
    if (rd.softState?.role === 'leader') {
      this.checkLeaderCompleteness(m, hs.term);
      // Leaders that die young leave entries of their term on a minority: the raw material of
      // the classic commit-rule bugs (Figure 8 of the Raft paper).
      if (this.phase === 'chaos' && this.faultRng.chance(this.pCrashNewLeader)) {
        const inc = m.incarnation;
        this.q.after(this.faultRng.range(1, 40), () => {
          if (m.incarnation === inc && this.phase === 'chaos') this.crashOne(m, 20, 'now');
        });
      }
    }
    this.checkRole(m);
    // A leader dying right after appending, before anything leaves: its entries exist only on its disk.
    if (
      this.phase === 'chaos' &&
      m.role === 'leader' &&
      rd.entries.length > 0 &&
      this.faultRng.chance(this.pCrashLeaderAppend)
    ) {
      this.crashOne(m, 20, 'mid-ready');
    }

    if (m.crashMidReady) {
      this.crash(m, 'crashed in the middle of a Ready (after persisting it)');
      return;
    }

    // (2) Send.
    for (const msg of rd.messages) this.send(m, msg);

    // (3) Apply.
    if (rd.snapshot !== undefined) this.installSnapshot(m, rd);
    for (const e of rd.committedEntries) {
      if (e.index > hs.commit) {
        this.inv.fail(
          `member ${id} was handed entry ${e.index} to apply, beyond its persisted commit ${hs.commit}`,
        );
      }
      this.applyEntry(m, node, e);
      if (m.node !== node) return;
    }
    this.checkRole(m);

    // (4) Reads.
    for (const rs of rd.readStates) {
      const key = textDecoder.decode(rs.context);
      const op = m.pendingReads.get(key);
      if (op === undefined) continue; // a duplicate, or the client gave up
      m.pendingReads.delete(key);
      this.trace(`n${id} read index ${rs.index} for c${op.client.id}#${op.requestId}`, 2);
      m.readWait.push({ index: rs.index, op });
    }
    this.serveReads(m);
  }

  /** Persisted entries at or below the persisted commit index must be the committed ones. */
  private checkPersistedLog(m: Member, appended: readonly Entry[], commit: number, term: number): void {
    const last = m.storage.lastIndex();
    if (commit > last)
      this.inv.fail(`member ${m.id} persisted commit ${commit} beyond its last index ${last}`);
    const first = m.storage.firstIndex();
    // Entries rewritten below what was already checked (a committed entry must never be replaced).
    for (const e of appended) {
      if (e.index <= m.checkedCommit && e.index >= first) this.inv.checkCommitted(m.id, term, e, 'persisted');
    }
    const lo = Math.max(m.checkedCommit, first - 1) + 1;
    if (lo <= commit) {
      for (const e of m.storage.entries(lo, commit + 1, Number.MAX_SAFE_INTEGER)) {
        this.inv.checkCommitted(m.id, term, e, 'persisted (at or below its commit index)');
      }
    }
    m.checkedCommit = Math.max(m.checkedCommit, commit);
  }

  /**
   * Leader completeness: the leader of term T holds every entry committed in an earlier term (a
   * leader of an old term can still be elected late, by slow vote replies, and lack newer entries).
   */
  private checkLeaderCompleteness(m: Member, leaderTerm: number): void {
    let commit = this.inv.commitIndex;
    while (commit > 0 && this.inv.committedByTerm(commit) >= leaderTerm) commit--;
    const last = m.storage.lastIndex();
    if (last < commit) {
      this.inv.fail(
        `member ${m.id} became leader of term ${leaderTerm} with last index ${last}, but index ${commit} ` +
          `was committed by term ${this.inv.committedByTerm(commit)}`,
      );
    }
    for (let i = m.storage.firstIndex() - 1; i <= commit; i++) {
      if (i === 0 || this.inv.committedByTerm(i) >= leaderTerm) continue;
      const term = m.storage.term(i);
      const want = this.inv.committedEntry(i)!.term;
      if (term !== want) {
        this.inv.fail(
          `member ${m.id} became leader with term ${term} at index ${i} where term ${want} is committed`,
        );
      }
    }
  }

  private checkRole(m: Member): void {
    if (isVoter(m.confState, m.id)) m.everVoter = true;
    if (m.role === 'follower') return;
    if (m.confState.learners.includes(m.id)) {
      this.inv.fail(`member ${m.id} is a learner in its configuration but is ${m.role}`);
    }
    if (!m.everVoter) {
      this.inv.fail(`member ${m.id} has never been a voter (${describeConf(m.confState)}) but is ${m.role}`);
    }
  }

  private installSnapshot(m: Member, rd: Ready): void {
    const snap = rd.snapshot!;
    const { index, term, confState } = snap.metadata;
    if (index <= m.applied) {
      this.inv.fail(`member ${m.id} was handed a snapshot at ${index} but has already applied ${m.applied}`);
    }
    m.kv = KvStateMachine.deserialize(snap.data);
    m.applied = index;
    m.confState = confState;
    this.stats.snapshotsInstalled++;
    this.trace(`n${m.id} installed snapshot ${index}@${term} ${describeConf(confState)}`);
    this.inv.compareState(m.id, index, () => m.kv.serialize());
    // Requests this member is waiting for may be inside the snapshot.
    for (const [key, op] of [...m.pendingWrites]) {
      const result = m.kv.sessionResult(op.client.id, op.requestId);
      if (result === undefined) continue;
      m.pendingWrites.delete(key);
      if (!op.done) this.complete(op, result);
    }
  }

  private applyEntry(m: Member, node: RawNode, e: Entry): void {
    if (e.index !== m.applied + 1) {
      this.inv.fail(`member ${m.id} applied index ${e.index} right after ${m.applied}`);
    }
    this.inv.checkCommitted(m.id, m.storage.initialState().hardState.term, e, 'applied');
    m.applied = e.index;
    if (this.traceLevel >= 2) this.trace(`n${m.id} apply ${e.index}@${e.term} ${describeEntryData(e)}`, 2);
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      m.confState = node.applyConfChange(cc);
      this.trace(
        `n${m.id} applied conf change ${cc.type} ${cc.nodeId} at ${e.index}: ${describeConf(m.confState)}`,
        2,
      );
    } else if (e.data.length > 0) {
      const cmd = decodeCommand(e.data);
      const outcome = m.kv.apply(cmd);
      const key = `${cmd.c}:${cmd.r}`;
      const op = m.pendingWrites.get(key);
      if (op !== undefined && outcome.result !== undefined) {
        m.pendingWrites.delete(key);
        if (!op.done) this.complete(op, outcome.result);
      }
    }
    this.inv.compareState(m.id, m.applied, () => m.kv.serialize());
  }

  private serveReads(m: Member): void {
    if (m.readWait.length === 0) return;
    const waiting: { index: number; op: PendingOp }[] = [];
    for (const w of m.readWait) {
      if (w.index > m.applied) waiting.push(w);
      else if (!w.op.done && w.op.input.kind === 'get') {
        this.complete(w.op, { kind: 'get', value: m.kv.get(w.op.input.key) });
      }
    }
    m.readWait = waiting;
  }

  /** Called once for every newly committed index, in order. */
  private onNewCommit(e: Entry): void {
    if (this.traceLevel >= 1) this.trace(`commit ${e.index}@${e.term} ${describeEntryData(e)}`);
    const pc = this.pendingChange;
    const tag = e.type === 'confChange' ? textDecoder.decode(decodeConfChange(e.data).context) : undefined;
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      this.stats.confChanges++;
      switch (cc.type) {
        case 'addLearnerNode':
          if (!this.clusterVoters.has(cc.nodeId)) this.clusterLearners.add(cc.nodeId);
          break;
        case 'addNode':
          this.clusterLearners.delete(cc.nodeId);
          this.clusterVoters.add(cc.nodeId);
          break;
        case 'removeNode': {
          this.clusterLearners.delete(cc.nodeId);
          this.clusterVoters.delete(cc.nodeId);
          const removed = this.members.get(cc.nodeId);
          if (removed !== undefined) {
            removed.removalCommitted = true;
            // A removed member shuts itself down once it learns of the removal; model it with a delay.
            this.q.after(this.faultRng.range(1, 300), () =>
              this.shutDown(removed, 'removed from the cluster'),
            );
          }
          break;
        }
        case 'updateNode':
          break;
      }
      if (this.clusterVoters.size < 3 && this.faults.has('membership')) {
        this.inv.fail(`harness removed too many voters: ${idList(this.clusterVoters)}`);
      }
    }
    if (pc !== undefined) {
      if (tag === pc.tag) {
        this.trace(`conf change ${pc.tag} committed at ${e.index}`);
        this.pendingChange = undefined;
      } else if (pc.index === e.index) {
        this.trace(`conf change ${pc.tag} lost (index ${e.index} committed another entry)`);
        this.pendingChange = undefined;
        if (pc.cc.type === 'addLearnerNode') {
          const orphan = this.members.get(pc.cc.nodeId);
          if (orphan !== undefined) this.q.after(1, () => this.shutDown(orphan, 'its addition was lost'));
        }
      }
    }
  }

  // ---- Network ---------------------------------------------------------------------------------

  private send(from: Member, msg: Message): void {
    // A transfer request names the transferee as sender, and followers forward it to their leader.
    if (msg.from !== from.id && msg.type !== 'MsgTransferLeader') {
      this.inv.fail(`member ${from.id} sent ${msg.type} claiming to be from ${msg.from}`);
    }
    this.stats.messages++;
    if (msg.type === 'MsgSnap') this.stats.snapshotsSent++;
    const bytes = encodeMessage(msg);
    const inc = from.incarnation;
    if (this.links.blocked(from.id, msg.to)) {
      this.lost(from, inc, msg.to, msg.type, 'partitioned');
      return;
    }
    if (this.phase === 'chaos' && this.netRng.chance(this.pDrop)) {
      this.lost(from, inc, msg.to, msg.type, 'dropped');
      return;
    }
    const copies = this.phase === 'chaos' && this.netRng.chance(this.pDup) ? 2 : 1;
    const link = `${from.id}>${msg.to}`;
    for (let i = 0; i < copies; i++) {
      const primary = i === 0;
      const chaos = this.phase === 'chaos';
      let at: number;
      if (chaos && this.netRng.chance(this.pLongDelay)) {
        at = this.q.now + this.netRng.range(this.maxDelay, LONG_DELAY); // a straggler
      } else if (!primary || (chaos && this.netRng.chance(this.pReorder))) {
        at = this.q.now + this.netRng.range(MIN_DELAY, this.maxDelay); // may overtake earlier messages
      } else {
        // Like a TCP stream: in order on each link.
        at = Math.max(
          this.q.now + this.netRng.range(MIN_DELAY, this.maxDelay),
          this.linkClock.get(link) ?? 0,
        );
        this.linkClock.set(link, at);
      }
      this.q.at(at, () => this.deliver(from, inc, msg.to, msg.type, bytes, primary));
    }
  }

  /** Run `fn` on the member's current incarnation as soon as it is not paused (dropped if it crashes first). */
  private whenRunning(m: Member, inc: number, fn: (node: RawNode) => void): void {
    if (m.node === undefined || m.incarnation !== inc) return;
    if (m.pausedUntil > this.q.now) {
      this.q.at(m.pausedUntil, () => this.whenRunning(m, inc, fn));
      return;
    }
    fn(m.node);
    this.process(m);
  }

  private lost(from: Member, inc: number, to: NodeId, type: MessageType, why: string): void {
    this.stats.dropped++;
    this.trace(`lost ${type} ${from.id}->${to} (${why})`, 2);
    if (type === 'MsgSnap') {
      this.whenRunning(from, inc, (node) => node.reportSnapshot(to, 'failure'));
    } else if (type === 'MsgApp' && this.netRng.chance(0.25)) {
      this.whenRunning(from, inc, (node) => node.reportUnreachable(to));
    }
  }

  private deliver(
    from: Member,
    inc: number,
    to: NodeId,
    type: MessageType,
    bytes: Uint8Array,
    primary: boolean,
  ): void {
    const dst = this.members.get(to);
    if (dst === undefined || dst.node === undefined || this.links.blocked(from.id, to)) {
      if (primary) this.lost(from, inc, to, type, dst?.node === undefined ? 'receiver down' : 'partitioned');
      return;
    }
    if (dst.pausedUntil > this.q.now) {
      // Queued in the socket buffer until the process runs again.
      this.q.at(dst.pausedUntil, () => this.deliver(from, inc, to, type, bytes, primary));
      return;
    }
    const msg = decodeMessage(bytes);
    if (msg.to !== to || msg.type !== type)
      this.inv.fail(`codec round trip changed ${type} ${from.id}->${to}`);
    if (this.traceLevel >= 2) this.trace(`deliver ${describeMessage(msg)}`, 2);
    dst.node.step(msg);
    this.process(dst);
    if (type === 'MsgSnap' && primary)
      this.whenRunning(from, inc, (node) => node.reportSnapshot(to, 'finish'));
  }

  // ---- Clients ---------------------------------------------------------------------------------

  /** The live member claiming leadership in the highest term (clients' best guess). */
  private currentLeader(votersOnly = false): Member | undefined {
    let best: Member | undefined;
    let bestTerm = -1;
    for (const m of this.order) {
      if (m.node === undefined || m.role !== 'leader') continue;
      if (votersOnly && !this.clusterVoters.has(m.id)) continue;
      const term = m.storage.initialState().hardState.term;
      if (term > bestTerm) {
        best = m;
        bestTerm = term;
      }
    }
    return best;
  }

  private chooseMember(): Member {
    const leader = this.currentLeader();
    if (leader !== undefined && this.clientRng.chance(0.6)) return leader;
    const candidates = this.order.filter((m) => !m.shutDown);
    return this.clientRng.pick(candidates);
  }

  private nextOp(c: Client): void {
    if (c.current !== undefined) return;
    if (c.final) {
      if (this.finalDone) return;
      const leader = this.currentLeader();
      if (leader === undefined) {
        this.q.after(20, () => this.nextOp(c));
        return;
      }
      c.requestSeq++;
      this.submit(c, { kind: 'put', key: KEYS[0]!, value: `final.${c.requestSeq}` }, leader);
      return;
    }
    if (this.phase !== 'chaos') return;
    const rng = this.clientRng;
    const key = rng.pick(KEYS);
    const requestId = ++c.requestSeq;
    const value = `v${c.id}.${requestId}`;
    const dice = rng.int(10);
    let input: OpInput;
    if (dice < 4) input = { kind: 'put', key, value };
    else if (dice < 8) input = { kind: 'get', key };
    else {
      let expected: string | null;
      const recent = this.written.get(key) ?? [];
      if (c.seen.has(key) && rng.chance(0.6)) expected = c.seen.get(key)!;
      else if (recent.length > 0 && rng.chance(0.8)) expected = rng.pick(recent);
      else expected = null;
      input = { kind: 'cas', key, expected, value };
    }
    this.submit(c, input, this.chooseMember());
  }

  /** A new client request: the first attempt goes to `m`. */
  private submit(c: Client, input: OpInput, m: Member): void {
    const requestId = c.requestSeq;
    const key = `${c.id}:${requestId}`;
    let data: Uint8Array | undefined;
    if (input.kind !== 'get') {
      const cmd: Command =
        input.kind === 'put'
          ? { c: c.id, r: requestId, o: 'put', k: input.key, v: input.value }
          : { c: c.id, r: requestId, o: 'cas', k: input.key, e: input.expected, v: input.value };
      data = encodeCommand(cmd);
    }
    const op: PendingOp = {
      client: c,
      requestId,
      input,
      call: this.stamp(),
      key,
      data,
      attempts: 0,
      at: undefined,
      tried: new Set(),
      retrying: false,
      done: false,
    };
    c.current = op;
    this.attempt(op, m);
  }

  /**
   * Send the request to `m`. A first attempt refused on the spot certainly had no effect, so the
   * operation is dropped from the history; a refused retry counts as a failed attempt.
   */
  private attempt(op: PendingOp, m: Member): void {
    if (op.done) return;
    const c = op.client;
    if (m.pausedUntil > this.q.now) {
      // The request waits in the stalled member's socket.
      const inc = m.incarnation;
      this.q.at(m.pausedUntil, () =>
        m.incarnation === inc ? this.attempt(op, m) : this.refused(op, m, 'member down'),
      );
      return;
    }
    const node = m.node;
    if (node === undefined) return this.refused(op, m, 'member down');
    const input = op.input;
    if (input.kind === 'get' && this.bug === 'local-reads') {
      this.stats.operations++;
      this.trace(`c${c.id}#${op.requestId} ${JSON.stringify(input)} at n${m.id} served locally`);
      this.complete(op, { kind: 'get', value: m.kv.get(input.key) });
      return;
    }
    const res = input.kind === 'get' ? node.readIndex(textEncoder.encode(op.key)) : node.propose(op.data!);
    if (!res.ok) return this.refused(op, m, res.reason);
    if (input.kind === 'get') m.pendingReads.set(op.key, op);
    else {
      m.pendingWrites.set(op.key, op);
      const list = this.written.get(input.key) ?? [];
      list.push(input.value);
      if (list.length > 4) list.shift();
      this.written.set(input.key, list);
    }
    op.attempts++;
    op.at = m;
    op.tried.add(m);
    if (op.attempts === 1) this.stats.operations++;
    else this.stats.retries++;
    this.trace(
      `c${c.id}#${op.requestId} ${JSON.stringify(input)} at n${m.id} ${op.attempts === 1 ? 'invoked' : `retry ${op.attempts}`}`,
    );
    if (this.bug === 'early-ack' && input.kind === 'put') this.complete(op, { kind: 'put' });
    const token = op.attempts;
    this.q.after(OP_TIMEOUT, () => this.retryOrGiveUp(op, token));
    this.process(m);
  }

  private refused(op: PendingOp, m: Member, why: string): void {
    this.stats.refused++;
    this.trace(`c${op.client.id}#${op.requestId} ${JSON.stringify(op.input)} at n${m.id} refused (${why})`);
    if (op.attempts === 0) {
      op.done = true;
      if (op.client.current === op) op.client.current = undefined;
      this.q.after(this.clientRng.range(10, 50), () => this.nextOp(op.client));
      return;
    }
    op.attempts++; // a failed attempt
    this.retryOrGiveUp(op, op.attempts);
  }

  /** Attempt `token` of `op` went unanswered (timeout, crash, refusal): try again or give up. */
  private retryOrGiveUp(op: PendingOp, token: number): void {
    if (op.done || op.retrying || op.attempts !== token) return;
    if (op.attempts >= MAX_ATTEMPTS) {
      this.complete(op, undefined);
      return;
    }
    op.retrying = true;
    this.q.after(this.clientRng.range(1, 30), () => {
      op.retrying = false;
      if (op.done) return;
      this.attempt(op, op.client.final ? (this.currentLeader() ?? this.chooseMember()) : this.chooseMember());
    });
  }

  private complete(op: PendingOp, output: OpOutput): void {
    if (op.done) return;
    op.done = true;
    for (const m of op.tried) {
      if (m.pendingWrites.get(op.key) === op) m.pendingWrites.delete(op.key);
      if (m.pendingReads.get(op.key) === op) m.pendingReads.delete(op.key);
    }
    const c = op.client;
    const ret = output === undefined ? Infinity : this.stamp();
    this.history.push({ clientId: c.id, input: op.input, call: op.call, return: ret, output });
    if (output === undefined) this.stats.unknown++;
    else this.stats.completed++;
    this.trace(
      `c${c.id}#${op.requestId} ${output === undefined ? 'unknown outcome' : `-> ${JSON.stringify(output)}`}`,
    );
    if (output !== undefined) {
      if (output.kind === 'get') c.seen.set(op.input.key, output.value);
      else if (op.input.kind === 'put') c.seen.set(op.input.key, op.input.value);
      else if (op.input.kind === 'cas' && output.kind === 'cas' && output.ok)
        c.seen.set(op.input.key, op.input.value);
    }
    if (c.current === op) c.current = undefined;
    if (c.final && output !== undefined) {
      this.finalDone = true;
      return;
    }
    this.q.after(c.final ? 20 : this.clientRng.range(0, 20), () => this.nextOp(c));
  }

  // ---- Faults ----------------------------------------------------------------------------------

  private scheduleFaults(): void {
    const every = (lo: number, hi: number, action: () => void): void => {
      const loop = (): void => {
        if (this.phase !== 'chaos') return;
        action();
        this.q.after(this.faultRng.range(lo, hi), loop);
      };
      this.q.after(this.faultRng.range(lo, hi), loop);
    };
    if (this.faults.has('partition')) every(200, 1_500, () => this.partitionStep());
    if (this.faults.has('crash')) every(300, 1_500, () => this.crashStep());
    if (this.faults.has('pause')) every(500, 2_000, () => this.pauseStep());
    if (this.faults.has('membership')) every(300, 1_200, () => this.membershipStep());
    if (this.faults.has('transfer')) every(400, 2_000, () => this.transferStep());
    if (this.faults.has('compact')) every(100, 500, () => this.compactStep());
  }

  private partitionStep(): void {
    const rng = this.faultRng;
    if (this.links.partitioned && rng.chance(0.5)) {
      this.links.healAll();
      this.trace('network healed');
      return;
    }
    this.links.healAll();
    const ids = this.order.filter((m) => !m.shutDown).map((m) => m.id);
    if (ids.length < 2) return;
    const kind = rng.int(5);
    const leader = this.currentLeader();
    const x = leader !== undefined && !leader.shutDown && rng.chance(0.5) ? leader.id : rng.pick(ids);
    const others = ids.filter((id) => id !== x);
    switch (kind) {
      case 0:
        this.links.split([x], others);
        this.trace(`partition: n${x} isolated`);
        break;
      case 1: {
        const shuffled = [...ids];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const k = rng.range(1, Math.floor(ids.length / 2));
        const minority = shuffled.slice(0, k);
        const majority = shuffled.slice(k);
        this.links.split(minority, majority);
        this.trace(`partition: [${idList(minority)}] | [${idList(majority)}]`);
        break;
      }
      case 2:
        for (const y of others) this.links.block(x, y);
        this.trace(`partition: n${x} cannot send`);
        break;
      case 3:
        for (const y of others) this.links.block(y, x);
        this.trace(`partition: n${x} cannot receive`);
        break;
      default:
        for (const a of ids) for (const b of ids) if (a !== b && rng.chance(0.25)) this.links.block(a, b);
        this.trace(`partition: random links cut: ${this.links.describe()}`);
    }
  }

  private crashStep(): void {
    const rng = this.faultRng;
    const up = this.order.filter((m) => m.alive && !m.shutDown);
    const leader = this.currentLeader();
    const victim =
      leader !== undefined && rng.chance(0.4) ? leader : up.length > 0 ? rng.pick(up) : undefined;
    this.crashOne(victim, 50, 'either');
  }

  /**
   * Crash `m` (unless too many members are down already) and restart it after a while. Sometimes the
   * crash happens in the middle of its next Ready instead.
   */
  private crashOne(m: Member | undefined, minDowntime: number, mode: 'now' | 'mid-ready' | 'either'): void {
    const rng = this.faultRng;
    const down = this.order.filter((x) => !x.alive && !x.shutDown).length;
    const maxDown = Math.floor((this.clusterVoters.size - 1) / 2) + (rng.chance(0.15) ? 1 : 0);
    if (m === undefined || !m.alive || m.crashMidReady || down >= maxDown) return;
    if (mode === 'mid-ready' || (mode === 'either' && rng.chance(0.3))) {
      m.crashMidReady = true;
      this.trace(`n${m.id} will crash in the middle of its next Ready`);
    } else {
      this.crash(m, 'crashed');
    }
    this.q.after(rng.range(minDowntime, 1_000), () => {
      if (m.alive) {
        m.crashMidReady = false;
        return;
      }
      if (this.phase === 'chaos') this.restart(m);
    });
  }

  private pauseStep(): void {
    const rng = this.faultRng;
    const up = this.order.filter((m) => m.alive && m.pausedUntil <= this.q.now);
    if (up.length === 0) return;
    // Leaders are the interesting ones to stall.
    const leader = this.currentLeader();
    const m = leader !== undefined && rng.chance(0.5) ? leader : rng.pick(up);
    m.pausedUntil = this.q.now + rng.range(50, 800);
    this.trace(`n${m.id} paused until ${m.pausedUntil}`);
  }

  private membershipStep(): void {
    const rng = this.faultRng;
    const pc = this.pendingChange;
    if (pc !== undefined) {
      if (this.q.now - pc.since > 3_000) this.trace(`conf change ${pc.tag} still pending`, 2);
      return;
    }
    const leader = this.currentLeader(true);
    if (leader === undefined || leader.node === undefined || leader.pausedUntil > this.q.now) return;
    const voters = [...this.clusterVoters].sort((a, b) => (a < b ? -1 : 1));
    const learners = [...this.clusterLearners].sort((a, b) => (a < b ? -1 : 1));
    let type: ConfChange['type'];
    let nodeId: NodeId;
    if (learners.length > 0) {
      type = 'addNode';
      nodeId = learners[0]!;
    } else if (voters.length > 3 && (voters.length >= this.maxVoters || rng.chance(0.5))) {
      type = 'removeNode';
      nodeId = rng.pick(voters);
    } else if (voters.length < this.maxVoters) {
      type = 'addLearnerNode';
      nodeId = this.nextMemberId;
    } else {
      return;
    }
    const tag = `cc${++this.changeSeq}`;
    const cc: ConfChange = { type, nodeId, context: textEncoder.encode(tag) };
    const res = leader.node.proposeConfChange(cc);
    this.trace(
      `propose conf change ${tag} ${type} ${nodeId} at n${leader.id}: ${res.ok ? 'ok' : res.reason}`,
    );
    if (!res.ok) return;
    const change: PendingChange = { cc, tag, proposer: leader.id, index: undefined, since: this.q.now };
    this.pendingChange = change;
    if (type === 'addLearnerNode') {
      this.nextMemberId++;
      const fresh = this.addMember(nodeId, new SimStorage());
      this.start(fresh, this.nodeRng.int(TICK_INTERVAL));
    }
    this.process(leader);
    if (change.index === undefined && this.pendingChange === change) {
      this.inv.fail(`leader ${leader.id} accepted conf change ${tag} but did not append it`);
    }
  }

  private transferStep(): void {
    const rng = this.faultRng;
    if (rng.chance(0.2)) {
      // An operator forcing an election somewhere (a no-op on learners and non-members).
      const voters = this.order.filter((m) => m.alive && m.pausedUntil <= this.q.now);
      if (voters.length === 0) return;
      const m = rng.pick(voters);
      this.trace(`n${m.id} told to campaign`);
      this.whenRunning(m, m.incarnation, (node) => node.campaign());
      return;
    }
    const leader = this.currentLeader(true);
    if (leader === undefined || leader.node === undefined || leader.pausedUntil > this.q.now) return;
    // Now and then aim at a learner: raft must ignore that.
    const pool =
      leader.confState.learners.length > 0 && rng.chance(0.1)
        ? leader.confState.learners
        : leader.confState.voters;
    const targets = pool.filter((id) => id !== leader.id);
    if (targets.length === 0) return;
    const target = rng.pick([...targets].sort((a, b) => (a < b ? -1 : 1)));
    this.stats.transfers++;
    const viaTarget = this.members.get(target);
    if (rng.chance(0.2) && viaTarget?.node !== undefined && viaTarget.pausedUntil <= this.q.now) {
      this.trace(`transfer leadership ${leader.id} -> ${target} (asked at n${target})`);
      viaTarget.node.transferLeadership(target);
      this.process(viaTarget);
    } else {
      this.trace(`transfer leadership ${leader.id} -> ${target}`);
      leader.node.transferLeadership(target);
      this.process(leader);
    }
  }

  private compactStep(): void {
    for (const m of this.order) {
      if (m.alive && m.pausedUntil <= this.q.now && this.faultRng.chance(0.5)) this.compact(m, false);
    }
  }

  /** Snapshot the state machine at the applied index and drop (most of) the log before it. */
  private compact(m: Member, force: boolean): void {
    const snapIndex = m.storage.stored().metadata.index;
    if (m.applied <= snapIndex || (!force && m.applied - snapIndex < 4)) return;
    const data = m.kv.serialize();
    m.storage.createSnapshot(m.applied, m.confState, data);
    this.inv.recordState(m.id, m.applied, data);
    const first = m.storage.firstIndex();
    const upTo = Math.max(first, m.applied - (force ? 0 : this.faultRng.int(8)));
    m.storage.compact(upTo);
    this.trace(`n${m.id} snapshot at ${m.applied}, log compacted up to ${upTo}`, 2);
  }

  // ---- The end ---------------------------------------------------------------------------------

  private heal(): void {
    this.phase = 'heal';
    this.links.healAll();
    this.trace('heal: network healed, faults off, crashed members restarting');
    for (const m of this.order) {
      m.storage.flaky = undefined;
      m.crashMidReady = false;
      m.pausedUntil = Math.min(m.pausedUntil, this.q.now);
      if (m.removalCommitted) this.shutDown(m, 'removed from the cluster');
    }
    for (const m of this.order) this.restart(m);
    const finalClient: Client = {
      id: this.clients.length + 1,
      final: true,
      requestSeq: 0,
      current: undefined,
      seen: new Map(),
    };
    this.clients.push(finalClient);
    this.q.after(50, () => this.nextOp(finalClient));
  }

  private converged(): boolean {
    if (!this.finalDone) return false;
    const leader = this.currentLeader();
    if (leader === undefined || leader.node === undefined) return false;
    const st = leader.node.status();
    const commit = st.hardState.commit;
    const ids = [...st.confState.voters, ...st.confState.learners];
    let state: Uint8Array | undefined;
    for (const id of ids) {
      const m = this.members.get(id);
      if (m === undefined || m.node === undefined || m.applied !== commit) return false;
      const s = m.kv.serialize();
      if (state === undefined) state = s;
      else if (textDecoder.decode(s) !== textDecoder.decode(state)) {
        this.inv.fail(`members applied up to ${commit} but their state machines differ (n${m.id})`);
      }
      const applied = m.node.status().applied;
      if (applied !== m.applied)
        this.inv.fail(`member ${id} status().applied=${applied} but it applied ${m.applied}`);
    }
    return true;
  }
}
