// Go's value syntax: the flag package accepts exactly these spellings, so etcd command lines do.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatGoDuration,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseGoUint,
} from '../../../src/config/go-values.js';

describe('Go value syntax', () => {
  test('booleans: the twelve strconv.ParseBool spellings and nothing else', () => {
    for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True'])
      assert.deepEqual(parseGoBool(t), { ok: true, value: true });
    for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False'])
      assert.deepEqual(parseGoBool(f), { ok: true, value: false });
    for (const bad of ['yes', 'on', '', 'tRuE', ' true'])
      assert.deepEqual(parseGoBool(bad), { ok: false, error: 'parse error' });
  });

  test('unsigned integers use base 0: hex, octal, binary, underscores in prefixed literals', () => {
    const cases: [string, bigint][] = [
      ['100000', 100000n],
      ['0x10', 16n],
      ['0X1f', 31n],
      ['017', 15n],
      ['0o17', 15n],
      ['0b101', 5n],
      ['0x_ff', 255n],
      ['0', 0n],
    ];
    for (const [text, value] of cases) assert.deepEqual(parseGoUint(text, 64), { ok: true, value }, text);
    for (const bad of ['-5', '+5', '', 'abc', '1_000', '0x', '08', '1.5', '0x__1', '0x1_'])
      assert.deepEqual(parseGoUint(bad, 64), { ok: false, error: 'parse error' }, bad);
    assert.deepEqual(parseGoUint('18446744073709551615', 64), { ok: true, value: 18446744073709551615n });
    assert.deepEqual(parseGoUint('18446744073709551616', 64), { ok: false, error: 'value out of range' });
    assert.deepEqual(parseGoUint('4294967296', 32), { ok: false, error: 'value out of range' });
  });

  test('signed integers accept a sign and check int64 bounds', () => {
    assert.deepEqual(parseGoInt('-1', 64), { ok: true, value: -1n });
    assert.deepEqual(parseGoInt('+8589934592', 64), { ok: true, value: 8589934592n });
    assert.deepEqual(parseGoInt('-9223372036854775808', 64), { ok: true, value: -(2n ** 63n) });
    assert.deepEqual(parseGoInt('9223372036854775808', 64), { ok: false, error: 'value out of range' });
    assert.deepEqual(parseGoInt('--1', 64), { ok: false, error: 'parse error' });
  });

  test('durations follow time.ParseDuration, including its error texts', () => {
    const cases: [string, bigint][] = [
      ['0', 0n],
      ['5s', 5_000_000_000n],
      ['1h30m', 5_400_000_000_000n],
      ['1.5h', 5_400_000_000_000n],
      ['100ms', 100_000_000n],
      ['10us', 10_000n],
      ['10µs', 10_000n],
      ['7ns', 7n],
      ['-2m', -120_000_000_000n],
      ['.5s', 500_000_000n],
    ];
    for (const [text, value] of cases) assert.deepEqual(parseGoDuration(text), { ok: true, value }, text);
    assert.deepEqual(parseGoDuration('5'), { ok: false, error: 'time: missing unit in duration "5"' });
    assert.deepEqual(parseGoDuration('1x'), { ok: false, error: 'time: unknown unit "x" in duration "1x"' });
    assert.deepEqual(parseGoDuration(''), { ok: false, error: 'time: invalid duration ""' });
    assert.deepEqual(parseGoDuration('h'), { ok: false, error: 'time: invalid duration "h"' });
  });

  test('durations print like Go', () => {
    assert.equal(formatGoDuration(0n), '0s');
    assert.equal(formatGoDuration(100_000_000n), '100ms');
    assert.equal(formatGoDuration(5_400_000_000_000n), '1h30m0s');
    assert.equal(formatGoDuration(20_000_000_000n), '20s');
  });
});
