import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { DeadlineQueue } from '../../../src/lease/deadline-queue.js';

function drain(q: DeadlineQueue, now: number): [bigint, number][] {
  const out: [bigint, number][] = [];
  for (let e = q.popDue(now); e !== undefined; e = q.popDue(now)) out.push([e.id, e.at]);
  return out;
}

test('pops due deadlines earliest first, ties by ID, and only those at or before now', () => {
  const q = new DeadlineQueue();
  q.schedule(3n, 10);
  q.schedule(1n, 10);
  q.schedule(2n, 5);
  q.schedule(-4n, 20);
  assert.equal(q.size, 4);
  assert.deepEqual(drain(q, 9), [[2n, 5]]);
  assert.deepEqual(drain(q, 10), [
    [1n, 10],
    [3n, 10],
  ]);
  assert.equal(q.popDue(19), undefined);
  assert.deepEqual(drain(q, Infinity), [[-4n, 20]]);
  assert.equal(q.size, 0);
});

test('rescheduling moves a deadline; cancel and clear remove them', () => {
  const q = new DeadlineQueue();
  q.schedule(1n, 5);
  q.schedule(1n, 50);
  q.schedule(2n, 7);
  q.cancel(2n);
  assert.equal(q.deadline(1n), 50);
  assert.equal(q.deadline(2n), undefined);
  assert.deepEqual(drain(q, 40), []);
  q.schedule(1n, 5); // back to an earlier time
  assert.deepEqual(drain(q, 40), [[1n, 5]]);
  q.schedule(3n, 1);
  q.clear();
  assert.deepEqual(drain(q, Infinity), []);
  assert.throws(() => q.schedule(1n, NaN), RangeError);
});

test('behaves like a sorted map of deadlines under random operations (with heap rebuilds)', () => {
  type Op =
    | { kind: 'schedule'; id: number; at: number }
    | { kind: 'cancel'; id: number }
    | { kind: 'pop'; now: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('schedule' as const),
        id: fc.integer({ min: -3, max: 40 }),
        at: fc.integer({ min: 0, max: 100 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('cancel' as const), id: fc.integer({ min: -3, max: 40 }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 100 }) }),
    },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const q = new DeadlineQueue();
      const model = new Map<bigint, number>();
      for (const o of ops) {
        if (o.kind === 'schedule') {
          q.schedule(BigInt(o.id), o.at);
          model.set(BigInt(o.id), o.at);
        } else if (o.kind === 'cancel') {
          q.cancel(BigInt(o.id));
          model.delete(BigInt(o.id));
        } else {
          const got = q.popDue(o.now);
          const due = [...model]
            .filter(([, at]) => at <= o.now)
            .sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1));
          if (due.length === 0) assert.equal(got, undefined);
          else {
            assert.deepEqual(got, { at: due[0][1], id: due[0][0] });
            model.delete(due[0][0]);
          }
        }
        assert.equal(q.size, model.size);
      }
    }),
    { seed: 42, numRuns: 300 },
  );
});
