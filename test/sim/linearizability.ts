// Linearizability checker for the client histories recorded by the deterministic simulator.
//
// Model: one register per key, initially null (absent). `put` sets it, `get` reads it, `cas` sets it to
// `value` iff its current value equals `expected` (null meaning "absent") and reports whether it did.
//
// Algorithm: Wing & Gong's search with Lowe's memoization, in the form Porcupine uses, plus a few sound
// reductions.
//   1. P-compositionality: a history is linearizable iff its restriction to every key is, so each key is
//      checked on its own (keys in code-unit order).
//   2. The call and return events of the key's known-outcome operations are sorted by time into a doubly
//      linked list; unknown-outcome operations, which never return, have a second list of calls.
//   3. Depth-first search with an explicit stack: walking the list from its head, the call events before
//      the first return event are the candidates to come next. A candidate that can be applied to the
//      current register value, producing exactly its recorded output, is linearized: its events are
//      unlinked (dancing links), it is pushed on the stack, and the walk restarts from the head. When
//      the walk reaches a return event, that operation should have been linearized by now: the search
//      backtracks, popping the last choice, relinking it and trying the candidates after it. The history
//      is linearizable once every operation with a known outcome is placed.
//   4. Lowe's memoization: a configuration is (set of linearized operations, register value); reaching
//      one already explored, the search prunes it. Sets are bitsets of Uint32Array words, hashed
//      incrementally (Zobrist hashing: fixed pseudo-random words XORed in and out), stored in one
//      growing arena with hash-bucket chaining, so an entry costs ceil(n / 32) words plus a few integers.
//   5. Reductions, each of which keeps at least one linearization if there is any:
//      - pure operations (get, cas that failed, cas that succeeded writing the value it expected) change
//        nothing, so one that may come next and fits the current value is the only choice tried;
//      - unknown-outcome operations are tried after known-outcome ones, only if they change the value,
//        and never followed directly by a put (which would overwrite them unobserved); a configuration
//        with a subset of the unknown-outcome operations of an explored one (same known-outcome
//        operations and value) is pruned too, as they never have to be linearized;
//      - a configuration is dead, and abandoned, if some value other than the current one is still
//        needed (by a get, or a cas that succeeded) but no pending operation can write it, or if the
//        operation that must come first (first pending return) needs a value no candidate can write.
//   6. Every loop iteration and every candidate scanned counts as a step; a key whose search takes more
//      than `maxSteps` steps yields { ok: 'timeout' } instead of running on.
//
// Time convention (equal timestamps): operation A precedes operation B in real time only if
// A.return < B.call. An operation whose call time equals another's return time is concurrent with it and
// may be linearized on either side of it. (In the event list, call events sort before return events at
// equal times.) This is the permissive choice: it never reports a violation that a strict reading of the
// timestamps would not also report.
//
// Unknown outcomes: an operation with `output === undefined` may have taken effect at any point after its
// call, or never; its `return` field is ignored and treated as Infinity. An unknown-outcome `get` has no
// effect and is dropped; an unknown-outcome `put` or `cas` is applied wherever the search finds it useful
// (an unknown `cas` then does what `cas` does on the register value at that point), and is simply left
// out of the linearization if it is never needed.
//
// Result precedence when several keys are checked: the first key (in code-unit order) that is not
// linearizable is reported; otherwise the first key that timed out; otherwise { ok: true }.
//
// Malformed histories throw: a non-finite call time, a NaN return time or one earlier than the call time
// (for an operation with a known outcome), an output whose kind differs from the input's, or an invalid
// `maxSteps`. Everything is deterministic: no clock, no randomness, ties broken by history index.

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

export type KvOutput =
  | { readonly kind: 'put' }
  | { readonly kind: 'get'; readonly value: string | null }
  | { readonly kind: 'cas'; readonly ok: boolean };

