// Watch: live events, catching up from history, compaction, filters, previous values, progress,
// fragments, slow consumers, and a property test of whole streams against the write history.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import type { KeyspaceStore } from '../../../src/mvcc/kv-store.js';
import type { KeyRange } from '../../../src/mvcc/tree-index.js';
import { WatchableStore } from '../../../src/mvcc/watchable-store.js';
import {
  FILTER_NOPUT,
  NO_WATCH_ID,
  WatchStream,
  type StreamResponse,
  type WatchCreate,
} from '../../../src/mvcc/watch-stream.js';
import { Event_EventType } from '../../../src/proto/mvccpb/kv.js';
import { bytes, keyspaceFixture, text } from './helpers.js';

function create(key: string, fields: Partial<WatchCreate> = {}): WatchCreate {
  return {
    watchId: 0n,
    key: bytes(key),
    rangeEnd: new Uint8Array(0),
    startRevision: 0n,
    filters: [],
    prevKv: false,
    progressNotify: false,
    fragment: false,
    ...fields,
  };
}

function put(store: KeyspaceStore, ...kvs: [string, string][]): number {
  const w = store.write();
  for (const [k, v] of kvs) w.put(bytes(k), bytes(v), 0n);
  return w.end().rev;
}

function del(store: KeyspaceStore, range: KeyRange): number {
  const w = store.write();
  w.deleteRange(range);
  return w.end().rev;
}

/** Events as "PUT k=v@rev" / "DELETE k@rev" for readable comparisons. */
function describeEvents(r: StreamResponse): string[] {
  return r.events.map((e) =>
    e.type === Event_EventType.PUT
      ? `PUT ${text(e.kv!.key)}=${text(e.kv!.value)}@${e.kv!.modRevision}`
      : `DELETE ${text(e.kv!.key)}@${e.kv!.modRevision}`,
  );
}

function setup(t: Parameters<typeof keyspaceFixture>[0], syncBatchLimit = 1000) {
  const { store, backend } = keyspaceFixture(t).open();
  const ws = new WatchableStore(store, backend, { autoSync: false, syncBatchLimit });
  t.after(async () => ws.close());
  return { store, ws };
}

