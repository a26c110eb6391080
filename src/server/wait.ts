// Requests waiting for their raft entry to be applied, by request ID. The member that proposed an
// entry answers its client when it applies that entry; other members find no waiter and move on.
// Every wait has the same time limit (the member's request timeout), so their deadlines come in the
// order they were registered: one queue and one timer serve them all, instead of a timer per request
// on the hot path.

interface Waiter<T> {
  readonly resolve: (v: T) => void;
  readonly reject: (e: Error) => void;
  readonly deadline: number;
  /** The error a wait that runs out of time fails with. */
  readonly expired: () => Error;
}

export interface WaitOptions {
  /** How long a wait may last (ms). */
  readonly timeoutMs: number;
  /** The clock (ms); default performance.now. */
  readonly now?: () => number;
}

export class WaitRegistry<T> {
  private readonly waiting = new Map<bigint, Waiter<T>>();
  /** Registered waits in deadline order; settled ones are skipped when they reach the front. */
  private queue: { id: bigint; waiter: Waiter<T> }[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: WaitOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Registers `id` and returns the promise its trigger settles; if nothing settles it within the
   * time limit, it fails with `expired()`. IDs must be unique.
   */
  register(id: bigint, expired: () => Error): Promise<T> {
    if (this.waiting.has(id)) throw new Error(`wait: duplicate request ID ${id.toString(16)}`);
    return new Promise<T>((resolve, reject) => {
      const waiter = { resolve, reject, deadline: this.now() + this.options.timeoutMs, expired };
      this.waiting.set(id, waiter);
      this.queue.push({ id, waiter });
      if (this.timer === undefined) this.arm();
    });
  }

  /** Settles the waiter for `id` if there is one. */
  trigger(id: bigint, value: T): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    w.resolve(value);
  }

  /** Fails the waiter for `id` (a dropped proposal, a canceled call); later triggers are ignored. */
  fail(id: bigint, error: Error): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    w.reject(error);
  }

  failAll(error: Error): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, error);
    this.queue = [];
    this.head = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Sets the timer for the earliest deadline still waiting, if any. */
  private arm(): void {
    while (this.head < this.queue.length) {
      const { id, waiter } = this.queue[this.head];
      if (this.waiting.get(id) === waiter) break;
      this.head++;
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
      this.timer = undefined;
      return;
    }
    // Drop the settled front of the queue now and then, so it does not grow without end.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const wait = Math.max(0, this.queue[this.head].waiter.deadline - this.now());
    this.timer = setTimeout(() => this.expire(), wait);
    this.timer.unref();
  }

  private expire(): void {
    const now = this.now();
    while (this.head < this.queue.length) {
      const { id, waiter } = this.queue[this.head];
      if (this.waiting.get(id) === waiter) {
        if (waiter.deadline > now) break;
        this.waiting.delete(id);
        waiter.reject(waiter.expired());
      }
      this.head++;
    }
    this.arm();
  }
}
