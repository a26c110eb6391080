// End to end, WAL damage, following what etcd 3.4.23 does (docs: etcd-dr-observed.md A9; etcd-v3.md
// §4.1): real `cairn` processes are stopped (SIGTERM, or SIGKILL), the newest segment of a member's WAL
// is damaged, and the member is started again.
//   - a tail cut inside its last record, or a record of the last segment holding an all-zero 512-byte
//     sector piece (a torn write), is repaired: the damaged file is kept as `<segment>.broken`, the
//     segment is cut at the start of the torn record, and the member serves everything acknowledged
//     before it (its backend may be ahead of the repaired WAL: the start must cope with that);
//   - a follower whose repair dropped an entry it had acknowledged to the leader refuses to run (etcd
//     panics there) and says how to replace it;
//   - a flipped byte in a complete record in the middle of the log refuses the start (exit code 1)
//     with an error naming the file and the offset of the bad record, and changes nothing on disk;
//     a follower in that state is replaced as etcd documents (member remove, wipe, member add, start
//     empty with --initial-cluster-state existing) while the other two keep serving.
// Where a record is, and where the data ends, is found by decoding the frames (never by guessing).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';

import { Client } from '../../src/client/index.js';
import {
  ENTRY_TYPE,
  FRAME_HEADER_BYTES,
  RECORD_TYPE_NAMES,
  SECTOR_BYTES,
  decodeLengthWord,
  decodeRecord,
} from '../../src/storage/wal/record.js';
import { cairnCluster, waitFor, type CairnCluster, type CairnMember } from '../support/cairn-cluster.js';
import {
  endpointOf,
  etcdctl,
  etcdctlFull,
  holds,
  leaderOf,
  memberIdOf,
  started,
} from '../support/etcdctl.js';

// ---- The WAL's frames, decoded from the file ------------------------------------------------------

interface Frame {
  /** Offset of the frame's length word. */
  readonly offset: number;
  readonly recordBytes: number;
  readonly padBytes: number;
  readonly type: number;
  /** Offset and bytes of the record's data field (empty for crc records). */
  readonly dataOffset: number;
  readonly data: Buffer;
}

interface Segment {
  readonly frames: Frame[];
  /** Where the written data ends: just past the last frame. */
  readonly end: number;
}

/** Walks the frames of an undamaged segment up to its first zero length word (or its end). */
function decodeSegment(file: string): Segment {
  const b = readFileSync(file);
  const frames: Frame[] = [];
  let pos = 0;
  while (pos + FRAME_HEADER_BYTES <= b.byteLength) {
    const lo = b.readUInt32LE(pos);
    const hi = b.readUInt32LE(pos + 4);
    if (lo === 0 && hi === 0) break; // preallocated space
    const { recordBytes, padBytes } = decodeLengthWord(lo, hi);
    const start = pos + FRAME_HEADER_BYTES;
    assert.ok(start + recordBytes + padBytes <= b.byteLength, `${file}: frame at ${pos} runs past the end`);
    const rec = decodeRecord(b.subarray(start, start + recordBytes));
    const dataBytes = rec.data?.byteLength ?? 0;
    frames.push({
      offset: pos,
      recordBytes,
      padBytes,
      type: rec.type,
      // The data field is marshalled last, so its bytes end the record.
      dataOffset: start + recordBytes - dataBytes,
      data: Buffer.from(b.subarray(start + recordBytes - dataBytes, start + recordBytes)),
    });
    pos = start + recordBytes + padBytes;
  }
  return { frames, end: pos };
}

function frameEnd(f: Frame): number {
  return f.offset + FRAME_HEADER_BYTES + f.recordBytes + f.padBytes;
}

