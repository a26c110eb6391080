import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Lease as LeasePb } from '../../../src/proto/leasepb/lease.js';
import {
  LEASE_GRPC_STATUS,
  Lessor,
  LeaseError,
  MAX_LEASE_TTL,
  isLeaseError,
  leaseKey,
  minLeaseTtlSeconds,
  type LeaseErrorReason,
} from '../../../src/lease/index.js';
import { b, fixture, str, strs, MemoryLeaseStore } from './helpers.js';

const S = 1000; // ms per second

function throwsLease(fn: () => unknown, reason: LeaseErrorReason, message: string, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LeaseError, `expected a LeaseError, got ${String(e)}`);
    assert.equal(e.reason, reason);
    assert.equal(e.message, message);
    assert.equal(e.code, code);
    assert.equal(e.status, LEASE_GRPC_STATUS[e.code]);
    return true;
  });
}

const notFound = (fn: () => unknown): void =>
  throwsLease(fn, 'lease-not-found', 'etcdserver: requested lease not found', 'NotFound');

// ---- Errors -------------------------------------------------------------------------------------

test("errors carry etcd's exact text and gRPC status", () => {
  const cases: [LeaseErrorReason, string, string, number][] = [
    ['lease-not-found', 'etcdserver: requested lease not found', 'NotFound', 5],
    ['lease-exists', 'etcdserver: lease already exists', 'FailedPrecondition', 9],
    ['ttl-too-large', 'etcdserver: too large lease TTL', 'OutOfRange', 11],
    ['not-primary', 'lease: this member is not the primary lessor', 'Unavailable', 14],
  ];
  for (const [reason, message, code, status] of cases) {
    const e = new LeaseError(reason);
    assert.equal(e.message, message);
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    assert.equal(e.name, 'LeaseError');
    assert.ok(isLeaseError(e, reason));
    assert.ok(e instanceof Error);
  }
  assert.equal(isLeaseError(new Error('etcdserver: requested lease not found')), false);
});

// ---- Grant --------------------------------------------------------------------------------------

test('grant persists the lease under its 8-byte big-endian ID as leasepb.Lease', () => {
  const { lessor, store } = fixture();
  assert.deepEqual(lessor.grant(0x0102030405060708n, 60n), { ID: 0x0102030405060708n, TTL: 60n });
  const key = '\x01\x02\x03\x04\x05\x06\x07\x08';
  assert.deepEqual([...store.rows.keys()], [key]);
  assert.deepEqual(LeasePb.decode(store.rows.get(key) as Uint8Array), {
    ID: 0x0102030405060708n,
    TTL: 60n,
    RemainingTTL: 0n,
  });
  assert.deepEqual(lessor.lookup(0x0102030405060708n), {
    ID: 0x0102030405060708n,
    TTL: 60n,
    remainingTTL: 0n,
  });
  assert.ok(lessor.has(0x0102030405060708n));
});

test('negative IDs are valid (etcd accepts them) and keyed as two’s complement', () => {
  const { lessor, store } = fixture();
  lessor.grant(-7n, 10n);
  assert.deepEqual(strs([leaseKey(-7n)]), ['\xff\xff\xff\xff\xff\xff\xff\xf9']);
  assert.ok(store.rows.has('\xff\xff\xff\xff\xff\xff\xff\xf9'));
});

test('a TTL below the minimum is raised to it (zero and negative included, as etcd does)', () => {
  const { lessor } = fixture();
  assert.equal(lessor.minTtlSeconds, 2n);
  assert.deepEqual(lessor.grant(1n, 1n), { ID: 1n, TTL: 2n });
  assert.deepEqual(lessor.grant(2n, 0n), { ID: 2n, TTL: 2n });
  assert.deepEqual(lessor.grant(3n, -5n), { ID: 3n, TTL: 2n });
  assert.deepEqual(lessor.grant(4n, 2n), { ID: 4n, TTL: 2n });
  assert.deepEqual(lessor.grant(5n, 3n), { ID: 5n, TTL: 3n });
  const { lessor: custom } = fixture({ minTtlSeconds: 8 });
  assert.deepEqual(custom.grant(1n, 5n), { ID: 1n, TTL: 8n });
});

