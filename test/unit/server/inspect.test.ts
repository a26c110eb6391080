// `cairnutl inspect` on data dirs made by real `cairn` processes: a member of a three-member cluster is
// stopped and its dir inspected, through bin/cairnutl and in-process. The report names the member and
// cluster etcdctl showed, its revision, HashKV hash and members, changes nothing in the dir, and finds a
// torn WAL tail and a flipped byte in a mid-log record (each with file, offset and procedure) in copies.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, lstatSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import { inspectDataDir, type InspectReport } from '../../../src/server/inspect.js';
import { cairnCluster, waitFor, type CairnMember } from '../../support/cairn-cluster.js';
import { CAIRNUTL_BIN, runTool, tempDir, type ToolRun } from '../../support/tools.js';
import { endpointOf, etcdctl, leaderOf, memberIdOf } from '../../support/etcdctl.js';

const cairnutl = (...args: string[]): Promise<ToolRun> => runTool(CAIRNUTL_BIN, args);

/** Every entry under `dir`: files with the SHA-256 of their content, directories and links by kind. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      const key = relative(dir, p);
      if (st.isDirectory()) {
        out[key] = `dir ${st.mode.toString(8)}`;
        walk(p);
      } else if (st.isFile()) {
        out[key] =
          `file ${st.mode.toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
      } else out[key] = `other ${st.mode.toString(8)}`;
    }
  };
  walk(dir);
  return out;
}

interface Frame {
  /** Offset of the length word. */
  readonly start: number;
  readonly recordBytes: number;
  readonly padBytes: number;
}

/** The frames of a WAL segment (etcd's framing: a 64-bit little-endian length word, padding flags in its top byte). */
function frames(file: string): Frame[] {
  const b = readFileSync(file);
  const out: Frame[] = [];
  for (let pos = 0; pos + 8 <= b.length;) {
    const lo = b.readUInt32LE(pos);
    const hi = b.readUInt32LE(pos + 4);
    if (lo === 0 && hi === 0) break;
    const recordBytes = lo + (hi & 0xffffff) * 2 ** 32;
    const padBytes = (hi & 0x80000000) !== 0 ? (hi >>> 24) & 7 : 0;
    out.push({ start: pos, recordBytes, padBytes });
    pos += 8 + recordBytes + padBytes;
  }
  return out;
}

/** Whether every 512-byte-sector piece of the frame's body has a non-zero byte (else it reads as torn). */
function noZeroSectorPiece(b: Buffer, f: Frame): boolean {
  let off = f.start + 8;
  const end = off + f.recordBytes + f.padBytes;
  while (off < end) {
    const pieceEnd = Math.min(end, off - (off % 512) + 512);
    if (b.subarray(off, pieceEnd).every((x) => x === 0)) return false;
    off = pieceEnd;
  }
  return true;
}

function lastSegment(dataDir: string): string {
  const dir = join(dataDir, 'member', 'wal');
  const names = readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
  return join(dir, names[names.length - 1]);
}

/** Decimal 64-bit IDs in etcdctl's JSON as hex, without passing them through a JS number. */
function idField(json: string, field: string): string {
  const m = new RegExp(`"${field}":(\\d+)`).exec(json);
  assert.ok(m !== null, `${field} in ${json}`);
  return BigInt(m[1]).toString(16);
}

