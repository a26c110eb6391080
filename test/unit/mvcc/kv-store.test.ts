// The revisioned keyspace: etcd's revision rules, history, compaction, hashes and restart.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { KeyspaceError } from '../../../src/mvcc/errors.js';
import type { KeyRange } from '../../../src/mvcc/tree-index.js';
import { bytes, keyspaceFixture, text } from './helpers.js';

const one = (k: string): KeyRange => ({ start: k, end: undefined });
const span = (start: string, end: string): KeyRange => ({ start, end });
const ALL: KeyRange = { start: '\0', end: '' };

function expectError(f: () => unknown, message: string): void {
  assert.throws(f, (e: unknown) => e instanceof KeyspaceError && e.message === message);
}
const COMPACTED = 'etcdserver: mvcc: required revision has been compacted';
const FUTURE = 'etcdserver: mvcc: required revision is a future revision';

describe('revisions', () => {
  test('a fresh keyspace is at revision 1 and each write takes the next one', (t) => {
    const { store } = keyspaceFixture(t).open();
    assert.equal(store.revision, 1);
    const w = store.write();
    assert.equal(w.put(bytes('a'), bytes('1'), 0n), 2);
    assert.deepEqual(w.end().rev, 2);
    assert.equal(store.revision, 2);

    // A delete of nothing and a write with no change leave the revision alone.
    const d = store.write();
    assert.deepEqual(d.deleteRange(one('zzz')), { deleted: 0, rev: 2 });
    assert.equal(d.end().changes.length, 0);
    store.write().end();
    assert.equal(store.revision, 2);
  });

  test('one write with several changes shares a main revision, with sub revisions in order', (t) => {
    const { store, backend } = keyspaceFixture(t).open();
    const w = store.write();
    w.put(bytes('a'), bytes('1'), 0n);
    w.put(bytes('b'), bytes('2'), 0n);
    assert.equal(w.range(one('a')).kvs.length, 1, 'a write reads its own changes');
    assert.deepEqual(w.deleteRange(one('a')), { deleted: 1, rev: 2 });
    const result = w.end();
    assert.equal(result.rev, 2);
    assert.deepEqual(
      result.changes.map((c) => [c.type, text(c.kv.key), c.kv.modRevision]),
      [
        ['put', 'a', 2n],
        ['put', 'b', 2n],
        ['delete', 'a', 2n],
      ],
    );
    // Stored under 2_0, 2_1 and the tombstone 2_2t.
    const stored = backend.range('key', new Uint8Array(0)).map((kv) => Buffer.from(kv.key).toString('hex'));
    assert.deepEqual(stored, [
      '0000000000000002' + '5f' + '0000000000000000',
      '0000000000000002' + '5f' + '0000000000000001',
      '0000000000000002' + '5f' + '0000000000000002' + '74',
    ]);
  });

  test('create revision, mod revision and version follow generations', (t) => {
    const { store } = keyspaceFixture(t).open();
    const put = (k: string, v: string): number => {
      const w = store.write();
      const rev = w.put(bytes(k), bytes(v), 0n);
      w.end();
      return rev;
    };
    const del = (k: string): void => {
      const w = store.write();
      w.deleteRange(one(k));
      w.end();
    };
    put('k', 'v1'); // 2
    put('k', 'v2'); // 3
    del('k'); // 4
    put('k', 'v3'); // 5
    const now = store.range(one('k')).kvs[0];
    assert.deepEqual([now.createRevision, now.modRevision, now.version, text(now.value)], [5n, 5n, 1n, 'v3']);
    const at3 = store.range(one('k'), { rev: 3 }).kvs[0];
    assert.deepEqual([at3.createRevision, at3.modRevision, at3.version, text(at3.value)], [2n, 3n, 2n, 'v2']);
    assert.equal(store.range(one('k'), { rev: 4 }).kvs.length, 0, 'deleted at 4');
    assert.equal(store.range(one('k'), { rev: 1 }).kvs.length, 0, 'not yet created at 1');
  });
});

describe('ranges', () => {
  test('single key, half-open range, from-key, limit and count', (t) => {
    const { store } = keyspaceFixture(t).open();
    const w = store.write();
    for (const k of ['a', 'b', 'c', 'd']) w.put(bytes(k), bytes(k.toUpperCase()), 0n);
    w.end();
    const keys = (r: { kvs: { key: Uint8Array }[] }): string[] => r.kvs.map((kv) => text(kv.key));
    assert.deepEqual(keys(store.range(one('b'))), ['b']);
    assert.deepEqual(keys(store.range(span('b', 'd'))), ['b', 'c']);
    assert.deepEqual(keys(store.range({ start: 'b', end: '' })), ['b', 'c', 'd']);
    const limited = store.range(ALL, { limit: 2 });
    assert.deepEqual([keys(limited), limited.count], [['a', 'b'], 4]);
    const counted = store.range(ALL, { countOnly: true });
    assert.deepEqual([counted.kvs.length, counted.count, counted.rev], [0, 4, 2]);
    assert.deepEqual(keys(store.range(span('d', 'b'))), [], 'an inverted range is empty');
  });

  test('reads beyond the current revision or below the compaction fail with etcd errors', async (t) => {
    const { store } = keyspaceFixture(t).open();
    for (let i = 0; i < 4; i++) {
      const w = store.write();
      w.put(bytes('k'), bytes(String(i)), 0n);
      w.end();
    }
    expectError(() => store.range(one('k'), { rev: 6 }), FUTURE);
    await store.compact(3).done;
    expectError(() => store.range(one('k'), { rev: 2 }), COMPACTED);
    assert.equal(
      text(store.range(one('k'), { rev: 3 }).kvs[0].value),
      '1',
      'the compact revision stays readable',
    );
    expectError(() => store.compact(3), COMPACTED);
    expectError(() => store.compact(2), COMPACTED);
    expectError(() => store.compact(9), FUTURE);
  });
});

