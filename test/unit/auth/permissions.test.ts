// Key intervals of permissions: how a (key, range_end) pair reads, merging a user's grants into
// disjoint intervals, and whether a request's range is covered by them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import {
  covers,
  intervalOf,
  mergeIntervals,
  mergePermissions,
  type KeyInterval,
} from '../../../src/auth/permissions.js';
import { Permission_Type } from '../../../src/proto/authpb/auth.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const iv = (start: string, end: string | null): KeyInterval => ({ start, end });
const key = (k: string): KeyInterval => intervalOf(b(k), new Uint8Array(0));
const FROM_KEY = '\0';

test('intervalOf: empty range_end is the single key, "\\0" is from the key on, else [key, range_end)', () => {
  assert.deepEqual(intervalOf(b('foo'), new Uint8Array(0)), iv('foo', 'foo\0'));
  assert.deepEqual(intervalOf(b('foo'), b(FROM_KEY)), iv('foo', null));
  assert.deepEqual(intervalOf(b(''), b(FROM_KEY)), iv('', null), 'every key');
  assert.deepEqual(intervalOf(b('foo/'), b('foo0')), iv('foo/', 'foo0'), 'a prefix');
  assert.deepEqual(intervalOf(b('a'), b('\0\0')), iv('a', '\0\0'), 'only a lone zero byte is from-key');
  // Bytes above 0x7f keep their order (latin1 code units are the bytes).
  assert.deepEqual(
    intervalOf(Uint8Array.of(0xff, 0x01), Uint8Array.of(0xff, 0x02)),
    iv('\xff\x01', '\xff\x02'),
  );
});

test('intervalOf reads a view into a larger buffer by its own bytes', () => {
  const whole = b('xxkeyyy');
  const view = whole.subarray(2, 5);
  assert.deepEqual(intervalOf(view, new Uint8Array(0)), iv('key', 'key\0'));
});

test('mergeIntervals joins overlapping, adjacent and contained intervals and sorts them', () => {
  assert.deepEqual(mergeIntervals([iv('c', 'f'), iv('a', 'd')]), [iv('a', 'f')], 'overlap');
  assert.deepEqual(mergeIntervals([iv('d', 'f'), iv('a', 'd')]), [iv('a', 'f')], 'adjacent');
  assert.deepEqual(mergeIntervals([iv('a', 'z'), iv('c', 'd')]), [iv('a', 'z')], 'containment');
  assert.deepEqual(mergeIntervals([iv('c', 'd'), iv('a', 'b')]), [iv('a', 'b'), iv('c', 'd')], 'a gap stays');
  assert.deepEqual(mergeIntervals([iv('a', 'b'), iv('a', null)]), [iv('a', null)], 'same start, open end');
  assert.deepEqual(mergeIntervals([iv('a', null), iv('m', 'n'), iv('x', null)]), [iv('a', null)]);
  assert.deepEqual(mergeIntervals([iv('a', 'c'), iv('b', null)]), [iv('a', null)]);
});

test('mergeIntervals drops empty and inverted intervals', () => {
  assert.deepEqual(mergeIntervals([]), []);
  assert.deepEqual(mergeIntervals([iv('b', 'b'), iv('z', 'a')]), []);
  assert.deepEqual(mergeIntervals([iv('z', 'a'), iv('c', 'd')]), [iv('c', 'd')]);
});

test('mergeIntervals does not change its input', () => {
  const input = [iv('c', 'd'), iv('a', 'b')];
  mergeIntervals(input);
  assert.deepEqual(input, [iv('c', 'd'), iv('a', 'b')]);
});

test('covers: a prefix request is covered by two adjacent grants but not across a gap', () => {
  const prefix = intervalOf(b('foo/'), b('foo0'));
  const adjacent = mergeIntervals([iv('foo/', 'foo/m'), iv('foo/m', 'foo0')]);
  assert.equal(covers(adjacent, prefix), true);
  const gap = mergeIntervals([iv('foo/', 'foo/m'), iv('foo/n', 'foo0')]);
  assert.equal(covers(gap, prefix), false, 'keys in [foo/m, foo/n) are not granted');
  // Each half alone covers only its part.
  assert.equal(covers(gap, intervalOf(b('foo/a'), b('foo/m'))), true);
  assert.equal(covers(gap, intervalOf(b('foo/a'), b('foo/m\0'))), false, 'one key past the end');
});

test('covers: single keys inside and outside the grants', () => {
  const set = mergeIntervals([iv('b', 'd'), iv('x', 'x\0')]);
  assert.equal(covers(set, key('b')), true, 'the first key of a grant');
  assert.equal(covers(set, key('c\xff\xff')), true);
  assert.equal(covers(set, key('d')), false, 'the end is not part of it');
  assert.equal(covers(set, key('a')), false, 'before every grant');
  assert.equal(covers(set, key('x')), true, 'a single-key grant');
  assert.equal(covers(set, key('x\0')), false, 'the key after a single-key grant');
  assert.equal(covers(set, key('y')), false, 'after every grant');
  assert.equal(covers([], key('a')), false, 'no grants');
});