test('cairnutl inspect', { timeout: 60_000 }, async (t) => {
  const c = await cairnCluster(t, ['infra1', 'infra2', 'infra3'], 'inspect-token');
  for (const m of c.members) c.start(m, ['--snapshot-count', '5']);
  const leaderEp = await leaderOf(c);
  const target = c.members.find((m) => endpointOf(m) !== leaderEp) as CairnMember;
  const ep = endpointOf(target);
  // Every member has published its name (raft entries that change no revision) before the writes.
  await waitFor('every member to publish', async () => {
    const list = await etcdctl(leaderEp, 'member', 'list');
    return c.members.every((m) => list.includes(`, started, ${m.name}, `)) ? true : undefined;
  });
  for (let i = 0; i < 12; i++) await etcdctl(leaderEp, 'put', `key${i}`, `value${i}`);
  await etcdctl(leaderEp, 'del', 'key3');

  // What etcdctl says about the member before it stops, once it has applied the leader's whole log.
  const leaderStatus = await etcdctl(leaderEp, 'endpoint', 'status', '-w', 'json');
  const revision = Number(/"revision":(\d+)/.exec(leaderStatus)?.[1]);
  const raftIndex = Number(/"raftIndex":(\d+)/.exec(leaderStatus)?.[1]);
  const status = await waitFor('the member to apply the whole log', async () => {
    const s = await etcdctl(ep, 'endpoint', 'status', '-w', 'json');
    return Number(/"raftAppliedIndex":(\d+)/.exec(s)?.[1]) === raftIndex ? s : undefined;
  });
  assert.equal(Number(/"revision":(\d+)/.exec(status)?.[1]), revision);
  const memberId = idField(status, 'member_id');
  const clusterId = idField(status, 'cluster_id');
  assert.equal(memberId, await memberIdOf(c.endpoints(), target.name));
  const listed = (await etcdctl(ep, 'member', 'list'))
    .trim()
    .split('\n')
    .map((l) => l.split(', '));
  const hashJson = await etcdctl(ep, 'endpoint', 'hashkv', '-w', 'json');
  const hash = Number(/"hash":(\d+)/.exec(hashJson)?.[1]);

  await t.test('a running member: in use, its pid named, the backend not read', async () => {
    const r = await cairnutl('inspect', '--data-dir', target.dataDir, '-w', 'json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as InspectReport;
    assert.ok(report.holders?.some((h) => h.pid === target.process?.pid));
    assert.equal(report.backend.state, 'in-use');
    assert.ok(report.findings.some((f) => f.severity === 'warning' && f.problem.includes('in use')));
  });

  const pid = target.process?.pid;
  assert.equal(await c.kill(target, 'SIGTERM'), 0, target.log);
  assert.ok(pid !== undefined);
  const dir = target.dataDir;

  await t.test('a stopped member: IDs, revision, hash, members; nothing in the dir changes', async () => {
    const before = fingerprint(dir);
    const r = await cairnutl('inspect', '--data-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fingerprint(dir), before, 'inspect changed the data dir');
    assert.match(r.stdout, new RegExp(`^member ID: +${memberId}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^cluster ID: +${clusterId}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^  revision: +${revision}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^  hash \\(HashKV\\): +${hash} at revision ${revision}$`, 'm'));
    assert.match(r.stdout, /^diagnosis: healthy$/m);
    for (const [id, , name, peer, client] of listed) {
      assert.match(
        r.stdout,
        new RegExp(`^  member: +${id}  ${name}  peer URLs ${peer}  client URLs ${client}$`, 'm'),
      );
    }

    const json = await cairnutl('inspect', '--data-dir', dir, '-w', 'json');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(fingerprint(dir), before, 'inspect -w json changed the data dir');
    const report = JSON.parse(json.stdout) as InspectReport & { memberId: string; clusterId: string };
    assert.equal(report.memberId, memberId);
    assert.equal(report.clusterId, clusterId);
    assert.equal(report.healthy, true);
    assert.equal(report.walLock, null); // released by the member's clean stop
    assert.deepEqual(report.holders, []);
    assert.equal(report.backend.state, 'read');
    if (report.backend.state !== 'read') return;
    assert.equal(report.backend.revision, revision);
    assert.equal(report.backend.hashKv.hash, hash);
    const ids = report.backend.members.map((m) => String(m.id)).sort();
    assert.deepEqual(ids, listed.map((l) => l[0]).sort());
    // The WAL and the backend agree, and the member starts from the newest snapshot file the WAL knows.
    assert.equal(report.backend.consistentIndex, report.wal.hardState?.commit);
    assert.equal(report.wal.last?.index, report.wal.hardState?.commit);
    const used = report.snapshots.filter((s) => s.used);
    assert.equal(used.length, 1);
    assert.equal(used[0], report.snapshots[0]);
    assert.deepEqual(report.wal.openedAt, { index: used[0].index, term: used[0].term });
    assert.ok(used[0].index > 0, 'a snapshot was taken (--snapshot-count 5)');
  });

  await t.test(
    'a torn WAL tail is reported with its file and offset, to be repaired at start',
    async (tt) => {
      const copy = join(tempDir(tt), 'torn.etcd');
      cpSync(dir, copy, { recursive: true });
      const seg = lastSegment(copy);
      const last = frames(seg).at(-1) as Frame;
      truncateSync(seg, last.start + 8 + Math.floor(last.recordBytes / 2));
      const before = fingerprint(copy);
      const report = await inspectDataDir(copy);
      assert.deepEqual(fingerprint(copy), before, 'inspect changed the data dir');
      assert.equal(report.wal.torn?.file, seg);
      assert.equal(report.wal.torn?.offset, last.start);
      assert.equal(report.wal.corrupt, undefined);
      assert.equal(report.memberId?.toString(16), memberId);
      const torn = report.findings.find((f) => f.problem.startsWith('WAL tail torn'));
      assert.ok(torn !== undefined, JSON.stringify(report.findings));
      assert.equal(torn.severity, 'warning');
      assert.ok(torn.problem.includes(`${seg} offset ${last.start}`), torn.problem);
      assert.match(torn.procedure, /repairs it at start/);
      assert.ok(torn.procedure.includes(`${seg}.broken`), torn.procedure);
      // Losing the last record may also lose the commit the backend already applied: reported as such.
      const commit = report.wal.hardState?.commit ?? 0;
      const ci = report.backend.state === 'read' ? report.backend.consistentIndex : -1;
      assert.equal(
        report.findings.some((f) => f.problem.startsWith('backend ahead of the WAL commit')),
        ci > commit,
      );

      const text = await cairnutl('inspect', '--data-dir', copy);
      assert.equal(text.code, 0, text.stderr);
      assert.ok(text.stdout.includes(`TORN TAIL at ${seg} offset ${last.start}`), text.stdout);
      assert.deepEqual(fingerprint(copy), before, 'inspect changed the data dir');
    },
  );

  await t.test('a flipped byte mid-log is corruption at that record: replace the member', async (tt) => {
    const copy = join(tempDir(tt), 'corrupt.etcd');
    cpSync(dir, copy, { recursive: true });
    const seg = lastSegment(copy);
    const b = readFileSync(seg);
    const all = frames(seg);
    const middle = all.slice(Math.floor(all.length / 2), all.length - 2);
    const victim = middle.find(
      (f) => f.recordBytes > 8 && noZeroSectorPiece(b, f) && b[f.start + 8 + f.recordBytes - 1] !== 0xff,
    );
    assert.ok(victim !== undefined, 'a record to damage');
    b[victim.start + 8 + victim.recordBytes - 1] ^= 0xff;
    writeFileSync(seg, b);
    const before = fingerprint(copy);
    const r = await cairnutl('inspect', '--data-dir', copy, '-w', 'json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fingerprint(copy), before, 'inspect changed the data dir');
    const report = JSON.parse(r.stdout) as InspectReport & { memberId: string };
    assert.equal(report.memberId, memberId, 'the identity is read from before the damage');
    assert.equal(report.healthy, false);
    assert.equal(report.wal.corrupt?.file, seg);
    assert.equal(report.wal.corrupt?.offset, victim.start);
    const corrupt = report.findings.find((f) => f.problem.startsWith('WAL corrupt mid-log'));
    assert.ok(corrupt !== undefined, JSON.stringify(report.findings));
    assert.equal(corrupt.severity, 'error');
    assert.ok(corrupt.problem.includes(`${seg} offset ${victim.start}`), corrupt.problem);
    assert.ok(corrupt.procedure.includes(`member remove ${memberId}`), corrupt.procedure);
    assert.match(corrupt.procedure, /member add/);
    assert.match(corrupt.procedure, /--initial-cluster-state existing/);
  });

  await t.test('a dir without a member is refused', async (tt) => {
    const empty = tempDir(tt);
    const r = await cairnutl('inspect', '--data-dir', empty);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `Error: no member in data dir ${empty}: ${join(empty, 'member', 'wal')} does not exist\n`,
    );
    assert.deepEqual(readdirSync(empty), []);
  });
});
