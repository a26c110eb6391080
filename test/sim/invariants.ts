// Safety properties checked continuously while the simulation runs. Every check that fails throws a
// SimulationFailure whose message names the seed and the simulated time.

import type { Entry, HardState, NodeId } from '../../src/raft/types.js';
import { NONE } from '../../src/raft/types.js';

export type FailureKind =
  /** A safety invariant broke while the cluster was running. */
  | 'invariant'
  /** After healing every fault the cluster did not make progress and converge in time. */
  | 'liveness'
  /** The client history is not linearizable. */
  | 'linearizability'
  /** The linearizability checker gave up on a key. */
  | 'checker-timeout'
  /** Something threw that is not one of the above (a raft assertion, a harness bug). */
  | 'exception';

export class SimulationFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'SimulationFailure';
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeEntry(e: Entry): string {
  return `(index ${e.index}, term ${e.term}, ${e.type}, ${e.data.length} bytes)`;
}

export class Invariants {
  /** The leader of every term, as observed on any member at any time. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** committed[i] is the entry committed at index i, as first reported by any member. */
  private readonly committed: Entry[] = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }];
  /**
   * knownInTerm[i]: the term of the member that first reported index i committed. The entry was
   * committed in that term or earlier, so every leader of a later term must hold it.
   */
  private readonly knownInTerm: number[] = [0];
  /** Serialized state machine after applying index i, recorded whenever a member snapshots. */
  private readonly statesAt = new Map<number, Uint8Array>();

  constructor(
    private readonly seed: number,
    private readonly now: () => number,
    /** Called once per newly committed index, in index order. */
    private readonly onNewCommit: (entry: Entry) => void,
  ) {}

  fail(message: string): never {
    throw new SimulationFailure('invariant', `seed ${this.seed}, t=${this.now()}: ${message}`);
  }

  /** The highest index known to be committed. */
  get commitIndex(): number {
    return this.committed.length - 1;
  }

  committedEntry(index: number): Entry | undefined {
    return this.committed[index];
  }

  /** The term by which index i was known to be committed. */
  committedByTerm(index: number): number {
    return this.knownInTerm[index] ?? Infinity;
  }

  get leaderCount(): number {
    return this.leaderOfTerm.size;
  }

  /** At most one leader per term, across all members and incarnations. */
  observeLeader(id: NodeId, term: number): void {
    const prev = this.leaderOfTerm.get(term);
    if (prev === undefined) this.leaderOfTerm.set(term, id);
    else if (prev !== id) this.fail(`two leaders in term ${term}: ${prev} and ${id}`);
  }

  /** An entry that `who` reports as committed (applied, or persisted at or below its commit index). */
  checkCommitted(who: NodeId, whoTerm: number, e: Entry, how: string): void {
    if (e.index <= 0) this.fail(`member ${who} ${how} an entry at index ${e.index}`);
    const known = this.committed[e.index];
    if (known === undefined) {
      if (e.index !== this.committed.length) {
        this.fail(
          `member ${who} ${how} index ${e.index} but the highest committed index seen so far is ` +
            `${this.commitIndex} (committed indexes must be learnt in order)`,
        );
      }
      this.committed.push(e);
      this.knownInTerm.push(whoTerm);
      this.onNewCommit(e);
      return;
    }
    if (known.term !== e.term || known.type !== e.type || !sameBytes(known.data, e.data)) {
      this.fail(
        `committed entry changed: member ${who} ${how} ${describeEntry(e)} but ${describeEntry(known)} ` +
          `was committed at that index`,
      );
    }
  }

  /** A snapshot at (index, term) may only contain committed state. */
  checkSnapshot(who: NodeId, index: number, term: number): void {
    const known = this.committed[index];
    if (known === undefined) {
      this.fail(
        `member ${who} installed a snapshot at ${index} beyond the highest committed index ${this.commitIndex}`,
      );
    }
    if (known.term !== term) {
      this.fail(
        `member ${who} installed a snapshot at ${index} with term ${term}, but the entry committed there has term ${known.term}`,
      );
    }
  }

  /** Record the state at `index` (first snapshot there) or compare with the recorded one. */
  recordState(who: NodeId, index: number, state: Uint8Array): void {
    const known = this.statesAt.get(index);
    if (known === undefined) this.statesAt.set(index, state);
    else if (!sameBytes(known, state))
      this.fail(`member ${who} has a different state machine at applied index ${index}`);
  }

  /** Compare with the recorded state at `index`, if any (the serialization is only computed then). */
  compareState(who: NodeId, index: number, state: () => Uint8Array): void {
    const known = this.statesAt.get(index);
    if (known !== undefined && !sameBytes(known, state())) {
      this.fail(`member ${who} has a different state machine at applied index ${index}`);
    }
  }

  /** Durable hard state only moves forward: term and commit never decrease, a vote is never changed within a term. */
  checkHardState(who: NodeId, prev: HardState, next: HardState): void {
    if (next.term < prev.term) this.fail(`member ${who} persisted term ${next.term} after ${prev.term}`);
    if (next.term === prev.term && prev.vote !== NONE && next.vote !== prev.vote) {
      this.fail(`member ${who} changed its vote in term ${next.term} from ${prev.vote} to ${next.vote}`);
    }
    if (next.commit < prev.commit)
      this.fail(`member ${who} persisted commit ${next.commit} after ${prev.commit}`);
  }
}
