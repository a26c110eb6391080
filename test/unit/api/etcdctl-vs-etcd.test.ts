// The real etcdctl 3.4.23 against the Cairn client port and against a real etcd 3.4.23: the same
// command sequence must print the same output, the same `Error:` lines and exit with the same codes
// (IDs, URLs, sizes, hashes and timings normalised).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startRealEtcd } from '../../support/real-etcd.js';
import { CAIRN_IDS, etcdctl, normalize, realIds, startCairn, type Ids } from './helpers.js';

interface Command {
  readonly args: readonly string[];
  readonly input?: string;
  /** Long-running (watch): killed after this long, its output so far compared. */
  readonly timeoutMs?: number;
}

const manyOps = Array.from({ length: 129 }, (_, i) => `put k${i} v`).join('\n');

const COMMANDS: readonly Command[] = [
  { args: ['put', 'foo', 'bar'] },
  { args: ['get', 'foo'] },
  { args: ['get', 'foo', '-w', 'json'] },
  { args: ['put', 'foo', 'baz', '--prev-kv'] },
  { args: ['put', 'fob', 'x'] },
  { args: ['get', '--prefix', 'fo'] },
  { args: ['get', '--prefix', 'fo', '--keys-only', '--limit=1', '--order=DESCEND'] },
  { args: ['get', '--from-key', 'a', '-w', 'fields'] },
  { args: ['txn'], input: 'value("foo") = "baz"\n\nput foo qux\nget foo\n\ndel fob\n\n' },
  { args: ['txn'], input: 'mod("foo") > "100"\n\nput foo never\n\nget foo\n\n' },
  { args: ['txn'], input: `\n${manyOps}\n\n\n` },
  { args: ['del', 'fob'] },
  { args: ['del', '--prefix', 'fo', '--prev-kv'] },
  { args: ['get', 'foo', '--rev=3'] },
  { args: ['get', 'foo', '--rev=99'] },
  { args: ['compaction', '3'] },
  { args: ['compaction', '2'] },
  { args: ['get', 'foo', '--rev=2'] },
  { args: ['lease', 'grant', '60'] },
  { args: ['lease', 'revoke', '1234'] },
  { args: ['lease', 'timetolive', '1234'] },
  { args: ['lease', 'keep-alive', '--once', '1234'] },
  { args: ['put', 'leased', 'v', '--lease=1234'] },
  { args: ['member', 'list'] },
  { args: ['member', 'remove', '5'] },
  { args: ['endpoint', 'status'] },
  { args: ['endpoint', 'health'] },
  { args: ['endpoint', 'hashkv'] },
  { args: ['alarm', 'list'] },
  { args: ['alarm', 'disarm'] },
  { args: ['defrag'] },
  { args: ['auth', 'enable'] },
  { args: ['user', 'list'] },
  { args: ['role', 'get', 'nobody'] },
  { args: ['version'] },
  { args: ['put', 'w', '1'] },
  { args: ['put', 'w', '2'] },
  { args: ['watch', 'w', '--rev=9', '--prev-kv'], timeoutMs: 1500 },
  { args: ['watch', 'w', '--rev=1'], timeoutMs: 1500 },
];

function clean(text: string, ids: Ids): string {
  return normalize(text, ids)
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, 'URL')
    .replace(/\b[0-9a-f]{16}\b/g, 'LEASE')
    .replace(/, [\d.]+ [kMG]?B, (true|false), (true|false), (\d+), \d+, \d+, /g, ', SIZE, $1, $2, $3, N, N, ')
    .replace(/took = [\d.]+[µmn]?s/g, 'took = T')
    .replace(/^(ENDPOINT), \d+$/gm, '$1, HASH');
}

test('etcdctl prints the same against Cairn as against etcd 3.4.23', async (t) => {
  const etcd = await startRealEtcd(t);
  const cairn = await startCairn(t);
  const real: Ids = await realIds(etcd.clientUrl, `127.0.0.1:${etcd.clientPort}`);
  const ours: Ids = CAIRN_IDS(cairn.endpoint);

  const run = async (ids: Ids): Promise<string[]> => {
    const out: string[] = [];
    for (const c of COMMANDS) {
      const r = await etcdctl(ids.endpoint, c.args, { input: c.input, timeoutMs: c.timeoutMs });
      // A watch is killed at its timeout: its exit code says nothing.
      const code = c.timeoutMs === undefined ? String(r.code) : '-';
      out.push(`$ etcdctl ${c.args.join(' ')} -> ${code}\n${clean(r.stdout, ids)}${clean(r.errors, ids)}`);
    }
    return out;
  };
  const expected = await run(real);
  const actual = await run(ours);
  assert.deepEqual(actual, expected);
  // The sequence really exercised answers and errors (not two empty transcripts).
  assert.match(actual.join('\n'), /Error: etcdserver: mvcc: required revision has been compacted/);
  assert.match(actual.join('\n'), /Error: etcdserver: too many operations in txn request/);
});