describe('compaction', () => {
  test('removes superseded revisions and finished generations from the backend, keeps the rest', async (t) => {
    const { store, backend } = keyspaceFixture(t).open();
    const write = (f: (w: ReturnType<typeof store.write>) => void): void => {
      const w = store.write();
      f(w);
      w.end();
    };
    write((w) => w.put(bytes('a'), bytes('1'), 0n)); // 2
    write((w) => w.put(bytes('a'), bytes('2'), 0n)); // 3
    write((w) => w.put(bytes('b'), bytes('1'), 0n)); // 4
    write((w) => w.deleteRange(one('b'))); // 5
    write((w) => w.put(bytes('c'), bytes('1'), 0n)); // 6
    await store.compact(5).done;
    const revs = backend.range('key', new Uint8Array(0)).map((kv) => {
      const h = Buffer.from(kv.key);
      return `${h.readBigUInt64BE(0)}${kv.key.byteLength === 18 ? 't' : ''}`;
    });
    // a@3 is the newest of a at 5; b ended at 5 so its generation and tombstone go; c@6 is after 5.
    assert.deepEqual(revs, ['3', '6']);
    assert.equal(store.range(ALL).count, 2);
    assert.equal(store.indexedKeys, 2, 'b left the index');
  });

  test('physical removal runs in bounded batches and writes continue meanwhile', async (t) => {
    const { store, backend } = keyspaceFixture(t).open({ compactionBatchLimit: 7, compactionPauseMs: 1 });
    for (let i = 0; i < 100; i++) {
      const w = store.write();
      w.put(bytes(`k${i % 10}`), bytes(String(i)), 0n);
      w.end();
    }
    const { done } = store.compact(101);
    // Writes made while the removal runs are not disturbed by it.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1));
      const w = store.write();
      w.put(bytes(`new${i}`), bytes('x'), 0n);
      w.end();
    }
    await done;
    assert.equal(backend.range('key', new Uint8Array(0)).length, 15);
    assert.equal(store.range(ALL).count, 15);
  });

  test('a compaction interrupted by a crash resumes when the keyspace opens again', async (t) => {
    const fx = keyspaceFixture(t);
    const { store } = fx.open({ compactionBatchLimit: 1 });
    for (let i = 0; i < 20; i++) {
      const w = store.write();
      w.put(bytes('k'), bytes(String(i)), 0n);
      w.end();
    }
    store.compact(15);
    // Stop right after the logical part: the scheduled revision is in the backend batch, no
    // revision has been removed yet (closing stops the removal before its first batch).
    await fx.close();
    const reopened = fx.open();
    assert.equal(reopened.store.compactRevision, 15);
    expectError(() => reopened.store.range(one('k'), { rev: 14 }), COMPACTED);
    // The resumed removal finishes: only revisions 15..21 of k remain (15 is the newest at 15).
    await waitFor(() => reopened.backend.range('key', new Uint8Array(0)).length === 7);
    assert.equal(text(reopened.store.range(one('k'), { rev: 15 }).kvs[0].value), '13');
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.fail('condition not reached');
}

describe('hashes', () => {
  /** The same history on two keyspaces; compaction at 6 is physical on the first only. */
  async function twoKeyspaces(t: Parameters<typeof keyspaceFixture>[0]) {
    const stores = [keyspaceFixture(t, 'one').open().store, keyspaceFixture(t, 'two').open().store];
    const dones: Promise<void>[] = [];
    for (const store of stores) {
      for (let i = 0; i < 12; i++) {
        const w = store.write();
        if (i % 4 === 3) w.deleteRange(one(`k${i % 3}`));
        else w.put(bytes(`k${i % 3}`), bytes(String(i)), 0n);
        w.end();
      }
      dones.push(store.compact(6).done);
    }
    await dones[0];
    return stores;
  }

  test('HashKV agrees between a physically compacted member and one that has not compacted yet', async (t) => {
    const [done, notYet] = await twoKeyspaces(t);
    for (const rev of [0, 7, 9, done.revision]) {
      assert.deepEqual(done.hashByRev(rev), notYet.hashByRev(rev), `at ${rev}`);
    }
    assert.notEqual(done.hashByRev(8).hash, done.hashByRev(9).hash);
    const h = done.hashByRev(0);
    assert.deepEqual([h.revision, h.hashRevision, h.compactRevision], [done.revision, done.revision, 6]);
    expectError(() => done.hashByRev(6), COMPACTED);
    expectError(() => done.hashByRev(done.revision + 1), FUTURE);
  });

  test('HashKV of an empty keyspace is the CRC-32C of the bucket name, and survives a restart', async (t) => {
    const fx = keyspaceFixture(t);
    let { store } = fx.open();
    // crc32c("key")
    assert.equal(store.hashByRev(0).hash, 0x40a4756d);
    for (let i = 0; i < 5; i++) {
      const w = store.write();
      w.put(bytes(`k${i}`), bytes('v'), 0n);
      w.end();
    }
    const before = store.hashByRev(0);
    const all = store.hashAll();
    await fx.close();
    ({ store } = fx.open());
    assert.deepEqual(store.hashByRev(0), before);
    assert.equal(store.hashAll(), all);
  });
});