export interface Operation {
  readonly clientId: number;
  readonly input: KvInput;
  /** Simulated time of invocation. */
  readonly call: number;
  /** Simulated time of completion; Infinity when the outcome is unknown. */
  readonly return: number;
  /**
   * undefined = outcome unknown (timed out / member crashed): it may or may not have taken effect, at any
   * time after `call`.
   */
  readonly output: KvOutput | undefined;
}

export type CheckResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly explanation: string }
  | { readonly ok: 'timeout'; readonly key: string };

/** Search steps allowed per key when `options.maxSteps` is not given. */
export const DEFAULT_MAX_STEPS = 5_000_000;

/** How many operations each list in a failure explanation shows at most. */
const MAX_LISTED = 40;

export function checkLinearizable(
  history: readonly Operation[],
  options?: { readonly maxSteps?: number },
): CheckResult {
  const maxSteps = options?.maxSteps ?? DEFAULT_MAX_STEPS;
  if (typeof maxSteps !== 'number' || Number.isNaN(maxSteps) || maxSteps < 1) {
    throw new RangeError(`checkLinearizable: maxSteps must be a number >= 1, got ${String(maxSteps)}`);
  }
  history.forEach(validateOperation);

  const byKey = new Map<string, number[]>();
  history.forEach((op, index) => {
    const indices = byKey.get(op.input.key);
    if (indices === undefined) byKey.set(op.input.key, [index]);
    else indices.push(index);
  });
  const keys = [...byKey.keys()].sort(compareStrings);

  let timedOut: string | undefined;
  for (const key of keys) {
    const result = checkKey(key, history, byKey.get(key) ?? [], maxSteps);
    if (result.kind === 'violation') return { ok: false, key, explanation: result.explanation };
    if (result.kind === 'timeout' && timedOut === undefined) timedOut = key;
  }
  return timedOut === undefined ? { ok: true } : { ok: 'timeout', key: timedOut };
}

type KeyResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'violation'; readonly explanation: string };

