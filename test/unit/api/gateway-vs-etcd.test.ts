// The JSON gateway and the HTTP endpoints, compared byte for byte with a real etcd 3.4.23 given the
// same request sequence (cluster and member IDs, raft term, URLs and sizes normalised).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startRealEtcd } from '../../support/real-etcd.js';
import { CAIRN_IDS, http, normalize, realIds, startCairn, streamLines, type Ids } from './helpers.js';

interface Step {
  readonly path: string;
  readonly body?: string;
  readonly method?: string;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Status, content type and body, with what legitimately differs between two clusters masked. */
async function answer(url: string, ids: Ids, s: Step): Promise<string> {
  const r = await http(url, s.path, { method: s.method, body: s.body });
  const body = normalize(r.body, ids)
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, 'URL')
    .replace(/"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex)":"\d+"/g, '"$1":"N"')
    .replace(/"hash":\d+/g, '"hash":H');
  return `${s.method ?? 'POST'} ${s.path} -> ${r.status} ${String(r.headers['content-type'])}\n${body}`;
}

const SEQUENCE: readonly Step[] = [
  { path: '/v3/kv/range', body: JSON.stringify({ key: 'AA==', range_end: 'AA==' }) },
  { path: '/v3/kv/put', body: JSON.stringify({ key: b64('foo'), value: b64('bar') }) },
  { path: '/v3/kv/put', body: JSON.stringify({ key: b64('foo'), value: b64('baz'), prev_kv: true }) },
  { path: '/v3/kv/range', body: JSON.stringify({ key: b64('foo') }) },
  { path: '/v3/kv/range', body: JSON.stringify({ key: b64('foo'), keysOnly: true }) },
  { path: '/v3/kv/range', body: JSON.stringify({ key: b64('foo'), revision: 9999 }) },
  { path: '/v3/kv/range', body: '' },
  { path: '/v3/kv/range', body: 'garbage' },
  { path: '/v3/kv/range', body: '[]' },
  { path: '/v3/kv/range', body: `{"key":"${b64('foo')}"} trailing` },
  { path: '/v3/kv/range', body: JSON.stringify({ key: 'AA==', range_end: 'AA==', count_only: true }) },
  {
    path: '/v3/kv/txn',
    body: JSON.stringify({
      compare: [{ key: b64('foo'), result: 'EQUAL', target: 'VALUE', value: b64('baz') }],
      success: [
        { request_put: { key: b64('foo'), value: b64('x') } },
        { request_range: { key: b64('foo') } },
        { request_delete_range: { key: b64('no') } },
      ],
    }),
  },
  {
    path: '/v3/kv/txn',
    body: JSON.stringify({
      compare: [{ key: b64('foo'), result: 'EQUAL', target: 'VALUE', value: b64('baz') }],
      failure: [{ requestRange: { key: b64('foo') } }],
    }),
  },
  {
    path: '/v3/kv/txn',
    body: JSON.stringify({
      success: [{ request_put: { key: b64('d'), value: '' } }, { request_put: { key: b64('d'), value: '' } }],
    }),
  },
  { path: '/v3/kv/put', body: JSON.stringify({ key: b64('leased'), value: '', lease: 999 }) },
  { path: '/v3/kv/put', body: JSON.stringify({ key: b64('nokey'), ignore_value: true }) },
  { path: '/v3/kv/deleterange', body: JSON.stringify({ key: b64('foo'), prev_kv: true }) },
  { path: '/v3/kv/compaction', body: JSON.stringify({ revision: 3 }) },
  { path: '/v3/kv/compaction', body: JSON.stringify({ revision: 2 }) },
  { path: '/v3/kv/range', body: JSON.stringify({ key: b64('foo'), revision: 2 }) },
  { path: '/v3/lease/grant', body: JSON.stringify({ TTL: 30, ID: 1234 }) },
  { path: '/v3/lease/grant', body: JSON.stringify({ TTL: 30, ID: 1234 }) },
  { path: '/v3/lease/grant', body: JSON.stringify({ TTL: 9000000001, ID: 1235 }) },
  { path: '/v3/lease/timetolive', body: JSON.stringify({ ID: 999 }) },
  { path: '/v3/lease/leases', body: '{}' },
  { path: '/v3/kv/lease/leases', body: '{}' },
  { path: '/v3/lease/revoke', body: JSON.stringify({ ID: 999 }) },
  { path: '/v3/kv/lease/revoke', body: JSON.stringify({ ID: 1234 }) },
  { path: '/v3/cluster/member/list', body: '{}' },
  { path: '/v3/maintenance/status', body: '{}' },
  { path: '/v3/maintenance/alarm', body: '{}' },
  { path: '/v3/maintenance/hash', body: '{}' },
  { path: '/v3/maintenance/defragment', body: '{}' },
  { path: '/v3/maintenance/transfer-leadership', body: JSON.stringify({ targetID: 5 }) },
  { path: '/v3/auth/authenticate', body: JSON.stringify({ name: 'a', password: 'b' }) },
  { path: '/v3/auth/user/get', body: JSON.stringify({ name: 'zz' }) },
  { path: '/v3/auth/user/delete', body: JSON.stringify({ name: 'zz' }) },
  { path: '/v3/auth/user/grant', body: JSON.stringify({ user: 'zz', role: 'r' }) },
  { path: '/v3/auth/role/get', body: JSON.stringify({ role: 'zz' }) },
  { path: '/v3/auth/role/revoke', body: JSON.stringify({ role: 'zz', key: 'YQ==' }) },
  { path: '/v3/auth/user/list', body: '{}' },
  { path: '/v3/auth/role/list', body: '{}' },
  { path: '/v3/auth/enable', body: '{}' },
  { path: '/v3/auth/disable', body: '{}' },
  { path: '/v3/auth/user/add', body: JSON.stringify({ name: '' }) },
  { path: '/v3/auth/role/add', body: JSON.stringify({ name: '' }) },
  { path: '/v3beta/kv/range', body: JSON.stringify({ key: b64('foo') }) },
  { path: '/v3/kv/nope', body: '{}' },
  { path: '/nothing', method: 'GET' },
  { path: '/health', method: 'GET' },
  { path: '/health', method: 'POST' },
  { path: '/version', method: 'GET' },
  // NOSPACE: health fails, puts are refused, reads still work; then cleared.
  { path: '/v3/maintenance/alarm', body: '{"action":"ACTIVATE","memberID":"MEMBER","alarm":"NOSPACE"}' },
  { path: '/v3/maintenance/alarm', body: '{}' },
  { path: '/health', method: 'GET' },
  { path: '/v3/kv/put', body: JSON.stringify({ key: b64('a'), value: b64('a') }) },
  { path: '/v3/kv/range', body: JSON.stringify({ key: b64('a') }) },
  { path: '/v3/maintenance/alarm', body: '{"action":"DEACTIVATE","memberID":"MEMBER","alarm":"NOSPACE"}' },
  { path: '/health', method: 'GET' },
];

