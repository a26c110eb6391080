import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';

import { checkLinearizable, type CheckResult, type KvInput, type Operation } from './linearizability.js';

// ---------------------------------------------------------------------------------------------------------
// Builders

function put(key: string, value: string, call: number, ret: number, clientId = 0): Operation {
  return { clientId, input: { kind: 'put', key, value }, call, return: ret, output: { kind: 'put' } };
}

function get(key: string, value: string | null, call: number, ret: number, clientId = 0): Operation {
  return { clientId, input: { kind: 'get', key }, call, return: ret, output: { kind: 'get', value } };
}

function cas(
  key: string,
  expected: string | null,
  value: string,
  ok: boolean,
  call: number,
  ret: number,
  clientId = 0,
): Operation {
  return {
    clientId,
    input: { kind: 'cas', key, expected, value },
    call,
    return: ret,
    output: { kind: 'cas', ok },
  };
}

/** The same invocation with its outcome unknown (timed out / member crashed). */
function unknown(op: Operation): Operation {
  return { ...op, return: Infinity, output: undefined };
}

function assertOk(result: CheckResult): void {
  assert.deepEqual(result, { ok: true });
}

function assertViolation(result: CheckResult, key: string): string {
  assert.equal(result.ok, false, `expected a violation, got ${JSON.stringify(result)}`);
  assert.ok(result.ok === false);
  assert.equal(result.key, key);
  return result.explanation;
}

// ---------------------------------------------------------------------------------------------------------
// Reference semantics, used to generate histories and by the brute-force oracle.

type Registers = ReadonlyMap<string, string | null>;

/** Applies an input to the registers; returns the new registers and the output it produces. */
function execute(
  registers: Registers,
  input: KvInput,
): { registers: Registers; output: Operation['output'] } {
  const current = registers.get(input.key) ?? null;
  switch (input.kind) {
    case 'put':
      return { registers: new Map(registers).set(input.key, input.value), output: { kind: 'put' } };
    case 'get':
      return { registers, output: { kind: 'get', value: current } };
    case 'cas':
      return current === input.expected
        ? { registers: new Map(registers).set(input.key, input.value), output: { kind: 'cas', ok: true } }
        : { registers, output: { kind: 'cas', ok: false } };
  }
}

/**
 * Exhaustive search over all orders of the whole (multi-key) history, straight from the definition: every
 * known-outcome operation is placed, each producing its recorded output, and A is placed before B whenever
 * A.return < B.call; unknown-outcome operations are placed anywhere that order allows, or not at all.
 */
function bruteForceLinearizable(history: readonly Operation[]): boolean {
  const placed = history.map(() => false);
  const knownCount = history.filter((op) => op.output !== undefined).length;
  const search = (registers: Registers, knownPlaced: number): boolean => {
    if (knownPlaced === knownCount) return true;
    for (let i = 0; i < history.length; i++) {
      if (placed[i]) continue;
      const op = history[i]!;
      const blocked = history.some(
        (other, j) => !placed[j] && j !== i && other.output !== undefined && other.return < op.call,
      );
      if (blocked) continue;
      const step = execute(registers, op.input);
      if (op.output !== undefined && !isDeepStrictEqual(step.output, op.output)) continue;
      placed[i] = true;
      if (search(step.registers, knownPlaced + (op.output === undefined ? 0 : 1))) return true;
      placed[i] = false;
    }
    return false;
  };
  return search(new Map(), 0);
}

/** A small seeded PRNG (Weyl sequence + MurmurHash3 finalizer) for the non-fast-check generators. */
function prng(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return Math.floor((((z ^ (z >>> 16)) >>> 0) / 0x1_0000_0000) * n);
  };
}

/**
 * A history produced by a real execution: operation i takes effect at time 10 * (i + 1) + spread (so the
 * linearization points are distinct), and is recorded with an interval reaching a random distance of up to
 * `spread` before and after that point. Unknown-outcome operations may or may not have taken effect.
 */