function validateOperation(op: Operation, index: number): void {
  const where = `checkLinearizable: history[${index}]`;
  if (typeof op.call !== 'number' || !Number.isFinite(op.call)) {
    throw new RangeError(`${where}: call time must be a finite number, got ${String(op.call)}`);
  }
  if (op.output === undefined) return;
  if (typeof op.return !== 'number' || Number.isNaN(op.return) || op.return < op.call) {
    throw new RangeError(`${where}: return time ${String(op.return)} is not >= call time ${op.call}`);
  }
  if (op.output.kind !== op.input.kind) {
    throw new TypeError(
      `${where}: output kind '${op.output.kind}' does not match input kind '${op.input.kind}'`,
    );
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Operation kinds, as stored in the per-key typed arrays.
const PUT = 0;
const GET = 1;
const CAS = 2;
// Recorded result of a cas.
const CAS_FAILED = 0;
const CAS_SUCCEEDED = 1;
const CAS_UNKNOWN = 2;

/** Register values (null and strings) mapped to small integers; null is 0. */
class ValueTable {
  private readonly ids = new Map<string, number>();
  private readonly values: (string | null)[] = [null];

  id(value: string | null): number {
    if (value === null) return 0;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.ids.set(value, id);
      this.values.push(value);
    }
    return id;
  }

  get size(): number {
    return this.values.length;
  }

  value(id: number): string | null {
    return this.values[id] ?? null;
  }
}

/** A 32-bit integer finalizer (MurmurHash3 fmix32). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function checkKey(
  key: string,
  history: readonly Operation[],
  indices: readonly number[],
  maxSteps: number,
): KeyResult {
  // Local operations: known-outcome ones first (local index < knownCount), then unknown-outcome put/cas.
  // Unknown-outcome gets constrain nothing and change nothing, so they are dropped. Within each group the
  // history order is kept; historyIndex maps a local index back to the history.
  const historyIndex = [
    ...indices.filter((i) => history[i]!.output !== undefined),
    ...indices.filter((i) => history[i]!.output === undefined && history[i]!.input.kind !== 'get'),
  ];
  const n = historyIndex.length;
  let knownCount = 0;
  while (knownCount < n && history[historyIndex[knownCount]!]!.output !== undefined) knownCount++;
  if (knownCount === 0) return { kind: 'ok' };

  // The operations, compiled to typed arrays.
  const values = new ValueTable();
  const kind = new Uint8Array(n);
  const argA = new Int32Array(n); // put: value; get: value read; cas: expected
  const argB = new Int32Array(n); // cas: new value
  const casResult = new Uint8Array(n);
  // pure[i]: i never changes the register value when it produces its recorded output (a get, a cas that
  // failed, a cas that succeeded writing the value it expected).
  const pure = new Uint8Array(n);
  const callTime = new Float64Array(n);
  const returnTime = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const op = history[historyIndex[i]!]!;
    const input = op.input;
    const output = op.output;
    callTime[i] = op.call;
    returnTime[i] = output === undefined ? Infinity : op.return;
    switch (input.kind) {
      case 'put':
        kind[i] = PUT;
        argA[i] = values.id(input.value);
        break;
      case 'get':
        kind[i] = GET;
        argA[i] = values.id(output?.kind === 'get' ? output.value : null);
        pure[i] = 1;
        break;
      case 'cas':
        kind[i] = CAS;
        argA[i] = values.id(input.expected);
        argB[i] = values.id(input.value);
        casResult[i] = output?.kind === 'cas' ? (output.ok ? CAS_SUCCEEDED : CAS_FAILED) : CAS_UNKNOWN;
        if (casResult[i] === CAS_FAILED || (casResult[i] === CAS_SUCCEEDED && argA[i] === argB[i]))
          pure[i] = 1;
        break;
    }
  }

  /** The register value after applying operation i to `state`, or -1 if i cannot produce its output. */
  const apply = (i: number, state: number): number => {
    switch (kind[i]) {
      case PUT:
        return argA[i]!;
      case GET:
        return state === argA[i] ? state : -1;
      default: {
        const matches = state === argA[i];
        switch (casResult[i]) {
          case CAS_SUCCEEDED:
            return matches ? argB[i]! : -1;
          case CAS_FAILED:
            return matches ? -1 : state;
          default:
            return matches ? argB[i]! : state;
        }
      }
    }
  };

  // Two doubly linked lists over nodes: node 2i is the call of operation i, node 2i+1 the return of a
  // known-outcome operation i. The event list (head HEAD) holds the calls and returns of known-outcome
  // operations, sorted by time, calls before returns at equal times, then by history index. The
  // unknown-outcome operations never return, so they have their own list (head UNKNOWN_HEAD) of calls,
  // sorted by call time then history index; such an operation may come next whenever its call time is
  // <= the time of the first return left in the event list (the same calls-first rule).
  const HEAD = 2 * n;
  const UNKNOWN_HEAD = 2 * n + 1;
  const next = new Int32Array(2 * n + 2);
  const prev = new Int32Array(2 * n + 2);
  const nodeTime = (node: number): number =>
    (node & 1) === 0 ? callTime[node >>> 1]! : returnTime[node >>> 1]!;
  const byTime = (x: number, y: number): number => {
    const tx = nodeTime(x);
    const ty = nodeTime(y);
    if (tx !== ty) return tx < ty ? -1 : 1;
    if ((x & 1) !== (y & 1)) return (x & 1) - (y & 1);
    return historyIndex[x >>> 1]! - historyIndex[y >>> 1]!;
  };
  const link = (head: number, nodes: number[]): void => {
    let last = head;
    for (const node of nodes.sort(byTime)) {
      next[last] = node;
      prev[node] = last;
      last = node;
    }
    next[last] = -1;
  };
  link(
    HEAD,
    Array.from({ length: 2 * knownCount }, (_, node) => node),
  );
  link(
    UNKNOWN_HEAD,
    Array.from({ length: n - knownCount }, (_, j) => 2 * (knownCount + j)),
  );

  const unlink = (node: number): void => {
    const p = prev[node]!;
    const q = next[node]!;
    next[p] = q;
    if (q !== -1) prev[q] = p;
  };
  const relink = (node: number): void => {
    const p = prev[node]!;
    const q = next[node]!;
    next[p] = node;
    if (q !== -1) prev[q] = node;
  };
  // Remove call then return; restore in the reverse order so the saved neighbour pointers stay valid.
  const lift = (i: number): void => {
    unlink(2 * i);
    if (i < knownCount) unlink(2 * i + 1);
  };
  const unlift = (i: number): void => {
    if (i < knownCount) relink(2 * i + 1);
    relink(2 * i);
  };

  // The set of linearized operations: known-outcome ones in words [0, knownWords), unknown-outcome ones
  // in words [knownWords, words). Only the known part is hashed (Zobrist), so that configurations that
  // differ only in unknown-outcome operations share a cache bucket.
  const knownWords = (knownCount + 31) >>> 5;
  const words = knownWords + ((n - knownCount + 31) >>> 5);
  const bits = new Uint32Array(words);
  const zobristA = new Uint32Array(knownCount);
  const zobristB = new Uint32Array(knownCount);
  for (let i = 0; i < knownCount; i++) {
    zobristA[i] = mix32(Math.imul(i + 1, 0x9e3779b1) ^ 0x68e31da4);
    zobristB[i] = mix32(Math.imul(i + 1, 0x85ebca77) ^ 0x1b56c4e9);
  }
  let hashA = 0;
  let hashB = 0;
  const toggle = (i: number): void => {
    if (i < knownCount) {
      bits[i >>> 5]! ^= 1 << (i & 31);
      hashA = (hashA ^ zobristA[i]!) >>> 0;
      hashB = (hashB ^ zobristB[i]!) >>> 0;
    } else {
      const bit = knownWords * 32 + (i - knownCount);
      bits[bit >>> 5]! ^= 1 << (bit & 31);
    }
  };

  // The search stack: linearized operations, the register value before each, whether each was a forced
  // (pure) choice, the cache entry of the configuration it led to, and for an unknown-outcome operation
  // the call-time limit of the unknown-outcome candidates where it was chosen.
  const stackOp = new Int32Array(n);
  const stackState = new Int32Array(n);
  const stackForced = new Uint8Array(n);
  const stackEntry = new Int32Array(n);
  const stackDeadline = new Float64Array(n);
  let depth = 0;

  // Lowe's cache of configurations, in one arena with per-bucket chains. A configuration is the set of
  // linearized operations, the register value, and whether the last operation linearized had an unknown
  // outcome (see below), which decides which operations may come next. Every configuration in the cache
  // that is not on the stack has been fully explored and has no completion. A new configuration is pruned
  // if the cache holds the same one, or one with the same known-outcome operations, value and flag and a
  // strict subset of its unknown-outcome operations that is off the stack: an unknown-outcome operation
  // never has to be linearized, so any completion of the larger configuration is one of the smaller.
  const buckets = new Map<number, number>();
  let capacity = 1024;
  let size = 0;
  let arena = new Uint32Array(capacity * words);
  let arenaTag = new Int32Array(capacity);
  let arenaChain = new Int32Array(capacity);
  let arenaDepth = new Int32Array(capacity);
  /** Records the configuration (bits, tag) at depth + 1; returns false if it is pruned instead. */
  const remember = (tag: number): boolean => {
    const a = (hashA ^ mix32(Math.imul(tag + 1, 0xcc9e2d51) ^ 0x3c6ef372)) >>> 0;
    const b = (hashB ^ mix32(Math.imul(tag + 1, 0x1b873593) ^ 0x510e527f)) >>> 0;
    const bucketKey = (a >>> 11) * 0x1_0000_0000 + b; // 53 bits: an exact double
    const first = buckets.get(bucketKey) ?? -1;
    for (let entry = first; entry !== -1; entry = arenaChain[entry]!) {
      if (arenaTag[entry] !== tag) continue;
      const base = entry * words;
      let w = 0;
      while (w < knownWords && arena[base + w] === bits[w]) w++;
      if (w < knownWords) continue;
      let equal = true;
      let subset = true;
      for (; w < words; w++) {
        const stored = arena[base + w]!;
        const current = bits[w]!;
        if (stored !== current) equal = false;
        if ((stored & ~current) !== 0) {
          subset = false;
          break;
        }
      }
      if (equal) return false;
      if (subset) {
        const d = arenaDepth[entry]!;
        if (d > depth || stackEntry[d - 1] !== entry) return false;
      }
    }
    if (size === capacity) {
      capacity *= 2;
      const grownArena = new Uint32Array(capacity * words);
      grownArena.set(arena);
      arena = grownArena;
      const grownTag = new Int32Array(capacity);
      grownTag.set(arenaTag);
      arenaTag = grownTag;
      const grownChain = new Int32Array(capacity);
      grownChain.set(arenaChain);
      arenaChain = grownChain;
      const grownDepth = new Int32Array(capacity);
      grownDepth.set(arenaDepth);
      arenaDepth = grownDepth;
    }
    arena.set(bits, size * words);
    arenaTag[size] = tag;
    arenaChain[size] = first;
    arenaDepth[size] = depth + 1;
    buckets.set(bucketKey, size);
    stackEntry[depth] = size;
    size++;
    return true;
  };
  /** The cache tag of the configuration reached by linearizing operation i, leaving `after`. */
  const tagOf = (i: number, after: number): number => 2 * after + (i < knownCount ? 0 : 1);

  // Starvation check: readers[v] counts the pending known-outcome operations that need value v (gets of
  // v, cas that succeeded expecting v), writers[v] the pending operations that can set v from another
  // value (puts of v, cas to v that succeeded or may have). If some v other than the current value has
  // readers and no writers, no completion exists. `starved` counts the values with readers and no writers.
  const valueCount = values.size;
  const readers = new Int32Array(valueCount);
  const writers = new Int32Array(valueCount);
  const readerOf = new Int32Array(n).fill(-1);
  const writerOf = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (kind[i] === PUT) writerOf[i] = argA[i]!;
    else if (kind[i] === GET) readerOf[i] = argA[i]!;
    else if (casResult[i] !== CAS_FAILED) {
      if (casResult[i] === CAS_SUCCEEDED) readerOf[i] = argA[i]!;
      if (argA[i] !== argB[i]) writerOf[i] = argB[i]!;
    }
    if (readerOf[i]! >= 0) readers[readerOf[i]!]!++;
    if (writerOf[i]! >= 0) writers[writerOf[i]!]!++;
  }
  let starved = 0;
  for (let v = 0; v < valueCount; v++) if (readers[v]! > 0 && writers[v] === 0) starved++;
  const isStarved = (v: number): number => (readers[v]! > 0 && writers[v] === 0 ? 1 : 0);
  /** Adds delta (+1 or -1) to the counts of operation i. */
  const account = (i: number, delta: number): void => {
    const r = readerOf[i]!;
    if (r >= 0) {
      starved -= isStarved(r);
      readers[r]! += delta;
      starved += isStarved(r);
    }
    const w = writerOf[i]!;
    if (w >= 0) {
      starved -= isStarved(w);
      writers[w]! += delta;
      starved += isStarved(w);
    }
  };

  let state = 0;
  let knownLeft = knownCount;
  // Set when the last linearized operation had an unknown outcome: then a put may not come next. (If
  // there is a linearization, there is one without such a pair: the put overwrites the unknown-outcome
  // operation unobserved, so that one can be dropped.)
  let afterUnknown = false;
  let best = new Int32Array(0);
  let bestState = 0;
  let steps = 0;
  let node = HEAD;
  let fresh = true; // a configuration just entered, not yet scanned for pure operations
  let unknownPhase = false; // walking the unknown-outcome candidates, after the known-outcome ones
  let deadline = 0; // during the unknown phase: the time of the first pending return

  const push = (i: number, after: number, forced: number): void => {
    stackOp[depth] = i;
    stackState[depth] = state;
    stackForced[depth] = forced;
    stackDeadline[depth] = deadline;
    depth++;
    if (i < knownCount) knownLeft--;
    afterUnknown = i >= knownCount;
    state = after;
    if (depth > best.length) {
      best = stackOp.slice(0, depth);
      bestState = state;
    }
    lift(i);
    account(i, -1);
    fresh = true;
  };
  /** Undoes choices up to and including the last unforced one; false when there is none left. */
  const backtrack = (): boolean => {
    while (depth > 0) {
      depth--;
      const i = stackOp[depth]!;
      state = stackState[depth]!;
      if (i < knownCount) knownLeft++;
      afterUnknown = depth > 0 && stackOp[depth - 1]! >= knownCount;
      toggle(i);
      unlift(i);
      account(i, 1);
      if (stackForced[depth] === 0) {
        node = next[2 * i]!;
        unknownPhase = i >= knownCount;
        deadline = stackDeadline[depth]!;
        return true;
      }
    }
    return false;
  };
  const violation = (): KeyResult => {
    // The search prunes dead ends early, so extend the longest prefix it found greedily with operations
    // with a known outcome that may come next and fit (pure ones first, then the earliest to return):
    // the explanation then stops at operations that really cannot come next.
    const prefix = Array.from(best);
    const placed = new Uint8Array(n);
    for (const i of prefix) placed[i] = 1;
    let value = bestState;
    for (;;) {
      let limit = Infinity;
      for (let i = 0; i < knownCount; i++) if (placed[i] === 0) limit = Math.min(limit, returnTime[i]!);
      let found = -1;
      for (let i = 0; i < knownCount; i++) {
        if (placed[i] === 1 || callTime[i]! > limit || apply(i, value) < 0) continue;
        if (
          found < 0 ||
          pure[i]! > pure[found]! ||
          (pure[i] === pure[found] && returnTime[i]! < returnTime[found]!)
        ) {
          found = i;
        }
      }
      if (found < 0) break;
      placed[found] = 1;
      prefix.push(found);
      value = apply(found, value);
    }
    // Values still needed by the remaining operations that none of them can write.
    const needed = new Map<number, number[]>();
    const stillWritten = new Set<number>();
    for (let i = 0; i < n; i++) {
      if (placed[i] === 1) continue;
      const r = readerOf[i]!;
      if (r >= 0 && r !== value) {
        const ops = needed.get(r);
        if (ops === undefined) needed.set(r, [historyIndex[i]!]);
        else ops.push(historyIndex[i]!);
      }
      if (writerOf[i]! >= 0) stillWritten.add(writerOf[i]!);
    }
    const notes: string[] = [];
    for (const [v, ops] of needed) {
      if (stillWritten.has(v)) continue;
      const list =
        ops
          .slice(0, 10)
          .map((h) => `#${h}`)
          .join(', ') + (ops.length > 10 ? ', ...' : '');
      notes.push(
        `${show(values.value(v))} is not the value after the prefix and no remaining operation writes ` +
          `it, yet it is needed by ${list}`,
      );
    }
    return {
      kind: 'violation',
      explanation: explain(key, history, historyIndex, prefix, values.value(value), notes, (i) =>
        describeOutcome(kind[i]!, value, argA[i]!, values),
      ),
    };
  };

  /** Whether a candidate (its call at or before `limit`, which is the first pending return) can write v. */
  const writable = (v: number, limit: number): boolean => {
    for (let c = next[HEAD]!; (c & 1) === 0; c = next[c]!) {
      steps++;
      const i = c >>> 1;
      if (kind[i] === PUT ? argA[i] === v : kind[i] === CAS && casResult[i] !== CAS_FAILED && argB[i] === v)
        return true;
    }
    for (let c = next[UNKNOWN_HEAD]!; c !== -1 && callTime[c >>> 1]! <= limit; c = next[c]!) {
      steps++;
      const i = c >>> 1;
      if ((kind[i] === PUT ? argA[i] : argB[i]) === v) return true;
    }
    return false;
  };

  while (knownLeft > 0) {
    if (steps >= maxSteps) return { kind: 'timeout' };
    steps++;
    if (fresh) {
      fresh = false;
      if (starved > isStarved(state)) {
        if (!backtrack()) return violation();
        continue;
      }
      // Pure-operation reduction: if a pure operation may come next (its call precedes every pending
      // return) and fits the current value, then some linearization extending this prefix places it
      // next if any does, since moving it forward changes no value seen by another operation and breaks
      // no real-time order. So it is the only choice tried here.
      let forced = -1;
      let c = next[HEAD]!;
      for (; (c & 1) === 0; c = next[c]!) {
        steps++;
        const i = c >>> 1;
        if (pure[i] === 1 && apply(i, state) >= 0) {
          forced = i;
          break;
        }
      }
      if (forced < 0) {
        // Deadline lookahead: the operation r of the first pending return must be linearized before
        // anything that is not a candidate now. If it needs a value other than the current one (a get, or
        // a cas that succeeded) and no candidate can write that value, this configuration is dead.
        const r = c >>> 1;
        const need = kind[r] === GET || casResult[r] === CAS_SUCCEEDED ? argA[r]! : -1;
        if (need >= 0 && need !== state && !writable(need, returnTime[r]!)) {
          if (!backtrack()) return violation();
          continue;
        }
        node = next[HEAD]!;
        unknownPhase = false;
        continue;
      }
      toggle(forced);
      if (remember(tagOf(forced, state))) {
        push(forced, state, 1);
        continue;
      }
      // Pruned: this configuration has no completion either.
      toggle(forced);
      if (!backtrack()) return violation();
      continue;
    }
    if (!unknownPhase) {
      // First the known-outcome candidates: the calls before the first return in the event list.
      if ((node & 1) === 0) {
        const i = node >>> 1;
        const after = afterUnknown && kind[i] === PUT ? -1 : apply(i, state);
        if (after >= 0) {
          toggle(i);
          if (remember(tagOf(i, after))) {
            push(i, after, 0);
            continue;
          }
          toggle(i);
        }
        node = next[node]!;
      } else {
        // Then the unknown-outcome ones, which makes configurations with fewer of them applied come
        // first (helping the subset pruning).
        unknownPhase = true;
        deadline = returnTime[node >>> 1]!;
        node = next[UNKNOWN_HEAD]!;
      }
    } else if (node !== -1 && callTime[node >>> 1]! <= deadline) {
      const i = node >>> 1;
      const after = apply(i, state);
      // Applying an unknown-outcome operation that leaves the value as it is, or a put right after one,
      // is never needed: dropping them leaves a linearization with fewer unknown-outcome operations.
      if (after >= 0 && after !== state && !(afterUnknown && kind[i] === PUT)) {
        toggle(i);
        if (remember(tagOf(i, after))) {
          push(i, after, 0);
          continue;
        }
        toggle(i);
      }
      node = next[node]!;
    } else if (!backtrack()) {
      // Every candidate failed, and there is no choice left to undo.
      return violation();
    }
  }
  return { kind: 'ok' };
}