test('covers: an open-ended grant covers a from-key request; a bounded grant does not', () => {
  const open = mergeIntervals([intervalOf(b('k'), b(FROM_KEY))]);
  assert.equal(covers(open, intervalOf(b('m'), b(FROM_KEY))), true);
  assert.equal(covers(open, intervalOf(b('k'), b(FROM_KEY))), true);
  assert.equal(covers(open, intervalOf(b('j'), b(FROM_KEY))), false, 'starts before the grant');
  assert.equal(covers(open, key('\xff\xff\xff')), true);
  const bounded = mergeIntervals([iv('k', '\xff\xff')]);
  assert.equal(covers(bounded, intervalOf(b('m'), b(FROM_KEY))), false, 'keys past \\xff\\xff exist');
  const all = mergeIntervals([intervalOf(b(''), b(FROM_KEY))]);
  assert.equal(covers(all, intervalOf(b(''), b(FROM_KEY))), true);
});

test('covers: an inverted request range counts only its first key', () => {
  const set = mergeIntervals([iv('m', 'n')]);
  assert.equal(covers(set, intervalOf(b('m'), b('a'))), true, 'its first key is granted');
  assert.equal(covers(set, intervalOf(b('z'), b('a'))), false, 'its first key is not');
  assert.equal(covers(set, iv('m', 'm')), true, 'an empty range behaves the same');
});

test('mergePermissions splits READ, WRITE and READWRITE grants into read and write sets', () => {
  const merged = mergePermissions([
    { permType: Permission_Type.READ, key: b('a'), rangeEnd: b('c') },
    { permType: Permission_Type.WRITE, key: b('w'), rangeEnd: new Uint8Array(0) },
    { permType: Permission_Type.READWRITE, key: b('c'), rangeEnd: b('e') },
  ]);
  assert.deepEqual(merged.read, [iv('a', 'e')]);
  assert.deepEqual(merged.write, [iv('c', 'e'), iv('w', 'w\0')]);
});

// ---- Properties ------------------------------------------------------------------------------------

const ALPHABET = ['\0', '\x01', 'a', 'b', '\xff'];
const smallKey = fc
  .array(fc.constantFrom(...ALPHABET), { minLength: 0, maxLength: 3 })
  .map((cs) => cs.join(''));

interface Grant {
  readonly key: string;
  readonly rangeEnd: string;
}
const grant: fc.Arbitrary<Grant> = fc.record({
  key: smallKey,
  rangeEnd: fc.oneof(fc.constant(''), fc.constant(FROM_KEY), smallKey),
});

/** Whether `k` is one of the keys `g` names, read directly off etcd's rules on bytes. */
function grantHolds(g: Grant, k: string): boolean {
  const cmp = (x: string, y: string): number =>
    Buffer.compare(Buffer.from(x, 'latin1'), Buffer.from(y, 'latin1'));
  if (g.rangeEnd === '') return cmp(k, g.key) === 0;
  if (g.rangeEnd === FROM_KEY) return cmp(k, g.key) >= 0;
  return cmp(k, g.key) >= 0 && cmp(k, g.rangeEnd) < 0;
}

const merged = (grants: readonly Grant[]): KeyInterval[] =>
  mergeIntervals(grants.map((g) => intervalOf(b(g.key), b(g.rangeEnd))));

test('property: a single key is covered by the merged grants exactly when some grant holds it', () => {
  fc.assert(
    fc.property(fc.array(grant, { maxLength: 6 }), smallKey, (grants, k) => {
      const got = covers(merged(grants), { start: k, end: k + '\0' });
      assert.equal(
        got,
        grants.some((g) => grantHolds(g, k)),
      );
    }),
    { numRuns: 2000 },
  );
});

test('property: merged intervals are sorted, disjoint, not adjacent, and hold the same keys', () => {
  fc.assert(
    fc.property(
      fc.array(grant, { maxLength: 6 }),
      fc.array(smallKey, { maxLength: 10 }),
      (grants, probes) => {
        const out = merged(grants);
        for (let i = 0; i < out.length; i++) {
          const cur = out[i];
          assert.ok(cur.end === null || cur.start < cur.end, 'not empty');
          if (i + 1 < out.length) {
            assert.ok(cur.end !== null, 'only the last may be open-ended');
            assert.ok(cur.end < out[i + 1].start, 'a real gap to the next');
          }
        }
        for (const k of probes) {
          const inMerged = out.some((i) => i.start <= k && (i.end === null || k < i.end));
          assert.equal(
            inMerged,
            grants.some((g) => grantHolds(g, k)),
          );
        }
      },
    ),
    { numRuns: 1000 },
  );
});
