// The deterministic cluster simulation as a test: a sweep of seeds with every fault enabled, a
// determinism check, and proof that the harness notices a broken system.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ALL_FAULTS, type Bug, type Fault } from './cluster.js';
import { KvStateMachine } from './kv.js';
import {
  describeFailure,
  membersForSeed,
  runSeed,
  SeedPool,
  type SeedOutcome,
  type SeedSpec,
} from './run.js';

const SWEEP_SEEDS = 320;
const BATCH = 40;

const pool = new SeedPool();
after(async () => {
  await pool.close();
});

function specs(from: number, to: number, faults: readonly Fault[], bug?: Bug): SeedSpec[] {
  const out: SeedSpec[] = [];
  for (let seed = from; seed <= to; seed++)
    out.push({ seed, members: membersForSeed(seed, undefined), faults, bug });
  return out;
}

function failures(outcomes: readonly SeedOutcome[]): string {
  return outcomes
    .filter((o) => !o.ok)
    .map(describeFailure)
    .join('\n');
}

describe(`simulation sweep: ${SWEEP_SEEDS} seeds, 3 and 5 members, all faults`, () => {
  for (let from = 1; from <= SWEEP_SEEDS; from += BATCH) {
    const to = Math.min(SWEEP_SEEDS, from + BATCH - 1);
    test(`seeds ${from}..${to}`, async () => {
      const outcomes = await pool.run(specs(from, to, ALL_FAULTS));
      const failed = outcomes.filter((o) => !o.ok);
      assert.equal(failed.length, 0, `${failed.length} seed(s) failed:\n${failures(outcomes)}`);
      // The faults really happened: the sweep is not passing by doing nothing.
      const total = (pick: (o: SeedOutcome) => number): number =>
        outcomes.reduce((sum, o) => sum + pick(o), 0);
      assert.ok(total((o) => o.stats.crashes) > 0, 'no crashes happened');
      assert.ok(total((o) => o.stats.snapshotsInstalled) > 0, 'no snapshot was installed');
      assert.ok(total((o) => o.stats.confChanges) > 0, 'no membership change committed');
      assert.ok(total((o) => o.stats.unknown) > 0, 'no operation had an unknown outcome');
      assert.ok(total((o) => o.stats.completed) > 100 * outcomes.length, 'too few operations completed');
    });
  }
});

test('without faults every operation completes', () => {
  for (const seed of [1, 2]) {
    const o = runSeed({ seed, members: membersForSeed(seed, undefined), faults: [] });
    assert.ok(o.ok, failures([o]));
    assert.equal(o.stats.unknown, 0);
    assert.ok(o.stats.completed > 300, `only ${o.stats.completed} operations completed`);
  }
});

test('a seed replays byte for byte', () => {
  for (const spec of [
    { seed: 7, members: 5, faults: ALL_FAULTS },
    { seed: 12, members: 3, faults: ALL_FAULTS },
  ] satisfies SeedSpec[]) {
    const first = runSeed(spec, 2);
    const second = runSeed(spec, 2);
    assert.ok(first.trace.length > 1000, `trace too short (${first.trace.length} lines)`);
    assert.equal(first.trace.join('\n'), second.trace.join('\n'));
    assert.deepEqual(first.stats, second.stats);
    // And the seed matters.
    const other = runSeed({ ...spec, seed: spec.seed + 1000 }, 2);
    assert.notEqual(first.trace.join('\n'), other.trace.join('\n'));
  }
});

describe('the harness catches a broken system', () => {
  test('gets served from the local state machine without ReadIndex (stale reads)', async () => {
    const outcomes = await pool.run(specs(1, 20, ['partition'], 'local-reads'));
    const caught = outcomes.filter((o) => !o.ok);
    assert.ok(caught.length > 0, 'no seed noticed the stale reads');
    for (const o of caught) assert.ok(o.kind === 'linearizability', describeFailure(o));
  });

  test('puts acknowledged when proposed, before they commit', async () => {
    const outcomes = await pool.run(specs(1, 20, ['partition', 'crash'], 'early-ack'));
    const caught = outcomes.filter((o) => !o.ok);
    assert.ok(caught.length > 0, 'no seed noticed the early acknowledgements');
    for (const o of caught) assert.ok(o.kind === 'linearizability', describeFailure(o));
  });

  test('the initial configuration kept only in an index-0 snapshot (joiners replay a wrong one)', async () => {
    const outcomes = await pool.run(specs(80, 99, ['membership'], 'snapshot-bootstrap'));
    assert.ok(
      outcomes.some((o) => !o.ok),
      'no seed noticed members joining with a wrong configuration',
    );
  });
});

test('state machine: sessions make a command apply once, and survive a snapshot', () => {
  const sm = new KvStateMachine();
  assert.deepEqual(sm.apply({ c: 1, r: 1, o: 'put', k: 'a', v: 'x' }), {
    duplicate: false,
    result: { kind: 'put' },
  });
  assert.deepEqual(sm.apply({ c: 2, r: 1, o: 'cas', k: 'a', e: 'x', v: 'y' }), {
    duplicate: false,
    result: { kind: 'cas', ok: true },
  });
  // The same entry twice (a duplicated forwarded proposal): no second effect, same answer.
  assert.deepEqual(sm.apply({ c: 2, r: 1, o: 'cas', k: 'a', e: 'x', v: 'y' }), {
    duplicate: true,
    result: { kind: 'cas', ok: true },
  });
  // An older request of a client that has moved on never takes effect.
  sm.apply({ c: 1, r: 3, o: 'put', k: 'b', v: 'z' });
  assert.equal(sm.apply({ c: 1, r: 2, o: 'put', k: 'a', v: 'old' }).result, undefined);
  assert.equal(sm.get('a'), 'y');
  const copy = KvStateMachine.deserialize(sm.serialize());
  assert.deepEqual(copy.serialize(), sm.serialize());
  assert.deepEqual(copy.sessionResult(2, 1), { kind: 'cas', ok: true });
  assert.equal(copy.apply({ c: 2, r: 1, o: 'cas', k: 'a', e: 'x', v: 'y' }).duplicate, true);
  assert.equal(KvStateMachine.deserialize(new Uint8Array(0)).get('a'), null);
});
