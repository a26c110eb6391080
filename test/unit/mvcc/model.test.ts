// Random sequences of puts, deletes, multi-change writes, compactions, reads at random revisions and
// restarts, run against the keyspace and against a plain model of etcd's revision semantics that
// keeps the whole state after every revision. Every answer and every error must agree.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { KeyspaceError } from '../../../src/mvcc/errors.js';
import type { KeyRange } from '../../../src/mvcc/tree-index.js';
import { bytes, keyspaceFixture, text } from './helpers.js';

interface ModelKv {
  readonly value: string;
  readonly create: number;
  readonly mod: number;
  readonly version: number;
}

type State = ReadonlyMap<string, ModelKv>;

class Model {
  rev = 1;
  compacted = -1;
  /** The state after each revision. */
  private readonly states = new Map<number, State>([[1, new Map()]]);

  /** One write: the changes in order; returns the new revision or the old one if nothing changed. */
  write(changes: readonly Change[]): number {
    const next = new Map(this.states.get(this.rev)!);
    const main = this.rev + 1;
    let changed = false;
    for (const c of changes) {
      if (c.kind === 'put') {
        const prev = next.get(c.key);
        next.set(c.key, {
          value: c.value,
          create: prev?.create ?? main,
          mod: main,
          version: (prev?.version ?? 0) + 1,
        });
        changed = true;
      } else {
        for (const k of [...next.keys()]) {
          if (inRange(k, c.range)) {
            next.delete(k);
            changed = true;
          }
        }
      }
    }
    if (changed) {
      this.rev = main;
      this.states.set(main, next);
    }
    return this.rev;
  }

  range(range: KeyRange, rev: number, limit: number): string | { keys: string[]; count: number } {
    if (rev > this.rev) return 'future';
    const at = rev <= 0 ? this.rev : rev;
    if (at < this.compacted) return 'compacted';
    const state = this.stateAt(at);
    const keys = [...state.keys()].filter((k) => inRange(k, range)).sort();
    const shown = limit > 0 ? keys.slice(0, limit) : keys;
    return {
      keys: shown.map((k) => {
        const kv = state.get(k)!;
        return `${k}=${kv.value}@c${kv.create}m${kv.mod}v${kv.version}`;
      }),
      count: keys.length,
    };
  }

  compact(rev: number): string | undefined {
    if (rev <= this.compacted) return 'compacted';
    if (rev > this.rev) return 'future';
    this.compacted = rev;
    return undefined;
  }

  private stateAt(rev: number): State {
    for (let r = rev; r >= 1; r--) {
      const s = this.states.get(r);
      if (s !== undefined) return s;
    }
    throw new Error('unreachable');
  }
}

function inRange(k: string, r: KeyRange): boolean {
  if (r.end === undefined) return k === r.start;
  return k >= r.start && (r.end === '' || k < r.end);
}

type Change = { kind: 'put'; key: string; value: string } | { kind: 'delete'; range: KeyRange };

type Op =
  | { kind: 'write'; changes: Change[] }
  | { kind: 'range'; range: KeyRange; back: number; limit: number }
  | { kind: 'compact'; back: number; physical: boolean }
  | { kind: 'restart' };

const KEYS = ['a', 'ab', 'b', 'c', 'd'];
const keyArb = fc.constantFrom(...KEYS);
const rangeArb: fc.Arbitrary<KeyRange> = fc.oneof(
  keyArb.map((k) => ({ start: k, end: undefined })),
  fc.tuple(keyArb, fc.constantFrom('b', 'c', 'e', '')).map(([start, end]) => ({ start, end })),
);
const changeArb: fc.Arbitrary<Change> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      key: keyArb,
      value: fc.constantFrom('x', 'y', 'z'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), range: rangeArb }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      changes: fc.array(changeArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('range' as const),
      range: rangeArb,
      back: fc.integer({ min: -2, max: 8 }),
      limit: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      back: fc.integer({ min: -1, max: 6 }),
      physical: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);

function errorKind(e: unknown): string {
  if (!(e instanceof KeyspaceError)) throw e;
  if (e.message.endsWith('has been compacted')) return 'compacted';
  if (e.message.endsWith('future revision')) return 'future';
  throw e;
}

test('the keyspace agrees with a model of etcd revisions on random histories', async (t) => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const fx = keyspaceFixture(t, `db${run++}`);
      let { store } = fx.open();
      const model = new Model();
      const pending: Promise<void>[] = [];
      for (const op of ops) {
        switch (op.kind) {
          case 'write': {
            const w = store.write();
            for (const c of op.changes) {
              if (c.kind === 'put') w.put(bytes(c.key), bytes(c.value), 0n);
              else w.deleteRange(c.range);
            }
            assert.equal(w.end().rev, model.write(op.changes));
            break;
          }
          case 'range': {
            const rev = op.back < 0 ? 0 : model.rev - op.back;
            const expected = model.range(op.range, rev, op.limit);
            let actual: string | { keys: string[]; count: number };
            try {
              const r = store.range(op.range, { rev, limit: op.limit });
              assert.equal(r.rev, model.rev);
              actual = {
                keys: r.kvs.map(
                  (kv) =>
                    `${text(kv.key)}=${text(kv.value)}@c${kv.createRevision}m${kv.modRevision}v${kv.version}`,
                ),
                count: r.count,
              };
            } catch (e) {
              actual = errorKind(e);
            }
            assert.deepEqual(actual, expected);
            break;
          }
          case 'compact': {
            const rev = model.rev - op.back;
            const expected = model.compact(rev);
            try {
              const { done } = store.compact(rev);
              if (op.physical) await done;
              else pending.push(done);
              assert.equal(expected, undefined);
            } catch (e) {
              assert.equal(errorKind(e), expected);
            }
            break;
          }
          case 'restart':
            await Promise.all(pending.splice(0));
            await fx.close();
            ({ store } = fx.open());
            assert.equal(store.revision, Math.max(model.rev, model.compacted));
            break;
        }
      }
      await Promise.all(pending);
      await fx.close();
    }),
    { numRuns: 150, seed: 20261121 },
  );
});
