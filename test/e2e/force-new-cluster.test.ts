// End to end, the administration guide's disaster recovery (seeds/administration-v2.md): back up a
// member's data dir with `cairnutl backup`, start the copy with `cairn --force-new-cluster` as a
// one-member cluster holding every key at its revision, move its peer URL, restart it without the
// flag, and grow it back to three members with `member add` + `--initial-cluster-state existing`.
// Then the disaster case (reference/etcd-dr-observed.md A8): two of three members lost, a `cp -a` of
// the survivor's data dir comes up alone with its own member and cluster ID. Real `cairn` processes,
// real `etcdctl`, 127.0.0.1 and free ports only.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { computeMemberId, formatId } from '../../src/membership/index.js';
import { freePort } from '../support/real-etcd.js';
import {
  CAIRN_BIN,
  cairnCluster,
  waitFor,
  type CairnCluster,
  type CairnMember,
} from '../support/cairn-cluster.js';
import { ETCDCTL, endpointOf, etcdctl, etcdctlError, holds, leaderOf, started } from '../support/etcdctl.js';

const run = promisify(execFile);
const CAIRNUTL_BIN = join(dirname(CAIRN_BIN), 'cairnutl');
const KEYS = 500;

function keyName(i: number): string {
  return `key-${String(i).padStart(3, '0')}`;
}

/** Runs etcdctl with `input` on its stdin (for `txn`); rejects when it exits non-zero. */
function etcdctlWithInput(endpoints: string, input: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(ETCDCTL, ['--endpoints', endpoints, '--command-timeout', '10s', ...args], {
      env: { ETCDCTL_API: '3', PATH: process.env.PATH },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`etcdctl exit ${code}: ${err}`)),
    );
    child.stdin.end(input);
  });
}

/**
 * Writes `count` keys with real etcdctl: the first 80% in transactions of 100 puts (one revision
 * each), the rest as single puts, a few at a time (one revision each).
 */
async function writeKeys(endpoints: string, count: number): Promise<void> {
  const inTxns = Math.floor((count * 0.8) / 100) * 100;
  for (let start = 0; start < inTxns; start += 100) {
    let ops = '';
    for (let i = start; i < start + 100; i++) ops += `put ${keyName(i)} value-${i}\n`;
    const out = await etcdctlWithInput(endpoints, `\n${ops}\n\n`, 'txn', '-w', 'json');
    assert.match(out, /"succeeded":true/);
  }
  let next = inTxns;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      assert.equal(await etcdctl(endpoints, 'put', keyName(i), `value-${i}`), 'OK\n');
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

interface KeyState {
  readonly value: string;
  readonly modRevision: string;
  readonly headerRevision: string;
  readonly clusterId: string;
  readonly memberId: string;
}

/** `etcdctl get key -w json`, with the 64-bit numbers kept as text. */
async function getJson(endpoint: string, key: string, serializable = false): Promise<KeyState> {
  const args = ['get', key, '-w', 'json', ...(serializable ? ['--consistency', 's'] : [])];
  const out = await etcdctl(endpoint, ...args);
  const num = (name: string): string => new RegExp(`"${name}":(\\d+)`).exec(out)?.[1] ?? '';
  const value = /"value":"([^"]*)"/.exec(out)?.[1];
  return {
    value: value === undefined ? '' : Buffer.from(value, 'base64').toString(),
    modRevision: num('mod_revision'),
    headerRevision: num('revision'),
    clusterId: num('cluster_id'),
    memberId: num('member_id'),
  };
}

/** How many `key-` keys the member at `endpoint` serves from its own state. */
async function keyCount(endpoint: string): Promise<number> {
  const out = await etcdctl(endpoint, 'get', 'key-', '--prefix', '--keys-only', '--consistency', 's');
  return out.split('\n').filter((l) => l.startsWith('key-')).length;
}

function memberLines(list: string): string[] {
  return list.split('\n').filter((l) => l !== '');
}

const SAMPLE = [keyName(0), keyName(250), keyName(399), keyName(450), keyName(KEYS - 1)];

async function sampleState(endpoint: string): Promise<Map<string, KeyState>> {
  const out = new Map<string, KeyState>();
  for (const k of SAMPLE) out.set(k, await getJson(endpoint, k));
  return out;
}

/** The same keys, values and mod revisions as `before`, and the same store revision. */
async function assertSameData(endpoint: string, before: Map<string, KeyState>): Promise<void> {
  assert.equal(await keyCount(endpoint), KEYS);
  for (const [k, was] of before) {
    const now = await getJson(endpoint, k);
    assert.equal(now.value, was.value, k);
    assert.equal(now.modRevision, was.modRevision, `${k} keeps its mod revision`);
  }
  const last = before.get(keyName(KEYS - 1))!;
  assert.equal((await getJson(endpoint, keyName(0))).headerRevision, last.headerRevision);
}

async function stopAll(c: CairnCluster): Promise<void> {
  for (const m of c.members) if (m.process !== undefined) assert.equal(await c.kill(m, 'SIGTERM'), 0);
}

