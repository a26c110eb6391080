// End to end, the disaster-recovery seed's snapshot procedures with real processes: `snapshot save`
// from a live cluster (and from a member that lost quorum), restore into the data dirs of a new
// cluster, corrupted and hash-less files, and interchange with real etcd in both directions.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { Client } from '../../src/client/index.js';
import { computeClusterId, computeMemberId, formatId } from '../../src/membership/index.js';
import { CAIRNCTL_BIN, cairnCluster, type CairnCluster } from '../support/cairn-cluster.js';
import { endpointOf, etcdctl, etcdctlError, ETCDCTL, leaderOf, started } from '../support/etcdctl.js';
import { freePort, startRealEtcd } from '../support/real-etcd.js';
import { CAIRNUTL_BIN, runTool, tempDir, type ToolRun } from '../support/tools.js';

const run = runTool;

async function ok(bin: string, args: readonly string[], cwd?: string): Promise<string> {
  const r = await run(bin, args, cwd);
  assert.equal(r.code, 0, `${bin} ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

/** Writes key-<i> = value-<i> for i in [0, count) through the client library, 32 at a time. */
async function fill(endpoints: string, count: number): Promise<void> {
  const client = Client.connect({ endpoints: endpoints.split(',') });
  try {
    for (let i = 0; i < count; i += 32) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 32); j++) batch.push(client.kv.put(`key-${j}`, `value-${j}`));
      await Promise.all(batch);
    }
  } finally {
    client.close();
  }
}

/** The keys under `key-` that the member at `endpoint` holds, read from its own state. */
async function localKeys(endpoint: string): Promise<string[]> {
  const out = await etcdctl(endpoint, 'get', '--prefix', 'key-', '--keys-only', '--consistency', 's');
  return out.split('\n').filter((l) => l !== '');
}

/** The revision in the response header of a serializable get at `endpoint`. */
async function revisionAt(endpoint: string): Promise<number> {
  const out = await etcdctl(endpoint, 'get', 'key-0', '-w', 'json', '--consistency', 's');
  return Number(/"revision":(\d+)/.exec(out)?.[1]);
}

interface DbStatus {
  readonly hash: number;
  readonly revision: number;
  readonly totalKey: number;
  readonly totalSize: number;
}

async function statusBy(bin: string, file: string): Promise<DbStatus> {
  return JSON.parse(await ok(bin, ['snapshot', 'status', file, '-w', 'json'])) as DbStatus;
}

function restoreArgs(file: string, c: CairnCluster, name: string, token: string): string[] {
  const m = c.members.find((x) => x.name === name)!;
  return [
    'snapshot',
    'restore',
    file,
    '--name',
    name,
    '--data-dir',
    m.dataDir,
    '--initial-cluster',
    c.initialCluster(),
    '--initial-cluster-token',
    token,
    '--initial-advertise-peer-urls',
    m.peerUrl,
  ];
}

test('seed procedure: save a snapshot, lose quorum, restore three new data dirs, and serve every key', async (t) => {
  const dir = tempDir(t, 'cairn-snapshot-e2e-');
  const old = await cairnCluster(t, ['m1', 'm2', 'm3'], 'etcd-cluster-1');
  await started(old);
  await fill(old.endpoints(), 1000);
  const m1 = endpointOf(old.members[0]);
  const snap = join(dir, 'snap.db');
  const saved = await run(CAIRNCTL_BIN, ['--endpoints', m1, 'snapshot', 'save', snap]);
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(saved.stdout, `Snapshot saved at ${snap}\n`);
  assert.equal(existsSync(`${snap}.part`), false);
  assert.equal(statSync(snap).mode & 0o777, 0o600);
  assert.equal(statSync(snap).size % 4096, 32, 'a bbolt image of whole pages and the sha256');

  // Our status and real etcdctl's agree on the file; 1,000 puts make revision 1001.
  const ours = await statusBy(CAIRNCTL_BIN, snap);
  assert.deepEqual(await statusBy(ETCDCTL, snap), ours);
  assert.deepEqual(await statusBy(CAIRNUTL_BIN, snap), ours);
  assert.equal(ours.revision, 1001);

  // Two members die: writes fail, serializable reads still work, and a snapshot can still be saved.
  const [, b, c] = old.members;
  await old.kill(b);
  await old.kill(c);
  const refused = await etcdctlError(m1, '2s', 'put', 'x', 'y');
  assert.match(refused, /context deadline exceeded|request timed out/);
  assert.equal((await localKeys(m1)).length, 1000);
  const noQuorum = join(dir, 'noquorum.db');
  await ok(CAIRNCTL_BIN, ['--endpoints', m1, 'snapshot', 'save', noQuorum]);
  assert.equal((await statusBy(ETCDCTL, noQuorum)).revision, 1001);
  await old.kill(old.members[0]);

  // A new cluster (new ports, a new token) restored from the one file, one data dir per member.
  const fresh = await cairnCluster(t, ['m1', 'm2', 'm3'], 'etcd-cluster-2');
  await ok(CAIRNCTL_BIN, restoreArgs(snap, fresh, 'm1', 'etcd-cluster-2'));
  await ok(CAIRNUTL_BIN, restoreArgs(snap, fresh, 'm2', 'etcd-cluster-2'));
  await ok(CAIRNUTL_BIN, restoreArgs(snap, fresh, 'm3', 'etcd-cluster-2'));
  for (const m of fresh.members) assert.ok(existsSync(join(m.dataDir, 'member', 'wal')), m.dataDir);
  await started(fresh);

  const ids = fresh.members.map((m) => computeMemberId([m.peerUrl], 'etcd-cluster-2'));
  const list = await etcdctl(fresh.endpoints(), 'member', 'list');
  for (const [i, m] of fresh.members.entries()) {
    assert.ok(
      list.includes(`${formatId(ids[i])}, started, ${m.name}, ${m.peerUrl}, ${m.clientUrl}, false`),
      list,
    );
  }
  const status = await etcdctl(fresh.endpoints(), 'endpoint', 'status', '-w', 'json');
  assert.ok(status.includes(`"cluster_id":${BigInt.asUintN(64, computeClusterId(ids))}`), status);
  for (const m of fresh.members) {
    const ep = endpointOf(m);
    assert.equal((await localKeys(ep)).length, 1000, ep);
    assert.equal(await revisionAt(ep), 1001, ep);
  }
  assert.equal(await etcdctl(fresh.endpoints(), 'get', 'key-500', '--print-value-only'), 'value-500\n');
  const put = await etcdctl(fresh.endpoints(), 'put', 'after-restore', '1', '-w', 'json');
  assert.match(put, /"revision":1002/);
  await leaderOf(fresh);
});

test('a corrupted snapshot is refused and leaves no data dir; a raw db needs --skip-hash-check', async (t) => {
  const dir = tempDir(t, 'cairn-snapshot-e2e-');
  const one = await cairnCluster(t, ['s1']);
  await started(one);
  await fill(one.endpoints(), 200);
  const snap = join(dir, 'snap.db');
  await ok(CAIRNCTL_BIN, ['--endpoints', one.endpoints(), 'snapshot', 'save', snap]);
  const restore = (file: string, dataDir: string, ...extra: string[]): Promise<ToolRun> =>
    run(CAIRNUTL_BIN, ['snapshot', 'restore', file, '--data-dir', dataDir, ...extra]);

  // One flipped byte in the content: the digest no longer matches; nothing is left behind.
  const bad = join(dir, 'bad.db');
  const bytes = readFileSync(snap);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(bad, bytes);
  const refused = await restore(bad, join(dir, 'bad.etcd'));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Error: expected sha256 \[(\d+ ){31}\d+\], got \[(\d+ ){31}\d+\]/);
  assert.equal(existsSync(join(dir, 'bad.etcd')), false);
  // The retry into the same dir is not blocked by a leftover (etcd's would be).
  await ok(CAIRNUTL_BIN, ['snapshot', 'restore', snap, '--data-dir', join(dir, 'bad.etcd')]);

  // Damage in the structure itself, with the digest check skipped: the integrity check refuses it.
  const broken = join(dir, 'broken.db');
  const pages = readFileSync(snap);
  pages.fill(0xee, 2 * 4096, 2 * 4096 + 16); // the header of the first data page
  writeFileSync(broken, pages);
  const skipped = await restore(broken, join(dir, 'broken.etcd'), '--skip-hash-check');
  assert.equal(skipped.code, 1);
  assert.match(skipped.stderr, /Error: snapshot file integrity check failed\. \d+ errors found\./);
  assert.equal(existsSync(join(dir, 'broken.etcd')), false);

  // A raw copy of a member's db has no digest: refused without the flag, restored with it.
  await one.kill(one.members[0], 'SIGTERM');
  const raw = join(dir, 'raw.db');
  copyFileSync(join(one.members[0].dataDir, 'member', 'snap', 'db'), raw);
  const missing = await restore(raw, join(dir, 'raw.etcd'));
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr.trim().split('\n').pop(),
    'Error: snapshot missing hash but --skip-hash-check=false',
  );
  assert.equal(existsSync(join(dir, 'raw.etcd')), false);
  const rawStatus = await statusBy(CAIRNUTL_BIN, raw);
  assert.equal(rawStatus.revision, 201);

  const target = await cairnCluster(t, ['s1']);
  const m = target.members[0];
  await ok(CAIRNUTL_BIN, [
    'snapshot',
    'restore',
    raw,
    '--skip-hash-check',
    '--name',
    's1',
    '--data-dir',
    m.dataDir,
    '--initial-cluster',
    target.initialCluster(),
    '--initial-advertise-peer-urls',
    m.peerUrl,
  ]);
  // An existing data dir is never overwritten.
  const exists = await restore(snap, m.dataDir);
  assert.equal(exists.stderr.trim().split('\n').pop(), `Error: data-dir ${JSON.stringify(m.dataDir)} exists`);
  await started(target);
  assert.equal((await localKeys(target.endpoints())).length, 200);
  assert.equal(await revisionAt(target.endpoints()), 201);
});

test('interchange with etcd: its snapshot restored into Cairn, and Cairn snapshots read and restored by etcd', async (t) => {
  const dir = tempDir(t, 'cairn-snapshot-e2e-');

  // etcd's snapshot -> cairnutl restore -> a Cairn member serving the same keys at the same revision.
  const etcd = await startRealEtcd(t);
  const etcdEp = etcd.clientUrl.replace('http://', '');
  await fill(etcdEp, 300);
  await etcdctl(etcdEp, 'del', 'key-7');
  const fromEtcd = join(dir, 'from-etcd.db');
  await ok(ETCDCTL, ['--endpoints', etcdEp, 'snapshot', 'save', fromEtcd]);
  const etcdStatus = await statusBy(ETCDCTL, fromEtcd);
  assert.deepEqual(await statusBy(CAIRNUTL_BIN, fromEtcd), etcdStatus);
  await etcd.stop();

  const c = await cairnCluster(t, ['c1']);
  const m = c.members[0];
  await ok(CAIRNUTL_BIN, [
    'snapshot',
    'restore',
    fromEtcd,
    '--name',
    'c1',
    '--data-dir',
    m.dataDir,
    '--initial-cluster',
    c.initialCluster(),
    '--initial-advertise-peer-urls',
    m.peerUrl,
  ]);
  await started(c);
  const keys = await localKeys(c.endpoints());
  assert.equal(keys.length, 299);
  assert.ok(!keys.includes('key-7'));
  // 300 puts and a delete after etcd's revision 1.
  assert.equal(await revisionAt(c.endpoints()), 302);
  assert.equal(await etcdctl(c.endpoints(), 'get', 'key-123', '--print-value-only'), 'value-123\n');

  // Cairn's snapshot -> etcdctl status and restore -> real etcd serving the same keys.
  await etcdctl(c.endpoints(), 'put', 'from-cairn', 'yes');
  const fromCairn = join(dir, 'from-cairn.db');
  await ok(CAIRNCTL_BIN, ['--endpoints', c.endpoints(), 'snapshot', 'save', fromCairn]);
  const cairnStatus = await statusBy(CAIRNCTL_BIN, fromCairn);
  assert.deepEqual(await statusBy(ETCDCTL, fromCairn), cairnStatus);
  assert.equal(cairnStatus.revision, 303);

  const peerPort = await freePort();
  const restored = join(dir, 'etcd-restored');
  await ok(ETCDCTL, [
    'snapshot',
    'restore',
    fromCairn,
    '--name',
    'default',
    '--data-dir',
    restored,
    '--initial-cluster',
    `default=http://127.0.0.1:${peerPort}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peerPort}`,
  ]);
  const back = await startRealEtcd(t, { dataDir: restored, peerPort });
  const backEp = back.clientUrl.replace('http://', '');
  assert.equal(await etcdctl(backEp, 'get', 'from-cairn', '--print-value-only'), 'yes\n');
  assert.equal((await localKeys(backEp)).length, 299);
  assert.equal(await revisionAt(backEp), 303);
  await back.stop();
});

