import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Lease as LeasePb } from '../../../src/proto/leasepb/lease.js';
import { Lessor, leaseKey, type LeaseStore } from '../../../src/lease/index.js';
import { Backend } from '../../../src/storage/backend/index.js';
import { FakeClock, RecordingKeyspace, b } from './helpers.js';

// The backend's batch transaction is the lessor's store, unchanged.
const _typeCheck = (be: Backend): LeaseStore => be.batchTx;
void _typeCheck;

function tempDb(t: { after: (fn: () => Promise<void>) => void }): { path: string; opened: Backend[] } {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-lease-'));
  const opened: Backend[] = [];
  t.after(async () => {
    for (const be of opened) await be.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  return { path: join(dir, 'member', 'snap', 'db'), opened };
}

test('leases survive a restart over a real backend: IDs, TTLs and remaining TTLs', async (t) => {
  const { path, opened } = tempDb(t);
  const clock = new FakeClock(0);
  const be = Backend.open(path, { onCommitError: () => {} });
  opened.push(be);
  const keyspace = new RecordingKeyspace();
  const lessor = new Lessor(be.batchTx, { now: clock.now }, keyspace);
  lessor.grant(1n, 60n);
  lessor.grant(-2n, 1n); // raised to the minimum, persisted raised
  lessor.grant(0x7fff_ffff_ffff_ffffn, 9_000_000_000n);
  lessor.grant(4n, 3600n);
  lessor.grant(5n, 30n);
  lessor.checkpoint(4n, 1234n);
  lessor.attach(5n, [b('k')]);
  lessor.revoke(5n);
  be.batchTx.setConsistentIndex(7, 2); // as the server does after applying an entry
  await be.batchTx.commit();
  await be.close();

  const raw = Backend.open(path, { onCommitError: () => {} });
  opened.push(raw);
  const row = raw.get('lease', leaseKey(4n));
  assert.ok(row !== undefined);
  assert.deepEqual(LeasePb.decode(row), { ID: 4n, TTL: 3600n, RemainingTTL: 1234n });
  assert.equal(raw.get('lease', leaseKey(5n)), undefined);

  const reopened = new Lessor(raw.batchTx, { now: clock.now });
  assert.deepEqual(reopened.leases(), lessor.leases());
  assert.deepEqual(reopened.records(), lessor.records());
  assert.deepEqual(
    reopened.leases().map((id) => reopened.lookup(id)),
    [
      { ID: -2n, TTL: 2n, remainingTTL: 0n },
      { ID: 1n, TTL: 60n, remainingTTL: 0n },
      { ID: 4n, TTL: 3600n, remainingTTL: 1234n },
      { ID: 0x7fff_ffff_ffff_ffffn, TTL: 9_000_000_000n, remainingTTL: 0n },
    ],
  );
  assert.deepEqual(keyspace.calls, [['k']]);
  // The restored leader runs the checkpointed remainder.
  reopened.promote(0);
  assert.equal(reopened.expiryOf(4n), 1234 * 1000);
});

test('buffered lease writes are visible before their commit and durable after it', async (t) => {
  const { path, opened } = tempDb(t);
  const be = Backend.open(path, { onCommitError: () => {}, batchInterval: 60_000 });
  opened.push(be);
  const lessor = new Lessor(be.batchTx, { now: () => 0 });
  lessor.grant(1n, 10n);
  await be.batchTx.commit();
  lessor.grant(2n, 10n);
  // Buffered writes are visible to a lessor reading the same backend before any commit.
  assert.deepEqual(new Lessor(be.batchTx, { now: () => 0 }).leases(), [1n, 2n]);
  await be.close(); // close commits: both are durable
  const again = Backend.open(path, { onCommitError: () => {} });
  opened.push(again);
  assert.deepEqual(new Lessor(again.batchTx, { now: () => 0 }).leases(), [1n, 2n]);
});
