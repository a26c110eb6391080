// The shared port itself: protocol sniffing however the first bytes are split, several listen URLs,
// bad URLs, gateway request bodies arriving in pieces, and a failing stream's error chunk.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { test } from 'node:test';

import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

import { startClientPort } from '../../../src/api/index.js';
import { KVService, RangeRequest } from '../../../src/proto/etcdserverpb/rpc.js';
import { startFakeMember } from './fake-member.js';
import { http, startCairn } from './helpers.js';

/** Writes `text` one byte at a time over a raw socket and returns everything read until close. */
function trickle(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      got += c;
      if (got.includes('\r\n\r\n') && got.endsWith('}')) socket.end();
    });
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    let i = 0;
    const next = (): void => {
      if (i < text.length) {
        socket.write(text[i++]);
        setTimeout(next, 1);
      }
    };
    next();
  });
}

test('an HTTP/1 request sent byte by byte is still recognised (P of PRI is no HTTP/2 yet)', async (t) => {
  const cairn = await startCairn(t);
  const port = cairn.port.addresses[0].port;
  // 'PUT' shares its first letter with the HTTP/2 preface.
  const reply = await trickle(port, 'PUT /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.1 405/);
  const ok = await trickle(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(ok, /^HTTP\/1\.1 200[\s\S]*\{"health":"true"\}$/);
});

test('every listen URL serves both protocols; bad URLs are refused', async (t) => {
  const member = startFakeMember(t);
  const port = await startClientPort({
    api: member.api,
    listenUrls: ['http://127.0.0.1:0', 'http://127.0.0.1:0'],
    maxRequestBytes: 1572864,
    logger: { info() {}, warn() {} },
  });
  t.after(() => port.close());
  assert.equal(port.addresses.length, 2);
  for (const a of port.addresses) {
    const h = await http(`http://127.0.0.1:${a.port}`, '/version', { method: 'GET' });
    assert.equal(h.status, 200);
    const client = new Client(`127.0.0.1:${a.port}`, credentials.createInsecure());
    const res = await new Promise<ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        KVService.range.path,
        KVService.range.requestSerialize,
        KVService.range.responseDeserialize,
        RangeRequest.fromPartial({ key: new Uint8Array([1]) }),
        new Metadata(),
        (err) => resolve(err),
      ),
    );
    client.close();
    assert.equal(res, null);
  }
  const bad = (url: string) =>
    startClientPort({
      api: member.api,
      listenUrls: [url],
      maxRequestBytes: 1,
      logger: { info() {}, warn() {} },
    });
  await assert.rejects(bad('https://127.0.0.1:0'), /scheme https: is not served/);
  await assert.rejects(bad('127.0.0.1:2379'), /scheme 127.0.0.1: is not served|invalid listen URL/);
  await assert.rejects(bad('http://127.0.0.1'), /has no port/);
});

test('a watch body arriving in pieces is read as it comes; responses flow before it ends', async (t) => {
  const cairn = await startCairn(t);
  const lines: string[] = [];
  const req = request(`${cairn.url}/v3/watch`, { method: 'POST' });
  const twoLines = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      let rest = '';
      res.on('data', (c: string) => {
        rest += c;
        let i: number;
        while ((i = rest.indexOf('\n')) >= 0) {
          lines.push(rest.slice(0, i));
          rest = rest.slice(i + 1);
        }
        if (lines.length >= 2) resolve();
      });
    });
  });
  req.on('error', () => {});
  req.write('{"create_request":{"ke');
  await new Promise((r) => setTimeout(r, 50));
  req.write('y":"YQ=="}}{"create_');
  await new Promise((r) => setTimeout(r, 50));
  req.write('request":{"key":"Yg=="}}');
  await twoLines;
  req.destroy();
  assert.match(lines[0], /^\{"result":\{"header":\{.*\},"created":true\}\}$/);
  assert.match(lines[1], /"watch_id":"1","created":true/);
});

test('a keepalive stream whose member call fails ends with a grpc-gateway error chunk', async (t) => {
  const cairn = await startCairn(t, {
    override: () => ({
      leaseRenew: () =>
        Promise.reject(Object.assign(new Error('etcdserver: no leader'), { code: 'Unavailable' })),
    }),
  });
  const r = await http(cairn.url, '/v3/lease/keepalive', { body: '{"ID":1}' });
  assert.equal(r.status, 503);
  assert.equal(
    r.body,
    '{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}\n',
  );
});

test('gateway requests above the gRPC receive limit are refused with ResourceExhausted', async (t) => {
  const cairn = await startCairn(t, { maxRequestBytes: 1024 });
  const value = Buffer.alloc(600 * 1024).toString('base64');
  const r = await http(cairn.url, '/v3/kv/put', { body: JSON.stringify({ key: 'YQ==', value }) });
  assert.equal(r.status, 429);
  assert.match(r.body, /"code":8/);
  assert.match(r.body, /received message larger than max/);
});