function concurrentHistory(
  seed: number,
  count: number,
  keys: readonly string[],
  spread: number,
  unknownPercent: number,
): Operation[] {
  const random = prng(seed);
  let registers: Registers = new Map();
  const history: Operation[] = [];
  for (let i = 0; i < count; i++) {
    const key = keys[random(keys.length)]!;
    const current = registers.get(key) ?? null;
    const value = `v${random(1_000_000)}`;
    const roll = random(10);
    const input: KvInput =
      roll < 4
        ? { kind: 'get', key }
        : roll < 7
          ? { kind: 'put', key, value }
          : { kind: 'cas', key, expected: random(2) === 0 ? current : `v${random(1_000_000)}`, value };
    const point = 10 * (i + 1) + spread;
    const call = point - random(spread + 1);
    const ret = point + random(spread + 1);
    if (random(100) < unknownPercent) {
      if (random(2) === 0) registers = execute(registers, input).registers;
      history.push({ clientId: random(50), input, call, return: Infinity, output: undefined });
    } else {
      const step = execute(registers, input);
      registers = step.registers;
      history.push({ clientId: random(50), input, call, return: ret, output: step.output });
    }
  }
  return history;
}

// ---------------------------------------------------------------------------------------------------------
// Accepted histories

test('accepts the empty history', () => {
  assertOk(checkLinearizable([]));
});

test('accepts a sequential valid history', () => {
  assertOk(
    checkLinearizable([
      get('x', null, 0, 1),
      put('x', 'a', 2, 3),
      get('x', 'a', 4, 5),
      put('x', 'b', 6, 7),
      get('x', 'b', 8, 9),
      get('x', 'b', 10, 11),
    ]),
  );
});

test('accepts concurrent overlapping writes read in either order', () => {
  // put a and put b overlap; either order is a valid linearization.
  const writes = [put('x', 'a', 0, 10, 1), put('x', 'b', 1, 9, 2)];
  assertOk(checkLinearizable([...writes, get('x', 'a', 11, 12, 3)]));
  assertOk(checkLinearizable([...writes, get('x', 'b', 11, 12, 3)]));
  // A read concurrent with both writes may see null, a or b; a later read sees the same final value.
  assertOk(
    checkLinearizable([...writes, get('x', 'a', 5, 6, 3), get('x', 'b', 7, 8, 4), get('x', 'b', 11, 12, 3)]),
  );
  assertOk(
    checkLinearizable([...writes, get('x', 'b', 5, 6, 3), get('x', 'a', 7, 8, 4), get('x', 'a', 11, 12, 3)]),
  );
  assertOk(checkLinearizable([...writes, get('x', null, 0, 1, 3), get('x', 'a', 11, 12, 4)]));
});

test('accepts a put with unknown outcome that is later observed', () => {
  assertOk(
    checkLinearizable([
      put('x', 'a', 0, 1, 1),
      unknown(put('x', 'b', 2, 3, 2)),
      get('x', 'a', 4, 5, 1), // not yet applied ...
      get('x', 'b', 100, 101, 1), // ... applied long after the client gave up on it
      get('x', 'b', 102, 103, 3),
    ]),
  );
});

test('accepts a put with unknown outcome that is never observed', () => {
  assertOk(
    checkLinearizable([
      put('x', 'a', 0, 1, 1),
      unknown(put('x', 'b', 2, 3, 2)),
      get('x', 'a', 4, 5, 1),
      put('x', 'c', 6, 7, 1),
      get('x', 'c', 8, 9, 3),
    ]),
  );
  // Its recorded return time is ignored: it may take effect after it, or never.
  assertOk(
    checkLinearizable([
      { ...put('x', 'b', 2, 3, 2), output: undefined },
      get('x', null, 4, 5, 1),
      get('x', 'b', 6, 7, 1),
    ]),
  );
});

test('ignores a get with unknown outcome', () => {
  assertOk(checkLinearizable([put('x', 'a', 0, 1), unknown(get('x', 'zzz', 2, 3)), get('x', 'a', 4, 5)]));
});