test('gateway and HTTP endpoints answer as etcd 3.4.23 does, byte for byte', async (t) => {
  const etcd = await startRealEtcd(t);
  const cairn = await startCairn(t);
  const real: Ids = await realIds(etcd.clientUrl, `127.0.0.1:${etcd.clientPort}`);
  const ours: Ids = CAIRN_IDS(cairn.endpoint);

  const run = async (url: string, ids: Ids): Promise<string[]> => {
    const out: string[] = [];
    for (const s of SEQUENCE) {
      const body = s.body?.replace('"MEMBER"', `"${ids.memberId}"`);
      out.push(await answer(url, ids, { ...s, body }));
    }
    return out;
  };
  const expected = await run(etcd.clientUrl, real);
  const actual = await run(cairn.url, ours);
  assert.deepEqual(actual, expected);

  // Exact bytes of the health and version bodies (no normalisation involved).
  const h = await http(cairn.url, '/health', { method: 'GET' });
  assert.equal(h.body, '{"health":"true"}');
  assert.equal(
    (await http(cairn.url, '/version', { method: 'GET' })).body,
    '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}',
  );
});

test('gateway streams (watch, keepalive) answer as etcd 3.4.23 does', async (t) => {
  const etcd = await startRealEtcd(t);
  const cairn = await startCairn(t);
  const real: Ids = await realIds(etcd.clientUrl, `127.0.0.1:${etcd.clientPort}`);
  const ours: Ids = CAIRN_IDS(cairn.endpoint);

  const run = async (url: string, ids: Ids): Promise<string[]> => {
    const put = (k: string, v: string): Promise<unknown> =>
      http(url, '/v3/kv/put', { body: JSON.stringify({ key: b64(k), value: b64(v) }) });
    await put('w', '1');
    await put('w', '2');
    // A live watch with previous values and a second watcher, created in one body.
    const live = streamLines(
      url,
      '/v3/watch',
      `{"create_request":{"key":"${b64('w')}","prev_kv":true}}\n{"create_request":{"key":"${b64('x')}","range_end":"${b64('y')}"}}`,
      4,
    );
    await new Promise((r) => setTimeout(r, 300));
    await put('w', '3');
    await http(url, '/v3/kv/deleterange', { body: JSON.stringify({ key: b64('w') }) });
    const out = (await live).map((l) => normalize(l, ids));
    // History from an old revision, then compaction cancelling a watcher from before it.
    out.push(
      ...(
        await streamLines(url, '/v3/watch', `{"create_request":{"key":"${b64('w')}","start_revision":2}}`, 2)
      ).map((l) => normalize(l, ids)),
    );
    await http(url, '/v3/kv/compaction', { body: '{"revision":3}' });
    out.push(
      ...(
        await streamLines(url, '/v3/watch', `{"create_request":{"key":"${b64('w')}","start_revision":1}}`, 2)
      ).map((l) => normalize(l, ids)),
    );
    // A bad first message fails the call.
    const bad = await http(url, '/v3/watch', { body: 'garbage' });
    out.push(`${bad.status} ${bad.body}`);
    // Keepalive: a known lease gets its TTL, an unknown one TTL 0 (omitted).
    await http(url, '/v3/lease/grant', { body: '{"TTL":60,"ID":77}' });
    out.push(
      ...(await streamLines(url, '/v3/lease/keepalive', '{"ID":77}{"ID":78}', 2)).map((l) =>
        normalize(l, ids),
      ),
    );
    return out;
  };
  const expected = await run(etcd.clientUrl, real);
  const actual = await run(cairn.url, ours);
  assert.deepEqual(actual, expected);
  assert.equal(actual.length, 11);
});
