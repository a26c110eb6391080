// The waits of proposed requests: settled by their apply, failed on demand, and failed with their own
// error once the request timeout passes, all off one timer (mocked here, with the registry's clock).

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';

import { WaitRegistry } from '../../../src/server/wait.js';

function registry(t: TestContext): { waits: WaitRegistry<string>; advance: (ms: number) => void } {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 0;
  const waits = new WaitRegistry<string>({ timeoutMs: 1000, now: () => now });
  return {
    waits,
    advance: (ms) => {
      now += ms;
      t.mock.timers.tick(ms);
    },
  };
}

const settled = async <T>(p: Promise<T>): Promise<{ value?: T; error?: string }> =>
  p.then(
    (value) => ({ value }),
    (e: unknown) => ({ error: (e as Error).message }),
  );

test('a wait is settled by its trigger, and a later trigger or failure changes nothing', async (t) => {
  const { waits } = registry(t);
  const p = waits.register(1n, () => new Error('timed out'));
  assert.equal(waits.size, 1);
  waits.trigger(1n, 'applied');
  waits.trigger(1n, 'again');
  waits.fail(1n, new Error('late'));
  assert.deepEqual(await settled(p), { value: 'applied' });
  assert.equal(waits.size, 0);
  assert.throws(() => {
    void waits.register(2n, () => new Error('x'));
    void waits.register(2n, () => new Error('x'));
  }, /duplicate request ID 2/);
});

test('waits expire in order with their own error once the timeout passes; settled ones are skipped', async (t) => {
  const { waits, advance } = registry(t);
  const a = waits.register(1n, () => new Error('a timed out'));
  advance(400);
  const b = waits.register(2n, () => new Error('b timed out'));
  const c = waits.register(3n, () => new Error('c timed out'));
  waits.trigger(2n, 'b applied');
  advance(599);
  assert.equal(waits.size, 2, 'nothing expires before its deadline');
  advance(1);
  assert.deepEqual(await settled(a), { error: 'a timed out' });
  assert.equal(waits.size, 1);
  advance(399);
  assert.equal(waits.size, 1);
  advance(1);
  assert.deepEqual(await settled(c), { error: 'c timed out' });
  assert.deepEqual(await settled(b), { value: 'b applied' });
  assert.equal(waits.size, 0);
  // The timer starts again for waits registered after the queue ran empty.
  const d = waits.register(4n, () => new Error('d timed out'));
  advance(1000);
  assert.deepEqual(await settled(d), { error: 'd timed out' });
});

test('many settled waits do not pile up, and failAll ends every wait and the timer', async (t) => {
  const { waits, advance } = registry(t);
  for (let i = 0; i < 5000; i++) {
    void waits.register(BigInt(i), () => new Error('timed out'));
    waits.trigger(BigInt(i), 'ok');
  }
  const last = waits.register(9999n, () => new Error('timed out'));
  advance(1000);
  assert.deepEqual(await settled(last), { error: 'timed out' });
  const x = waits.register(10_000n, () => new Error('timed out'));
  const y = waits.register(10_001n, () => new Error('timed out'));
  waits.failAll(new Error('server stopped'));
  assert.deepEqual(await settled(x), { error: 'server stopped' });
  assert.deepEqual(await settled(y), { error: 'server stopped' });
  advance(5000);
  assert.equal(waits.size, 0);
});