test('minimum TTL from the election timeout: 1.5 elections in whole ticks, rounded up to seconds', () => {
  assert.equal(minLeaseTtlSeconds(1000), 2); // etcd's defaults: 1000 ms / 100 ms -> 1.5 s -> 2 s
  assert.equal(minLeaseTtlSeconds(1000, 100), 2);
  assert.equal(minLeaseTtlSeconds(2000, 100), 3);
  assert.equal(minLeaseTtlSeconds(5000, 500), 8); // 10 ticks -> 15 ticks = 7.5 s
  assert.equal(minLeaseTtlSeconds(250, 50), 1); // 5 ticks -> 7 ticks = 350 ms
  assert.throws(() => minLeaseTtlSeconds(0), RangeError);
});

test('a TTL above 9,000,000,000 s is refused with OutOfRange; exactly the maximum is granted', () => {
  const { lessor, store } = fixture();
  assert.equal(MAX_LEASE_TTL, 9_000_000_000n);
  throwsLease(
    () => lessor.grant(1n, 9_000_000_001n),
    'ttl-too-large',
    'etcdserver: too large lease TTL',
    'OutOfRange',
  );
  assert.equal(store.rows.size, 0);
  assert.deepEqual(lessor.grant(1n, 9_000_000_000n), { ID: 1n, TTL: 9_000_000_000n });
});

test('granting an existing ID fails with FailedPrecondition and leaves the lease alone', () => {
  const { lessor } = fixture();
  lessor.grant(5n, 10n);
  throwsLease(
    () => lessor.grant(5n, 99n),
    'lease-exists',
    'etcdserver: lease already exists',
    'FailedPrecondition',
  );
  assert.equal(lessor.lookup(5n)?.TTL, 10n);
});

test('grant with ID 0 (no lease) is NotFound, as in etcd; malformed input is a type or range error', () => {
  const { lessor, store } = fixture();
  notFound(() => lessor.grant(0n, 10n));
  assert.throws(() => lessor.grant(1 as unknown as bigint, 10n), TypeError);
  assert.throws(() => lessor.grant(1n, 10 as unknown as bigint), TypeError);
  assert.throws(() => lessor.grant(2n ** 63n, 10n), RangeError);
  assert.throws(() => lessor.grant(1n, -(2n ** 63n) - 1n), RangeError);
  assert.equal(store.rows.size, 0);
  assert.equal(lessor.size, 0);
});

test('configuration is validated', () => {
  const store = new MemoryLeaseStore();
  const now = (): number => 0;
  assert.throws(() => new Lessor(store, { now, minTtlSeconds: 0 }), RangeError);
  assert.throws(() => new Lessor(store, { now, minTtlSeconds: 1.5 }), RangeError);
  assert.throws(() => new Lessor(store, { now, checkpointIntervalMs: 0 }), RangeError);
  assert.throws(() => new Lessor(store, { now, revokeRate: -1 }), RangeError);
  assert.throws(() => new Lessor(store, { now, maxCheckpointBatchSize: 0 }), RangeError);
  assert.throws(() => new Lessor(store, {} as unknown as { now: () => number }), TypeError);
});

// ---- Revoke, attach, detach ---------------------------------------------------------------------

