import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { Lessor, LeaseError, MAX_LEASE_TTL, type LeaseRecord } from '../../../src/lease/index.js';
import { FakeClock, MemoryLeaseStore, RecordingKeyspace, b, str, strs } from './helpers.js';

// Random apply sequences against a trivial model, fed to two lessors: A a follower whose keyspace
// detaches keys while deleting them, B a leader whose keyspace does not, with leader-only calls
// (promote, demote, renew, expiry and checkpoint scans, clock jumps) mixed in. The applied state and
// every apply result must agree between A, B and the model, and survive reloading from the bucket.

const IDS = [0n, 1n, 2n, 3n, -1n, 2n ** 63n - 1n];
const KEYS = ['a', 'b', 'a\x00', '\xff', 'zz'];

type Op =
  | { readonly kind: 'grant'; readonly id: bigint; readonly ttl: bigint }
  | { readonly kind: 'revoke'; readonly id: bigint }
  | { readonly kind: 'attach' | 'detach'; readonly id: bigint; readonly keys: readonly string[] }
  | { readonly kind: 'checkpoint'; readonly id: bigint; readonly remaining: bigint }
  | { readonly kind: 'leader'; readonly action: number; readonly id: bigint; readonly ms: number };

const id = fc.constantFrom(...IDS);
const keys = fc.subarray(KEYS, { minLength: 0, maxLength: 3 });
const ttl = fc.oneof(
  fc.bigInt({ min: -3n, max: 700n }),
  fc.constantFrom(0n, MAX_LEASE_TTL, MAX_LEASE_TTL + 1n, -(2n ** 63n)),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('grant' as const), id, ttl }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('revoke' as const), id }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('attach' as const), id, keys }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('detach' as const), id, keys }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('checkpoint' as const),
      id,
      remaining: fc.bigInt({ min: -1n, max: 1000n }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('leader' as const),
      action: fc.integer({ min: 0, max: 5 }),
      id,
      ms: fc.integer({ min: 0, max: 400_000 }),
    }),
  },
);

type Outcome = { ok: unknown } | { err: string };

function outcome(fn: () => unknown): Outcome {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e instanceof LeaseError) return { err: e.reason };
    throw e;
  }
}

interface ModelLease {
  readonly ttl: bigint;
  remaining: bigint;
  readonly keys: Set<string>;
}

class Model {
  readonly leases = new Map<bigint, ModelLease>();
  private readonly owner = new Map<string, bigint>();

  apply(o: Exclude<Op, { kind: 'leader' }>): Outcome {
    const l = this.leases.get(o.id);
    switch (o.kind) {
      case 'grant': {
        if (o.id === 0n) return { err: 'lease-not-found' };
        if (o.ttl > MAX_LEASE_TTL) return { err: 'ttl-too-large' };
        if (l !== undefined) return { err: 'lease-exists' };
        const granted = o.ttl < 2n ? 2n : o.ttl;
        this.leases.set(o.id, { ttl: granted, remaining: 0n, keys: new Set() });
        return { ok: { ID: o.id, TTL: granted } };
      }
      case 'revoke': {
        if (l === undefined) return { err: 'lease-not-found' };
        const ks = [...l.keys].sort();
        for (const k of ks) this.owner.delete(k);
        this.leases.delete(o.id);
        return { ok: ks };
      }
      case 'attach':
      case 'detach': {
        if (l === undefined) return { err: 'lease-not-found' };
        for (const k of o.keys) {
          const prev = this.owner.get(k);
          if (o.kind === 'attach') {
            if (prev !== undefined) this.leases.get(prev)?.keys.delete(k);
            l.keys.add(k);
            this.owner.set(k, o.id);
          } else if (prev === o.id) {
            l.keys.delete(k);
            this.owner.delete(k);
          }
        }
        return { ok: undefined };
      }
      case 'checkpoint':
        if (l !== undefined) l.remaining = o.remaining;
        return { ok: undefined };
    }
  }

  records(): { ID: bigint; TTL: bigint; remainingTTL: bigint; keys: string[] }[] {
    return [...this.leases]
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(([ID, l]) => ({ ID, TTL: l.ttl, remainingTTL: l.remaining, keys: [...l.keys].sort() }));
  }

  attachments(): [Uint8Array, bigint][] {
    return [...this.owner].map(([k, lease]) => [b(k), lease]);
  }
}

function applyTo(lessor: Lessor, o: Exclude<Op, { kind: 'leader' }>): Outcome {
  const r = outcome(() => {
    switch (o.kind) {
      case 'grant':
        return lessor.grant(o.id, o.ttl);
      case 'revoke':
        return strs(lessor.revoke(o.id));
      case 'attach':
        return lessor.attach(o.id, o.keys.map(b));
      case 'detach':
        return lessor.detach(o.id, o.keys.map(b));
      case 'checkpoint':
        return lessor.checkpoint(o.id, o.remaining);
    }
  });
  return r;
}

/** Leader-only calls: they may change timing state but never the replicated state. */
function leaderNoise(lessor: Lessor, clock: FakeClock, o: Extract<Op, { kind: 'leader' }>): void {
  clock.advance(o.ms);
  switch (o.action) {
    case 0:
      lessor.promote(o.ms % 2000);
      break;
    case 1:
      lessor.demote();
      break;
    case 2:
      if (lessor.isPrimary) outcome(() => lessor.renew(o.id));
      break;
    case 3:
      lessor.expiredLeases();
      break;
    case 4:
      lessor.dueCheckpoints();
      break;
    default:
      if (lessor.isPrimary) lessor.timeToLive(o.id, true);
  }
}

const plain = (rs: readonly LeaseRecord[]): unknown => rs.map((r) => ({ ...r, keys: strs(r.keys) }));

test('random apply sequences: two lessors and the model agree, and the bucket restores them', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const storeA = new MemoryLeaseStore();
      const storeB = new MemoryLeaseStore();
      const clockA = new FakeClock(0);
      const clockB = new FakeClock(5_000_000);
      const ksA = new RecordingKeyspace(true);
      const ksB = new RecordingKeyspace(false);
      const a = new Lessor(storeA, { now: clockA.now, checkpointIntervalMs: 60_000 }, ksA);
      const bl = new Lessor(storeB, { now: clockB.now, checkpointIntervalMs: 60_000 }, ksB);
      ksA.lessor = a;
      bl.promote(1000);
      const model = new Model();

      for (const o of ops) {
        if (o.kind === 'leader') {
          leaderNoise(bl, clockB, o);
          continue;
        }
        const want = model.apply(o);
        assert.deepEqual(applyTo(a, o), want, `A: ${o.kind}`);
        assert.deepEqual(applyTo(bl, o), want, `B: ${o.kind}`);
      }

      const expected = model.records();
      assert.deepEqual(plain(a.records()), expected);
      assert.deepEqual(plain(bl.records()), expected);
      assert.deepEqual(ksA.calls, ksB.calls);
      // Identical bucket contents, byte for byte.
      assert.deepEqual([...storeA.rows].sort(), [...storeB.rows].sort());
      for (const [k] of storeA.rows) assert.equal(k.length, 8, `bucket key ${str(b(k))}`);

      const reopened = new Lessor(storeA, { now: clockA.now });
      assert.deepEqual(reopened.restoreAttachments(model.attachments()), []);
      assert.deepEqual(plain(reopened.records()), expected);
    }),
    { seed: 20240611, numRuns: 300 },
  );
});
