import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  MemberJsonError,
  decodeConfChangeContext,
  decodeMember,
  decodeMembersResponse,
  encodeAddContext,
  encodeMember,
  encodeMemberJson,
  encodeMembersResponse,
  encodePromoteContext,
  encodeUpdateContext,
  makeMember,
  type Member,
} from '../../../src/membership/member.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

const N1: Member = makeMember({
  id: 13808504389608764404n,
  name: 'n1',
  peerUrls: ['http://127.0.0.1:45292'],
  clientUrls: ['http://127.0.0.1:45291'],
});

test('member JSON is byte-identical to the values in a real etcd 3.4.23 members bucket', () => {
  // Read with `strings` from member/snap/db of an etcd after member add/update/remove.
  assert.equal(
    encodeMemberJson(N1),
    '{"id":13808504389608764404,"peerURLs":["http://127.0.0.1:45292"],"name":"n1","clientURLs":["http://127.0.0.1:45291"]}',
  );
  assert.equal(
    encodeMemberJson(
      makeMember({ id: 9461831834837068652n, peerUrls: ['http://127.0.0.1:45298'], isLearner: true }),
    ),
    '{"id":9461831834837068652,"peerURLs":["http://127.0.0.1:45298"],"isLearner":true}',
  );
  assert.equal(
    encodeMemberJson(makeMember({ id: 8710360086770333345n, peerUrls: ['http://127.0.0.1:45298'] })),
    '{"id":8710360086770333345,"peerURLs":["http://127.0.0.1:45298"]}',
  );
  assert.equal(text(encodeMember(N1)), encodeMemberJson(N1));
});

test('IDs above 2^53 decode exactly', () => {
  const m = decodeMember('{"id":18446744073709551615,"peerURLs":["http://a:1"]}');
  assert.equal(m.id, (1n << 64n) - 1n);
  assert.equal(decodeMember(encodeMember(N1)).id, 13808504389608764404n);
  assert.throws(() => decodeMember('{"id":18446744073709551616}'), MemberJsonError);
  assert.throws(() => decodeMember('{"id":-1}'), MemberJsonError);
  assert.throws(() => decodeMember('{"id":1.5}'), MemberJsonError);
  assert.throws(() => decodeMember('{"id":"1"}'), MemberJsonError);
});

test('decoding follows Go: case-insensitive keys, unknown keys ignored, null and missing are zero', () => {
  const m = decodeMember(
    '{"ID":5,"PeerURLs":null,"NAME":"x","extra":{"a":[1,2]},"clientURLs":["http://c:1"],"isLearner":null}',
  );
  assert.deepEqual(m, { id: 5n, name: 'x', peerUrls: [], clientUrls: ['http://c:1'], isLearner: false });
  assert.deepEqual(decodeMember('{}'), makeMember({ id: 0n }));
  assert.deepEqual(decodeMember(' {"id":1, "isLearner":true} \n'), makeMember({ id: 1n, isLearner: true }));
  for (const bad of [
    '',
    '[]',
    '{"id":1',
    '{"id":1}x',
    '{"peerURLs":"a"}',
    '{"peerURLs":[1]}',
    '{"name":3}',
  ]) {
    assert.throws(() => decodeMember(bad), MemberJsonError, bad);
  }
});

test('strings are escaped as Go escapes them', () => {
  const m = makeMember({ id: 1n, name: 'a"b\\c<d>&e\n\u2028\u0001', peerUrls: ['http://h:1'] });
  assert.equal(
    encodeMemberJson(m),
    '{"id":1,"peerURLs":["http://h:1"],"name":"a\\"b\\\\c\\u003cd\\u003e\\u0026e\\n\\u2028\\u0001"}',
  );
  assert.equal(decodeMember(encodeMember(m)).name, m.name);
});

test('conf-change contexts: add carries isPromote false, promote only the ID, update the URLs', () => {
  const learner = makeMember({
    id: 0xd19ab5f32ce3f080n,
    peerUrls: ['http://127.0.0.1:45293'],
    isLearner: true,
  });
  assert.equal(
    text(encodeAddContext(learner)),
    '{"id":15103584356375195776,"peerURLs":["http://127.0.0.1:45293"],"isLearner":true,"isPromote":false}',
  );
  assert.deepEqual(decodeConfChangeContext(encodeAddContext(learner)), { member: learner, isPromote: false });
  assert.equal(text(encodePromoteContext(7n)), '{"id":7,"peerURLs":null,"isPromote":true}');
  assert.deepEqual(decodeConfChangeContext(encodePromoteContext(7n)), {
    member: makeMember({ id: 7n }),
    isPromote: true,
  });
  assert.equal(text(encodeUpdateContext(7n, ['http://x:1'])), '{"id":7,"peerURLs":["http://x:1"]}');
  // Bootstrap entries carry plain member JSON: an add, not a promote.
  assert.equal(decodeConfChangeContext(encodeMember(N1)).isPromote, false);
});

test('GET /members body matches a real etcd 3.4.23 peer port byte for byte', () => {
  const learner = makeMember({
    id: 15103584356375195776n,
    peerUrls: ['http://127.0.0.1:45293'],
    isLearner: true,
  });
  const body =
    '[{"id":13808504389608764404,"peerURLs":["http://127.0.0.1:45292"],"name":"n1","clientURLs":["http://127.0.0.1:45291"]},' +
    '{"id":15103584356375195776,"peerURLs":["http://127.0.0.1:45293"],"isLearner":true}]\n';
  assert.equal(encodeMembersResponse([learner, N1]), body);
  assert.deepEqual(decodeMembersResponse(body), [N1, learner]);
  assert.deepEqual(decodeMembersResponse('null'), []);
  assert.equal(encodeMembersResponse([]), '[]\n');
  assert.throws(() => decodeMembersResponse('{}'), MemberJsonError);
});

const memberArb = fc.record({
  id: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  name: fc.string({ unit: 'grapheme' }),
  peerUrls: fc.array(fc.webUrl(), { maxLength: 3 }),
  clientUrls: fc.array(fc.webUrl(), { maxLength: 3 }),
  isLearner: fc.boolean(),
});

test('property: member JSON round-trips and parses as JSON', () => {
  fc.assert(
    fc.property(memberArb, (generated) => {
      const m: Member = { ...generated };
      const json = encodeMemberJson(m);
      assert.deepEqual(decodeMember(json), m);
      const plain = JSON.parse(json) as Record<string, unknown>;
      assert.deepEqual(Object.keys(plain)[0], 'id');
      assert.deepEqual(decodeConfChangeContext(encodeAddContext(m)), { member: m, isPromote: false });
    }),
    { seed: 3, numRuns: 300 },
  );
});
