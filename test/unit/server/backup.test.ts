// `cairnutl backup` in-process over real data dirs: the copy has a new identity and no trace of the old
// membership, starts alone with --force-new-cluster holding every key at its revision, and the source
// is not changed. A backup that cannot be made leaves nothing behind.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test, type TestContext } from 'node:test';

import { PutRequest, RangeRequest } from '../../../src/proto/etcdserverpb/rpc.js';
import { EMPTY_CONF_STATE } from '../../../src/raft/types.js';
import { BackupError, backupDataDir } from '../../../src/server/backup.js';
import { openMember, type OpenMemberOptions } from '../../../src/server/bootstrap.js';
import type { Member } from '../../../src/server/member.js';
import { Backend } from '../../../src/storage/backend/index.js';
import { listSnaps, readSnapFile } from '../../../src/storage/snap/index.js';
import { Wal } from '../../../src/storage/wal/index.js';
import { bytes, text } from '../mvcc/helpers.js';
import { cluster, options } from './member-options.js';

const PEER = 'http://127.0.0.1:2390';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-backup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Opens and starts a member, stopped when the test ends if the test did not stop it. */
async function started(o: OpenMemberOptions, t?: TestContext): Promise<Member> {
  const m = await openMember(o);
  t?.after(() => m.stop());
  m.start();
  await until('a leader', () => m.leader === m.memberId);
  return m;
}

