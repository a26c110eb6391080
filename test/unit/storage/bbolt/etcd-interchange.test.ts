// bbolt interchange with the real etcd 3.4 tools: our reader reads what etcd writes (a snapshot from
// `etcdctl snapshot save`, and the live member/snap/db of a stopped etcd), and etcd's tools accept
// what our writer writes (`etcdctl snapshot status` computes the expected hash/revision/keys/size,
// `etcdctl snapshot restore` builds a data dir from it, and etcd serves our keys from that dir).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { BboltReader, writeBbolt, type BboltEntry } from '../../../../src/storage/bbolt/index.js';
import { BRANCH_PAGE } from '../../../../src/storage/bbolt/format.js';
import { KeyValue } from '../../../../src/proto/mvccpb/kv.js';
import { EtcdGateway } from '../../../support/etcd-gateway.js';
import { freePort, startRealEtcd } from '../../../support/real-etcd.js';
import {
  ETCD_BUCKETS,
  assertSameEntries,
  bytes,
  etcdSnapshotHash,
  mainRevision,
  pagesOf,
  tempDir,
  text,
} from './helpers.js';

const run = promisify(execFile);
const ETCDCTL = process.env['ETCDCTL_BIN'] ?? '/usr/bin/etcdctl';

/** etcdctl's environment: API v3, and no ETCDCTL_* settings of the caller. */
function etcdctlEnv(): NodeJS.ProcessEnv {
  return { ETCDCTL_API: '3', PATH: process.env['PATH'] };
}