test('revoke deletes every attached key in ONE keyspace call, in key-byte order, then the lease', () => {
  const { lessor, store, keyspace } = fixture();
  lessor.grant(1n, 10n);
  lessor.grant(2n, 10n);
  // 0xff sorts after 'z' in bytes (not in UTF-8 decoded order); 'a\0' after 'a'.
  lessor.attach(1n, [b('zeta'), b('\xff'), b('a\x00'), b('a')]);
  lessor.attach(2n, [b('other')]);
  const deleted = lessor.revoke(1n);
  assert.deepEqual(strs(deleted), ['a', 'a\x00', 'zeta', '\xff']);
  assert.deepEqual(keyspace.calls, [['a', 'a\x00', 'zeta', '\xff']]);
  assert.equal(lessor.has(1n), false);
  assert.equal(store.rows.has(str(leaseKey(1n))), false);
  assert.equal(lessor.leaseOf(b('a')), 0n);
  assert.equal(lessor.leaseOf(b('other')), 2n);
  notFound(() => lessor.revoke(1n));
});

test('revoking a lease without keys does not call the keyspace', () => {
  const { lessor, keyspace } = fixture();
  lessor.grant(1n, 10n);
  assert.deepEqual(lessor.revoke(1n), []);
  assert.deepEqual(keyspace.calls, []);
});

test('revoke works whether or not the keyspace detaches the keys while deleting them', () => {
  const { lessor, keyspace } = fixture({}, true);
  lessor.grant(1n, 10n);
  lessor.attach(1n, [b('k1'), b('k2')]);
  assert.deepEqual(strs(lessor.revoke(1n)), ['k1', 'k2']);
  assert.deepEqual(keyspace.calls, [['k1', 'k2']]);
  assert.equal(lessor.leaseOf(b('k1')), 0n);
  assert.deepEqual(lessor.records(), []);
});

test('revoking a lease with keys but no keyspace fails without changing anything', () => {
  const store = new MemoryLeaseStore();
  const lessor = new Lessor(store, { now: () => 0 });
  lessor.grant(1n, 10n);
  lessor.attach(1n, [b('k')]);
  assert.throws(() => lessor.revoke(1n), /needs a keyspace/);
  assert.equal(lessor.leaseOf(b('k')), 1n);
  assert.equal(store.rows.size, 1);
});

test('revoke of an unknown lease is NotFound', () => {
  const { lessor } = fixture();
  notFound(() => lessor.revoke(42n));
});

test('attach and detach: unknown lease is NotFound and changes nothing; a key moves between leases', () => {
  const { lessor } = fixture();
  lessor.grant(1n, 10n);
  lessor.grant(2n, 10n);
  notFound(() => lessor.attach(3n, [b('k')]));
  notFound(() => lessor.detach(3n, [b('k')]));
  assert.equal(lessor.leaseOf(b('k')), 0n);

  lessor.attach(1n, [b('k'), b('j')]);
  assert.equal(lessor.leaseOf(b('k')), 1n);
  lessor.attach(2n, [b('k')]); // a put that changes the key's lease
  assert.equal(lessor.leaseOf(b('k')), 2n);
  assert.deepEqual(
    lessor.records().map((r) => [r.ID, strs(r.keys)]),
    [
      [1n, ['j']],
      [2n, ['k']],
    ],
  );
  lessor.detach(1n, [b('k')]); // not attached to 1: must not disturb lease 2
  assert.equal(lessor.leaseOf(b('k')), 2n);
  lessor.detach(2n, [b('k'), b('never')]);
  assert.equal(lessor.leaseOf(b('k')), 0n);
  assert.throws(() => lessor.attach(1n, ['k' as unknown as Uint8Array]), TypeError);
});

test('attachments are not persisted: the keyspace restores them, and orphans are reported', () => {
  const { lessor, store } = fixture();
  lessor.grant(1n, 10n);
  lessor.attach(1n, [b('k')]);
  assert.equal(store.rows.size, 1);
  const puts = store.puts;
  lessor.attach(1n, [b('k2')]);
  assert.equal(store.puts, puts);

  const reopened = new Lessor(store, { now: () => 0 });
  assert.equal(reopened.leaseOf(b('k')), 0n);
  const orphans = reopened.restoreAttachments([
    [b('k'), 1n],
    [b('k2'), 1n],
    [b('plain'), 0n],
    [b('lost'), 9n],
  ]);
  assert.deepEqual(strs(orphans), ['lost']);
  assert.deepEqual(reopened.records(), lessor.records());
});

