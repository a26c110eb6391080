import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  decodeRevisionKey,
  decodeUint64BE,
  encodeRevisionKey,
  encodeUint64BE,
  isTombstoneKey,
} from '../../../../src/storage/backend/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('revision keys: golden bytes (8-byte BE main, "_", 8-byte BE sub, "t" for tombstones)', () => {
  assert.equal(hex(encodeRevisionKey(1, 0)), '0000000000000001' + '5f' + '0000000000000000');
  // etcd-v3.md §4.3: a multi-key delete at revision 10 writes ...0a_...00t and ...0a_...01t.
  assert.equal(hex(encodeRevisionKey(10, 0, true)), '000000000000000a' + '5f' + '0000000000000000' + '74');
  assert.equal(hex(encodeRevisionKey(10, 1, true)), '000000000000000a' + '5f' + '0000000000000001' + '74');
  assert.equal(
    hex(encodeRevisionKey(Number.MAX_SAFE_INTEGER, 2 ** 32 + 5)),
    '001fffffffffffff' + '5f' + '0000000100000005',
  );
  assert.equal(encodeRevisionKey(1, 0).byteLength, 17);
  assert.equal(encodeRevisionKey(1, 0, true).byteLength, 18);
  assert.equal(isTombstoneKey(encodeRevisionKey(3, 4, true)), true);
  assert.equal(isTombstoneKey(encodeRevisionKey(3, 4)), false);
});

test('revision keys decode back, and byte order is (main, sub) order', () => {
  const rev = fc.record({
    main: fc.maxSafeNat(),
    sub: fc.maxSafeNat(),
    tombstone: fc.boolean(),
  });
  fc.assert(
    fc.property(rev, rev, (a, b) => {
      const ka = encodeRevisionKey(a.main, a.sub, a.tombstone);
      assert.deepEqual(decodeRevisionKey(ka), { ...a });
      const kb = encodeRevisionKey(b.main, b.sub, b.tombstone);
      const numeric = a.main - b.main || a.sub - b.sub;
      if (numeric !== 0) assert.equal(Math.sign(Buffer.compare(ka, kb)), Math.sign(numeric));
    }),
    { numRuns: 500 },
  );
});

test('revision keys: invalid input is refused, never rounded', () => {
  assert.throws(() => encodeRevisionKey(-1, 0), RangeError);
  assert.throws(() => encodeRevisionKey(1.5, 0), RangeError);
  assert.throws(() => encodeRevisionKey(2 ** 53, 0), RangeError);
  assert.throws(() => encodeRevisionKey(0, Number.NaN), RangeError);
  assert.throws(() => decodeRevisionKey(new Uint8Array(16)), /17 or 18 bytes/);
  const k = encodeRevisionKey(1, 2, true);
  k[8] = 0x2d;
  assert.throws(() => decodeRevisionKey(k), /expected '_'/);
  const t = encodeRevisionKey(1, 2, true);
  t[17] = 0x78;
  assert.throws(() => decodeRevisionKey(t), /expected 't'/);
  // main = 2^53 (0x0020000000000000) and a negative int64 main are both refused.
  const big = Buffer.from('0020000000000000' + '5f' + '0000000000000000', 'hex');
  assert.throws(() => decodeRevisionKey(big), /MAX_SAFE_INTEGER/);
  const neg = Buffer.from('ffffffffffffffff' + '5f' + '0000000000000000', 'hex');
  assert.throws(() => decodeRevisionKey(neg), /MAX_SAFE_INTEGER/);
});

test('uint64 big-endian helpers (meta consistent_index, term)', () => {
  assert.equal(hex(encodeUint64BE(0x0102030405)), '0000000102030405');
  assert.equal(decodeUint64BE(Buffer.from('0000000102030405', 'hex')), 0x0102030405);
  assert.equal(decodeUint64BE(encodeUint64BE(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  assert.throws(() => encodeUint64BE(-1), RangeError);
  assert.throws(() => decodeUint64BE(new Uint8Array(7)), RangeError);
  assert.throws(() => decodeUint64BE(Buffer.from('0020000000000000', 'hex')), RangeError);
});
