// The client library against a real etcd: round trips, exact 64-bit values, error mapping, deadlines,
// endpoint failover and watch streams.

import { status } from '@grpc/grpc-js';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, cmp, EtcdError, op, prefixEnd } from '../../../src/client/index.js';
import { startRealEtcd } from '../../support/real-etcd.js';

const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array(0)).toString('utf8');

test('prefixEnd follows etcd: increment the last byte below 0xff, all-0xff means from-key', () => {
  assert.deepEqual(prefixEnd(Uint8Array.of(0x61, 0x62, 0x63)), Uint8Array.of(0x61, 0x62, 0x64));
  assert.deepEqual(prefixEnd(Uint8Array.of(0x61, 0xff, 0xff)), Uint8Array.of(0x62));
  assert.deepEqual(prefixEnd(Uint8Array.of(0xff)), Uint8Array.of(0));
  assert.deepEqual(prefixEnd(new Uint8Array(0)), Uint8Array.of(0));
});

test('EtcdError keeps the code and the exact text; unknown texts render as gRPC status text', () => {
  const known = new EtcdError(status.NOT_FOUND, 'etcdserver: requested lease not found');
  assert.equal(known.known, true);
  assert.equal(known.message, 'etcdserver: requested lease not found');
  assert.equal(known.grpcText, 'rpc error: code = NotFound desc = etcdserver: requested lease not found');
  const other = new EtcdError(status.UNAVAILABLE, 'connection refused');
  assert.equal(other.known, false);
  assert.equal(other.message, 'rpc error: code = Unavailable desc = connection refused');
  assert.equal(other.codeName, 'Unavailable');
});

test('client against real etcd', async (t) => {
  const etcd = await startRealEtcd(t);
  const client = Client.connect({ endpoints: [etcd.clientUrl], defaultTimeoutMs: 5000 });
  t.after(() => client.close());

  await t.test('kv round trip with bigint revisions', async () => {
    const put = await client.kv.put('a/1', 'one');
    assert.equal(typeof put.header?.revision, 'bigint');
    await client.kv.put('a/2', 'two');
    const prev = await client.kv.put('a/1', 'uno', { prevKv: true });
    assert.equal(text(prev.prevKv?.value), 'one');
    const range = await client.kv.range('a/', { prefix: true });
    assert.equal(range.count, 2n);
    assert.deepEqual(
      range.kvs.map((kv) => text(kv.value)),
      ['uno', 'two'],
    );
    assert.equal((await client.kv.get('a/1'))?.version, 2n);
    const del = await client.kv.delete('a/2', { prevKv: true });
    assert.equal(del.deleted, 1n);
    assert.equal(text(del.prevKvs[0]?.key), 'a/2');
  });

  await t.test('txn with compare and ops', async () => {
    const r = await client.kv.txn({
      compare: [cmp.value('a/1', '=', 'uno'), cmp.version('a/1', '>', 0n)],
      success: [op.put('t', 'yes'), op.range('a/1')],
      failure: [op.put('t', 'no')],
    });
    assert.equal(r.succeeded, true);
    const ranged = r.responses[1]?.response;
    assert.equal(ranged?.$case, 'responseRange');
    assert.equal(text((await client.kv.get('t'))?.value), 'yes');
  });

  await t.test('64-bit lease IDs stay exact', async () => {
    const grant = await client.lease.grant(60n);
    assert.equal(typeof grant.ID, 'bigint');
    assert.ok(grant.ID > 2n ** 53n, 'etcd lease IDs exceed 2^53 (member ID bits on top)');
    const leases = await client.lease.leases();
    assert.ok(leases.leases.some((l) => l.ID === grant.ID));
    const ttl = await client.lease.timeToLive(grant.ID, { keys: true });
    assert.equal(ttl.grantedTTL, 60n);
    const ka = await client.lease.keepAliveOnce(grant.ID);
    assert.equal(ka.ID, grant.ID);
    await client.lease.revoke(grant.ID);
  });

  await t.test('server errors carry code and exact message', async () => {
    await assert.rejects(client.lease.revoke(0x1234n), (e: unknown) => {
      assert.ok(e instanceof EtcdError);
      assert.equal(e.code, status.NOT_FOUND);
      assert.equal(e.details, 'etcdserver: requested lease not found');
      assert.equal(e.known, true);
      return true;
    });
    await assert.rejects(
      client.kv.range('a', { revision: 1000n }),
      /etcdserver: mvcc: required revision is a future revision/,
    );
    await assert.rejects(
      client.kv.put('', 'v'),
      (e: unknown) => e instanceof EtcdError && e.code === status.INVALID_ARGUMENT,
    );
    await assert.rejects(client.lease.keepAliveOnce(0x1234n), /etcdserver: requested lease not found/);
    await assert.rejects(
      client.cluster.add(['not a url']),
      /URL scheme must be http, https, unix, or unixs: not a url/,
    );
  });

  await t.test('member list and status', async () => {
    const members = await client.cluster.list();
    assert.equal(members.members.length, 1);
    const st = await client.maintenance.status({ endpoint: etcd.clientUrl });
    assert.equal(st.leader, members.members[0]?.ID);
    assert.equal(st.header?.memberId, st.leader);
  });

  await t.test('watch stream: created, events in order, cancel', async () => {
    const start = (await client.kv.put('w', '0')).header?.revision ?? 0n;
    const stream = await client.watch.watch('w', { startRevision: start, prevKv: true });
    const seen: string[] = [];
    let id = -1n;
    for await (const r of stream) {
      if (r.created) {
        id = r.watchId;
        await client.kv.put('w', '1');
        await client.kv.delete('w');
        continue;
      }
      for (const e of r.events) seen.push(`${e.type}:${text(e.kv?.value)}:${text(e.prevKv?.value)}`);
      if (seen.length === 3) stream.cancel(id);
      if (r.canceled) break;
    }
    stream.close();
    assert.deepEqual(seen, ['0:0:', '0:1:0', '1::1']);
  });

  await t.test('watch from a compacted revision is canceled with compact_revision', async () => {
    const rev = (await client.kv.put('c', 'x')).header?.revision ?? 0n;
    await client.kv.compact(rev);
    const stream = await client.watch.watch('c', { startRevision: 1n });
    let compactRevision = 0n;
    for await (const r of stream) {
      if (r.canceled) {
        compactRevision = r.compactRevision;
        break;
      }
    }
    stream.close();
    assert.equal(compactRevision, rev);
  });

  await t.test('reads fail over to the next endpoint; a dead endpoint alone hits the deadline', async () => {
    const both = Client.connect({ endpoints: ['127.0.0.1:1', etcd.clientUrl], dialTimeoutMs: 500 });
    try {
      assert.equal(text((await both.kv.get('t', {}, { timeoutMs: 5000 }))?.value), 'yes');
    } finally {
      both.close();
    }
    const dead = Client.connect({ endpoints: ['127.0.0.1:1'], dialTimeoutMs: 100 });
    try {
      await assert.rejects(dead.kv.get('t', {}, { timeoutMs: 300 }), (e: unknown) => {
        assert.ok(e instanceof EtcdError);
        assert.equal(e.code, status.DEADLINE_EXCEEDED);
        assert.equal(e.message, 'context deadline exceeded');
        return true;
      });
    } finally {
      dead.close();
    }
  });
});