test('accepts cas success and failure sequences', () => {
  assertOk(
    checkLinearizable([
      cas('x', null, 'a', true, 0, 1), // absent -> a
      cas('x', null, 'b', false, 2, 3), // no longer absent
      cas('x', 'b', 'c', false, 4, 5),
      cas('x', 'a', 'b', true, 6, 7),
      get('x', 'b', 8, 9),
      cas('x', 'b', 'b', true, 10, 11),
      get('x', 'b', 12, 13),
    ]),
  );
  // Two concurrent cas(null -> ...): exactly one wins, and the read agrees with the winner.
  assertOk(
    checkLinearizable([
      cas('x', null, 'a', false, 0, 10, 1),
      cas('x', null, 'b', true, 0, 10, 2),
      get('x', 'b', 11, 12, 3),
    ]),
  );
  // A cas with unknown outcome that took effect.
  assertOk(
    checkLinearizable([put('x', 'a', 0, 1), unknown(cas('x', 'a', 'b', true, 2, 3)), get('x', 'b', 50, 51)]),
  );
});

test('accepts several keys interleaved', () => {
  assertOk(
    checkLinearizable([
      put('x', '1', 0, 3, 1),
      put('y', '1', 1, 2, 2),
      get('y', '1', 3, 4, 3),
      get('x', null, 2, 4, 4), // concurrent with put x=1
      cas('z', null, '1', true, 4, 6, 1),
      put('y', '2', 5, 7, 2),
      get('x', '1', 5, 6, 3),
      get('z', '1', 7, 8, 4),
      get('y', '2', 8, 9, 1),
    ]),
  );
});

test('equal timestamps: an operation called exactly when another returns is concurrent with it', () => {
  // put returns at 5 and get is called at 5: the get may be linearized before the put.
  assertOk(checkLinearizable([put('x', 'a', 0, 5), get('x', null, 5, 6)]));
  assertOk(checkLinearizable([put('x', 'a', 0, 5), get('x', 'a', 5, 6)]));
  // Instantaneous operations (call === return) are fine too.
  assertOk(checkLinearizable([put('x', 'a', 3, 3), get('x', 'a', 3, 3), get('x', null, 3, 3)]));
  // One time unit apart, the put strictly precedes the get.
  assertViolation(checkLinearizable([put('x', 'a', 0, 4), get('x', null, 5, 6)]), 'x');
});

// ---------------------------------------------------------------------------------------------------------
// Rejected histories

test('rejects a stale read', () => {
  const explanation = assertViolation(
    checkLinearizable([
      put('x', 'a', 0, 1, 1),
      get('x', 'a', 2, 3, 2),
      put('x', 'b', 4, 5, 1),
      get('x', 'b', 6, 7, 2),
      get('x', 'a', 8, 9, 3), // b completed before this read started
    ]),
    'x',
  );
  assert.match(explanation, /#4 client 3 get\(\) -> "a" at \[8, 9\]/);
  assert.match(explanation, /Longest linearizable prefix found \(4 operation/);
  assert.match(explanation, /Register value after that prefix: "b"/);
  assert.match(explanation, /would read "b" here/);
});

test('rejects a lost write', () => {
  assertViolation(
    checkLinearizable([
      put('k', 'old', 0, 1, 1),
      put('k', 'new', 2, 3, 2), // completes ...
      get('k', 'old', 4, 5, 3), // ... yet the older value is read afterwards
      get('k', 'old', 6, 7, 1),
    ]),
    'k',
  );
});

test('rejects reordered writes', () => {
  // Sequential puts a then b; later reads see b then a.
  assertViolation(
    checkLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2, 3), get('x', 'b', 4, 5), get('x', 'a', 6, 7)]),
    'x',
  );
  // The same with reads that overlap the writes: b was visible by 15, and a (which returned at 10, before
  // b was called) cannot take effect after b.
  assertViolation(
    checkLinearizable([
      put('x', 'a', 0, 10, 1),
      put('x', 'b', 11, 20, 1),
      get('x', 'b', 5, 15, 2),
      get('x', 'a', 16, 25, 3),
    ]),
    'x',
  );
});

test('rejects a cas that reports the wrong result', () => {
  // Reports ok although the expected value was not current.
  assertViolation(checkLinearizable([put('x', 'a', 0, 1), cas('x', 'z', 'b', true, 2, 3)]), 'x');
  assertViolation(checkLinearizable([cas('x', 'a', 'b', true, 0, 1)]), 'x');
  // Reports failure although the expected value was current.
  assertViolation(checkLinearizable([put('x', 'a', 0, 1), cas('x', 'a', 'b', false, 2, 3)]), 'x');
  assertViolation(checkLinearizable([cas('x', null, 'b', false, 0, 1)]), 'x');
  // A successful cas must have written its value.
  assertViolation(
    checkLinearizable([put('x', 'a', 0, 1), cas('x', 'a', 'b', true, 2, 3), get('x', 'a', 4, 5)]),
    'x',
  );
});

