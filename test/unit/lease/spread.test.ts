import { test } from 'node:test';
import assert from 'node:assert/strict';

import { spreadDelays } from '../../../src/lease/spread.js';

test('no delays while a one-second window holds at most 3/4 of the revoke rate', () => {
  assert.deepEqual(spreadDelays([], 1000), []);
  const remaining = Array.from({ length: 750 }, () => 5000);
  assert.ok(spreadDelays(remaining, 1000).every((d) => d === 0));
  // Two windows of 750 each: still nothing to do.
  const twoWindows = [...remaining, ...Array.from({ length: 750 }, () => 6001)];
  assert.ok(spreadDelays(twoWindows, 1000).every((d) => d === 0));
});

test('the n-th lease of a crowded window is pushed to n/750 s after the window start', () => {
  const remaining = Array.from({ length: 1500 }, () => 5000);
  const d = spreadDelays(remaining, 1000);
  assert.equal(d[749], 0);
  assert.ok(Math.abs(d[750] - (1000 * 751) / 750) < 1e-9);
  assert.ok(Math.abs(d[1499] - 2000) < 1e-9);
  for (let i = 751; i < d.length; i++) assert.ok(d[i] > d[i - 1]);
});

test('a lease already later in the window needs less delay', () => {
  const remaining = [...Array.from({ length: 750 }, () => 5000), 5400];
  const d = spreadDelays(remaining, 1000);
  assert.ok(Math.abs(d[750] - ((1000 * 751) / 750 - 400)) < 1e-9);
  assert.ok(d.every((x) => x >= 0));
});

test('a tiny revoke rate does not divide by zero', () => {
  const d = spreadDelays([1, 1, 1], 1);
  assert.ok(d.every(Number.isFinite));
});
