// A small seeded generator (SplitMix32 finalizer over a Weyl sequence): the core's only source of
// randomness, so that a run is reproducible from its seed.

export interface Random {
  /** A uniform integer in [0, n). */
  int(n: number): number;
  /** A uniform float in [0, 1). */
  float(): number;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return {
    int: (n) => Math.floor((next() / 0x1_0000_0000) * n),
    float: () => next() / 0x1_0000_0000,
  };
}