test('rejects a read of a value that was never written', () => {
  assertViolation(checkLinearizable([put('x', 'a', 0, 1), get('x', 'ghost', 2, 3)]), 'x');
  assertViolation(checkLinearizable([get('x', 'ghost', 0, 1)]), 'x');
  // A value that is only ever written to another key does not count.
  assertViolation(checkLinearizable([put('y', 'a', 0, 1), get('x', 'a', 2, 3)]), 'x');
});

test('rejects a read of an unknown-outcome put before it was called', () => {
  assertViolation(checkLinearizable([get('x', 'b', 0, 1), unknown(put('x', 'b', 2, 3))]), 'x');
});

test('accepts a chain of unknown-outcome operations observed together', () => {
  // Both unknown operations are needed, one right after the other, before the read.
  assertOk(
    checkLinearizable([
      unknown(put('x', 'a', 0, 1, 1)),
      unknown(cas('x', 'a', 'b', true, 2, 3, 2)),
      put('x', 'c', 4, 5, 3),
      get('x', 'b', 6, 7, 3),
      get('x', 'b', 8, 9, 4),
    ]),
  );
  assertViolation(
    checkLinearizable([
      unknown(put('x', 'a', 0, 1, 1)),
      unknown(cas('x', 'a', 'b', true, 2, 3, 2)),
      put('x', 'c', 4, 5, 3),
      get('x', 'b', 6, 7, 3),
      get('x', 'a', 8, 9, 4),
    ]),
    'x',
  );
});

test('rejects values an unknown-outcome cas could not have written', () => {
  // The cas expected "z", which was never current, so it cannot have written "b".
  assertViolation(
    checkLinearizable([put('x', 'a', 0, 1), unknown(cas('x', 'z', 'b', true, 2, 3)), get('x', 'b', 4, 5)]),
    'x',
  );
  // ... but once "z" is current, it may take effect.
  assertOk(
    checkLinearizable([
      put('x', 'a', 0, 1),
      unknown(cas('x', 'z', 'b', true, 2, 3)),
      put('x', 'z', 4, 5),
      get('x', 'b', 6, 7),
    ]),
  );
});