test('leases() lists every ID in ascending signed order', () => {
  const { lessor } = fixture();
  for (const id of [100n, -7n, 5n, 2n ** 62n, -(2n ** 63n)]) lessor.grant(id, 10n);
  assert.deepEqual(lessor.leases(), [-(2n ** 63n), -7n, 5n, 100n, 2n ** 62n]);
});

// ---- Expiry, keepalive, leadership --------------------------------------------------------------

test('a follower never expires leases; renew and timeToLive are for the leader only', () => {
  const { lessor, clock } = fixture();
  lessor.grant(1n, 5n);
  clock.advance(1_000_000 * S);
  assert.deepEqual(lessor.expiredLeases(), []);
  assert.equal(lessor.expiryOf(1n), Infinity);
  const notPrimary = (fn: () => unknown): void =>
    throwsLease(fn, 'not-primary', 'lease: this member is not the primary lessor', 'Unavailable');
  notPrimary(() => lessor.renew(1n));
  notPrimary(() => lessor.timeToLive(1n));
});

test('on the leader a lease expires TTL after its grant and is handed out once for revocation', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  const t0 = clock.t;
  lessor.grant(1n, 5n);
  lessor.grant(2n, 7n);
  assert.equal(lessor.expiryOf(1n), t0 + 5 * S);
  clock.t = t0 + 5 * S - 1;
  assert.deepEqual(lessor.expiredLeases(), []);
  clock.t = t0 + 5 * S;
  assert.deepEqual(lessor.expiredLeases(), [1n]);
  assert.deepEqual(lessor.expiredLeases(), []); // handed out: not again right away
  notFound(() => lessor.renew(1n)); // expired, its revocation is on its way
  clock.t = t0 + 8 * S - 1;
  assert.deepEqual(lessor.expiredLeases(), [2n]);
  clock.t = t0 + 8 * S;
  assert.deepEqual(lessor.expiredLeases(), [1n]); // not revoked after the 3 s retry interval: again
  lessor.revoke(1n);
  lessor.revoke(2n);
  clock.advance(60 * S);
  assert.deepEqual(lessor.expiredLeases(), []);
});

test('expiredLeases accepts an explicit time', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  lessor.grant(1n, 5n);
  assert.deepEqual(lessor.expiredLeases(clock.t + 5 * S), [1n]);
});

test('keepalive: renew sets expiry to now + TTL and returns the TTL; unknown leases are NotFound', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  const t0 = clock.t;
  lessor.grant(1n, 10n);
  clock.t = t0 + 8 * S;
  assert.deepEqual(lessor.renew(1n), { TTL: 10n, clearCheckpoint: undefined });
  assert.equal(lessor.expiryOf(1n), t0 + 18 * S);
  clock.t = t0 + 17 * S;
  assert.deepEqual(lessor.expiredLeases(), []);
  clock.t = t0 + 18 * S;
  assert.deepEqual(lessor.expiredLeases(), [1n]);
  notFound(() => lessor.renew(99n));
});

test('timeToLive: remaining whole seconds (truncated, like etcd), granted TTL, keys sorted', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  const t0 = clock.t;
  lessor.grant(1n, 10n);
  lessor.attach(1n, [b('b'), b('a')]);
  assert.deepEqual(lessor.timeToLive(1n), { ID: 1n, TTL: 10n, grantedTTL: 10n, keys: [] });
  clock.t = t0 + 500;
  assert.equal(lessor.timeToLive(1n).TTL, 9n); // etcd shows remaining(9s) right after a 10 s grant
  clock.t = t0 + 1500;
  const r = lessor.timeToLive(1n, true);
  assert.equal(r.TTL, 8n);
  assert.deepEqual(strs(r.keys), ['a', 'b']);
  clock.t = t0 + 10 * S + 400;
  assert.equal(lessor.timeToLive(1n).TTL, 0n); // expired, not yet revoked
  assert.deepEqual(lessor.timeToLive(7n, true), { ID: 7n, TTL: -1n, grantedTTL: 0n, keys: [] });
});