describe('watch', () => {
  test('a watcher from now gets created first, then each write of its key as it happens', (t) => {
    const { store, ws } = setup(t);
    put(store, ['a', '0']);
    const stream = new WatchStream(ws);
    assert.equal(stream.watch(create('a')), 0n);
    assert.equal(stream.watch(create('b', { rangeEnd: bytes('c') })), 1n);
    put(store, ['a', '1'], ['b', '1'], ['bz', '1'], ['c', '1']);
    del(store, { start: 'a', end: '' });
    const rs = stream.take();
    assert.deepEqual(
      rs.map((r) => [r.watchId, r.created, r.revision]),
      [
        [0n, true, 2],
        [1n, true, 2],
        [0n, false, 3],
        [1n, false, 3],
        [0n, false, 4],
        [1n, false, 4],
      ],
    );
    assert.deepEqual(describeEvents(rs[2]), ['PUT a=1@3']);
    assert.deepEqual(describeEvents(rs[3]), ['PUT b=1@3', 'PUT bz=1@3']);
    assert.deepEqual(describeEvents(rs[5]), ['DELETE b@4', 'DELETE bz@4']);
    // A delete event's kv holds only the key and the revision of the delete.
    const d = rs[4].events[0].kv!;
    assert.deepEqual([d.createRevision, d.version, d.value.byteLength], [0n, 0n, 0]);
  });

  test('a watcher from the past replays history in whole revisions, then follows live writes', (t) => {
    const { store, ws } = setup(t, 3);
    for (let i = 0; i < 5; i++) put(store, ['k', `${i}`], ['other', `${i}`], ['k2', `${i}`]);
    const stream = new WatchStream(ws);
    stream.watch(create('k', { rangeEnd: bytes('l'), startRevision: 3n }));
    assert.equal(ws.laggingCount, 1);
    let rounds = 0;
    while (ws.syncNow() > 0) rounds++;
    assert.ok(rounds >= 2, 'a small batch limit takes several rounds');
    put(store, ['k', 'live']);
    const events = stream.take().flatMap((r) => describeEvents(r));
    assert.deepEqual(events, [
      'PUT k=1@3',
      'PUT k2=1@3',
      'PUT k=2@4',
      'PUT k2=2@4',
      'PUT k=3@5',
      'PUT k2=3@5',
      'PUT k=4@6',
      'PUT k2=4@6',
      'PUT k=live@7',
    ]);
  });

  test('a watcher from a compacted revision is canceled with the compact revision', async (t) => {
    const { store, ws } = setup(t);
    for (let i = 0; i < 5; i++) put(store, ['k', `${i}`]);
    await store.compact(4).done;
    const stream = new WatchStream(ws);
    stream.watch(create('k', { startRevision: 2n }));
    ws.syncNow();
    const rs = stream.take();
    assert.deepEqual(
      rs.map((r) => [r.created, r.canceled, r.compactRevision, r.revision]),
      [
        [true, false, 0, 6],
        [false, true, 4, 0],
      ],
    );
    assert.equal(ws.watcherCount, 0);
  });

  test('restore onto a keyspace that is further ahead: watchers continue without gaps or repeats', (t) => {
    const follower = keyspaceFixture(t).open();
    const leader = keyspaceFixture(t).open();
    const ws = new WatchableStore(follower.store, follower.backend, { autoSync: false });
    t.after(() => ws.close());
    const stream = new WatchStream(ws);
    stream.watch(create('k'));
    stream.watch(create('j', { rangeEnd: bytes('l') }));
    // The follower applied a prefix of the leader's history; the leader went on without it.
    for (const s of [follower.store, leader.store]) for (let i = 0; i < 2; i++) put(s, ['k', `${i}`]);
    for (let i = 2; i < 4; i++) put(leader.store, ['k', `${i}`]);
    put(leader.store, ['j', 'x']);
    const before = stream
      .take()
      .filter((r) => !r.created)
      .map((r) => [r.watchId, ...describeEvents(r)]);
    assert.deepEqual(before, [
      [0n, 'PUT k=0@2'],
      [1n, 'PUT k=0@2'],
      [0n, 'PUT k=1@3'],
      [1n, 'PUT k=1@3'],
    ]);

    ws.restore(leader.store, leader.backend);
    assert.equal(ws.laggingCount, 2);
    ws.syncNow();
    put(leader.store, ['k', 'live']);
    const after = stream.take().map((r) => [r.watchId, ...describeEvents(r)]);
    assert.deepEqual(after, [
      [0n, 'PUT k=2@4', 'PUT k=3@5'],
      [1n, 'PUT k=2@4', 'PUT k=3@5', 'PUT j=x@6'],
      [0n, 'PUT k=live@7'],
      [1n, 'PUT k=live@7'],
    ]);
    // The old keyspace no longer feeds the watchers.
    put(follower.store, ['k', 'stale']);
    assert.deepEqual(stream.take(), []);
  });

  test('restore onto a keyspace compacted past what was delivered cancels with the compact revision', async (t) => {
    const follower = keyspaceFixture(t).open();
    const leader = keyspaceFixture(t).open();
    put(follower.store, ['k', '0']);
    for (let i = 0; i < 5; i++) put(leader.store, ['k', `${i}`]);
    await leader.store.compact(5).done;
    const ws = new WatchableStore(follower.store, follower.backend, { autoSync: false });
    t.after(() => ws.close());
    const stream = new WatchStream(ws);
    stream.watch(create('k'));
    stream.take();
    ws.restore(leader.store, leader.backend);
    ws.syncNow();
    assert.deepEqual(
      stream.take().map((r) => [r.canceled, r.compactRevision]),
      [[true, 5]],
    );
    assert.equal(ws.watcherCount, 0);
  });

  test('filters, previous values, duplicate IDs and cancel', (t) => {
    const { store, ws } = setup(t);
    put(store, ['a', 'old']);
    const stream = new WatchStream(ws);
    stream.watch(create('a', { watchId: 7n, prevKv: true, filters: [FILTER_NOPUT] }));
    stream.watch(create('a', { watchId: 7n }));
    put(store, ['a', 'new']);
    del(store, { start: 'a', end: undefined });
    const rs = stream.take();
    assert.deepEqual(
      rs.map((r) => [r.watchId, r.created, r.canceled, r.cancelReason]),
      [
        [7n, true, false, ''],
        [7n, true, true, 'mvcc: duplicate watch ID provided on the WatchStream'],
        [7n, false, false, ''],
      ],
    );
    assert.deepEqual(describeEvents(rs[2]), ['DELETE a@4']);
    assert.equal(text(rs[2].events[0].prevKv!.value), 'new');
    assert.equal(stream.cancel(7n), true);
    assert.equal(stream.cancel(7n), false);
    put(store, ['a', 'after']);
    assert.deepEqual(
      stream.take().map((r) => [r.watchId, r.canceled]),
      [[7n, true]],
    );
  });

  test('progress: on request once every watcher is synced, and periodic for idle watchers', (t) => {
    const { store, ws } = setup(t);
    for (let i = 0; i < 3; i++) put(store, ['k', `${i}`]);
    const stream = new WatchStream(ws);
    stream.watch(create('k', { startRevision: 2n, progressNotify: true }));
    stream.take();
    stream.requestProgress();
    assert.deepEqual(stream.take(), [], 'not while the watcher is behind');
    ws.syncNow();
    const rs = stream.take();
    assert.deepEqual(
      rs.map((r) => [r.watchId, r.revision, r.events.length]),
      [
        [0n, 4, 3],
        [NO_WATCH_ID, 4, 0],
      ],
    );
    stream.tickProgress(); // it sent events since the last tick: nothing
    assert.deepEqual(stream.take(), []);
    stream.tickProgress();
    assert.deepEqual(
      stream.take().map((r) => [r.watchId, r.revision, r.events.length]),
      [[0n, 4, 0]],
    );
  });

  test('fragments split a large response, never a single event', (t) => {
    const { store, ws } = setup(t);
    const stream = new WatchStream(ws, { maxResponseBytes: 300 });
    stream.watch(create('k', { rangeEnd: bytes('l'), fragment: true }));
    stream.take();
    put(store, ...Array.from({ length: 5 }, (_, i): [string, string] => [`k${i}`, 'x'.repeat(100)]));
    const rs = stream.take();
    assert.deepEqual(
      rs.map((r) => [r.events.length, r.fragment]),
      [
        [2, true],
        [2, true],
        [1, false],
      ],
    );
  });

  test('a slow consumer holds at most its queue; the rest waits in the backend and arrives in order', (t) => {
    const { store, ws } = setup(t, 10);
    const slow = new WatchStream(ws, { maxQueued: 4 });
    const fast = new WatchStream(ws);
    slow.watch(create('k'));
    fast.watch(create('k'));
    slow.take();
    fast.take();
    const received: string[] = [];
    for (let i = 0; i < 50; i++) {
      put(store, ['k', `${i}`]);
      assert.equal(fast.take().length, 1, 'the fast stream is not held back');
    }
    const first = slow.take();
    assert.equal(first.length, 4, 'only the queue limit was held in memory');
    received.push(...first.flatMap(describeEvents));
    for (let round = 0; round < 100 && received.length < 50; round++) {
      ws.syncNow();
      received.push(...slow.take().flatMap(describeEvents));
    }
    assert.deepEqual(
      received,
      Array.from({ length: 50 }, (_, i) => `PUT k=${i}@${i + 2}`),
    );
    assert.equal(ws.laggingCount, 0);
  });
});

