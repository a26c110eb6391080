// Property: any sequence of saves (appends, overwrites, hard-state changes), snapshots, purges and
// reopenings, with any segment size, reads back exactly what a model of etcd's rules says.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Entry, HardState } from '../../../../src/raft/types.js';
import { NodeWalFs, type WalFs } from '../../../../src/storage/wal/fs.js';
import { Wal } from '../../../../src/storage/wal/wal.js';
import { METADATA, Model, payload, plain } from './helpers.js';
import { MemFs } from './mem-fs.js';

type Op =
  | {
      readonly kind: 'save';
      readonly n: number;
      readonly size: number;
      /** How far back from the last index the batch starts (0: a plain append), bounded by the snapshot. */
      readonly back: number;
      readonly newTerm: boolean;
      readonly state: 'none' | 'commit' | 'term' | 'vote';
      readonly vote: bigint;
    }
  | { readonly kind: 'reopen' }
  | { readonly kind: 'snapshot'; readonly lag: number }
  | { readonly kind: 'purge'; readonly maxWals: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('save' as const),
      n: fc.integer({ min: 0, max: 12 }),
      size: fc.integer({ min: 0, max: 400 }),
      back: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }) },
      ),
      newTerm: fc.boolean(),
      state: fc.constantFrom('none' as const, 'commit' as const, 'term' as const, 'vote' as const),
      vote: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('snapshot' as const), lag: fc.integer({ min: 0, max: 5 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('purge' as const), maxWals: fc.integer({ min: 1, max: 3 }) }),
  },
);

async function check(fs: WalFs, dir: string, segmentBytes: number, ops: readonly Op[]): Promise<void> {
  const opts = { fs, segmentBytes };
  let wal = await Wal.create(dir, METADATA, opts);
  const model = new Model();
  let snap = { index: 0, term: 0 };
  let term = 1;
  let state: HardState = { term: 0, vote: 0n, commit: 0 };
  let salt = 0;

  const verify = async (): Promise<void> => {
    await wal.close();
    wal = await Wal.open(dir, snap, opts);
    const got = wal.readAll();
    assert.deepEqual(got.metadata, METADATA);
    assert.deepEqual(got.hardState, model.hardState);
    assert.deepEqual(plain(got.entries), plain(model.after(snap.index)));
  };

  for (const op of ops) {
    switch (op.kind) {
      case 'save': {
        const last = model.log.at(-1)?.index ?? 0;
        const from = Math.max(snap.index + 1, last + 1 - op.back);
        if (op.newTerm || from <= last) term++;
        const ents: Entry[] = [];
        for (let i = 0; i < op.n; i++) {
          salt++;
          ents.push({
            index: from + i,
            term,
            type: salt % 7 === 0 ? 'confChange' : 'normal',
            data: payload(salt, op.size),
          });
        }
        let hs: HardState | undefined;
        const newLast = op.n > 0 ? from + op.n - 1 : last;
        if (op.state === 'commit') hs = { ...state, term: Math.max(state.term, 1), commit: newLast };
        else if (op.state === 'term')
          hs = { term, vote: state.vote, commit: Math.min(state.commit, newLast) };
        else if (op.state === 'vote')
          hs = { term: Math.max(state.term, 1), vote: op.vote, commit: state.commit };
        if (hs !== undefined) state = hs;
        await wal.save(hs, ents);
        model.save(hs, ents);
        break;
      }
      case 'snapshot': {
        // a snapshot of an index that is in the log (raft snapshots only applied entries)
        const log = model.after(snap.index);
        if (log.length === 0) break;
        const e = log[Math.max(0, log.length - 1 - op.lag)];
        snap = { index: e.index, term: e.term };
        await wal.saveSnapshot(snap);
        break;
      }
      case 'purge':
        await wal.releaseLockTo(snap.index);
        await wal.purge(op.maxWals);
        break;
      case 'reopen':
        await verify();
        break;
    }
  }
  await verify();
  await wal.close();
}

describe('WAL property: random saves, cuts, snapshots, purges and reopenings', () => {
  test('in-memory files, random segment sizes', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 200, max: 6000 }),
        fc.array(opArb, { minLength: 1, maxLength: 80 }),
        async (segmentBytes, ops) => {
          const m = new MemFs();
          m.setupDir('/p');
          await check(m, `/p/wal${run++}`, segmentBytes, ops);
        },
      ),
      { numRuns: 300, seed: 0x5eed },
    );
  });

  test('real files, sync and async I/O', async () => {
    const { withTmpDir } = await import('./helpers.js');
    await withTmpDir(async (tmp) => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 300, max: 8000 }),
          fc.constantFrom('sync' as const, 'async' as const),
          fc.array(opArb, { minLength: 1, maxLength: 25 }),
          async (segmentBytes, io, ops) => {
            await check(new NodeWalFs({ io }), path.join(tmp, `wal${run++}`), segmentBytes, ops);
          },
        ),
        { numRuns: 8, seed: 0xf11e },
      );
    });
  });
});