test('promote gives every lease now + extend + TTL, so none expires for lack of a leader', () => {
  const { lessor, clock } = fixture();
  lessor.grant(1n, 5n);
  lessor.grant(2n, 60n);
  clock.advance(3600 * S); // leaderless for an hour, as far as this member knows
  const t = clock.t;
  lessor.promote(1500);
  assert.equal(lessor.expiryOf(1n), t + 1500 + 5 * S);
  assert.equal(lessor.expiryOf(2n), t + 1500 + 60 * S);
  clock.t = t + 6499;
  assert.deepEqual(lessor.expiredLeases(), []);
  clock.t = t + 6500;
  assert.deepEqual(lessor.expiredLeases(), [1n]);
  assert.throws(() => lessor.promote(-1), RangeError);
  assert.throws(() => lessor.promote(NaN), RangeError);
});

test('demote: no expiry, nothing handed out, keepalives refused; promote again restarts leases', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  lessor.grant(1n, 5n);
  lessor.demote();
  assert.equal(lessor.isPrimary, false);
  assert.equal(lessor.expiryOf(1n), Infinity);
  clock.advance(100 * S);
  assert.deepEqual(lessor.expiredLeases(), []);
  assert.deepEqual(lessor.dueCheckpoints(), []);
  throwsLease(
    () => lessor.renew(1n),
    'not-primary',
    'lease: this member is not the primary lessor',
    'Unavailable',
  );
  lessor.promote(0);
  assert.equal(lessor.expiryOf(1n), clock.t + 5 * S);
});

test('revocations are rate limited: at most 500 per 500 ms check, 1000 per second overall', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  for (let i = 1; i <= 1200; i++) lessor.grant(BigInt(i), 10n);
  clock.advance(10 * S);
  const first = lessor.expiredLeases();
  assert.equal(first.length, 500);
  assert.deepEqual(
    first,
    [...first].sort((x, y) => (x < y ? -1 : 1)),
  );
  assert.equal(lessor.expiredLeases().length, 0); // budget spent
  clock.advance(250);
  assert.equal(lessor.expiredLeases().length, 250);
  clock.advance(500);
  assert.equal(lessor.expiredLeases().length, 450); // the rest
  // Not revoked after the retry interval: offered again, still within the cap.
  clock.advance(10 * S);
  assert.equal(lessor.expiredLeases().length, 500);
});

test('a custom revoke rate scales the limit', () => {
  const { lessor, clock } = fixture({ revokeRate: 10 });
  lessor.promote(0);
  for (let i = 1; i <= 20; i++) lessor.grant(BigInt(i), 10n);
  clock.advance(10 * S);
  assert.deepEqual(lessor.expiredLeases(), [1n, 2n, 3n, 4n, 5n]);
  clock.advance(100);
  assert.deepEqual(lessor.expiredLeases(), [6n]);
});

test('promote spreads expiries of many leases so at most 3/4 of the revoke rate fall in a second', () => {
  const { lessor, clock } = fixture();
  const n = 2000;
  for (let i = 1; i <= n; i++) lessor.grant(BigInt(i), 10n);
  const t = clock.t;
  lessor.promote(0);
  const expiries = lessor.leases().map((id) => lessor.expiryOf(id) as number);
  assert.ok(expiries.every((e) => e >= t + 10 * S));
  const last = Math.max(...expiries);
  assert.ok(last > t + 12 * S && last < t + 13 * S, `last expiry ${last - t}`);
  const perSecond = new Map<number, number>();
  for (const e of expiries) {
    const bucket = Math.floor((e - t - 10 * S) / S);
    perSecond.set(bucket, (perSecond.get(bucket) ?? 0) + 1);
  }
  for (const count of perSecond.values()) assert.ok(count <= 751, `${count} leases expire in one second`);
});