/** The member list once this member has published its name (it does so right after it is elected). */
async function publishedList(m: Member): Promise<[bigint, string, string[]][]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const list = await m.memberList({ linearizable: true });
    if (list.members.every((x) => x.name !== '') || Date.now() > deadline) {
      return list.members.map((x) => [x.ID, x.name, x.peerURLs]);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A stopped one-member data dir with `keys` keys (k0..), snapshots every `snapshotCount` entries. */
async function sourceDir(root: string, keys: number, snapshotCount = 100_000): Promise<string> {
  const dir = join(root, 'src.etcd');
  const m = await started(options(dir, { snapshotCount }));
  for (let i = 0; i < keys; i++) {
    await m.put(PutRequest.fromPartial({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
  }
  await m.stop();
  return dir;
}

/** Every file under `dir` with the SHA-256 of its content. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** The copy, started with --force-new-cluster (restart options: identity from its WAL). */
function forcedOptions(dir: string, extra: Partial<OpenMemberOptions> = {}): OpenMemberOptions {
  return {
    ...options(dir, { bootstrapPeers: undefined, ...extra }),
    forceNewCluster: { advertisePeerUrls: [PEER] },
  };
}

async function valueAndRevision(m: Member, key: string): Promise<[string, bigint] | undefined> {
  const r = await m.range(RangeRequest.fromPartial({ key: bytes(key) }));
  const kv = r.kvs[0];
  return kv === undefined ? undefined : [text(kv.value), kv.modRevision];
}

test('a backup has a new identity, no old membership, and starts alone with every key', async (t) => {
  const root = tempDir(t);
  const src = await sourceDir(root, 40, 10); // snapshots every 10 entries: a .snap is copied too
  const before = fingerprint(src);
  const logs: string[] = [];
  const backup = join(root, 'backup');
  const result = await backupDataDir({ dataDir: src, backupDir: backup, log: (m) => logs.push(m) });

  assert.deepEqual(fingerprint(src), before, 'the source is unchanged');
  assert.equal(result.sourceMemberId, cluster.localId);
  assert.equal(result.sourceClusterId, cluster.clusterId);
  for (const id of [result.memberId, result.clusterId]) {
    assert.ok(id !== 0n && id !== cluster.localId && id !== cluster.clusterId);
  }
  assert.ok(result.snapshotIndex > 0, 'a raft snapshot was copied');
  assert.ok(logs.includes('saved backup'), logs.join('\n'));
  assert.deepEqual(
    readdirSync(root).sort(),
    ['backup', 'src.etcd'],
    'no staging directory is left beside the backup',
  );

  const snapDir = join(backup, 'member', 'snap');
  const snaps = await listSnaps(snapDir);
  assert.equal(snaps.length, 1);
  const snap = await readSnapFile(join(snapDir, snaps[0].name));
  assert.equal(snap.metadata.index, result.snapshotIndex);
  assert.deepEqual(snap.metadata.confState, EMPTY_CONF_STATE);
  const wal = Wal.read(join(backup, 'member', 'wal'), {
    index: snap.metadata.index,
    term: snap.metadata.term,
  });
  assert.deepEqual(wal.metadata, { nodeId: result.memberId, clusterId: result.clusterId });
  assert.equal(wal.hardState.vote, 0n);
  assert.equal(wal.hardState.commit, result.hardState.commit);
  assert.ok(wal.entries.every((e) => e.type === 'normal'));
  const be = Backend.open(join(snapDir, 'db'));
  try {
    assert.deepEqual(be.range('members', new Uint8Array(0)), []);
    assert.deepEqual(be.range('members_removed', new Uint8Array(0)), []);
  } finally {
    await be.close();
  }

  // The source's keys and revisions, to compare with.
  const original = await started(options(src), t);
  const expected = [await valueAndRevision(original, 'k0'), await valueAndRevision(original, 'k39')];
  const revision = original.state.store.revision;
  await original.stop();

  const forced = await started(forcedOptions(backup), t);
  assert.equal(forced.memberId, result.memberId);
  assert.equal(forced.clusterId, result.clusterId);
  assert.deepEqual(await publishedList(forced), [[result.memberId, 'default', [PEER]]]);
  assert.deepEqual([await valueAndRevision(forced, 'k0'), await valueAndRevision(forced, 'k39')], expected);
  assert.equal(forced.state.store.revision, revision);
  const put = await forced.put(PutRequest.fromPartial({ key: bytes('new'), value: bytes('1') }));
  assert.equal(put.header?.revision, BigInt(revision + 1));
  await forced.stop();

  // Later restarts need no flag.
  const again = await started(options(backup, { bootstrapPeers: undefined }), t);
  assert.deepEqual(await valueAndRevision(again, 'new'), ['1', BigInt(revision + 1)]);
  await again.stop();
});

test('a backup started without --force-new-cluster says so in its log', async (t) => {
  const root = tempDir(t);
  const src = await sourceDir(root, 3);
  const backup = join(root, 'b');
  await backupDataDir({ dataDir: src, backupDir: backup });
  const warnings: string[] = [];
  const m = await openMember(
    options(backup, {
      bootstrapPeers: undefined,
      logger: { info: () => {}, warn: (s) => warnings.push(s), error: () => {} },
    }),
  );
  await m.stop();
  assert.ok(
    warnings.some((w) => w.includes('must be started with --force-new-cluster')),
    warnings.join('\n'),
  );
});

test('a separate backup WAL dir, an existing empty backup dir, and --with-v3=false', async (t) => {
  const root = tempDir(t);
  const src = await sourceDir(root, 5);
  const backup = join(root, 'empty-already');
  mkdirSync(backup);
  const walDir = join(root, 'wal-elsewhere');
  const logs: string[] = [];
  const copied = await backupDataDir({
    dataDir: src,
    backupDir: backup,
    backupWalDir: walDir,
    log: (m) => logs.push(m),
  });
  // No snapshot: the whole log is copied, its conf change and publish made empty.
  assert.equal(copied.snapshotIndex, 0);
  assert.ok(logs.includes('ignoring EntryConfChange raft entry'), logs.join('\n'));
  assert.ok(logs.includes('ignoring cluster_member_attr_set'), logs.join('\n'));
  assert.ok(Wal.exists(walDir));
  assert.deepEqual(readdirSync(join(backup, 'member')), ['snap']);
  const forced = await started(forcedOptions(backup, { walDir }), t);
  assert.deepEqual(await valueAndRevision(forced, 'k4'), ['v4', 6n]);
  await forced.stop();

  // Without v3 the copy keeps no keys (Cairn has no v2 store), but it is a working member.
  const bare = join(root, 'bare');
  const result = await backupDataDir({ dataDir: src, backupDir: bare, withV3: false });
  assert.ok(result.emptied >= 5);
  const m = await started(forcedOptions(bare), t);
  assert.equal(await valueAndRevision(m, 'k4'), undefined);
  assert.equal(m.state.store.revision, 1);
  await m.stop();
});

test('a refused or failed backup leaves nothing behind', async (t) => {
  const root = tempDir(t);
  const src = await sourceDir(root, 3);
  const before = fingerprint(src);

  // A backup dir with something in it.
  const full = join(root, 'full');
  mkdirSync(full);
  writeFileSync(join(full, 'keep'), 'x');
  await assert.rejects(
    backupDataDir({ dataDir: src, backupDir: full }),
    (e: unknown) => e instanceof BackupError && /exists and is not empty/.test(e.message),
  );
  assert.deepEqual(readdirSync(full), ['keep']);

  // Not a member's data dir.
  await assert.rejects(
    backupDataDir({ dataDir: join(root, 'nothing'), backupDir: join(root, 'b1') }),
    (e: unknown) => e instanceof BackupError && /no WAL/.test(e.message),
  );

  // A failure at the very end (as a full disk would): no backup dir, no staging dir.
  await assert.rejects(
    backupDataDir({
      dataDir: src,
      backupDir: join(root, 'b2'),
      backupWalDir: join(root, 'b2-wal'),
      beforeRename: () => {
        throw new Error('injected failure');
      },
    }),
    /injected failure/,
  );
  assert.deepEqual(fingerprint(src), before, 'the source is unchanged by the refused and failed backups');

  // A running member holds the data dir: refused, nothing written.
  const running = await started(options(src), t);
  await assert.rejects(
    backupDataDir({ dataDir: src, backupDir: join(root, 'b3') }),
    (e: unknown) => e instanceof BackupError && /locked by another process/.test(e.message),
  );
  await running.stop();

  assert.deepEqual(readdirSync(root).sort(), ['full', 'src.etcd']);
});