// ---- Property: streams are the history, in order, whole, and resumable ----------------------------

type Step =
  | { kind: 'write'; changes: ({ put: string; value: string } | { del: KeyRange })[] }
  | { kind: 'watch'; range: KeyRange; back: number; queue: number }
  | { kind: 'take'; which: number }
  | { kind: 'sync' };

const KEYS = ['a', 'b', 'c', 'd'];
const keyArb = fc.constantFrom(...KEYS);
const rangeArb: fc.Arbitrary<KeyRange> = fc.oneof(
  keyArb.map((k) => ({ start: k, end: undefined })),
  fc.tuple(keyArb, fc.constantFrom('c', 'e', '')).map(([start, end]) => ({ start, end })),
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      changes: fc.array(
        fc.oneof(
          { weight: 3, arbitrary: fc.record({ put: keyArb, value: fc.constantFrom('x', 'y') }) },
          { weight: 1, arbitrary: fc.record({ del: rangeArb }) },
        ),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('watch' as const),
      range: rangeArb,
      back: fc.integer({ min: -2, max: 10 }),
      queue: fc.constantFrom(1, 2, 128),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('take' as const), which: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const) }) },
);

function matches(range: KeyRange, key: string): boolean {
  if (range.end === undefined) return key === range.start;
  return key >= range.start && (range.end === '' || key < range.end);
}

