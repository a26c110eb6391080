// Linearizable reads through ReadIndex, batched: every read that arrives while a confirmation round
// is under way waits for the next round, so one heartbeat round serves any number of reads. A read
// may run once the member has applied up to the index the leader confirmed.

import type { ReadState } from '../raft/types.js';
import type { AppliedIndex } from './applied-index.js';

export interface ReadIndexPort {
  /** Asks raft for a read index for `context`; false when refused on the spot (no leader). */
  requestReadIndex(context: Uint8Array): boolean;
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Round {
  readonly context: string;
  readonly waiters: Waiter[];
  readonly retry: NodeJS.Timeout;
}

export class ReadIndexBatcher {
  private queued: Waiter[] = [];
  private round: Round | undefined;
  private counter = 0n;

  constructor(
    private readonly port: ReadIndexPort,
    private readonly applied: AppliedIndex,
    /** A round unanswered after this long (lost messages, a leader change) is asked again. */
    private readonly retryMs: number,
  ) {}

  /** Resolves when a read started now may be served locally. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queued.push({ resolve, reject });
      if (this.round === undefined) this.startRound();
    });
  }

  /** The Ready's read states: the one answering the current round releases its reads once applied. */
  onReadStates(states: readonly ReadState[]): void {
    const round = this.round;
    if (round === undefined) return;
    for (const s of states) {
      if (Buffer.from(s.context).toString('hex') !== round.context) continue;
      clearTimeout(round.retry);
      this.round = undefined;
      void this.applied.wait(s.index).then(() => {
        for (const w of round.waiters) w.resolve();
      });
      if (this.queued.length > 0) this.startRound();
      return;
    }
  }

  /** Fails every waiting read (the member is stopping). */
  failAll(error: Error): void {
    const round = this.round;
    this.round = undefined;
    if (round !== undefined) clearTimeout(round.retry);
    for (const w of [...(round?.waiters ?? []), ...this.queued]) w.reject(error);
    this.queued = [];
  }

  /** Starts a round for the queued reads (or re-asks for the current round's readers). */
  private startRound(carried: Waiter[] = []): void {
    const waiters = [...carried, ...this.queued];
    this.queued = [];
    const context = new Uint8Array(8);
    new DataView(context.buffer).setBigUint64(0, ++this.counter);
    const retry = setTimeout(() => {
      if (this.round?.retry !== retry) return;
      this.round = undefined;
      this.startRound(waiters);
    }, this.retryMs);
    this.round = { context: Buffer.from(context).toString('hex'), waiters, retry };
    // Refused now (no leader): the retry timer asks again; callers time out on their own.
    this.port.requestReadIndex(context);
  }
}