/** etcd's isTornEntry: whether a piece of the frame's body between sector boundaries is all zeros. */
function hasZeroSectorChunk(file: Buffer, f: Frame): boolean {
  for (let at = f.offset + FRAME_HEADER_BYTES; at < frameEnd(f);) {
    const next = Math.min(frameEnd(f), (Math.floor(at / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    if (file.subarray(at, next).every((x) => x === 0)) return true;
    at = next;
  }
  return false;
}

/** The newest segment of a member's WAL: the one with the highest sequence number. */
function newestSegment(m: CairnMember): string {
  const dir = join(m.dataDir, 'member', 'wal');
  const names = readdirSync(dir)
    .filter((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/.test(n))
    .sort();
  assert.ok(names.length > 0, `no WAL segment in ${dir}`);
  return join(dir, names[names.length - 1]);
}

function writeAt(file: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.byteLength, offset);
  } finally {
    closeSync(fd);
  }
}

/** sha256 of every file under `dir`, by relative path. */
function hashTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      const name = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(path, name);
      else out.set(name, createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(dir, '');
  return out;
}

/** Which of `keys` the data of `frames` carries (their puts are lost with those records). */
function keysIn(frames: readonly Frame[], keys: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const k of keys) {
    const needle = Buffer.from(k);
    if (frames.some((f) => f.data.includes(needle))) out.add(k);
  }
  return out;
}

// ---- Members, keys and logs -----------------------------------------------------------------------

/** Puts `count` keys `<prefix>NNN` = `v-NNN` through the client library; all acknowledged. */
async function writeKeys(
  t: TestContext,
  endpoints: readonly CairnMember[],
  prefix: string,
  count: number,
): Promise<Map<string, string>> {
  const client = Client.connect({ endpoints: endpoints.map(endpointOf) });
  t.after(() => client.close());
  const acked = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const key = `${prefix}${String(i).padStart(3, '0')}`;
    const value = `v-${i}`;
    await client.kv.put(key, value, {}, { timeoutMs: 5000 });
    acked.set(key, value);
  }
  return acked;
}

/** Every key under `wal/` that `m` serves: from its own state ('s'), or once the leader's commit is applied ('l'). */
async function keysOn(m: CairnMember, consistency: 's' | 'l'): Promise<Map<string, string>> {
  const out = await etcdctl(
    endpointOf(m),
    'get',
    'wal/',
    '--prefix',
    '-w',
    'json',
    '--consistency',
    consistency,
  );
  const kvs = (JSON.parse(out) as { kvs?: { key: string; value: string }[] }).kvs ?? [];
  return new Map(
    kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]),
  );
}

function assertHolds(
  m: CairnMember,
  got: ReadonlyMap<string, string>,
  want: ReadonlyMap<string, string>,
): void {
  const missing = [...want].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
  assert.deepEqual(missing, [], `${m.name} lacks acknowledged keys (it serves ${got.size} under wal/)`);
}

