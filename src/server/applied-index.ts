// Waiting for the applied index to reach a point (a ReadIndex answer, a lease renew on a new leader).

export class AppliedIndex {
  private value = 0;
  /** Waiters ordered by index, so each apply resolves a prefix. */
  private waiters: { index: number; resolve: () => void }[] = [];

  constructor(initial: number) {
    this.value = initial;
  }

  get index(): number {
    return this.value;
  }

  advanceTo(index: number): void {
    if (index <= this.value) return;
    this.value = index;
    let n = 0;
    while (n < this.waiters.length && this.waiters[n].index <= index) n++;
    if (n === 0) return;
    const done = this.waiters.splice(0, n);
    for (const w of done) w.resolve();
  }

  wait(index: number): Promise<void> {
    if (index <= this.value) return Promise.resolve();
    return new Promise((resolve) => {
      let at = this.waiters.length;
      while (at > 0 && this.waiters[at - 1].index > index) at--;
      this.waiters.splice(at, 0, { index, resolve });
    });
  }
}
