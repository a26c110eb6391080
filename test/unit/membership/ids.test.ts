import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  computeAddedMemberId,
  computeClusterId,
  computeMemberId,
  formatId,
  memberKey,
  parseId,
  parseMemberKey,
  unixSeconds,
} from '../../../src/membership/ids.js';

test('member IDs of reference/etcd-v3.md §3.3', () => {
  assert.equal(formatId(computeMemberId(['http://127.0.0.1:2380'], 'tok1')), '9a432a8dfaa301a5');
  assert.equal(formatId(computeMemberId(['http://localhost:2380'], 'etcd-cluster')), '8e9e05c52164694d');
});

test('cluster IDs of reference/etcd-v3.md §3.3', () => {
  assert.equal(formatId(computeClusterId([0x9a432a8dfaa301a5n])), 'a0864b42257fc210');
  assert.equal(formatId(computeClusterId([0x8e9e05c52164694dn])), 'cdf818194e3a8c32');
});

test('IDs observed from a real etcd 3.4.23', () => {
  // --name n1 --initial-cluster=n1=http://127.0.0.1:45292 --initial-cluster-token=tok1
  const n1 = computeMemberId(['http://127.0.0.1:45292'], 'tok1');
  assert.equal(formatId(n1), 'bfa1a994ee0d73f4');
  assert.equal(n1, 13808504389608764404n); // as `member list -w json` printed it
  assert.equal(formatId(computeClusterId([n1])), '284fcd91e5a9deba');
  assert.equal(computeClusterId([n1]), 2904766311184326330n);
  // `member add n2 --peer-urls=http://127.0.0.1:45293,http://127.0.0.1:45290 --learner` at unix second
  // 1795256439 gave 78e16a5975afb6a1: URLs sorted, empty token, the seconds appended.
  const added = computeAddedMemberId(['http://127.0.0.1:45293', 'http://127.0.0.1:45290'], 1795256439_999);
  assert.equal(formatId(added), '78e16a5975afb6a1');
  // Three members, one with two URLs (b listed twice), token tk: etcd logged these IDs.
  const a = computeMemberId(['http://127.0.0.1:45401'], 'tk');
  const b = computeMemberId(['http://127.0.0.1:45393', 'http://127.0.0.1:45392'], 'tk');
  const c = computeMemberId(['http://127.0.0.1:45402'], 'tk');
  assert.deepEqual([a, b, c].map(formatId), ['223cb54b6aee65df', '428c885b224d5490', 'e049406bf9a9a27a']);
  assert.equal(formatId(computeClusterId([c, a, b])), '5d48a3cbd194315');
});

test('IDs print as lower-case hex without leading zeros; parse accepts either case', () => {
  assert.equal(formatId(0x0ce28b97bb4d5063n), 'ce28b97bb4d5063');
  assert.equal(formatId(0n), '0');
  assert.equal(formatId((1n << 64n) - 1n), 'ffffffffffffffff');
  assert.equal(parseId('CE28B97BB4D5063'), 0xce28b97bb4d5063n);
  assert.equal(parseId('0000ff'), 255n);
  for (const bad of ['', '0x12', 'xyz', '-1', '1 ', '10000000000000000']) {
    assert.throws(() => parseId(bad), RangeError, bad);
  }
  assert.throws(() => formatId(-1n), RangeError);
  assert.throws(() => formatId(1n << 64n), RangeError);
});

test('the runtime ID uses whole unix seconds, rounded down', () => {
  assert.equal(unixSeconds(1_700_000_000_999), 1_700_000_000);
  assert.equal(unixSeconds(-1), -1);
  const urls = ['http://10.0.0.1:2380'];
  assert.equal(computeAddedMemberId(urls, 5_000), computeAddedMemberId(urls, 5_999));
  assert.notEqual(computeAddedMemberId(urls, 5_000), computeAddedMemberId(urls, 6_000));
  assert.equal(computeAddedMemberId(urls, 5_000), computeMemberId(urls, '', 5));
  assert.throws(() => computeMemberId(urls, '', 1.5), RangeError);
});

test('member key is the hex ID in ASCII', () => {
  assert.deepEqual(Buffer.from(memberKey(0xbfa1a994ee0d73f4n)).toString(), 'bfa1a994ee0d73f4');
  assert.equal(parseMemberKey(memberKey(0xe5903e1fc86fe76n)), 0xe5903e1fc86fe76n);
});

const uint64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

test('property: formatId and parseId are inverse over all uint64', () => {
  fc.assert(
    fc.property(uint64, (id) => {
      const hex = formatId(id);
      assert.match(hex, /^(0|[1-9a-f][0-9a-f]*)$/);
      assert.equal(parseId(hex), id);
      assert.equal(parseMemberKey(memberKey(id)), id);
    }),
    { seed: 7, numRuns: 1000 },
  );
});

test('property: IDs ignore URL order and cluster IDs ignore member order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 5 }),
      fc.string(),
      fc.array(uint64, { minLength: 1, maxLength: 7 }),
      (ports, token, ids) => {
        const urls = ports.map((p) => `http://10.0.0.1:${p}`);
        assert.equal(computeMemberId(urls, token), computeMemberId([...urls].reverse(), token));
        assert.equal(computeClusterId(ids), computeClusterId([...ids].reverse()));
      },
    ),
    { seed: 11, numRuns: 300 },
  );
});
