// `cairnutl defrag --data-dir` (bin/cairnutl as a child process) on the data dir of a real `cairn`
// member: after many keys are deleted and compacted, the stopped member's db shrinks and the member
// then starts and serves every remaining key; the dir of a running member is refused and left as it
// is; a missing db and etcd's own (bbolt) db are refused with exit 1.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';

import { Client } from '../../../src/client/index.js';
import { defragmentDataDir } from '../../../src/server/offline-defrag.js';
import { cairnCluster, type CairnMember } from '../../support/cairn-cluster.js';
import { CAIRNUTL_BIN, runTool, tempDir, type ToolRun } from '../../support/tools.js';
import { endpointOf, etcdctl, leaderOf } from '../../support/etcdctl.js';

const cairnutl = (...args: string[]): Promise<ToolRun> => runTool(CAIRNUTL_BIN, args);

/** The zap-style JSON log lines cairnutl wrote on stderr. */
function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Names and inodes under the member dir, and the WAL lock's content: what a defrag would change. */
function layoutOf(dataDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const sub of ['snap', 'wal']) {
    const d = join(dataDir, 'member', sub);
    for (const n of readdirSync(d)) out[`${sub}/${n}`] = String(statSync(join(d, n)).ino);
  }
  out['wal/.lock content'] = readFileSync(join(dataDir, 'member', 'wal', '.lock'), 'utf8');
  return out;
}

const KEEP = ['keep/a', 'keep/b', 'keep/c'];

test('cairnutl defrag --data-dir', { timeout: 60_000 }, async (t) => {
  const c = await cairnCluster(t, ['solo'], 'defrag-token');
  const m = c.members[0] as CairnMember;
  c.start(m);
  await leaderOf(c);
  const ep = endpointOf(m);
  const db = join(m.dataDir, 'member', 'snap', 'db');

  // Many keys, deleted and compacted away: their pages go to LMDB's free list, the file keeps its size.
  const client = Client.connect({ endpoints: [m.clientUrl], defaultTimeoutMs: 10_000 });
  try {
    const value = 'x'.repeat(4096);
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => client.kv.put(`big/${batch}-${i}`, value)));
    }
    for (const k of KEEP) await client.kv.put(k, `value of ${k}`);
    await client.kv.delete('big/', { prefix: true });
    const last = await client.kv.put('keep/last', 'final');
    await client.kv.compact(last.header?.revision ?? 0n, { physical: true });
  } finally {
    client.close();
  }

  await t.test("a running member's data dir is refused and left as it is", async () => {
    const before = layoutOf(m.dataDir);
    const r = await cairnutl('defrag', '--data-dir', m.dataDir);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      new RegExp(
        `^Error: Failed to defragment etcd data\\[${m.dataDir}\\] \\(data dir ${m.dataDir} is in use: its WAL .* is locked by pid ${m.process?.pid} `,
      ),
    );
    assert.deepEqual(layoutOf(m.dataDir), before, 'the refused defrag changed the data dir');
    assert.equal(await etcdctl(ep, 'get', 'keep/a', '--print-value-only'), 'value of keep/a\n');
  });

  await t.test('a stopped member: the db shrinks, the member starts and serves every key', async (tt) => {
    assert.equal(await c.kill(m, 'SIGTERM'), 0, m.log);
    const sizeBefore = statSync(db).size;
    const r = await cairnutl('defrag', '--data-dir', m.dataDir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', 'etcdutl prints nothing on stdout');
    const [started, finished] = logLines(r.stderr);
    assert.equal(started.msg, 'defragmenting');
    assert.equal(started['current-db-size-bytes'], sizeBefore);
    assert.equal(finished.msg, 'finished defragmenting directory');
    assert.equal(finished.path, db);
    const sizeAfter = statSync(db).size;
    assert.equal(finished['current-db-size-bytes'], sizeAfter);
    assert.equal(finished['current-db-size-bytes-diff'], sizeAfter - sizeBefore);
    assert.ok(sizeAfter < sizeBefore, `db ${sizeBefore} -> ${sizeAfter} bytes`);
    tt.diagnostic(`db ${sizeBefore} -> ${sizeAfter} bytes`);
    assert.deepEqual(
      readdirSync(dirname(db)).filter((n) => n.includes('.tmp')),
      [],
      'no temporary file left',
    );
    assert.equal(existsSync(join(m.dataDir, 'member', 'wal', '.lock')), false, 'the WAL lock is released');

    c.start(m);
    await leaderOf(c);
    const got = await etcdctl(ep, 'get', 'keep/', '--prefix');
    assert.equal(
      got,
      [...KEEP, 'keep/last'].map((k) => `${k}\n${k === 'keep/last' ? 'final' : `value of ${k}`}\n`).join(''),
    );
    assert.equal(await etcdctl(ep, 'get', 'big/', '--prefix', '--keys-only'), '');
  });

  await t.test('a member started while a defrag runs is refused before it opens the backend', async () => {
    assert.equal(await c.kill(m, 'SIGTERM'), 0, m.log);
    let startedDuring: { code: number | null; log: string } | undefined;
    const result = await defragmentDataDir(m.dataDir, {
      onStart: async () => {
        m.log = '';
        c.start(m);
        startedDuring = { code: await m.exited, log: m.log };
      },
    });
    assert.ok(startedDuring !== undefined);
    assert.notEqual(startedDuring.code, 0, 'the member must not run during the defrag');
    assert.match(startedDuring.log, /is locked by another process \(pid \d+/);
    assert.equal(result.path, db);
    // The defrag completed on a file nobody else opened: the member starts and serves every key.
    c.start(m);
    await leaderOf(c);
    assert.equal(await etcdctl(ep, 'get', 'keep/last', '--print-value-only'), 'final\n');
  });

  await t.test('a missing data dir: etcd\'s "cannot open database", exit 1, nothing created', async (tt) => {
    const missing = join(tempDir(tt), 'nowhere');
    const r = await cairnutl('defrag', '--data-dir', missing);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const path = join(missing, 'member', 'snap', 'db');
    assert.equal(
      r.stderr,
      `Error: cannot open database at ${path} (open ${path}: no such file or directory)\n`,
    );
    assert.equal(existsSync(missing), false);
  });

  await t.test("etcd's bbolt db is refused (LMDB must never open it)", async (tt) => {
    const dir = join(tempDir(tt), 'etcd.etcd');
    mkdirSync(join(dir, 'member', 'snap'), { recursive: true });
    const page = Buffer.alloc(4096);
    page.writeUInt32LE(0xed0cdaed, 16);
    writeFileSync(join(dir, 'member', 'snap', 'db'), page);
    const r = await cairnutl('defrag', '--data-dir', dir);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: Failed to defragment etcd data\[.*\] \(.* is a bbolt database \(etcd's format\), not a Cairn backend\)\n$/,
    );
    assert.deepEqual(readdirSync(join(dir, 'member', 'snap')), ['db']);
  });
});