/** Waits until `m` answers a serializable read; fails at once (with its log) if it exits instead. */
async function untilServing(m: CairnMember, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (m.process === undefined) assert.fail(`${m.name} exited instead of starting; its log:\n${m.log}`);
    try {
      await etcdctlFull(endpointOf(m), '1s', 'get', 'wal/', '--prefix', '--keys-only', '--consistency', 's');
      return;
    } catch (e) {
      if (Date.now() > deadline)
        throw new Error(`${m.name} does not serve; its log:\n${m.log}`, { cause: e });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The exit code of `m`'s process, which must end within `timeoutMs`. */
async function exitCode(m: CairnMember, timeoutMs = 15000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${m.name} still running; its log:\n${m.log}`)), timeoutMs);
  });
  try {
    return await Promise.race([m.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first log line of `m` that mentions a repair of `segment` (waits for the asynchronous logger). */
async function repairLine(m: CairnMember, segment: string): Promise<string> {
  return waitFor(
    `${m.name} to log the repair of ${segment}`,
    async () => m.log.split('\n').find((l) => /repair/i.test(l) && l.includes(segment)),
    5000,
  );
}

/** Restarts `m` on its data dir and checks the repair etcd would make: cut at `at`, a `.broken` copy. */
async function restartRepaired(
  c: CairnCluster,
  m: CairnMember,
  segment: string,
  original: Buffer,
  damaged: Buffer,
  at: number,
): Promise<string> {
  m.log = '';
  c.start(m);
  await untilServing(m);
  const line = await repairLine(m, segment);
  assert.match(line, /\.broken/, line);
  assert.match(line, new RegExp(`\\b${at}\\b`), `the repair names offset ${at}: ${line}`);
  // The damaged file is kept as it was; the segment keeps every good record byte for byte.
  const broken = `${segment}.broken`;
  assert.ok(existsSync(broken), `${broken} exists`);
  assert.ok(readFileSync(broken).equals(damaged), `${broken} is the damaged file`);
  const repaired = readFileSync(segment);
  assert.ok(repaired.subarray(0, at).equals(original.subarray(0, at)), 'the good records are kept');
  return line;
}

async function followerOf(c: CairnCluster): Promise<CairnMember> {
  const leader = await leaderOf(c);
  const follower = c.members.find((m) => endpointOf(m) !== leader);
  assert.ok(follower !== undefined);
  return follower;
}

/** A big value: its entry record spans several 512-byte sectors. */
const BIG = 'B'.repeat(3 * SECTOR_BYTES);

/**
 * Zeroes the first whole 512-byte sector inside the data of the last entry record carrying `key` (a
 * torn write of that record; etcd's case zero-last-entry-data). Returns that record.
 */
function zeroSectorOfLastEntry(segment: string, frames: readonly Frame[], key: string): Frame {
  const needle = Buffer.from(key);
  const e = frames.filter((f) => f.type === ENTRY_TYPE && f.data.includes(needle)).pop();
  assert.ok(e !== undefined, `an entry record for ${key}`);
  const sector = Math.ceil(e.dataOffset / SECTOR_BYTES) * SECTOR_BYTES;
  assert.ok(sector + SECTOR_BYTES <= e.dataOffset + e.data.byteLength, 'a whole sector inside the record');
  writeAt(segment, sector, new Uint8Array(SECTOR_BYTES));
  return e;
}

/**
 * Flips a byte in the middle of the data of a complete entry record near the middle of the log (not
 * the last record, not the last entry), where no sector piece of it becomes all zeros (which etcd and
 * Cairn would take for a torn write). Returns that record.
 */
function flipMidLog(segment: string, frames: readonly Frame[]): Frame {
  const file = readFileSync(segment);
  const lastEntry = frames.reduce((last, f, i) => (f.type === ENTRY_TYPE ? i : last), -1);
  const middle = Math.floor(frames.length / 2);
  const candidates = frames
    .map((f, i) => ({ f, i }))
    .filter(({ f, i }) => f.type === ENTRY_TYPE && f.data.byteLength >= 16 && i < lastEntry)
    .sort((a, b) => Math.abs(a.i - middle) - Math.abs(b.i - middle));
  for (const { f } of candidates) {
    const at = f.dataOffset + Math.floor(f.data.byteLength / 2);
    const flipped = Buffer.from(file);
    flipped[at] ^= 0x5a;
    if (hasZeroSectorChunk(flipped, f)) continue;
    writeAt(segment, at, flipped.subarray(at, at + 1));
    return f;
  }
  assert.fail('no entry record in the middle of the log to damage');
}

/** The start of a member refuses a mid-log CRC mismatch: exit 1, file and offset named, nothing changed. */
async function assertRefused(c: CairnCluster, m: CairnMember, segment: string, bad: Frame): Promise<string> {
  const before = hashTree(m.dataDir);
  m.log = '';
  c.start(m);
  assert.equal(await exitCode(m), 1, `exit code 1, as etcd; log:\n${m.log}`);
  const line = m.log.split('\n').find((l) => l.includes(segment));
  assert.ok(line !== undefined, `the error names ${segment}:\n${m.log}`);
  assert.match(
    line,
    new RegExp(`offset ${bad.offset}\\b`),
    `the error names the bad record's offset: ${line}`,
  );
  assert.match(line, /crc mismatch/, line);
  assert.match(line, /cannot be repaired/, line);
  assert.match(line, /member remove/, `the error says what to do: ${line}`);
  assert.deepEqual(hashTree(m.dataDir), before, 'the failed start changed nothing in the data dir');
  assert.ok(!existsSync(`${segment}.broken`), 'no repair was attempted');
  return line;
}

// ---- A single member ------------------------------------------------------------------------------

test('single member: a WAL cut inside its last record is repaired, keeping a .broken copy', async (t) => {
  const c = await cairnCluster(t, ['w1']);
  const [m] = c.members;
  await started(c);
  const acked = await writeKeys(t, c.members, 'wal/k', 30);
  assert.equal(await c.kill(m, 'SIGTERM'), 0);

  const segment = newestSegment(m);
  const original = readFileSync(segment);
  const { frames, end } = decodeSegment(segment);
  const last = frames[frames.length - 1];
  assert.equal(frameEnd(last), end);
  const cut = last.offset + FRAME_HEADER_BYTES + Math.floor(last.recordBytes / 2);
  truncateSync(segment, cut);
  const damaged = readFileSync(segment);

  const line = await restartRepaired(c, m, segment, original, damaged, last.offset);
  t.diagnostic(`cut ${segment} at ${cut} (last record: ${RECORD_TYPE_NAMES[last.type]} at ${last.offset})`);
  t.diagnostic(`repair: ${line}`);
  const lost = keysIn([last], acked.keys());
  const before = new Map([...acked].filter(([k]) => !lost.has(k)));
  await leaderOf(c);
  assertHolds(m, await keysOn(m, 'l'), before);

  assert.equal(await etcdctl(endpointOf(m), 'put', 'wal/after-repair', 'ok'), 'OK\n');
  assert.equal(await etcdctl(endpointOf(m), 'get', 'wal/after-repair', '--print-value-only'), 'ok\n');
});

test('single member: a torn write (an all-zero sector inside the last entry record) is repaired', async (t) => {
  const c = await cairnCluster(t, ['w1']);
  const [m] = c.members;
  await started(c);
  const acked = await writeKeys(t, c.members, 'wal/k', 30);
  assert.equal(await etcdctl(endpointOf(m), 'put', 'wal/big', BIG), 'OK\n');
  acked.set('wal/big', BIG);
  assert.equal(await c.kill(m, 'SIGTERM'), 0);

  const segment = newestSegment(m);
  const original = readFileSync(segment);
  const { frames } = decodeSegment(segment);
  const torn = zeroSectorOfLastEntry(segment, frames, 'wal/big');
  const after = frames.filter((f) => f.offset > torn.offset);
  t.diagnostic(
    `zeroed a sector of the entry record at ${torn.offset}; after it: ${after.map((f) => RECORD_TYPE_NAMES[f.type]).join(', ')}`,
  );
  const damaged = readFileSync(segment);

  const line = await restartRepaired(c, m, segment, original, damaged, torn.offset);
  t.diagnostic(`repair: ${line}`);
  const lost = keysIn([torn, ...after], acked.keys());
  assert.ok(lost.has('wal/big'));
  await leaderOf(c);
  assertHolds(m, await keysOn(m, 'l'), new Map([...acked].filter(([k]) => !lost.has(k))));

  assert.equal(await etcdctl(endpointOf(m), 'put', 'wal/after-repair', 'ok'), 'OK\n');
  assert.equal(await etcdctl(endpointOf(m), 'get', 'wal/after-repair', '--print-value-only'), 'ok\n');
});

test('single member: a flipped byte in a record in the middle of the WAL refuses the start, changing nothing', async (t) => {
  const c = await cairnCluster(t, ['w1']);
  const [m] = c.members;
  await started(c);
  await writeKeys(t, c.members, 'wal/k', 30);
  assert.equal(await c.kill(m, 'SIGTERM'), 0);

  const segment = newestSegment(m);
  const { frames } = decodeSegment(segment);
  const bad = flipMidLog(segment, frames);
  const line = await assertRefused(c, m, segment, bad);
  t.diagnostic(`record ${frames.indexOf(bad)} of ${frames.length} at ${bad.offset}: ${line}`);
});

// ---- A follower of three members ------------------------------------------------------------------

/**
 * A 3-member cluster with 20 keys everywhere and one follower stopped cleanly, 10 keys behind the
 * others; its newest WAL segment as it was, with its frames and last frame.
 */
async function followerBehind(t: TestContext) {
  const c = await cairnCluster(t, ['f1', 'f2', 'f3']);
  await started(c);
  const acked = await writeKeys(t, c.members, 'wal/a', 20);
  const f = await followerOf(c);
  await holds(endpointOf(f), 'wal/a019', 'v-19');
  assert.equal(await c.kill(f, 'SIGTERM'), 0);
  const others = c.members.filter((m) => m !== f);
  for (const [k, v] of await writeKeys(t, others, 'wal/b', 10)) acked.set(k, v);
  const segment = newestSegment(f);
  const original = readFileSync(segment);
  const { frames } = decodeSegment(segment);
  return { c, f, others, acked, segment, original, frames, last: frames[frames.length - 1] };
}

/** The repaired follower caught up: every acknowledged key, and it takes part in a new write. */
async function assertCaughtUp(
  f: CairnMember,
  others: readonly CairnMember[],
  acked: ReadonlyMap<string, string>,
): Promise<void> {
  await holds(endpointOf(f), 'wal/b009', 'v-9');
  assertHolds(f, await keysOn(f, 's'), acked);
  assert.equal(await etcdctl(endpointOf(f), 'put', 'wal/after-repair', 'ok'), 'OK\n');
  for (const m of others) await holds(endpointOf(m), 'wal/after-repair', 'ok');
}

test('follower: a WAL cut inside its last record is repaired and the follower catches up', async (t) => {
  const { c, f, others, acked, segment, original, last } = await followerBehind(t);
  truncateSync(segment, last.offset + FRAME_HEADER_BYTES + Math.floor(last.recordBytes / 2));
  const damaged = readFileSync(segment);

  const line = await restartRepaired(c, f, segment, original, damaged, last.offset);
  t.diagnostic(`repair: ${line}`);
  await assertCaughtUp(f, others, acked);
});

test('follower: a torn last record (zeros after its length word) is repaired and the follower catches up', async (t) => {
  const { c, f, others, acked, segment, original, last } = await followerBehind(t);
  // The sectors of the last write never reached the disk: its bytes read back as the zeros they replaced.
  writeAt(
    segment,
    last.offset + FRAME_HEADER_BYTES,
    new Uint8Array(frameEnd(last) - last.offset - FRAME_HEADER_BYTES),
  );
  const damaged = readFileSync(segment);
  assert.ok(hasZeroSectorChunk(damaged, last));

  const line = await restartRepaired(c, f, segment, original, damaged, last.offset);
  t.diagnostic(`zeroed the ${RECORD_TYPE_NAMES[last.type]} record at ${last.offset}; repair: ${line}`);
  await assertCaughtUp(f, others, acked);
});

test('follower: a repair that drops an entry it had applied keeps its state; the backend stands in for the log', async (t) => {
  // etcd 3.4.23 in this case repairs, then panics on the leader's first heartbeat ("tocommit(29) is out
  // of range [lastIndex(28)]. Was the raft log corrupted, truncated, or lost?", exit code 2). The
  // entry is not lost: the backend applied it, so it serves as the raft snapshot at its index.
  const c = await cairnCluster(t, ['f1', 'f2', 'f3']);
  await started(c);
  const acked = await writeKeys(t, c.members, 'wal/a', 20);
  assert.equal(await etcdctl(c.endpoints(), 'put', 'wal/big', BIG), 'OK\n');
  acked.set('wal/big', BIG);
  const f = await followerOf(c);
  await holds(endpointOf(f), 'wal/big', BIG);
  assert.equal(await c.kill(f, 'SIGTERM'), 0);

  const segment = newestSegment(f);
  const { frames } = decodeSegment(segment);
  const torn = zeroSectorOfLastEntry(segment, frames, 'wal/big');
  f.log = '';
  c.start(f);
  await untilServing(f);
  const repaired = f.log.split('\n').find((l) => /repair/i.test(l) && l.includes(segment));
  assert.ok(repaired !== undefined && new RegExp(`\\b${torn.offset}\\b`).test(repaired), f.log);
  assert.match(f.log, /the backend now stands as the raft snapshot/);
  assert.doesNotMatch(f.log, /lost log entries/);
  assertHolds(f, await keysOn(f, 's'), acked);
  assert.equal(await etcdctl(endpointOf(f), 'put', 'wal/after-repair', 'ok'), 'OK\n');
  for (const m of c.members) await holds(endpointOf(m), 'wal/after-repair', 'ok');
});

test('follower: a mid-log CRC mismatch refuses the start; the others serve; remove, wipe, re-add restores it', async (t) => {
  const c = await cairnCluster(t, ['f1', 'f2', 'f3']);
  await started(c);
  const acked = await writeKeys(t, c.members, 'wal/a', 30);
  const f = await followerOf(c);
  await holds(endpointOf(f), 'wal/a029', 'v-29');
  await c.kill(f, 'SIGKILL');

  const segment = newestSegment(f);
  const { frames } = decodeSegment(segment);
  const bad = flipMidLog(segment, frames);
  const line = await assertRefused(c, f, segment, bad);
  t.diagnostic(`record ${frames.indexOf(bad)} of ${frames.length} at ${bad.offset}: ${line}`);

  // The other two are a quorum: they keep serving writes and linearizable reads.
  const others = c.members.filter((m) => m !== f);
  const survivors = others.map(endpointOf).join(',');
  for (const [k, v] of await writeKeys(t, others, 'wal/b', 10)) acked.set(k, v);
  assert.equal(await etcdctl(survivors, 'get', 'wal/b009', '--print-value-only'), 'v-9\n');

  // etcd's remedy: remove the member, wipe its data dir, add it back, start it empty.
  const oldId = await memberIdOf(survivors, f.name);
  assert.match(
    await etcdctl(survivors, 'member', 'remove', oldId),
    new RegExp(`^Member +${oldId} removed from cluster +[0-9a-f]+\n$`),
  );
  rmSync(f.dataDir, { recursive: true, force: true });
  // Strict reconfiguration refuses an add until the members have been connected for a while.
  const added = await waitFor('member add', () =>
    etcdctl(survivors, 'member', 'add', f.name, `--peer-urls=${f.peerUrl}`),
  );
  assert.match(added, /Member +[0-9a-f]+ added to cluster +[0-9a-f]+/);
  assert.ok(added.includes('ETCD_INITIAL_CLUSTER_STATE="existing"'), added);
  f.log = '';
  c.start(f, ['--initial-cluster-state', 'existing']);
  await untilServing(f);
  await holds(endpointOf(f), 'wal/b009', 'v-9');
  assertHolds(f, await keysOn(f, 's'), acked);
  await waitFor('the re-added member to publish', async () =>
    (await etcdctl(survivors, 'member', 'list')).includes(
      `, started, ${f.name}, ${f.peerUrl}, ${f.clientUrl}`,
    )
      ? true
      : undefined,
  );
  const list = await etcdctl(survivors, 'member', 'list');
  assert.ok(!list.split('\n').some((l) => l.startsWith(`${oldId},`)), `${oldId} stays removed:\n${list}`);
  assert.equal(await etcdctl(endpointOf(f), 'put', 'wal/after-replace', 'ok'), 'OK\n');
  for (const m of others) await holds(endpointOf(m), 'wal/after-replace', 'ok');
});
