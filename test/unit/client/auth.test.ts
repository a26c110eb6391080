// The client's Auth surface and its credentials against a real etcd: users, roles and permissions
// round-trip; a client with a user name and password authenticates on first use, sends its token on
// calls and streams, fetches a new one when the server says the old one is stale, and works on
// without a token while auth is disabled. The token bookkeeping is also tested on its own.

import { status } from '@grpc/grpc-js';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  Client,
  EtcdError,
  parsePermissionType,
  PermissionType,
  prefixEnd,
  type ConnectOptions,
} from '../../../src/client/index.js';
import type { AttemptFailure } from '../../../src/client/transport.js';
import { AuthToken, needsNewToken, type FetchLimits } from '../../../src/client/token.js';
import { startRealEtcd } from '../../support/real-etcd.js';

const NO_LIMITS: FetchLimits = { deadline: Number.POSITIVE_INFINITY };
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array(0)).toString('utf8');

test('parsePermissionType takes etcd names in any case', () => {
  assert.equal(parsePermissionType('read'), PermissionType.READ);
  assert.equal(parsePermissionType('Write'), PermissionType.WRITE);
  assert.equal(parsePermissionType('READWRITE'), PermissionType.READWRITE);
  assert.equal(parsePermissionType('rw'), undefined);
});

test('needsNewToken: stale token, old auth revision and a missing user, only when the server said so', () => {
  for (const m of ['invalid auth token', 'revision of auth store is old', 'user name is empty']) {
    assert.equal(needsNewToken(new EtcdError(status.INVALID_ARGUMENT, `etcdserver: ${m}`)), true, m);
  }
  assert.equal(
    needsNewToken(new EtcdError(status.PERMISSION_DENIED, 'etcdserver: permission denied')),
    false,
  );
  const local = new EtcdError(status.UNAUTHENTICATED, 'etcdserver: invalid auth token', { local: true });
  assert.equal(needsNewToken(local), false);
});

test('AuthToken fetches once for concurrent callers and again only for the token that failed', async () => {
  let fetches = 0;
  const token = new AuthToken({ username: 'u', password: 'p' }, async (c) => {
    fetches++;
    await new Promise((r) => setImmediate(r));
    return `${c.username}-${fetches}`;
  });
  assert.deepEqual(await Promise.all([token.current(NO_LIMITS), token.current(NO_LIMITS)]), ['u-1', 'u-1']);
  assert.equal(fetches, 1);
  // Two calls refused with u-1 share one new token; a refusal of an older token fetches nothing.
  const [a, b] = await Promise.all([token.refresh('u-1', NO_LIMITS), token.refresh('u-1', NO_LIMITS)]);
  assert.deepEqual([a, b, fetches], ['u-2', 'u-2', 2]);
  assert.equal(await token.refresh('u-1', NO_LIMITS), 'u-2');
  token.invalidate('u-2');
  assert.equal(await token.current(NO_LIMITS), 'u-3');
});