test('promote does not spread fewer leases than the revoke rate', () => {
  const { lessor, clock } = fixture();
  for (let i = 1; i <= 999; i++) lessor.grant(BigInt(i), 10n);
  lessor.promote(0);
  for (const id of lessor.leases()) assert.equal(lessor.expiryOf(id), clock.t + 10 * S);
});

// ---- Checkpoints --------------------------------------------------------------------------------

const MIN5 = 5 * 60 * S;

test('a long lease is checkpointed every interval on the leader; short leases never', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  const t0 = clock.t;
  lessor.grant(1n, 3600n);
  lessor.grant(2n, 300n); // not longer than the interval
  clock.t = t0 + MIN5 - 1;
  assert.deepEqual(lessor.dueCheckpoints(), []);
  clock.t = t0 + MIN5;
  assert.deepEqual(lessor.dueCheckpoints(), [{ checkpoints: [{ ID: 1n, remainingTTL: 3300n }] }]);
  assert.deepEqual(lessor.dueCheckpoints(), []);
  lessor.checkpoint(1n, 3300n); // applied
  clock.t = t0 + 2 * MIN5 + 400; // remaining 2999.6 s rounds up
  assert.deepEqual(lessor.dueCheckpoints(), [{ checkpoints: [{ ID: 1n, remainingTTL: 3000n }] }]);
});

test('a checkpoint is persisted and survives a leader change: the new leader uses the remaining TTL', () => {
  const { lessor, clock, store } = fixture();
  lessor.grant(1n, 3600n);
  lessor.grant(2n, 3600n);
  lessor.checkpoint(1n, 1200n); // applied on a follower
  assert.deepEqual(LeasePb.decode(store.rows.get(str(leaseKey(1n))) as Uint8Array), {
    ID: 1n,
    TTL: 3600n,
    RemainingTTL: 1200n,
  });
  lessor.promote(2000);
  assert.equal(lessor.expiryOf(1n), clock.t + 2000 + 1200 * S);
  assert.equal(lessor.expiryOf(2n), clock.t + 2000 + 3600 * S);
  assert.equal(lessor.timeToLive(1n).grantedTTL, 3600n);
  assert.equal(lessor.timeToLive(1n).TTL, 1202n);

  // And across a restart: the remaining TTL comes back from the bucket.
  const reopened = new Lessor(store, { now: clock.now });
  assert.deepEqual(reopened.lookup(1n), { ID: 1n, TTL: 3600n, remainingTTL: 1200n });
  reopened.promote(0);
  assert.equal(reopened.expiryOf(1n), clock.t + 1200 * S);
});

test('renew of a checkpointed lease asks to clear the checkpoint and runs the full TTL', () => {
  const { lessor, clock } = fixture();
  lessor.grant(1n, 3600n);
  lessor.checkpoint(1n, 1200n);
  lessor.promote(0);
  const r = lessor.renew(1n);
  assert.deepEqual(r, { TTL: 3600n, clearCheckpoint: { checkpoints: [{ ID: 1n, remainingTTL: 0n }] } });
  assert.equal(lessor.expiryOf(1n), clock.t + 3600 * S);
  lessor.applyCheckpoints(r.clearCheckpoint ?? { checkpoints: [] }); // through raft
  assert.equal(lessor.lookup(1n)?.remainingTTL, 0n);
  assert.equal(lessor.renew(1n).clearCheckpoint, undefined);
  lessor.demote();
  lessor.promote(0);
  assert.equal(lessor.expiryOf(1n), clock.t + 3600 * S);
});