/** What an operation of the given kind would do to register value `state` (cas: `expected` is its id). */
function describeOutcome(kind: number, state: number, expected: number, values: ValueTable): string {
  switch (kind) {
    case GET:
      return `would read ${show(values.value(state))} here`;
    case CAS:
      return `would ${state === expected ? 'succeed' : 'fail'} here (value ${show(values.value(state))})`;
    default:
      return 'applicable here';
  }
}

function show(value: string | null): string {
  return value === null ? 'null' : JSON.stringify(value);
}

function describeOperation(op: Operation, index: number): string {
  const input = op.input;
  const call =
    input.kind === 'put'
      ? `put(${show(input.value)})`
      : input.kind === 'get'
        ? 'get()'
        : `cas(${show(input.expected)} -> ${show(input.value)})`;
  const output = op.output;
  const result =
    output === undefined
      ? '? (outcome unknown)'
      : output.kind === 'put'
        ? 'ok'
        : output.kind === 'get'
          ? show(output.value)
          : `ok=${String(output.ok)}`;
  const interval = output === undefined ? `[${op.call}, ?]` : `[${op.call}, ${op.return}]`;
  return `#${index} client ${op.clientId} ${call} -> ${result} at ${interval}`;
}

function explain(
  key: string,
  history: readonly Operation[],
  historyIndex: readonly number[],
  best: readonly number[],
  bestValue: string | null,
  notes: readonly string[],
  outcome: (i: number) => string,
): string {
  const n = historyIndex.length;
  const lines: string[] = [];
  const op = (i: number): Operation => history[historyIndex[i]!]!;
  const known = (i: number): boolean => op(i).output !== undefined;
  const returnOf = (i: number): number => (known(i) ? op(i).return : Infinity);
  let knownCount = 0;
  for (let i = 0; i < n; i++) if (known(i)) knownCount++;

  lines.push(
    `history of key ${JSON.stringify(key)} is not linearizable: ${knownCount} operation(s) with a known ` +
      `outcome and ${n - knownCount} put/cas with an unknown outcome (unknown-outcome gets are ignored).`,
  );

  lines.push(`Longest linearizable prefix found (${best.length} operation(s)), in linearization order:`);
  const skipped = Math.max(0, best.length - MAX_LISTED);
  if (best.length === 0) lines.push('  (none)');
  if (skipped > 0) lines.push(`  ... ${skipped} earlier operation(s) omitted`);
  for (let k = skipped; k < best.length; k++) {
    const i = best[k]!;
    lines.push(`  ${k + 1}. ${describeOperation(op(i), historyIndex[i]!)}`);
  }
  lines.push(`Register value after that prefix: ${show(bestValue)}.`);

  const placed = new Uint8Array(n);
  for (const i of best) placed[i] = 1;
  const rest: number[] = [];
  let deadline = Infinity;
  for (let i = 0; i < n; i++) {
    if (placed[i] === 1 || !known(i)) continue;
    rest.push(i);
    deadline = Math.min(deadline, returnOf(i));
  }
  rest.sort((x, y) => op(x).call - op(y).call || returnOf(x) - returnOf(y) || x - y);
  let unknownLeft = 0;
  for (let i = 0; i < n; i++) if (placed[i] === 0 && !known(i)) unknownLeft++;

  lines.push(
    `Operations with a known outcome that could not be placed after it (${rest.length}); those marked` +
      ` "next?" were eligible to come next in real-time order (called by t=${deadline}):`,
  );
  for (const i of rest.slice(0, MAX_LISTED)) {
    const eligible = op(i).call <= deadline;
    const note = eligible ? `  next? ${outcome(i)}` : '';
    lines.push(`  ${describeOperation(op(i), historyIndex[i]!)}${note}`);
  }
  if (rest.length > MAX_LISTED) lines.push(`  ... ${rest.length - MAX_LISTED} more`);
  for (const note of notes.slice(0, MAX_LISTED)) lines.push(`Note: ${note}.`);
  if (unknownLeft > 0) {
    lines.push(
      `Unknown-outcome put/cas not applied in that prefix (allowed to never take effect): ${unknownLeft}.`,
    );
  }
  return lines.join('\n');
}
