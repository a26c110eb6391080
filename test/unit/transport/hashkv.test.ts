// GET /members/hashkv on the peer port, in etcd 3.4's wire form (JSON bodies, GET only), and the
// asking side's reading of the answers.

import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { after, describe, it } from 'node:test';

import { KeyspaceError } from '../../../src/mvcc/errors.js';
import {
  decodeHashKVRequest,
  encodeHashKVRequest,
  encodeHashKVResponse,
  fetchPeerHashKV,
  PATH_HASHKV,
  type PeerHashKV,
} from '../../../src/transport/hashkv.js';
import { freePort } from '../../support/real-etcd.js';
import { startServer, type TestServer } from './helpers.js';

const CURRENT: PeerHashKV = { revision: 7, compactRevision: -1, hash: 3305255506 };

/** Like the member: the current revision, a future one refused, a compacted one refused. */
async function provider(revision: number): Promise<PeerHashKV> {
  if (revision > CURRENT.revision) {
    throw new KeyspaceError('OutOfRange', 'etcdserver: mvcc: required revision is a future revision');
  }
  if (revision < 0) {
    throw new KeyspaceError('OutOfRange', 'etcdserver: mvcc: required revision has been compacted');
  }
  return { ...CURRENT, hash: revision === 0 ? CURRENT.hash : revision };
}

function h1(
  url: string,
  method: string,
  body: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-length': Buffer.byteLength(body) };
    const req = http.request(new URL(PATH_HASHKV, url), { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the HashKV peer call', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.server.close();
  });

  it('encodes as etcd 3.4 does (Go encoding/json, zero fields left out)', () => {
    assert.equal(encodeHashKVRequest(0), '{}');
    assert.equal(encodeHashKVRequest(5), '{"revision":5}');
    assert.equal(
      encodeHashKVResponse(CURRENT),
      '{"header":{"revision":7},"hash":3305255506,"compact_revision":-1}',
    );
    assert.equal(
      encodeHashKVResponse({ revision: 1, compactRevision: 0, hash: 0 }),
      '{"header":{"revision":1}}',
    );
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    assert.equal(decodeHashKVRequest(enc('{"revision":9}')), 9);
    assert.equal(decodeHashKVRequest(enc('{}')), 0);
    assert.equal(decodeHashKVRequest(enc('null')), 0);
    assert.equal(decodeHashKVRequest(enc('xx')), undefined);
    assert.equal(decodeHashKVRequest(enc('{"revision":"9"}')), undefined);
  });

  it('answers GET with the JSON hash, and refuses other methods and bad bodies as etcd does', async () => {
    const s = await startServer(0xaan, { hashKV: provider });
    servers.push(s);
    const ok = await h1(s.url, 'GET', '{"revision":0}');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'application/json');
    assert.equal(ok.headers['x-etcd-cluster-id'], (0xc1a55e7).toString(16));
    assert.equal(ok.body, '{"header":{"revision":7},"hash":3305255506,"compact_revision":-1}');
    const post = await h1(s.url, 'POST', '{"revision":0}');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET');
    const bad = await h1(s.url, 'GET', 'xx');
    assert.deepEqual([bad.status, bad.body], [400, 'error unmarshalling request\n']);
    const future = await h1(s.url, 'GET', '{"revision":99}');
    assert.deepEqual([future.status, future.body], [400, 'mvcc: required revision is a future revision\n']);
  });

  it('is served over HTTP/2 as well', async () => {
    const s = await startServer(0xabn, { hashKV: provider });
    servers.push(s);
    const session = http2.connect(s.url);
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        // A GET ends its stream at once unless told otherwise; etcd's HashKV GET carries a body.
        const req = session.request({ ':method': 'GET', ':path': PATH_HASHKV }, { endStream: false });
        let status = 0;
        let text = '';
        req.setEncoding('utf8');
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('data', (d: string) => (text += d));
        req.on('end', () => resolve({ status, body: text }));
        req.on('error', reject);
        req.end('{"revision":3}');
      });
      assert.deepEqual(answer, {
        status: 200,
        body: '{"header":{"revision":7},"hash":3,"compact_revision":-1}',
      });
    } finally {
      session.destroy();
    }
  });

  it('reads answers, mvcc refusals and failures on the asking side', async () => {
    const s = await startServer(0xacn, { hashKV: provider });
    servers.push(s);
    assert.deepEqual(await fetchPeerHashKV(s.url, 0, 2000), { kind: 'ok', ...CURRENT });
    assert.equal((await fetchPeerHashKV(s.url, 99, 2000)).kind, 'future-revision');
    assert.equal((await fetchPeerHashKV(s.url, -1, 2000)).kind, 'compacted');
    const none = await startServer(0xadn);
    servers.push(none);
    const missing = await fetchPeerHashKV(none.url, 0, 2000);
    assert.equal(missing.kind, 'failed');
    const closed = await fetchPeerHashKV(`http://127.0.0.1:${await freePort()}`, 0, 2000);
    assert.equal(closed.kind, 'failed');
  });
});