test('rejects a multi-key history where only one key is bad, and reports that key', () => {
  const history = [
    put('a', '1', 0, 1, 1),
    put('m', '1', 0, 2, 2),
    put('z', '1', 1, 3, 3),
    get('a', '1', 2, 4, 1),
    put('m', '2', 3, 4, 2),
    get('z', '1', 4, 5, 3),
    get('m', '1', 5, 6, 1), // stale: m=2 completed at 4
    cas('a', '1', '2', true, 5, 7, 2),
    get('z', '1', 6, 8, 3),
    get('a', '2', 8, 9, 1),
  ];
  const explanation = assertViolation(checkLinearizable(history), 'm');
  assert.match(explanation, /key "m"/);
  // The explanation refers to operations by their index in the whole history.
  assert.match(explanation, /#6 client 1 get\(\) -> "1" at \[5, 6\]/);
  // The result does not depend on the order of the history array.
  const reversed = checkLinearizable([...history].reverse());
  assert.equal(reversed.ok, false);
  assert.ok(reversed.ok === false && reversed.key === 'm');
});

test('with several bad keys, reports the first in code-unit order', () => {
  const result = checkLinearizable([get('b', 'x', 0, 1), get('B', 'x', 0, 1), get('a', 'x', 0, 1)]);
  assertViolation(result, 'B');
});

// ---------------------------------------------------------------------------------------------------------
// Step limit and input validation

test('returns timeout when the step limit is exhausted, and a verdict with the default limit', () => {
  // A valid history whose search takes more than a handful of steps.
  const history: Operation[] = [];
  for (let i = 0; i < 10; i++)
    history.push(put('a', `v${i}`, 2 * i, 2 * i + 3, i), get('a', `v${i}`, 2 * i + 1, 2 * i + 4, i));
  assert.deepEqual(checkLinearizable(history, { maxSteps: 5 }), { ok: 'timeout', key: 'a' });
  assertOk(checkLinearizable(history));
  // The limit applies per key, and a violation elsewhere takes precedence over a timeout.
  assertViolation(checkLinearizable([...history, get('b', 'ghost', 0, 1)], { maxSteps: 5 }), 'b');
  assert.deepEqual(checkLinearizable([...history, get('b', null, 0, 1)], { maxSteps: 5 }), {
    ok: 'timeout',
    key: 'a',
  });
});

test('rejects malformed input', () => {
  assert.throws(() => checkLinearizable([put('x', 'a', 2, 1)]), RangeError);
  assert.throws(() => checkLinearizable([put('x', 'a', NaN, 1)]), RangeError);
  assert.throws(() => checkLinearizable([put('x', 'a', 0, NaN)]), RangeError);
  assert.throws(
    () => checkLinearizable([{ ...put('x', 'a', 0, 1), output: { kind: 'get', value: null } }]),
    TypeError,
  );
  assert.throws(() => checkLinearizable([], { maxSteps: 0 }), RangeError);
});

// ---------------------------------------------------------------------------------------------------------
// Properties

const KEYS = ['x', 'y', 'z'] as const;
const VALUES = ['a', 'b', 'c'] as const;

const opSpec = fc.record({
  key: fc.constantFrom(...KEYS),
  kind: fc.constantFrom('put', 'get', 'get', 'cas'),
  value: fc.constantFrom(...VALUES),
  expected: fc.constantFrom<string | null>(null, ...VALUES),
  gap: fc.nat({ max: 3 }),
  duration: fc.nat({ max: 3 }),
  clientId: fc.nat({ max: 4 }),
  unknown: fc.boolean(),
  tookEffect: fc.boolean(),
});
type OpSpec = typeof opSpec extends fc.Arbitrary<infer T> ? T : never;

function inputOf(spec: OpSpec): KvInput {
  switch (spec.kind) {
    case 'put':
      return { kind: 'put', key: spec.key, value: spec.value };
    case 'get':
      return { kind: 'get', key: spec.key };
    default:
      return { kind: 'cas', key: spec.key, expected: spec.expected, value: spec.value };
  }
}

/** Runs the specs one after another (op i returns strictly before op i+1 is called). */
function sequentialHistory(specs: readonly OpSpec[], allowUnknown: boolean): Operation[] {
  let registers: Registers = new Map();
  let time = 0;
  const history: Operation[] = [];
  for (const spec of specs) {
    const input = inputOf(spec);
    const call = time + 1 + spec.gap;
    const ret = call + spec.duration;
    time = ret;
    if (allowUnknown && spec.unknown) {
      if (spec.tookEffect) registers = execute(registers, input).registers;
      history.push({ clientId: spec.clientId, input, call, return: Infinity, output: undefined });
    } else {
      const step = execute(registers, input);
      registers = step.registers;
      history.push({ clientId: spec.clientId, input, call, return: ret, output: step.output });
    }
  }
  return history;
}

/**
 * Values a get at position `at` of a sequential history could possibly observe in some linearization: the
 * value left by the last known-outcome write to its key before it (null if none), or the value of any
 * unknown-outcome write to that key (which may take effect at any time, or not at all).
 */
function observableValues(history: readonly Operation[], at: number): Set<string | null> {
  const key = history[at]!.input.key;
  let lastKnown: string | null = null;
  const possible = new Set<string | null>();
  history.forEach((op, i) => {
    const input = op.input;
    if (input.key !== key || input.kind === 'get') return;
    if (op.output === undefined) possible.add(input.value);
    else if (i < at && (op.output.kind === 'put' || (op.output.kind === 'cas' && op.output.ok))) {
      lastKnown = input.value;
    }
  });
  possible.add(lastKnown);
  return possible;
}

test('property: a sequential execution is accepted; corrupting one read makes it rejected', () => {
  fc.assert(
    fc.property(
      fc.array(opSpec, { minLength: 1, maxLength: 40 }),
      fc.boolean(),
      fc.nat(),
      fc.nat(),
      (specs, allowUnknown, pickGet, pickValue) => {
        const history = sequentialHistory(specs, allowUnknown);
        assertOk(checkLinearizable(history));

        const gets = history.flatMap((op, i) =>
          op.input.kind === 'get' && op.output !== undefined ? [i] : [],
        );
        if (gets.length === 0) return;
        const at = gets[pickGet % gets.length]!;
        const possible = observableValues(history, at);
        const candidates = [null, ...VALUES, 'never-written'].filter((v) => !possible.has(v));
        const wrong = candidates[pickValue % candidates.length]!;
        const corrupted = history.map((op, i) =>
          i === at ? { ...op, output: { kind: 'get' as const, value: wrong } } : op,
        );
        assertViolation(checkLinearizable(corrupted), history[at]!.input.key);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: a real execution with random overlapping intervals is accepted', () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 1, max: 60 }), fc.nat({ max: 40 }), (seed, count, spread) => {
      assertOk(checkLinearizable(concurrentHistory(seed, count, KEYS, spread, 10)));
    }),
    { numRuns: 200 },
  );
});

test('property: agrees with a brute-force search on small random histories', () => {
  const randomOp = fc.record({
    key: fc.constantFrom('x', 'x', 'y'),
    kind: fc.constantFrom('put', 'get', 'cas'),
    value: fc.constantFrom(...VALUES),
    expected: fc.constantFrom<string | null>(null, ...VALUES),
    read: fc.constantFrom<string | null>(null, ...VALUES),
    casOk: fc.boolean(),
    call: fc.nat({ max: 8 }),
    duration: fc.nat({ max: 4 }),
    unknown: fc.nat({ max: 2 }),
  });
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(fc.array(randomOp, { minLength: 1, maxLength: 8 }), (specs) => {
      const history = specs.map((s, clientId): Operation => {
        const input: KvInput =
          s.kind === 'put'
            ? { kind: 'put', key: s.key, value: s.value }
            : s.kind === 'get'
              ? { kind: 'get', key: s.key }
              : { kind: 'cas', key: s.key, expected: s.expected, value: s.value };
        const output: Operation['output'] =
          s.unknown === 0
            ? undefined
            : s.kind === 'put'
              ? { kind: 'put' }
              : s.kind === 'get'
                ? { kind: 'get', value: s.read }
                : { kind: 'cas', ok: s.casOk };
        return {
          clientId,
          input,
          call: s.call,
          return: output === undefined ? Infinity : s.call + s.duration,
          output,
        };
      });
      const expected = bruteForceLinearizable(history);
      const result = checkLinearizable(history);
      assert.equal(result.ok, expected, JSON.stringify(history));
      if (expected) accepted++;
      else rejected++;
    }),
    { numRuns: 2000 },
  );
  // Both outcomes were exercised substantially.
  assert.ok(accepted >= 100, `only ${accepted} accepted`);
  assert.ok(rejected >= 100, `only ${rejected} rejected`);
});

