// Keys and leases together: puts attach, revocation deletes every attached key in one revision,
// and a restart re-attaches keys from the keyspace's history.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Lessor } from '../../../src/lease/index.js';
import { KvApplier } from '../../../src/mvcc/kv-apply.js';
import { PutRequest } from '../../../src/proto/etcdserverpb/rpc.js';
import { bytes, keyspaceFixture, text, type KeyspaceFixture } from './helpers.js';

function keysOf(lessor: Lessor, id: bigint): string[] {
  return (lessor.records().find((r) => r.ID === id)?.keys ?? []).map(text);
}

function openWithLeases(fx: KeyspaceFixture): { lessor: Lessor; applier: KvApplier } {
  // The lessor reads the lease bucket; the keyspace then re-attaches keys while rebuilding its index.
  let lessor: Lessor | undefined;
  const { store } = fx.open((backend) => {
    lessor = new Lessor(backend.batchTx, { now: () => 0 });
    return { leases: lessor };
  });
  lessor!.setKeyspace({ deleteKeys: (keys) => void store.deleteKeys(keys) });
  return { lessor: lessor!, applier: new KvApplier(store, (id) => lessor!.has(id)) };
}

test('revoking a lease deletes its keys in one revision; a restart re-attaches them', async (t) => {
  const fx = keyspaceFixture(t);
  let { lessor, applier } = openWithLeases(fx);
  lessor.grant(0x10n, 60n);
  const put = (k: string, lease: bigint): void => {
    applier.put(PutRequest.fromPartial({ key: bytes(k), value: bytes('v'), lease }));
  };
  put('a', 0x10n);
  put('b', 0x10n);
  put('c', 0n);
  put('b', 0n); // moves b off the lease
  assert.deepEqual(keysOf(lessor, 0x10n), ['a']);
  assert.throws(
    () => put('d', 0x99n),
    (e: unknown) => e instanceof Error && e.message === 'etcdserver: requested lease not found',
  );
  put('d', 0x10n);

  await fx.close();
  ({ lessor, applier } = openWithLeases(fx));
  assert.deepEqual(keysOf(lessor, 0x10n), ['a', 'd']);

  const before = applier.store.revision;
  const events: string[] = [];
  applier.store.onWrite((w) =>
    events.push(...w.changes.map((c) => `${c.type} ${text(c.kv.key)}@${c.kv.modRevision}`)),
  );
  lessor.revoke(0x10n);
  assert.equal(applier.store.revision, before + 1);
  assert.deepEqual(events, [`delete a@${before + 1}`, `delete d@${before + 1}`]);
  assert.deepEqual(
    applier.store.range({ start: '\0', end: '' }).kvs.map((kv) => text(kv.key)),
    ['b', 'c'],
  );
});
