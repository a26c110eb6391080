// Automatic compaction on a simulated clock: when each policy compacts, to which revision, only on the
// leader, "already compacted" counted as done, other failures retried.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AutoCompactor, type CompactionPolicy, type CompactorTimers } from '../../../src/server/compactor.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements CompactorTimers {
  private t = 0;
  private pending: { at: number; fn: () => void }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const entry = { at: this.t + ms, fn };
    this.pending.push(entry);
    return () => {
      this.pending = this.pending.filter((e) => e !== entry);
    };
  }
  /** Advances to `ms` from the start, firing due timers in order (and letting promises settle). */
  async advanceTo(ms: number): Promise<void> {
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at);
      const next = this.pending[0];
      if (next === undefined || next.at > ms) break;
      this.pending.shift();
      this.t = next.at;
      next.fn();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    this.t = ms;
  }
}

interface Harness {
  clock: FakeClock;
  compactions: { at: number; revision: number }[];
  setRevision(r: number): void;
  setLeader(l: boolean): void;
  failNext(e: unknown): void;
  compactor: AutoCompactor | undefined;
}

function harness(policy: CompactionPolicy, revisionAt: (ms: number) => number = () => 0): Harness {
  const clock = new FakeClock();
  const compactions: { at: number; revision: number }[] = [];
  let fixedRevision: number | undefined;
  let leader = true;
  let failure: unknown;
  const compactor = AutoCompactor.start({
    policy,
    revision: () => fixedRevision ?? Math.floor(revisionAt(clock.now())),
    compact: async (revision) => {
      if (failure !== undefined) {
        const e = failure;
        failure = undefined;
        throw e;
      }
      compactions.push({ at: clock.now(), revision });
    },
    isLeader: () => leader,
    isCompacted: (e) => e === 'compacted',
    logger: { info: () => {}, warn: () => {} },
    timers: clock,
  });
  return {
    clock,
    compactions,
    compactor,
    setRevision: (r) => (fixedRevision = r),
    setLeader: (l) => (leader = l),
    failNext: (e) => (failure = e),
  };
}

test('retention 0 turns automatic compaction off', () => {
  assert.equal(harness({ mode: 'periodic', retentionMs: 0 }).compactor, undefined);
  assert.equal(harness({ mode: 'revision', retentionRevisions: 0 }).compactor, undefined);
});

test('periodic 1h: first compaction after an hour to the revision of an hour ago, then hourly', async () => {
  // One revision per minute: the revision at minute m is 1 + m.
  const h = harness({ mode: 'periodic', retentionMs: HOUR }, (ms) => 1 + ms / MIN);
  await h.clock.advanceTo(HOUR - 1);
  assert.deepEqual(h.compactions, []);
  await h.clock.advanceTo(3 * HOUR + 1);
  assert.deepEqual(h.compactions, [
    { at: HOUR, revision: 1 },
    // As etcd: the oldest of the samples kept, taken one retention plus one sampling interval ago.
    { at: 2 * HOUR, revision: 55 },
    { at: 3 * HOUR, revision: 115 },
  ]);
});

test('periodic 30m: samples every 3 minutes, compacts every 30 minutes', async () => {
  const h = harness({ mode: 'periodic', retentionMs: 30 * MIN }, (ms) => 1000 + ms / MIN);
  await h.clock.advanceTo(90 * MIN + 1);
  assert.deepEqual(h.compactions, [
    { at: 30 * MIN, revision: 1000 },
    { at: 60 * MIN, revision: 1027 },
    { at: 90 * MIN, revision: 1057 },
  ]);
});

test('periodic 10h: samples every 6 minutes, compacts hourly keeping ten hours', async () => {
  const h = harness({ mode: 'periodic', retentionMs: 10 * HOUR }, (ms) => 1 + ms / MIN);
  await h.clock.advanceTo(12 * HOUR + 1);
  assert.deepEqual(h.compactions, [
    { at: 10 * HOUR, revision: 1 },
    { at: 11 * HOUR, revision: 55 },
    { at: 12 * HOUR, revision: 115 },
  ]);
});

test('revision mode: every 5 minutes to current minus retention, never twice to the same revision', async () => {
  const h = harness({ mode: 'revision', retentionRevisions: 100 });
  h.setRevision(50);
  await h.clock.advanceTo(5 * MIN);
  assert.deepEqual(h.compactions, [], 'nothing to compact below the retention');
  h.setRevision(1000);
  await h.clock.advanceTo(10 * MIN);
  await h.clock.advanceTo(15 * MIN);
  h.setRevision(1500);
  await h.clock.advanceTo(20 * MIN);
  assert.deepEqual(h.compactions, [
    { at: 10 * MIN, revision: 900 },
    { at: 20 * MIN, revision: 1400 },
  ]);
});

test('only the leader compacts; "already compacted" is success, other failures are retried', async () => {
  const h = harness({ mode: 'revision', retentionRevisions: 10 });
  h.setRevision(100);
  h.setLeader(false);
  await h.clock.advanceTo(10 * MIN);
  assert.deepEqual(h.compactions, []);
  h.setLeader(true);
  h.failNext(new Error('etcdserver: request timed out'));
  await h.clock.advanceTo(15 * MIN);
  assert.deepEqual(h.compactions, [], 'the failed attempt did not count');
  await h.clock.advanceTo(20 * MIN);
  assert.deepEqual(h.compactions, [{ at: 20 * MIN, revision: 90 }]);
  h.setRevision(200);
  h.failNext('compacted');
  await h.clock.advanceTo(25 * MIN);
  await h.clock.advanceTo(30 * MIN);
  assert.deepEqual(h.compactions, [{ at: 20 * MIN, revision: 90 }], '190 counted as done, not retried');
  h.compactor!.stop();
  h.setRevision(500);
  await h.clock.advanceTo(60 * MIN);
  assert.equal(h.compactions.length, 1, 'stopped');
});
