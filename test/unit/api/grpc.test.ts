// The gRPC side of the client port through a grpc-js client: status codes and etcd's texts for the
// member's errors, the hasleader metadata, the health service, the receive limit, the streams and
// shutting the port down under open streams.

import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { test, type TestContext as NodeTestContext } from 'node:test';

import { Client, credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';

import { ServingStatus, HealthService, type HealthCheckResponse } from '../../../src/api/health-service.js';
import { MembershipError } from '../../../src/membership/errors.js';
import {
  AuthService,
  ClusterService,
  KVService,
  LeaseService,
  MaintenanceService,
  PutRequest,
  RangeRequest,
  TxnRequest,
  WatchService,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type SnapshotResponse,
  type WatchRequest,
  type WatchResponse,
} from '../../../src/proto/etcdserverpb/rpc.js';
import { startCairn, type Cairn, type CairnOptions } from './helpers.js';

interface MethodDef<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (r: Req) => Buffer;
  readonly responseDeserialize: (b: Buffer) => Res;
}

type Outcome<Res> = { ok: true; value: Res } | { ok: false; code: number; message: string };

function unary<Req, Res>(
  client: Client,
  def: MethodDef<Req, Res>,
  req: Req,
  md = new Metadata(),
): Promise<Outcome<Res>> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      req,
      md,
      { deadline: Date.now() + 5000 },
      (err: ServiceError | null, value?: Res) => {
        if (err !== null) resolve({ ok: false, code: err.code, message: err.details });
        else resolve({ ok: true, value: value as Res });
      },
    );
  });
}

async function setup(
  t: NodeTestContext,
  options: CairnOptions = {},
): Promise<{ cairn: Cairn; client: Client }> {
  const cairn = await startCairn(t, options);
  const client = new Client(cairn.endpoint, credentials.createInsecure());
  t.after(async () => client.close());
  return { cairn, client };
}

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const failed = (o: Outcome<unknown>): { code: number; message: string } => {
  assert.equal(o.ok, false, 'expected the call to fail');
  if (o.ok) throw new Error('unreachable');
  return { code: o.code, message: o.message };
};

test('member errors arrive with their gRPC code and etcd text', async (t) => {
  const { client } = await setup(t);
  const put = (k: string, lease = 0n) =>
    unary(client, KVService.put, PutRequest.fromPartial({ key: bytes(k), value: bytes('v'), lease }));
  assert.ok((await put('a')).ok);
  assert.ok((await put('a')).ok);

  assert.deepEqual(
    failed(
      await unary(client, KVService.range, RangeRequest.fromPartial({ key: bytes('a'), revision: 99n })),
    ),
    {
      code: Status.OUT_OF_RANGE,
      message: 'etcdserver: mvcc: required revision is a future revision',
    },
  );
  assert.ok((await unary(client, KVService.compact, { revision: 3n, physical: true })).ok);
  assert.deepEqual(failed(await unary(client, KVService.compact, { revision: 2n, physical: false })), {
    code: Status.OUT_OF_RANGE,
    message: 'etcdserver: mvcc: required revision has been compacted',
  });
  const ops = Array.from({ length: 129 }, (_, i) => ({
    request: { $case: 'requestPut' as const, value: PutRequest.fromPartial({ key: bytes(`k${i}`) }) },
  }));
  assert.deepEqual(failed(await unary(client, KVService.txn, TxnRequest.fromPartial({ success: ops }))), {
    code: Status.INVALID_ARGUMENT,
    message: 'etcdserver: too many operations in txn request',
  });
  assert.deepEqual(failed(await put('b', 999n)), {
    code: Status.NOT_FOUND,
    message: 'etcdserver: requested lease not found',
  });
  assert.deepEqual(failed(await unary(client, LeaseService.leaseRevoke, { ID: 999n })), {
    code: Status.NOT_FOUND,
    message: 'etcdserver: requested lease not found',
  });
  assert.deepEqual(failed(await unary(client, LeaseService.leaseGrant, { ID: 5n, TTL: 9_000_000_001n })), {
    code: Status.OUT_OF_RANGE,
    message: 'etcdserver: too large lease TTL',
  });
});

