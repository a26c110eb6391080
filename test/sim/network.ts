// The discrete-event clock and the network's link state. Events at the same time run in the order
// they were scheduled, so a run depends on nothing but its seed.

import type { NodeId } from '../../src/raft/types.js';

interface Scheduled {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void;
}

/** A binary min-heap of callbacks ordered by (time, scheduling order). */
export class EventQueue {
  private readonly heap: Scheduled[] = [];
  private seq = 0;
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  at(time: number, run: () => void): void {
    if (time < this.now) throw new Error(`event scheduled in the past: ${time} < ${this.now}`);
    const item: Scheduled = { time, seq: this.seq++, run };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  after(delay: number, run: () => void): void {
    this.at(this.now + delay, run);
  }

  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }

  /** Run the next event; false when there is none. */
  step(): boolean {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return false;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    this.now = top.time;
    top.run();
    return true;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** Which directed links are currently cut. */
export class Links {
  private readonly cut = new Set<string>();

  private static key(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  blocked(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.has(Links.key(from, to));
  }

  block(from: NodeId, to: NodeId): void {
    if (from !== to) this.cut.add(Links.key(from, to));
  }

  /** Cut both directions between every member of `a` and every member of `b`. */
  split(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  healAll(): void {
    this.cut.clear();
  }

  get partitioned(): boolean {
    return this.cut.size > 0;
  }

  describe(): string {
    return [...this.cut].sort().join(' ');
  }
}