test('every watch stream is exactly the matching history: ordered, whole revisions, no gaps, resumable', async (t) => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
      const fx = keyspaceFixture(t, `db${run++}`);
      const { store, backend } = fx.open();
      const ws = new WatchableStore(store, backend, { autoSync: false, syncBatchLimit: 3 });
      // The history: every event by revision, as written.
      const history: { rev: number; key: string; event: string }[] = [];
      store.onWrite((w) => {
        for (const c of w.changes) {
          const key = text(c.kv.key);
          history.push({ rev: w.rev, key, event: `${c.type} ${key}@${w.rev}` });
        }
      });
      const watches: { stream: WatchStream; range: KeyRange; start: number; got: StreamResponse[] }[] = [];
      const drain = (i: number): void => {
        const w = watches[i];
        w.got.push(...w.stream.take().filter((r) => !r.created));
      };
      for (const step of steps) {
        if (step.kind === 'write') {
          const w = store.write();
          for (const c of step.changes) {
            if ('put' in c) w.put(bytes(c.put), bytes(c.value), 0n);
            else w.deleteRange(c.del);
          }
          w.end();
        } else if (step.kind === 'watch') {
          const start = step.back < 0 ? 0 : Math.max(1, store.revision - step.back);
          const stream = new WatchStream(ws, { maxQueued: step.queue });
          stream.watch({
            ...create(''),
            key: bytes(step.range.start),
            startRevision: BigInt(start),
            rangeEnd: rangeEndOf(step.range),
          });
          watches.push({
            stream,
            range: step.range,
            start: start === 0 ? store.revision + 1 : start,
            got: [],
          });
        } else if (step.kind === 'take') {
          if (watches.length > 0) drain(step.which % watches.length);
        } else {
          ws.syncNow();
        }
      }
      for (let round = 0; round < 1000 && (ws.laggingCount > 0 || round === 0); round++) {
        for (let i = 0; i < watches.length; i++) drain(i);
        ws.syncNow();
      }
      for (let i = 0; i < watches.length; i++) drain(i);
      assert.equal(ws.laggingCount, 0);

      for (const w of watches) {
        const expected = history
          .filter((h) => h.rev >= w.start && matches(w.range, h.key))
          .map((h) => h.event);
        const got = w.got.flatMap((r) =>
          r.events.map(
            (e) =>
              `${e.type === Event_EventType.PUT ? 'put' : 'delete'} ${text(e.kv!.key)}@${e.kv!.modRevision}`,
          ),
        );
        assert.deepEqual(got, expected);
        // Whole revisions: a revision's events never continue in a later response.
        const seen = new Set<bigint>();
        for (const r of w.got) {
          const revs = new Set(r.events.map((e) => e.kv!.modRevision));
          for (const rev of revs) assert.ok(!seen.has(rev), `revision ${rev} split across responses`);
          for (const rev of revs) seen.add(rev);
        }
        // Resumable: a new watcher from just after any received revision gets exactly the rest.
        if (got.length > 0) {
          const cut = Number(w.got[0].events[w.got[0].events.length - 1].kv!.modRevision);
          const again = new WatchStream(ws);
          again.watch({
            ...create(''),
            key: bytes(w.range.start),
            rangeEnd: rangeEndOf(w.range),
            startRevision: BigInt(cut + 1),
          });
          while (ws.syncNow() > 0);
          const rest = again
            .take()
            .flatMap((r) => r.events)
            .map(
              (e) =>
                `${e.type === Event_EventType.PUT ? 'put' : 'delete'} ${text(e.kv!.key)}@${e.kv!.modRevision}`,
            );
          assert.deepEqual(
            rest,
            expected.filter((e) => Number(e.slice(e.lastIndexOf('@') + 1)) > cut),
          );
          again.close();
        }
      }
      for (const w of watches) w.stream.close();
      ws.close();
      await fx.close();
    }),
    { numRuns: 100, seed: 424242 },
  );
});

function rangeEndOf(range: KeyRange): Uint8Array {
  if (range.end === undefined) return new Uint8Array(0);
  if (range.end === '') return new Uint8Array([0]);
  return bytes(range.end);
}