test('unmapped errors are Unknown with their text; membership errors use their wire status', async (t) => {
  const { client } = await setup(t, {
    override: () => ({
      hash: () => Promise.reject(new Error('disk on fire')),
      memberRemove: () => Promise.reject(new MembershipError('id-removed')),
    }),
  });
  assert.deepEqual(failed(await unary(client, MaintenanceService.hash, {})), {
    code: Status.UNKNOWN,
    message: 'disk on fire',
  });
  assert.deepEqual(failed(await unary(client, ClusterService.memberRemove, { ID: 7n })), {
    code: Status.NOT_FOUND,
    message: 'etcdserver: member not found',
  });
});

test('auth is off: status, refusals, users kept for later, and what is not implemented', async (t) => {
  const { client } = await setup(t);
  const st = await unary(client, AuthService.authStatus, {});
  assert.ok(st.ok);
  assert.equal(st.value.enabled, false);
  // A new store starts at auth revision 1, as etcd's does.
  assert.equal(st.value.authRevision, 1n);
  assert.deepEqual(failed(await unary(client, AuthService.authenticate, { name: 'a', password: 'b' })), {
    code: Status.FAILED_PRECONDITION,
    message: 'etcdserver: authentication is not enabled',
  });
  const added = await unary(client, AuthService.userAdd, {
    name: 'u',
    password: '',
    options: { noPassword: true },
    hashedPassword: '',
  });
  assert.ok(added.ok);
  const users = await unary(client, AuthService.userList, {});
  assert.ok(users.ok);
  assert.deepEqual(users.value.users, ['u']);
  assert.deepEqual(failed(await unary(client, AuthService.authEnable, {})), {
    code: Status.FAILED_PRECONDITION,
    message: 'etcdserver: root user does not exist',
  });
  assert.equal(
    failed(await unary(client, MaintenanceService.downgrade, { action: 0, version: '3.4.0' })).code,
    Status.UNIMPLEMENTED,
  );
});