test('restore --bump-revision with --mark-compacted moves the revision forward and compacts the old history', async (t) => {
  const dir = tempDir(t, 'cairn-snapshot-e2e-');
  const one = await cairnCluster(t, ['b1']);
  await started(one);
  await fill(one.endpoints(), 20);
  const snap = join(dir, 'snap.db');
  await ok(CAIRNCTL_BIN, ['--endpoints', one.endpoints(), 'snapshot', 'save', snap]);
  await one.kill(one.members[0]);

  const alone = await run(CAIRNUTL_BIN, [
    'snapshot',
    'restore',
    snap,
    '--data-dir',
    join(dir, 'x'),
    '--bump-revision',
    '5',
  ]);
  assert.equal(
    alone.stderr.trim().split('\n').pop(),
    'Error: --mark-compacted required if --bump-revision > 0',
  );
  assert.equal(existsSync(join(dir, 'x')), false);

  const next = await cairnCluster(t, ['b1']);
  const m = next.members[0];
  await ok(CAIRNUTL_BIN, [
    ...restoreArgs(snap, next, 'b1', next.token),
    '--bump-revision',
    '1000',
    '--mark-compacted',
  ]);
  await started(next);
  const ep = endpointOf(m);
  assert.equal(await revisionAt(ep), 1021);
  assert.equal((await localKeys(ep)).length, 20);
  assert.match(await etcdctl(ep, 'put', 'after', '1', '-w', 'json'), /"revision":1022/);
  const old = await etcdctlError(ep, '5s', 'get', 'key-3', '--rev', '10');
  assert.match(old, /required revision has been compacted/);
});
