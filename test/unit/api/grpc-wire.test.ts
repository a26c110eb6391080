// The client port's gRPC layer (grpc-server.ts, grpc-call.ts) on the wire, with a raw HTTP/2 client
// that can send what grpc-js and grpc-go clients never do: unknown paths, compressed and oversized
// messages, bodies without exactly one message, undecodable bytes. Each gets grpc-go's status and
// text, and the connection keeps serving. Also: status texts are percent-encoded, and the server
// pings idle connections when keepalive is on.

import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';

import { status as Status } from '@grpc/grpc-js';

import { encodeStatusMessage, framed } from '../../../src/api/grpc-call.js';
import { PutRequest, PutResponse } from '../../../src/proto/etcdserverpb/rpc.js';
import { startCairn, type CairnOptions } from './helpers.js';

interface Reply {
  readonly httpStatus: number;
  readonly grpcStatus: number | undefined;
  readonly grpcMessage: string | undefined;
  readonly body: Buffer;
}

const statusOf = (h: IncomingHttpHeaders): number | undefined =>
  h['grpc-status'] === undefined ? undefined : Number(h['grpc-status']);
const messageOf = (h: IncomingHttpHeaders): string | undefined => {
  const m = h['grpc-message'];
  return typeof m === 'string' ? m : undefined;
};

function call(
  session: ClientHttp2Session,
  path: string,
  body: Buffer,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const s = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    let response: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    s.on('response', (h) => (response = h));
    s.on('trailers', (h) => (trailers = h));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () =>
      resolve({
        httpStatus: Number(response[':status']),
        grpcStatus: statusOf(trailers) ?? statusOf(response),
        grpcMessage: messageOf(trailers) ?? messageOf(response),
        body: Buffer.concat(chunks),
      }),
    );
    s.end(body);
  });
}

const PUT = '/etcdserverpb.KV/Put';
const putBytes = (): Buffer =>
  Buffer.from(
    PutRequest.encode({
      key: Buffer.from('a'),
      value: Buffer.from('b'),
      lease: 0n,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
    }).finish(),
  );

async function connect(t: { after(fn: () => Promise<void> | void): void }, options: CairnOptions = {}) {
  const cairn = await startCairn(t, options);
  const session = http2.connect(cairn.url);
  t.after(() => void session.destroy());
  return session;
}

test('a unary call answers one framed message and status 0 in the trailers', async (t) => {
  const session = await connect(t);
  const r = await call(session, PUT, framed(putBytes()));
  assert.equal(r.httpStatus, 200);
  assert.equal(r.grpcStatus, Status.OK);
  assert.equal(r.body[0], 0, 'uncompressed');
  assert.equal(r.body.readUInt32BE(1), r.body.length - 5, 'one message');
  assert.ok(PutResponse.decode(r.body.subarray(5)).header !== undefined);
});

test('requests the server cannot take get grpc-go status texts, and the connection goes on', async (t) => {
  const session = await connect(t, { maxRequestBytes: 1024 });
  const limit = 1024 + 512 * 1024;
  const compressedFlag = framed(putBytes());
  compressedFlag[0] = 1;
  const twoMessages = Buffer.concat([framed(putBytes()), framed(putBytes())]);
  const cases: [string, Promise<Reply>, number, string][] = [
    [
      'unknown method',
      call(session, '/etcdserverpb.KV/Nope', framed(putBytes())),
      Status.UNIMPLEMENTED,
      'unknown method Nope for service etcdserverpb.KV',
    ],
    [
      'unknown service',
      call(session, '/etcdserverpb.Nope/Put', framed(putBytes())),
      Status.UNIMPLEMENTED,
      'unknown service etcdserverpb.Nope',
    ],
    [
      'malformed path',
      call(session, '/nope', framed(putBytes())),
      Status.UNIMPLEMENTED,
      'malformed method name: "/nope"',
    ],
    [
      'compressed encoding',
      call(session, PUT, framed(putBytes()), { 'grpc-encoding': 'gzip' }),
      Status.UNIMPLEMENTED,
      'grpc: Decompressor is not installed for grpc-encoding "gzip"',
    ],
    [
      'compressed flag',
      call(session, PUT, compressedFlag),
      Status.INTERNAL,
      'grpc: compressed flag set with identity or empty encoding',
    ],
    [
      'oversized',
      call(session, PUT, framed(Buffer.alloc(limit + 1))),
      Status.RESOURCE_EXHAUSTED,
      `grpc: received message larger than max (${limit + 1} vs. ${limit})`,
    ],
    [
      'empty body',
      call(session, PUT, Buffer.alloc(0)),
      Status.INTERNAL,
      'grpc: the request body holds no message',
    ],
    [
      'two messages',
      call(session, PUT, twoMessages),
      Status.INTERNAL,
      'grpc: a unary request body must hold exactly one message',
    ],
    [
      'cut short',
      call(session, PUT, framed(putBytes()).subarray(0, 8)),
      Status.INTERNAL,
      'grpc: a unary request body must hold exactly one message',
    ],
  ];
  for (const [what, reply, code, message] of cases) {
    const r = await reply;
    assert.deepEqual([r.httpStatus, r.grpcStatus, r.grpcMessage], [200, code, message], what);
  }
  const undecodable = await call(session, PUT, framed(Buffer.from([0x0a, 0x05, 0x61])));
  assert.equal(undecodable.grpcStatus, Status.INTERNAL);
  assert.match(undecodable.grpcMessage ?? '', /^grpc: error unmarshalling request: /);
  const ok = await call(session, PUT, framed(putBytes()));
  assert.equal(ok.grpcStatus, Status.OK, 'the same connection still serves');
});

test('a request that is not gRPC is answered 415', async (t) => {
  const session = await connect(t);
  const r = await call(session, PUT, framed(putBytes()), { 'content-type': 'application/json' });
  assert.equal(r.httpStatus, 415);
  assert.equal(r.grpcStatus, undefined);
});

test('status texts are percent-encoded where they are not printable ASCII, and "%" too', async (t) => {
  assert.equal(encodeStatusMessage('etcdserver: key not found'), 'etcdserver: key not found');
  assert.equal(encodeStatusMessage('100% é\n'), '100%25 %C3%A9%0A');
  const cairn = await startCairn(t, {
    override: () => ({
      put: () => Promise.reject(Object.assign(new Error('clé 50%'), { code: 'InvalidArgument' })),
    }),
  });
  const session = http2.connect(cairn.url);
  t.after(() => void session.destroy());
  const r = await call(session, PUT, framed(putBytes()));
  assert.deepEqual([r.grpcStatus, r.grpcMessage], [Status.INVALID_ARGUMENT, 'cl%C3%A9 50%25']);
});

test('with keepalive on, the server pings the connection', async (t) => {
  const session = await connect(t, { keepaliveTimeMs: 50 });
  const pinged = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    session.once('ping', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  assert.ok(pinged, 'a PING within 5 s');
  const r = await call(session, PUT, framed(putBytes()));
  assert.equal(r.grpcStatus, Status.OK);
});