test('checkpointing off: none proposed, renew asks no clearing; applied checkpoints still count', () => {
  const { lessor, clock } = fixture({ checkpointing: false });
  lessor.grant(1n, 3600n);
  lessor.checkpoint(1n, 100n);
  lessor.promote(0);
  assert.equal(lessor.expiryOf(1n), clock.t + 100 * S);
  assert.equal(lessor.renew(1n).clearCheckpoint, undefined);
  clock.advance(2 * MIN5);
  assert.deepEqual(lessor.dueCheckpoints(), []);
});

test('checkpoints come in batches of at most 1000', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  for (let i = 1; i <= 2500; i++) lessor.grant(BigInt(i), 3600n);
  clock.advance(MIN5);
  const batches = lessor.dueCheckpoints();
  assert.deepEqual(
    batches.map((x) => x.checkpoints.length),
    [1000, 1000, 500],
  );
  const ids = batches.flatMap((x) => x.checkpoints.map((c) => c.ID));
  assert.equal(new Set(ids).size, 2500);
  assert.ok(batches.every((x) => x.checkpoints.every((c) => c.remainingTTL === 3300n)));
  const { lessor: small, clock: c2 } = fixture({ maxCheckpointBatchSize: 2 });
  small.promote(0);
  for (let i = 1; i <= 3; i++) small.grant(BigInt(i), 3600n);
  c2.advance(MIN5);
  assert.deepEqual(
    small.dueCheckpoints().map((x) => x.checkpoints.length),
    [2, 1],
  );
});

test('a lease renewed just before its checkpoint is skipped but stays scheduled', () => {
  const { lessor, clock } = fixture();
  lessor.promote(0);
  const t0 = clock.t;
  lessor.grant(1n, 3600n);
  clock.t = t0 + MIN5;
  lessor.renew(1n);
  assert.deepEqual(lessor.dueCheckpoints(), []);
  clock.t = t0 + 2 * MIN5;
  assert.deepEqual(lessor.dueCheckpoints(), [{ checkpoints: [{ ID: 1n, remainingTTL: 3300n }] }]);
});

test('a checkpoint for an unknown lease is ignored; revoked and expired leases are not checkpointed', () => {
  const { lessor, clock, store } = fixture();
  lessor.checkpoint(9n, 100n);
  assert.equal(store.rows.size, 0);
  lessor.promote(0);
  lessor.grant(1n, 3600n);
  lessor.grant(2n, 400n);
  lessor.revoke(1n);
  clock.advance(MIN5);
  assert.deepEqual(lessor.dueCheckpoints(), [{ checkpoints: [{ ID: 2n, remainingTTL: 100n }] }]);
  clock.advance(MIN5);
  assert.deepEqual(lessor.dueCheckpoints(), []); // lease 2 has expired
});

// ---- Recovery -----------------------------------------------------------------------------------

test('recover reloads from a replaced store and a primary restarts the reloaded leases', () => {
  const { lessor, clock } = fixture();
  lessor.grant(1n, 10n);
  lessor.attach(1n, [b('k')]);
  const other = new MemoryLeaseStore();
  const donor = new Lessor(other, { now: clock.now });
  donor.grant(5n, 20n);
  donor.checkpoint(5n, 7n);
  lessor.promote(0);
  lessor.recover(other);
  assert.deepEqual(lessor.leases(), [5n]);
  assert.equal(lessor.leaseOf(b('k')), 0n);
  assert.deepEqual(lessor.lookup(5n), { ID: 5n, TTL: 20n, remainingTTL: 7n });
  assert.equal(lessor.expiryOf(5n), clock.t + 7 * S);
});

test('a damaged lease bucket row refuses to load', () => {
  const store = new MemoryLeaseStore();
  store.put('lease', leaseKey(1n), LeasePb.encode({ ID: 2n, TTL: 10n, RemainingTTL: 0n }).finish());
  assert.throws(() => new Lessor(store, { now: () => 0 }), /row for 1 holds lease 2/);
  const bad = new MemoryLeaseStore();
  bad.put('lease', b('short'), new Uint8Array());
  assert.throws(() => new Lessor(bad, { now: () => 0 }), RangeError);
});
