// Requests waiting for their raft entry to be applied, by request ID. The member that proposed an
// entry answers its client when it applies that entry; other members find no waiter and move on.

export class WaitRegistry<T> {
  private readonly waiting = new Map<bigint, { resolve: (v: T) => void; reject: (e: Error) => void }>();

  /** Registers `id` and returns the promise its trigger settles. IDs must be unique. */
  register(id: bigint): Promise<T> {
    if (this.waiting.has(id)) throw new Error(`wait: duplicate request ID ${id.toString(16)}`);
    return new Promise<T>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  /** Settles the waiter for `id` if there is one. */
  trigger(id: bigint, value: T): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    w.resolve(value);
  }

  /** Fails the waiter for `id` (a timeout or a dropped proposal); later triggers are ignored. */
  fail(id: bigint, error: Error): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    w.reject(error);
  }

  failAll(error: Error): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, error);
  }

  get size(): number {
    return this.waiting.size;
  }
}
