// The small pure pieces of the client port: gateway JSON framing and naming, error-to-status mapping
// and the hand-made health codec.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { status as Status } from '@grpc/grpc-js';

import { errorBody, gatewayJson, goJson, nextObject } from '../../../src/api/gateway-json.js';
import {
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  encodeHealthCheckResponse,
  ServingStatus,
} from '../../../src/api/health-service.js';
import { failureOf, httpStatusOf } from '../../../src/api/status.js';
import { LeaseError } from '../../../src/lease/errors.js';
import { MembershipError } from '../../../src/membership/errors.js';
import { errCompacted } from '../../../src/mvcc/errors.js';
import { StatusResponse, WatchResponse } from '../../../src/proto/etcdserverpb/rpc.js';
import { errNoLeader, errTooManyRequests } from '../../../src/server/errors.js';

test('nextObject splits back-to-back objects, waits for unfinished ones, ignores braces in strings', () => {
  const text = ' {"a":"}{\\"x"}\n{"b":[1,{"c":2}]}{"d"';
  const first = nextObject(text, false);
  assert.equal(first.kind, 'value');
  if (first.kind !== 'value') return;
  assert.deepEqual(first.value, { a: '}{"x' });
  const second = nextObject(first.rest, false);
  assert.equal(second.kind, 'value');
  if (second.kind !== 'value') return;
  assert.deepEqual(second.value, { b: [1, { c: 2 }] });
  assert.deepEqual(nextObject(second.rest, false), { kind: 'incomplete' });
  assert.deepEqual(nextObject(second.rest, true), { kind: 'error', message: 'unexpected EOF' });
  assert.deepEqual(nextObject('  \n', true), { kind: 'end' });
});

test("nextObject reports Go's texts for the common non-object bodies", () => {
  assert.deepEqual(nextObject('garbage', true), {
    kind: 'error',
    message: "invalid character 'g' looking for beginning of value",
  });
  assert.deepEqual(nextObject('[]', true), {
    kind: 'error',
    message: 'json: cannot unmarshal array into Go value of type map[string]json.RawMessage',
  });
  assert.deepEqual(nextObject('12', true), {
    kind: 'error',
    message: 'json: cannot unmarshal number into Go value of type map[string]json.RawMessage',
  });
  const n = nextObject('null', true);
  assert.ok(n.kind === 'value' && JSON.stringify(n.value) === '{}');
});

test('gateway JSON uses proto names: header fields renamed, StatusResponse.raftTerm kept', () => {
  const status = StatusResponse.fromPartial({
    header: { clusterId: 1n, memberId: 2n, revision: 3n, raftTerm: 4n },
    raftTerm: 4n,
    dbSize: 10n,
  });
  assert.equal(
    gatewayJson(StatusResponse.toJSON(status)),
    '{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"4"},"dbSize":"10","raftTerm":"4"}',
  );
  const w = WatchResponse.fromPartial({
    watchId: -1n,
    compactRevision: 7n,
    events: [
      {
        type: 1,
        kv: { key: new Uint8Array([1]), modRevision: 5n },
        prevKv: { key: new Uint8Array([1]), createRevision: 2n },
      },
    ],
  });
  assert.equal(
    gatewayJson(WatchResponse.toJSON(w)),
    '{"watch_id":"-1","compact_revision":"7","events":[{"type":"DELETE","kv":{"key":"AQ==","mod_revision":"5"},"prev_kv":{"key":"AQ==","create_revision":"2"}}]}',
  );
});

test("JSON text escapes as Go's encoder does", () => {
  assert.equal(goJson({ m: 'a<b>&c\u2028' }), '{"m":"a\\u003cb\\u003e\\u0026c\\u2028"}');
  assert.equal(errorBody(5, 'x'), '{"error":"x","message":"x","code":5}');
});

test('errors map to gRPC codes by name; anything else is Unknown', () => {
  assert.deepEqual(failureOf(errCompacted()), {
    code: Status.OUT_OF_RANGE,
    message: 'etcdserver: mvcc: required revision has been compacted',
  });
  assert.deepEqual(failureOf(new LeaseError('lease-exists')), {
    code: Status.FAILED_PRECONDITION,
    message: 'etcdserver: lease already exists',
  });
  assert.deepEqual(failureOf(errNoLeader()), { code: Status.UNAVAILABLE, message: 'etcdserver: no leader' });
  assert.deepEqual(failureOf(errTooManyRequests()), {
    code: Status.UNKNOWN,
    message: 'etcdserver: too many requests',
  });
  assert.deepEqual(failureOf(new MembershipError('peer-url-exists')), {
    code: Status.FAILED_PRECONDITION,
    message: 'etcdserver: Peer URLs already exists',
  });
  assert.deepEqual(failureOf(new TypeError('boom')), { code: Status.UNKNOWN, message: 'boom' });
  assert.deepEqual(failureOf('text'), { code: Status.UNKNOWN, message: 'text' });
});

test("HTTP statuses follow grpc-gateway's table", () => {
  const table: [Status, number][] = [
    [Status.INVALID_ARGUMENT, 400],
    [Status.OUT_OF_RANGE, 400],
    [Status.NOT_FOUND, 404],
    [Status.FAILED_PRECONDITION, 412],
    [Status.RESOURCE_EXHAUSTED, 429],
    [Status.UNAVAILABLE, 503],
    [Status.UNKNOWN, 500],
    [Status.PERMISSION_DENIED, 403],
    [Status.UNAUTHENTICATED, 401],
    [Status.UNIMPLEMENTED, 501],
    [Status.DEADLINE_EXCEEDED, 504],
  ];
  for (const [code, http] of table) assert.equal(httpStatusOf(code), http, Status[code]);
});

test('health messages round-trip and match protobuf encoding', () => {
  assert.deepEqual([...encodeHealthCheckRequest({ service: 'ab' })], [0x0a, 2, 0x61, 0x62]);
  assert.equal(encodeHealthCheckRequest({ service: '' }).length, 0);
  assert.deepEqual(decodeHealthCheckRequest(new Uint8Array([0x0a, 2, 0x61, 0x62])), { service: 'ab' });
  // Unknown fields of every wire type are skipped.
  assert.deepEqual(
    decodeHealthCheckRequest(
      new Uint8Array([0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x0a, 1, 0x7a]),
    ),
    { service: 'z' },
  );
  assert.throws(() => decodeHealthCheckRequest(new Uint8Array([0x0a, 5, 0x61])));
  assert.deepEqual([...encodeHealthCheckResponse({ status: ServingStatus.SERVING })], [0x08, 1]);
  assert.equal(encodeHealthCheckResponse({ status: ServingStatus.UNKNOWN }).length, 0);
  assert.deepEqual(decodeHealthCheckResponse(new Uint8Array([0x08, 2])), {
    status: ServingStatus.NOT_SERVING,
  });
});