async function etcdctl(...args: string[]): Promise<string> {
  const { stdout } = await run(ETCDCTL, args, { env: etcdctlEnv(), maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

interface SnapshotStatus {
  readonly hash: number;
  readonly revision: number;
  readonly totalKey: number;
  readonly totalSize: number;
}

async function snapshotStatus(file: string): Promise<SnapshotStatus> {
  return JSON.parse(await etcdctl('snapshot', 'status', file, '-w', 'json')) as SnapshotStatus;
}

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');

/** Every bucket of an open reader with all its entries. */
function readAll(reader: BboltReader): Array<{ name: Uint8Array; entries: BboltEntry[] }> {
  return reader.bucketNames().map((name) => ({ name, entries: [...reader.entries(name)] }));
}

// ---- etcd -> our reader --------------------------------------------------------------------------

test('our reader reads a snapshot saved by real etcd: buckets, keys, hash, revision and size agree', async (t) => {
  const dir = await tempDir(t);
  const etcd = await startRealEtcd(t);
  const gw = etcd.gateway;
  const lease = await gw.call('/lease/grant', { TTL: '600' });
  assert.ok(lease.ok);
  const leaseId = lease.body['ID'] as string;
  const expected = new Map<string, string>();
  for (let i = 0; i < 300; i++) {
    const key = `key-${String(i % 250).padStart(3, '0')}`; // 50 keys get a second revision
    const value = i % 25 === 0 ? `big-${i}-`.padEnd(4096 + 1000 * (i % 4), 'v') : `value-${i}`;
    const put = await gw.put({
      key: b64(key),
      value: b64(value),
      ...(i % 50 === 1 ? { lease: leaseId } : {}),
    });
    assert.ok(put.ok, JSON.stringify(put));
    expected.set(key, value);
  }
  for (const key of ['key-010', 'key-011']) {
    assert.ok((await gw.deleteRange({ key: b64(key) })).ok);
    expected.delete(key);
  }
  const file = join(dir, 'snapshot.db');
  await etcdctl('--endpoints', etcd.clientUrl, 'snapshot', 'save', file);
  const status = await snapshotStatus(file);
  const fileSize = (await stat(file)).size;

  // The appended hash is the sha256 of everything before it.
  const content = await readFile(file);
  const digest = createHash('sha256')
    .update(content.subarray(0, fileSize - 32))
    .digest();
  assert.deepEqual(content.subarray(fileSize - 32), digest);

  const reader = BboltReader.open(file, { length: fileSize - 32 });
  t.after(() => reader.close());
  assert.deepEqual(reader.check(), []);
  assert.deepEqual(reader.bucketNames().map(text), ETCD_BUCKETS);
  assert.equal(reader.size(), status.totalSize);
  const all = readAll(reader);
  assert.equal(
    all.reduce((n, b) => n + b.entries.length, 0),
    status.totalKey,
  );
  assert.equal(etcdSnapshotHash(all) >>> 0, status.hash);
  const keys = all.find((b) => text(b.name) === 'key')?.entries ?? [];
  assert.equal(keys.length, 300 + 2); // 300 puts and 2 tombstones
  assert.equal(mainRevision(keys[keys.length - 1].key), status.revision);
  assert.equal(status.revision, 1 + 300 + 2); // etcd starts at revision 1; a lease grant takes none

  // Replay the history in the `key` bucket: it ends in exactly what we put.
  const state = new Map<string, string>();
  for (const e of keys) {
    const kv = KeyValue.decode(e.value);
    if (e.key.byteLength === 18) state.delete(text(kv.key));
    else state.set(text(kv.key), text(kv.value));
  }
  assert.deepEqual(state, expected);
  assert.equal(all.find((b) => text(b.name) === 'lease')?.entries.length, 1);
});

// ---- our writer -> etcd --------------------------------------------------------------------------

const KEYS = 5000;

/** The revision key of (main, sub), 17 bytes, or 18 with the tombstone mark. */
function revisionKey(main: number, tombstone = false): Uint8Array {
  const k = Buffer.alloc(tombstone ? 18 : 17);
  k.writeBigUInt64BE(BigInt(main), 0);
  k[8] = 0x5f;
  k.writeBigUInt64BE(0n, 9);
  if (tombstone) k[17] = 0x74;
  return new Uint8Array(k);
}

const u64be = (n: number): Uint8Array => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return new Uint8Array(b);
};

const userKey = (i: number): string => `key-${String(i).padStart(5, '0')}`;
const userValue = (i: number): string =>
  i % 1000 === 7 ? `huge-${i}-`.padEnd(100 * 1024, String.fromCharCode(97 + (i % 26))) : `value-${i}`;

/**
 * etcd's ten buckets with a plausible keyspace: KEYS puts at revisions 2..KEYS+1, then an update
 * of key 0 and a delete of key 1; the meta bucket's consistent index, a cluster version, auth off.
 */
function etcdKeyspace(): Array<{ name: Uint8Array; entries: BboltEntry[] }> {
  const kv = (key: string, value: string, create: number, mod: number, version: number): Uint8Array =>
    KeyValue.encode({
      key: bytes(key),
      createRevision: BigInt(create),
      modRevision: BigInt(mod),
      version: BigInt(version),
      value: bytes(value),
      lease: 0n,
    }).finish();
  const keyBucket: BboltEntry[] = [];
  for (let i = 0; i < KEYS; i++) {
    keyBucket.push({ key: revisionKey(i + 2), value: kv(userKey(i), userValue(i), i + 2, i + 2, 1) });
  }
  keyBucket.push({ key: revisionKey(KEYS + 2), value: kv(userKey(0), 'updated', 2, KEYS + 2, 2) });
  // A tombstone's value holds the key only (etcd's mvcc delete).
  keyBucket.push({
    key: revisionKey(KEYS + 3, true),
    value: KeyValue.encode(KeyValue.fromPartial({ key: bytes(userKey(1)) })).finish(),
  });
  const bucket = (name: string, entries: BboltEntry[]): { name: Uint8Array; entries: BboltEntry[] } => ({
    name: bytes(name),
    entries,
  });
  return [
    bucket('alarm', []),
    bucket('auth', [
      { key: bytes('authEnabled'), value: new Uint8Array([0]) },
      { key: bytes('authRevision'), value: u64be(1) },
    ]),
    bucket('authRoles', []),
    bucket('authUsers', []),
    bucket('cluster', [{ key: bytes('clusterVersion'), value: bytes('3.4.0') }]),
    bucket('key', keyBucket),
    bucket('lease', []),
    bucket('members', [
      {
        key: bytes('8e9e05c52164694d'),
        value: bytes('{"id":10276657743932975437,"peerURLs":["http://localhost:2380"]}'),
      },
    ]),
    bucket('members_removed', []),
    bucket('meta', [{ key: bytes('consistent_index'), value: u64be(KEYS + 10) }]),
  ];
}

test('etcdctl snapshot status/restore accept a file from writeBbolt, and etcd serves its keys', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'cairn.snapshot.db');
  const buckets = etcdKeyspace();
  const size = await writeBbolt(file, buckets);
  const written = BboltReader.open(file);
  assert.deepEqual(written.check(), []);
  written.close();
  // Big enough for branch pages and overflow pages (the 100 KiB values).
  const pages = pagesOf(file);
  assert.ok(pages.some((p) => p.flags === BRANCH_PAGE));
  assert.equal(pages.filter((p) => p.overflow >= 24).length, KEYS / 1000);
  // etcd's snapshot file: the bbolt image, then the sha256 of it.
  await appendFile(
    file,
    createHash('sha256')
      .update(await readFile(file))
      .digest(),
  );

  const status = await snapshotStatus(file);
  const keyBucket = buckets.find((b) => text(b.name) === 'key')?.entries ?? [];
  assert.deepEqual(status, {
    hash: etcdSnapshotHash(buckets) >>> 0,
    revision: KEYS + 3,
    totalKey: buckets.reduce((n, b) => n + b.entries.length, 0),
    totalSize: size,
  });
  assert.equal(mainRevision(keyBucket[keyBucket.length - 1].key), KEYS + 3);

  const peerPort = await freePort();
  const restored = join(dir, 'restored');
  await etcdctl(
    'snapshot',
    'restore',
    file,
    '--data-dir',
    restored,
    '--name',
    'default',
    '--initial-cluster',
    `default=http://127.0.0.1:${peerPort}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peerPort}`,
  );

  const etcd = await startRealEtcd(t, { dataDir: restored, peerPort });
  const get = (key: string): Promise<string> =>
    etcdctl('--endpoints', etcd.clientUrl, 'get', key, '--print-value-only');
  for (const i of [2, 3, 7, 1007, 2500, KEYS - 1])
    assert.equal(await get(userKey(i)), `${userValue(i)}\n`, userKey(i));
  assert.equal(await get(userKey(0)), 'updated\n');
  assert.equal(await get(userKey(1)), '');
  const count = await new EtcdGateway(etcd.clientUrl).range({
    key: b64('key-'),
    range_end: b64('key.'),
    count_only: true,
  });
  assert.ok(count.ok, JSON.stringify(count));
  assert.equal(count.body['count'], String(KEYS - 1));
  assert.equal((count.body['header'] as { revision: string }).revision, String(KEYS + 3));
  // A write through etcd's bbolt into our tree (it splits our full last leaf).
  await etcdctl('--endpoints', etcd.clientUrl, 'put', 'after-restore', 'yes');
  await etcd.stop('SIGTERM');

  // The live db of the stopped etcd, written by real bbolt on top of ours: still consistent, with
  // our entries unchanged and the new revision after them.
  const live = BboltReader.open(join(restored, 'member', 'snap', 'db'));
  t.after(() => live.close());
  assert.deepEqual(live.check(), []);
  assert.deepEqual(live.bucketNames().map(text), ETCD_BUCKETS);
  const liveKeys = [...live.entries(bytes('key'))];
  assertSameEntries(liveKeys.slice(0, keyBucket.length), keyBucket, 'key bucket after restore');
  assert.equal(liveKeys.length, keyBucket.length + 1);
  const last = KeyValue.decode(liveKeys[liveKeys.length - 1].value);
  assert.equal(text(last.key), 'after-restore');
  assert.equal(mainRevision(liveKeys[liveKeys.length - 1].key), KEYS + 4);
  // etcdctl agrees with our reader on the live file too.
  const all = readAll(live);
  assert.deepEqual(await snapshotStatus(join(restored, 'member', 'snap', 'db')), {
    hash: etcdSnapshotHash(all) >>> 0,
    revision: KEYS + 4,
    totalKey: all.reduce((n, b) => n + b.entries.length, 0),
    totalSize: live.size(),
  });
  // Restore added the new member (etcd 3.4's restore leaves the old entries of this bucket alone).
  const members = [...live.entries(bytes('members'))].map((e) => text(e.value));
  assert.equal(members.length, 2, members.join('\n'));
  assert.ok(
    members.some((m) => m.includes(`"peerURLs":["http://127.0.0.1:${peerPort}"]`)),
    members.join('\n'),
  );
});
