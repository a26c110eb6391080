// The real etcdctl 3.4.23 against the client port with endpoints given with and without a scheme.
// `endpoint status/hashkv` dial the endpoint as given, so with `http://` grpc-go sends
// `:authority: http://127.0.0.1:P`, which Node's HTTP/2 alone would reset with PROTOCOL_ERROR.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MEMBER_ID } from './fake-member.js';
import { etcdctl, startCairn } from './helpers.js';

test('etcdctl endpoint status, hashkv, put and get work with http:// and bare endpoints', async (t) => {
  const cairn = await startCairn(t);
  const hashOf = async (endpoint: string): Promise<string> => {
    const r = await etcdctl(endpoint, ['endpoint', 'hashkv', '-w', 'json']);
    assert.deepEqual([r.code, r.errors], [0, ''], `etcdctl --endpoints=${endpoint} endpoint hashkv`);
    const m = new RegExp(`^\\[\\{"Endpoint":"${endpoint}","HashKV":\\{.*"hash":(\\d+)`).exec(r.stdout);
    assert.ok(m !== null, r.stdout);
    return m[1];
  };
  for (const endpoint of [cairn.url, cairn.endpoint]) {
    const ok = async (args: string[]): Promise<string> => {
      const r = await etcdctl(endpoint, args);
      assert.deepEqual([r.code, r.errors], [0, ''], `etcdctl --endpoints=${endpoint} ${args.join(' ')}`);
      return r.stdout;
    };
    const status = await ok(['endpoint', 'status', '-w', 'json']);
    assert.match(
      status,
      new RegExp(`^\\[\\{"Endpoint":"${endpoint}","Status":\\{"header":\\{"cluster_id":\\d+,`),
    );
    assert.match(status, new RegExp(`"member_id":${MEMBER_ID},`));
    assert.match(status, /"version":"3\.4\.23"/);

    // The fake member advertises the http:// URL: --cluster dials it as such for either endpoint form.
    const cluster = await ok(['endpoint', 'status', '--cluster', '-w', 'json']);
    assert.match(cluster, new RegExp(`^\\[\\{"Endpoint":"${cairn.url}","Status":`));

    assert.equal(await ok(['put', `key-${endpoint}`, 'v']), 'OK\n');
    assert.equal(await ok(['get', `key-${endpoint}`]), `key-${endpoint}\nv\n`);
  }
  // Both dial paths reach the same keyspace.
  assert.equal(await hashOf(cairn.url), await hashOf(cairn.endpoint));
});
