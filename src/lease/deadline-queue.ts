// A queue of one deadline per lease, popped earliest first (ties by lease ID, so the order never
// depends on insertion). The leader keeps two: when to check a lease for expiry and when to
// checkpoint it. Rescheduling is frequent (every keepalive), so the binary heap leaves superseded
// entries in place and skips them when they surface; it is rebuilt when they outnumber live ones.

interface Entry {
  readonly at: number;
  readonly id: bigint;
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

export class DeadlineQueue {
  private readonly deadlines = new Map<bigint, number>();
  private heap: Entry[] = [];

  /** Lease IDs with a deadline. */
  get size(): number {
    return this.deadlines.size;
  }

  deadline(id: bigint): number | undefined {
    return this.deadlines.get(id);
  }

  /** Sets (or moves) the deadline of `id`. */
  schedule(id: bigint, at: number): void {
    if (Number.isNaN(at)) throw new RangeError('lease: a deadline must be a number');
    if (this.deadlines.get(id) === at) return;
    this.deadlines.set(id, at);
    this.push({ at, id });
    if (this.heap.length > 64 && this.heap.length > 2 * this.deadlines.size) this.rebuild();
  }

  cancel(id: bigint): void {
    this.deadlines.delete(id);
  }

  clear(): void {
    this.deadlines.clear();
    this.heap = [];
  }

  /** Removes and returns the earliest deadline if it is at or before `now`. */
  popDue(now: number): { readonly id: bigint; readonly at: number } | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return undefined;
      if (this.deadlines.get(top.id) !== top.at) {
        this.pop(); // superseded or cancelled
        continue;
      }
      if (top.at > now) return undefined;
      this.pop();
      this.deadlines.delete(top.id);
      return top;
    }
  }

  private rebuild(): void {
    const live: Entry[] = [];
    for (const [id, at] of this.deadlines) live.push({ at, id });
    live.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    this.heap = live; // a sorted array is a valid heap
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l], h[m])) m = l;
      if (r < h.length && before(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