test('Maintenance.Snapshot streams the backend in 32 KiB messages, then its sha256', async (t) => {
  const { client } = await setup(t);
  const messages = await new Promise<SnapshotResponse[]>((resolve, reject) => {
    const got: SnapshotResponse[] = [];
    const call = client.makeServerStreamRequest(
      MaintenanceService.snapshot.path,
      MaintenanceService.snapshot.requestSerialize,
      MaintenanceService.snapshot.responseDeserialize,
      {},
    );
    call.on('data', (r: SnapshotResponse) => got.push(r));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
  assert.ok(messages.length >= 2);
  const data = messages.slice(0, -1);
  const image = Buffer.concat(data.map((m) => m.blob));
  assert.equal(image.length % 4096, 0, 'whole bbolt pages');
  for (const m of data) assert.ok(m.blob.length <= 32 * 1024);
  let left = image.length;
  for (const m of data) {
    left -= m.blob.length;
    assert.equal(m.remainingBytes, BigInt(left));
  }
  const last = messages[messages.length - 1];
  assert.equal(last.remainingBytes, 0n);
  assert.deepEqual(Buffer.from(last.blob), createHash('sha256').update(image).digest());
});

test('hasleader metadata: refused without a leader, as etcd does; served otherwise', async (t) => {
  const { cairn, client } = await setup(t);
  const md = new Metadata();
  md.set('hasleader', 'true');
  const range = RangeRequest.fromPartial({ key: bytes('a') });
  assert.ok((await unary(client, KVService.range, range, md)).ok);
  cairn.member.setLeader(false);
  assert.deepEqual(failed(await unary(client, KVService.range, range, md)), {
    code: Status.UNAVAILABLE,
    message: 'etcdserver: no leader',
  });
  assert.ok((await unary(client, KVService.range, range)).ok, 'without the metadata the call is served');

  const watchFails = await new Promise<ServiceError>((resolve) => {
    const call = client.makeBidiStreamRequest(
      WatchService.watch.path,
      WatchService.watch.requestSerialize,
      WatchService.watch.responseDeserialize,
      md,
    );
    call.on('data', () => {});
    call.on('error', resolve);
  });
  assert.equal(watchFails.code, Status.UNAVAILABLE);
  assert.equal(watchFails.details, 'etcdserver: no leader');
});

test('a learner serves status and serializable ranges only; the rest is refused as etcd does', async (t) => {
  const { cairn, client } = await setup(t);
  cairn.member.setLearner(true);
  const refused = { code: Status.UNAVAILABLE, message: 'etcdserver: rpc not supported for learner' };
  const put = PutRequest.fromPartial({ key: bytes('a'), value: bytes('v') });
  assert.deepEqual(failed(await unary(client, KVService.put, put)), refused);
  const range = RangeRequest.fromPartial({ key: bytes('a') });
  assert.deepEqual(failed(await unary(client, KVService.range, range)), refused, 'linearizable range');
  assert.deepEqual(failed(await unary(client, ClusterService.memberList, { linearizable: false })), refused);
  assert.ok((await unary(client, KVService.range, { ...range, serializable: true })).ok);
  assert.ok((await unary(client, MaintenanceService.status, {})).ok);

  // Streams are refused whole, before any request on them.
  const watchError = await new Promise<ServiceError>((resolve) => {
    const call = client.makeBidiStreamRequest(
      WatchService.watch.path,
      WatchService.watch.requestSerialize,
      WatchService.watch.responseDeserialize,
      new Metadata(),
    );
    call.on('data', () => {});
    call.on('error', resolve);
  });
  assert.deepEqual({ code: watchError.code, message: watchError.details }, refused);

  // The gateway goes through the same table.
  const res = await fetch(`http://${cairn.endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: 'YQ==', value: 'dg==' }),
  });
  assert.equal(res.status, 503);
  assert.match(await res.text(), /"message":"etcdserver: rpc not supported for learner"/);

  cairn.member.setLearner(false);
  assert.ok((await unary(client, KVService.put, put)).ok, 'a promoted member serves everything');
});

test('grpc.health.v1: SERVING while healthy, NOT_SERVING without a leader, unknown services NotFound', async (t) => {
  const { cairn, client } = await setup(t);
  const check = (service: string) =>
    unary<{ service: string }, HealthCheckResponse>(client, HealthService.check, { service });
  const ok = await check('');
  assert.ok(ok.ok && ok.value.status === ServingStatus.SERVING);
  cairn.member.setLeader(false);
  const down = await check('');
  assert.ok(down.ok && down.value.status === ServingStatus.NOT_SERVING);
  assert.deepEqual(failed(await check('etcdserverpb.KV')), {
    code: Status.NOT_FOUND,
    message: 'unknown service',
  });
});

test('messages above max-request-bytes + 512 KiB are refused by gRPC; smaller ones reach the member', async (t) => {
  const { client } = await setup(t, { maxRequestBytes: 1024 });
  const put = (n: number) =>
    unary(client, KVService.put, PutRequest.fromPartial({ key: bytes('big'), value: new Uint8Array(n) }));
  assert.ok((await put(500 * 1024)).ok);
  assert.equal(failed(await put(530 * 1024)).code, Status.RESOURCE_EXHAUSTED);
});

test('watch stream: create, events, progress, cancel; a cancelled call releases its watchers', async (t) => {
  const { cairn, client } = await setup(t);
  const call = client.makeBidiStreamRequest<WatchRequest, WatchResponse>(
    WatchService.watch.path,
    WatchService.watch.requestSerialize,
    WatchService.watch.responseDeserialize,
  );
  call.on('error', () => {});
  const got: WatchResponse[] = [];
  const waiters: (() => void)[] = [];
  call.on('data', (r: WatchResponse) => {
    got.push(r);
    waiters.splice(0).forEach((w) => w());
  });
  const until = async (n: number): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (got.length < n) {
      assert.ok(Date.now() < deadline, `waited for ${n} responses, got ${got.length}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  const create = (key: string): WatchRequest => ({
    requestUnion: {
      $case: 'createRequest',
      value: {
        key: bytes(key),
        rangeEnd: new Uint8Array(0),
        startRevision: 0n,
        progressNotify: false,
        filters: [],
        prevKv: false,
        watchId: 0n,
        fragment: false,
      },
    },
  });
  call.write(create('k'));
  await until(1);
  assert.equal(got[0].created, true);
  assert.equal(got[0].header?.revision, 1n);
  assert.equal(cairn.member.state.watchable.watcherCount, 1);

  assert.ok(
    (await unary(client, KVService.put, PutRequest.fromPartial({ key: bytes('k'), value: bytes('v') }))).ok,
  );
  await until(2);
  assert.equal(got[1].events.length, 1);
  assert.equal(got[1].header?.revision, 2n);
  assert.equal(got[1].header?.memberId !== 0n, true, 'the member fills the header');

  call.write({ requestUnion: { $case: 'progressRequest', value: {} } });
  await until(3);
  assert.equal(got[2].watchId, -1n);
  call.write({ requestUnion: { $case: 'cancelRequest', value: { watchId: 0n } } });
  await until(4);
  assert.equal(got[3].canceled, true);

  call.write(create('other'));
  await until(5);
  assert.equal(cairn.member.state.watchable.watcherCount, 1);
  call.cancel();
  const deadline = Date.now() + 5000;
  const watchers = (): number => cairn.member.state.watchable.watcherCount;
  while (watchers() !== 0) {
    assert.ok(Date.now() < deadline, 'the cancelled call still holds a watcher');
    await new Promise((r) => setTimeout(r, 20));
  }
});

test('keepalive stream answers each request in order; unknown leases get TTL 0', async (t) => {
  const { client } = await setup(t);
  assert.ok((await unary(client, LeaseService.leaseGrant, { ID: 42n, TTL: 30n })).ok);
  const call = client.makeBidiStreamRequest<LeaseKeepAliveRequest, LeaseKeepAliveResponse>(
    LeaseService.leaseKeepAlive.path,
    LeaseService.leaseKeepAlive.requestSerialize,
    LeaseService.leaseKeepAlive.responseDeserialize,
  );
  const got: LeaseKeepAliveResponse[] = [];
  const three = new Promise<void>((resolve) =>
    call.on('data', (r: LeaseKeepAliveResponse) => {
      got.push(r);
      if (got.length === 3) resolve();
    }),
  );
  call.on('error', () => {});
  call.write({ ID: 42n });
  call.write({ ID: 43n });
  call.write({ ID: 42n });
  await three;
  call.cancel();
  assert.deepEqual(
    got.map((r) => [r.ID, r.TTL]),
    [
      [42n, 30n],
      [43n, 0n],
      [42n, 30n],
    ],
  );
});

test('closing the port ends open streams and frees the listener', async (t) => {
  const { cairn, client } = await setup(t);
  const call = client.makeBidiStreamRequest<WatchRequest, WatchResponse>(
    WatchService.watch.path,
    WatchService.watch.requestSerialize,
    WatchService.watch.responseDeserialize,
  );
  const created = new Promise<void>((resolve) => call.once('data', () => resolve()));
  const ended = new Promise<void>((resolve) => {
    call.on('error', () => resolve());
    call.on('end', () => resolve());
  });
  call.write({ requestUnion: { $case: 'progressRequest', value: {} } });
  await created;
  const started = Date.now();
  await cairn.port.close();
  await ended;
  assert.ok(Date.now() - started < 2000, 'close took too long');
  await assert.rejects(fetch(`${cairn.url}/health`));
});
