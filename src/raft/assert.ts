// Invariant checks that stay on in production: a broken invariant in consensus code must stop the
// member rather than let it act on corrupted state.

export class InvariantError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'InvariantError';
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