test('AuthToken: a server with auth disabled means no token; other failures are not cached', async () => {
  const answers: (string | EtcdError)[] = [
    new EtcdError(status.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'),
    new EtcdError(status.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
    'tok',
  ];
  const token = new AuthToken({ username: 'u', password: 'p' }, async () => {
    const next = answers.shift();
    if (next instanceof EtcdError) throw next;
    return next ?? 'unexpected';
  });
  await assert.rejects(token.current(NO_LIMITS), /authentication failed/);
  assert.equal(await token.current(NO_LIMITS), '');
  assert.equal(await token.current(NO_LIMITS), '', 'no token is kept as the answer');
  // The server refused the call without a token ("user name is empty"): auth was enabled since.
  assert.equal(await token.refresh('', NO_LIMITS), 'tok');
});

test('auth against real etcd', async (t) => {
  const etcd = await startRealEtcd(t);
  const failures: AttemptFailure[] = [];
  const connect = (options: Partial<ConnectOptions> = {}): Client => {
    const c = Client.connect({
      endpoints: [etcd.clientUrl],
      defaultTimeoutMs: 5000,
      onAttemptFailed: (f) => failures.push(f),
      ...options,
    });
    t.after(() => c.close());
    return c;
  };
  const admin = connect();
  const root = connect({ username: 'root', password: 'rootpw' });
  const alice = connect({ username: 'alice', password: 'alicepw' });
  const failedWith = (user: Client, fn: (c: Client) => Promise<unknown>): Promise<EtcdError> =>
    fn(user).then(
      () => assert.fail('expected the call to fail'),
      (e: unknown) => {
        assert.ok(e instanceof EtcdError, String(e));
        return e;
      },
    );

  await t.test('users, roles and permissions round-trip', async () => {
    await admin.auth.roleAdd('r1');
    const app = Buffer.from('/app/');
    await admin.auth.roleGrantPermission('r1', app, prefixEnd(app), PermissionType.READWRITE);
    await admin.auth.roleGrantPermission('r1', 'shared', '', PermissionType.READ);
    const role = await admin.auth.roleGet('r1');
    assert.deepEqual(
      role.perm.map((p) => [p.permType, text(p.key), text(p.rangeEnd)]),
      [
        [PermissionType.READWRITE, '/app/', '/app0'],
        [PermissionType.READ, 'shared', ''],
      ],
    );
    await admin.auth.userAdd('alice', 'alicepw');
    await admin.auth.userAdd('carol', '', { noPassword: true });
    await admin.auth.userGrantRole('alice', 'r1');
    assert.deepEqual((await admin.auth.userGet('alice')).roles, ['r1']);
    assert.deepEqual((await admin.auth.userList()).users, ['alice', 'carol']);
    assert.deepEqual((await admin.auth.roleList()).roles, ['r1']);
    await admin.auth.roleRevokePermission('r1', 'shared');
    assert.equal((await admin.auth.roleGet('r1')).perm.length, 1);
    const e = await failedWith(admin, (c) => c.auth.userRevokeRole('alice', 'nope'));
    assert.deepEqual(
      [e.code, e.message],
      [status.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'],
    );
  });

  await t.test('credentials while auth is disabled: no token, calls go through', async () => {
    await root.login();
    await root.kv.put('shared', 'before');
    assert.equal(text((await alice.kv.get('shared'))?.value), 'before');
  });

  await t.test('enabling auth; anonymous calls are refused, credentialed ones re-authenticate', async () => {
    await admin.auth.userAdd('root', 'rootpw');
    await admin.auth.roleAdd('root');
    await admin.auth.userGrantRole('root', 'root');
    await admin.auth.authEnable();
    const anonymous = await failedWith(admin, (c) => c.kv.get('shared'));
    assert.deepEqual(
      [anonymous.code, anonymous.message],
      [status.INVALID_ARGUMENT, 'etcdserver: user name is empty'],
    );
    // root found auth disabled earlier and holds no token: the refusal makes it authenticate.
    failures.length = 0;
    await root.kv.put('/app/a', '1');
    assert.deepEqual(
      failures.map((f) => [f.method, f.error.details]),
      [['/etcdserverpb.KV/Put', 'etcdserver: user name is empty']],
    );
  });

  await t.test('permissions follow the token: allowed keys work, others are denied', async () => {
    assert.equal(text((await alice.kv.get('/app/a'))?.value), '1');
    await alice.kv.put('/app/b', '2');
    const denied = await failedWith(alice, (c) => c.kv.get('secret'));
    assert.deepEqual(
      [denied.code, denied.message],
      [status.PERMISSION_DENIED, 'etcdserver: permission denied'],
    );
    const admin2 = await failedWith(alice, (c) => c.auth.userList());
    assert.equal(admin2.message, 'etcdserver: permission denied');
  });

  await t.test('wrong credentials fail at login and at every call', async () => {
    const wrong = connect({ username: 'alice', password: 'nope' });
    const text = 'etcdserver: authentication failed, invalid user ID or password';
    await assert.rejects(wrong.login(), (e: unknown) => e instanceof EtcdError && e.message === text);
    assert.equal((await failedWith(wrong, (c) => c.kv.get('/app/a'))).message, text);
  });

  await t.test('a token the server dropped is replaced once, then the call succeeds', async () => {
    await alice.kv.get('/app/a');
    // A password change (even to the same password) invalidates the user's tokens.
    await root.auth.userChangePassword('alice', 'alicepw');
    failures.length = 0;
    assert.equal(text((await alice.kv.get('/app/b'))?.value), '2');
    assert.deepEqual(
      failures.map((f) => f.error.details),
      ['etcdserver: invalid auth token'],
    );
  });

  await t.test('streams carry the token: watch events for allowed keys, cancel for others', async () => {
    const stream = await alice.watch.watch('/app/', { prefix: true });
    t.after(() => stream.close());
    const seen: string[] = [];
    for await (const r of stream) {
      if (r.created) await root.kv.put('/app/w', 'watched');
      for (const e of r.events) seen.push(text(e.kv?.key));
      if (seen.length > 0) break;
    }
    assert.deepEqual(seen, ['/app/w']);
    const refused = await alice.watch.watch('secret');
    t.after(() => refused.close());
    for await (const r of refused) {
      // etcd 3.4 puts the gRPC rendering of the error in the cancel reason.
      assert.deepEqual(
        [r.canceled, r.cancelReason],
        [true, 'rpc error: code = PermissionDenied desc = etcdserver: permission denied'],
      );
      break;
    }
  });

  await t.test('server streams too: root may take a snapshot, alice may not', async () => {
    let bytes = 0;
    for await (const chunk of await root.maintenance.snapshot()) bytes += chunk.blob.length;
    assert.ok(bytes > 0);
    const refused = await failedWith(alice, async (c) => {
      for await (const _chunk of await c.maintenance.snapshot()) assert.fail('alice got a snapshot chunk');
    });
    // etcd 3.4 does not map this auth error to a gRPC status: it arrives as Unknown.
    assert.equal(refused.message, 'rpc error: code = Unknown desc = auth: permission denied');
  });

  await t.test('keep-alive streams carry the token', async () => {
    const lease = await root.lease.grant(60n);
    assert.equal((await root.lease.keepAliveOnce(lease.ID, { timeoutMs: 5000 })).ID, lease.ID);
  });

  await t.test('auth disable: credentialed clients go on', async () => {
    await root.auth.authDisable();
    assert.equal(text((await admin.kv.get('/app/w'))?.value), 'watched');
    assert.equal(text((await root.kv.get('/app/w'))?.value), 'watched');
  });
});