/** The fields of the one member's `member list` line, once it has published `clientUrl`. */
async function soleMember(endpoint: string, clientUrl: string): Promise<string[]> {
  return waitFor(`${endpoint} to list itself alone`, async () => {
    const lines = memberLines(await etcdctl(endpoint, 'member', 'list'));
    const fields = lines[0]?.split(', ');
    return lines.length === 1 && fields[1] === 'started' && fields[4] === clientUrl ? fields : undefined;
  });
}

function startedWith(m: CairnMember, needle: string): Promise<boolean> {
  return waitFor(`${m.name} to log "${needle}"`, async () => (m.log.includes(needle) ? true : undefined));
}

test('backup, force-new-cluster on the copy, then back to three members', { timeout: 120_000 }, async (t) => {
  const old = await cairnCluster(t, ['m1', 'm2', 'm3']);
  // Frequent raft snapshots: the backup then starts from one, so the members added at the end catch
  // up by the leader's snapshot, not by replaying the log from its start.
  for (const m of old.members) old.start(m, ['--snapshot-count', '50']);
  await started(old);
  await writeKeys(old.endpoints(), KEYS);
  const before = await sampleState(old.endpoints());
  const oldIds = memberLines(await etcdctl(old.endpoints(), 'member', 'list')).map((l) => l.split(', ')[0]);
  const oldClusterId = before.get(keyName(0))!.clusterId;
  await stopAll(old);

  // 1. cairnutl backup of m1's data dir, into the data dir of a member on fresh ports.
  const fresh = await cairnCluster(t, ['n1'], 'another-token');
  const n1 = fresh.members[0];
  const backup = await run(process.execPath, [
    CAIRNUTL_BIN,
    'backup',
    '--data-dir',
    old.members[0].dataDir,
    '--backup-dir',
    n1.dataDir,
  ]);
  assert.equal(backup.stdout, '');
  assert.match(backup.stderr, /\tinfo\tsaved backup\t\{.*"snapshot-index":[1-9]/);

  // 2. The copy starts alone with --force-new-cluster: a new identity, every key at its revision.
  fresh.start(n1, ['--force-new-cluster']);
  const e1 = endpointOf(n1);
  await startedWith(n1, 'forcing restart member');
  const [id, status, name, peer, client, learner] = await soleMember(e1, n1.clientUrl);
  assert.deepEqual(
    [status, name, peer, client, learner],
    ['started', 'n1', n1.peerUrl, n1.clientUrl, 'false'],
  );
  assert.ok(!oldIds.includes(id), `${id} is a new member ID (old: ${oldIds.join(' ')})`);
  assert.notEqual((await getJson(e1, keyName(0))).clusterId, oldClusterId, 'a new cluster ID');
  await assertSameData(e1, before);
  const revision = BigInt(before.get(keyName(0))!.headerRevision);
  assert.equal(await etcdctl(e1, 'put', 'after-backup', 'b'), 'OK\n');
  assert.equal((await getJson(e1, 'after-backup')).modRevision, String(revision + 1n));

  // 3. member update moves its peer URL; a restart WITHOUT the flag keeps everything.
  const movedPeer = `http://127.0.0.1:${await freePort()}`;
  assert.match(
    await etcdctl(e1, 'member', 'update', id, `--peer-urls=${movedPeer}`),
    new RegExp(`^Member +${id} updated in cluster +[0-9a-f]+\n$`),
  );
  assert.equal(await fresh.kill(n1, 'SIGTERM'), 0);
  n1.peerUrl = movedPeer;
  n1.log = '';
  fresh.start(n1);
  await leaderOf(fresh);
  assert.deepEqual(await soleMember(e1, n1.clientUrl), [
    id,
    'started',
    'n1',
    movedPeer,
    n1.clientUrl,
    'false',
  ]);
  assert.ok(!n1.log.includes('forcing restart member'));
  assert.equal(await etcdctl(e1, 'put', 'after-restart', 'r'), 'OK\n');
  assert.equal((await getJson(e1, 'after-backup')).value, 'b');

  // 4. Two new members join empty with --initial-cluster-state existing and catch up.
  for (const joiner of ['n2', 'n3']) {
    const m = await fresh.newMember(joiner);
    // A second voter must have been connected for a while before a third may be added (strict reconfig).
    const added = await waitFor(
      `member add ${joiner}`,
      () => etcdctl(e1, 'member', 'add', joiner, `--peer-urls=${m.peerUrl}`),
      30_000,
    );
    assert.match(added, new RegExp(`^Member +[0-9a-f]+ added to cluster +[0-9a-f]+\n`));
    fresh.start(m, ['--initial-cluster-state', 'existing']);
    await holds(endpointOf(m), 'after-restart', 'r', 30_000);
    assert.equal(await keyCount(endpointOf(m)), KEYS);
    for (const k of SAMPLE) {
      const got = await getJson(endpointOf(m), k, true);
      assert.equal(got.modRevision, before.get(k)!.modRevision, `${k} on ${joiner}`);
    }
  }
  const list = memberLines(await etcdctl(fresh.endpoints(), 'member', 'list'));
  assert.equal(list.length, 3, list.join('\n'));
  for (const m of fresh.members) {
    assert.ok(
      list.some((l) => l.includes(`, started, ${m.name}, ${m.peerUrl}, ${m.clientUrl}, false`)),
      list.join('\n'),
    );
  }
  // The three-member cluster takes writes, through any member.
  const e3 = endpointOf(fresh.members[2]);
  assert.equal(await etcdctl(e3, 'put', 'three', '3'), 'OK\n');
  for (const m of fresh.members) await holds(endpointOf(m), 'three', '3');

  // A real three-member cluster: it survives the loss of n1, its first member.
  assert.equal(await fresh.kill(n1, 'SIGKILL'), null);
  await leaderOf(fresh);
  assert.equal(await etcdctl(fresh.endpoints(), 'put', 'without-n1', 'ok'), 'OK\n');
  for (const m of fresh.members.slice(1)) await holds(endpointOf(m), 'without-n1', 'ok');
});

test(
  'disaster: two of three members lost; a copy of the survivor comes up alone with its identity',
  { timeout: 90_000 },
  async (t) => {
    const c = await cairnCluster(t, ['d1', 'd2', 'd3']);
    // With raft snapshots: the survivor's configuration comes from one (naming all three members).
    for (const m of c.members) c.start(m, ['--snapshot-count', '50']);
    await started(c);
    await writeKeys(c.endpoints(), KEYS);
    const before = await sampleState(c.endpoints());
    // Every member has applied the last write: what the survivor holds is then known.
    for (const m of c.members) await holds(endpointOf(m), keyName(KEYS - 1), `value-${KEYS - 1}`);
    const clusterId = before.get(keyName(0))!.clusterId;

    const leaderEndpoint = await leaderOf(c);
    const leader = c.members.find((m) => endpointOf(m) === leaderEndpoint)!;
    const lost = [leader, c.members.find((m) => m !== leader)!];
    const survivor = c.members.find((m) => !lost.includes(m))!;
    const survivorId = formatId(computeMemberId([survivor.peerUrl], c.token));
    for (const m of lost) await c.kill(m, 'SIGKILL');
    const es = endpointOf(survivor);
    assert.match(await etcdctlError(es, '2s', 'put', 'lost', 'quorum'), /context deadline exceeded/);
    assert.equal(await keyCount(es), KEYS, 'serializable reads still work');

    // A running member's data dir cannot be backed up (it is locked); the operator stops it first.
    const refused = await run(process.execPath, [
      CAIRNUTL_BIN,
      'backup',
      '--data-dir',
      survivor.dataDir,
      '--backup-dir',
      `${survivor.dataDir}-backup`,
    ]).then(
      () => '',
      (e: { code?: number; stderr?: string }) => `${e.code}: ${e.stderr}`,
    );
    assert.match(refused, /^1: Error: wal: .* is locked by another process/);
    assert.equal(await c.kill(survivor, 'SIGTERM'), 0);

    const r = await cairnCluster(t, [survivor.name]);
    const copy = r.members[0];
    await run('cp', ['-a', survivor.dataDir, copy.dataDir]);
    r.start(copy, ['--force-new-cluster']);
    await startedWith(copy, 'forcing restart member');
    const ec = endpointOf(copy);
    // Same member ID and cluster ID; the old peer URL stays until `member update` (as etcd).
    assert.deepEqual(await soleMember(ec, copy.clientUrl), [
      survivorId,
      'started',
      survivor.name,
      survivor.peerUrl,
      copy.clientUrl,
      'false',
    ]);
    assert.equal((await getJson(ec, keyName(0))).clusterId, clusterId);
    await assertSameData(ec, before);
    assert.equal(await etcdctl(ec, 'put', 'after-disaster', 'd'), 'OK\n');
    const revision = BigInt(before.get(keyName(0))!.headerRevision);
    assert.equal((await getJson(ec, 'after-disaster')).modRevision, String(revision + 1n));
    assert.match(copy.log, /force-new-cluster: removing member/);
  },
);

test(
  '--force-new-cluster on a data dir without a member is ignored, as etcd ignores it',
  { timeout: 60_000 },
  async (t) => {
    const c = await cairnCluster(t, ['solo']);
    c.start(c.members[0], ['--force-new-cluster']);
    await leaderOf(c);
    const m = c.members[0];
    const id = formatId(computeMemberId([m.peerUrl], c.token));
    assert.deepEqual(await soleMember(endpointOf(m), m.clientUrl), [
      id,
      'started',
      'solo',
      m.peerUrl,
      m.clientUrl,
      'false',
    ]);
    assert.ok(!m.log.includes('forcing restart member'));
    assert.equal(await etcdctl(endpointOf(m), 'put', 'k', 'v'), 'OK\n');
  },
);