// ---------------------------------------------------------------------------------------------------------
// Performance sanity

test('performance: ~2,000 concurrent operations on 10 keys are checked without timing out', () => {
  const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
  const history = concurrentHistory(20240601, 2000, keys, 300, 3);
  assert.equal(history.length, 2000);
  assert.ok(history.some((op) => op.output === undefined));
  assertOk(checkLinearizable(history));

  // Make the last read of some key return a value that was overwritten long before it started: a put p1
  // of a value written by nothing else, then a put p2 called after p1 returned and returning before the
  // read is called.
  let at = history.length - 1;
  while (history[at]!.input.kind !== 'get' || history[at]!.output === undefined) at--;
  const read = history[at]!;
  const key = read.input.key;
  const puts = history.filter(
    (op) => op.input.key === key && op.input.kind === 'put' && op.output !== undefined,
  );
  const writes = (op: Operation): string | undefined =>
    op.input.kind === 'get' ? undefined : op.input.value;
  const p1 = puts.find(
    (a) =>
      history.filter((op) => writes(op) === writes(a)).length === 1 &&
      puts.some((b) => a.return < b.call && b.return < read.call),
  );
  const stale = p1 === undefined ? undefined : writes(p1);
  assert.ok(stale !== undefined);
  const corrupted = history.map((op, i) =>
    i === at ? { ...op, output: { kind: 'get' as const, value: stale } } : op,
  );
  assertViolation(checkLinearizable(corrupted), key);
});
