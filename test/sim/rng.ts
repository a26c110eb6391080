// Deterministic randomness for the simulator, on top of the core's seeded generator. Each subsystem
// (network, clients, faults, ...) gets its own forked stream so that a change in how one of them
// draws numbers does not reshuffle all the others.

import { seededRandom, type Random } from '../../src/raft/random.js';

export class Rng {
  private readonly r: Random;

  constructor(seed: number) {
    this.r = seededRandom(seed);
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return this.r.int(n);
  }

  /** A uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.r.int(hi - lo + 1);
  }

  float(): number {
    return this.r.float();
  }

  chance(p: number): boolean {
    return p > 0 && this.r.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[this.r.int(items.length)]!;
  }

  /** A new independent stream derived from this one. */
  fork(): Rng {
    return new Rng(this.r.int(0x7fff_ffff) ^ 0x5bd1_e995);
  }
}
