// Drives a RawNode: ticks it, and handles each Ready in the order that makes acknowledged writes
// durable (docs/raft.md): a leader's messages go out while it writes; the snapshot file, then its WAL
// record, then entries and hard state are written with one fdatasync; a follower's messages go out
// only after that; then committed entries are applied, read states answered, and advance() called.

import { RawNode } from '../raft/rawnode.js';
import type { MemoryStorage } from '../raft/storage.js';
import type { Entry, LogLoss, Message, ReadState, Snapshot, SoftState, StateRole } from '../raft/types.js';
import { saveSnap } from '../storage/snap/index.js';
import type { Wal } from '../storage/wal/index.js';

export interface RaftHooks {
  send(messages: readonly Message[]): void;
  /** Installs a received snapshot (if any), then applies the committed entries in order. */
  apply(snapshot: Snapshot | undefined, entries: readonly Entry[]): Promise<void> | void;
  softState(state: SoftState): void;
  readStates(states: readonly ReadState[]): void;
  /** The loop failed (a WAL write failed): the member must stop, as etcd does. */
  fatal(error: unknown): void;
  /** This member lost entries it had acknowledged; the loop has stopped for good. */
  logLoss(loss: LogLoss): void;
}

export class RaftDriver {
  private ticker: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;
  private stopped = false;
  private loopDone: Promise<void> | undefined;
  private role: StateRole = 'follower';
  private hardTerm: number;
  private hardCommit: number;
  private hooks: RaftHooks | undefined;

  constructor(
    readonly node: RawNode,
    readonly storage: MemoryStorage,
    readonly wal: Wal,
    private readonly snapDir: string,
    private readonly tickMs: number,
  ) {
    const hs = storage.initialState().hardState;
    this.hardTerm = hs.term;
    this.hardCommit = hs.commit;
  }

  start(hooks: RaftHooks): void {
    this.hooks = hooks;
    this.ticker = setInterval(() => {
      this.node.tick();
      this.wake();
    }, this.tickMs);
    this.loopDone = this.loop().catch((e: unknown) => {
      if (!this.stopped) hooks.fatal(e);
    });
  }

  /** Call after anything that may have given the node work (a step, a proposal, a read). */
  wake(): void {
    const w = this.wakeUp;
    if (w === undefined) return;
    this.wakeUp = undefined;
    w();
  }

  /** The current term and commit index as last persisted. */
  get term(): number {
    return this.hardTerm;
  }

  get commit(): number {
    return this.hardCommit;
  }

  /**
   * Persists a snapshot this member took of its own state: the file, then its WAL record; then lets
   * the WAL release the segments before it.
   */
  async persistSnapshot(snapshot: Snapshot): Promise<void> {
    await saveSnap(this.snapDir, snapshot);
    await this.wal.saveSnapshot({ index: snapshot.metadata.index, term: snapshot.metadata.term });
    await this.wal.releaseLockTo(snapshot.metadata.index);
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  /** Stops ticking and waits for the Ready in hand to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.wake();
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    const { node, storage, wal } = this;
    const hooks = this.hooks;
    if (hooks === undefined) throw new Error('raft driver: started without hooks');
    while (!this.stopped) {
      if (!node.hasReady()) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      const rd = node.ready();
      if (rd.logLoss !== undefined) {
        // Nothing of this Ready may be persisted or sent: the member must not take part any more.
        this.stopped = true;
        hooks.logLoss(rd.logLoss);
        return;
      }
      if (rd.softState !== undefined) {
        this.role = rd.softState.role;
        hooks.softState(rd.softState);
      }
      const leader = this.role === 'leader';
      if (leader && rd.messages.length > 0) hooks.send(rd.messages);
      if (rd.snapshot !== undefined) {
        // The file first: a WAL record must never point at a snapshot that is not on disk.
        await saveSnap(this.snapDir, rd.snapshot);
        await wal.saveSnapshot({ index: rd.snapshot.metadata.index, term: rd.snapshot.metadata.term });
        storage.applySnapshot(rd.snapshot);
      }
      if (rd.entries.length > 0 || rd.hardState !== undefined) await wal.save(rd.hardState, rd.entries);
      if (rd.hardState !== undefined) {
        storage.setHardState(rd.hardState);
        this.hardTerm = rd.hardState.term;
        this.hardCommit = rd.hardState.commit;
      }
      if (rd.entries.length > 0) storage.append(rd.entries);
      if (!leader && rd.messages.length > 0) hooks.send(rd.messages);
      if (rd.snapshot !== undefined || rd.committedEntries.length > 0) {
        await hooks.apply(rd.snapshot, rd.committedEntries);
      }
      if (rd.readStates.length > 0) hooks.readStates(rd.readStates);
      node.advance();
    }
  }
}
