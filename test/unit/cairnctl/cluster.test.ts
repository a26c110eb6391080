// member, endpoint, compaction, defrag, alarm and move-leader: cairnctl against etcdctl.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CAIRNCTL, ETCDCTL, Pair, runTool } from './harness.js';

test('member and endpoint commands match etcdctl', async (t) => {
  const p = await Pair.start(t);
  for (const format of ['simple', 'json', 'fields']) await p.same(['member', 'list', '-w', format]);
  // Table widths follow the IDs' digit counts, which differ between the servers: same server here.
  await p.sameServer(['member', 'list', '-w', 'table']);
  await p.same(['memb', 'li']);
  await p.same(['member', 'remove', '1234']);
  await p.same(['member', 'remove']);
  await p.same(['member', 'remove', 'xyz']);
  await p.same(['member', 'add']);
  await p.same(['member', 'add', 'n2']);
  await p.same(['member', 'add', 'n2', 'http://127.0.0.1:1']);
  await p.same(['member', 'update', '1234', '--peer-urls=http://127.0.0.1:9']);
  await p.same(['member', 'update', '1234']);
  await p.same(['member', 'promote', '1234']);
  await p.same(['member', 'add', 'bad', '--peer-urls=not a url']);

  // A learner does not change the quorum of the one-member cluster. Its ID hashes the time, so each
  // side's ID is learned from its own output and mapped.
  const args = ['member', 'add', 'n2', '--peer-urls=http://127.0.0.1:1,http://127.0.0.1:2', '--learner'];
  const [ra, rb] = await Promise.all([
    runTool(ETCDCTL, [`--endpoints=127.0.0.1:${p.a.clientPort}`, ...args]),
    runTool(CAIRNCTL, [`--endpoints=127.0.0.1:${p.b.clientPort}`, ...args]),
  ]);
  const id = (s: string): bigint => BigInt(`0x${(/Member +([0-9a-f]+) added/.exec(s) ?? ['', '0'])[1]}`);
  const [ida, idb] = [id(ra.stdout), id(rb.stdout)];
  assert.notEqual(ida, 0n, ra.stdout + ra.stderr);
  p.aliasId(idb, ida);
  p.addArgAlias(ida.toString(16), idb.toString(16));
  assert.equal(rb.code, ra.code);
  // The server lists members by ID, and the IDs differ between the servers: compare as sets.
  const sortCluster = (s: string): string =>
    s.replace(
      /ETCD_INITIAL_CLUSTER="([^"]*)"/,
      (_, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(',').sort().join(',')}"`,
    );
  assert.equal(sortCluster(p.normaliseOutput(rb.stdout)), sortCluster(ra.stdout));
  await p.sameServer(['member', 'list', '-w', 'json']);
  await p.same(['member', 'promote', ida.toString(16)]);
  await p.same(['member', 'update', ida.toString(16), '--peer-urls=http://127.0.0.1:3']);
  await p.sameServer(['member', 'update', ida.toString(16), '--peer-urls=http://127.0.0.1:4', '-w', 'json']);
  await p.same(['member', 'remove', ida.toString(16), '-w', 'fields']);
  await p.same(['member', 'list']);

  // Endpoint status/hash and health carry server-specific numbers (raft index, db size, hash):
  // both tools against the same server.
  for (const format of ['simple', 'json', 'fields', 'table']) {
    await p.sameServer(['endpoint', 'status', '-w', format]);
    await p.sameServer(['endpoint', 'health', '-w', format], { squash: format === 'table' });
    await p.sameServer(['endpoint', 'hashkv', '-w', format]);
  }
  await p.sameServer(['endpoint', 'status', '--cluster']);
  await p.sameServer(['endpoint', 'health', '--cluster', '-w', 'json']);
  await p.sameServer(['endpoint', 'hashkv', '--rev=1']);
  await p.sameServer(['endpoint', 'status', '-w', 'protobuf']);
  await p.sameServer(['member', 'list', '-w', 'protobuf']);
});

test('maintenance commands match etcdctl', async (t) => {
  const p = await Pair.start(t);
  for (let i = 0; i < 4; i++) await p.same(['put', 'k', `v${i}`]);
  await p.same(['compaction', '3']);
  await p.same(['compaction', '2']);
  await p.same(['compaction', '100']);
  await p.same(['compaction', 'abc']);
  await p.same(['compaction']);
  await p.same(['compaction', '4', '--physical']);
  await p.same(['get', 'k', '--rev=2']);
  await p.same(['defrag']);
  await p.same(['defrag', '--cluster']);
  await p.same(['alarm', 'list']);
  await p.same(['alarm', 'list', '-w', 'json']);
  await p.same(['alarm', 'disarm']);
  await p.same(['alarm', 'list', 'x']);
  await p.same(['move-leader']);
  await p.same(['move-leader', 'xyz']);
  await p.same(['move-leader', '1']);
  await p.sameServer(['move-leader', p.a.name === '' ? '0' : await memberHex(p.a.clientPort)]);
});

async function memberHex(port: number): Promise<string> {
  const r = await runTool(ETCDCTL, [`--endpoints=127.0.0.1:${port}`, 'member', 'list']);
  return r.stdout.split(',')[0];
}
