// The auth side of applying entries, over a real member state: whether the proposer (named in the
// entry's header) may run the request, and the Auth requests themselves, Authenticate included.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';

import { AuthError } from '../../../src/auth/errors.js';
import { hashPassword } from '../../../src/auth/password.js';
import { JwtTokens, SimpleTokens, type TokenProvider } from '../../../src/auth/tokens.js';
import { Permission_Type } from '../../../src/proto/authpb/auth.js';
import { InternalRaftRequest } from '../../../src/proto/etcdserverpb/raft_internal.js';
import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  TxnRequest,
  type AuthRoleGetResponse,
  type AuthUserGetResponse,
  type RangeResponse,
  type RequestOp,
} from '../../../src/proto/etcdserverpb/rpc.js';
import { type ApplyOutcome } from '../../../src/server/apply.js';
import { applyAuth, authInfoOf, checkPermitted, checkTxn } from '../../../src/server/apply-auth.js';
import { openState, type MemberState } from '../../../src/server/state.js';
import { Backend } from '../../../src/storage/backend/index.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const text = (u: Uint8Array): string => Buffer.from(u).toString('latin1');

const DENIED = 'etcdserver: permission denied';
const USER_EMPTY = 'etcdserver: user name is empty';
const HASHED = await hashPassword('secret', 4);

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-apply-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A member state over a real backend in a temp dir, closed and removed when the test ends. */
function openMember(t: TestContext, tokens?: TokenProvider): MemberState {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-apply-auth-'));
  const backend = Backend.open(join(dir, 'db'), { logger: { warn: () => {} } });
  const s = openState(backend, {
    identity: { clusterId: 1n, localId: 1n },
    lessor: { now: () => 0 },
    logger: { warn: () => {} },
    tokens,
  });
  t.after(async () => {
    await s.close();
    await s.backend.commit();
    await s.backend.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

type Req = Parameters<typeof InternalRaftRequest.fromPartial>[0];

/** A request proposed by `user` at the store's current auth revision (no header for undefined). */
function by(
  s: MemberState,
  user: string | undefined,
  r: Req,
  revision = s.auth.revision,
): InternalRaftRequest {
  const header = user === undefined ? undefined : { username: user, authRevision: BigInt(revision) };
  return InternalRaftRequest.fromPartial({ ...r, header });
}

const put = (key: string, extra: Req['put'] = {}): Req => ({ put: { key: b(key), value: b('v'), ...extra } });
const ops = {
  put: (key: string, lease = 0n): RequestOp => ({
    request: { $case: 'requestPut', value: PutRequest.fromPartial({ key: b(key), lease }) },
  }),
  range: (key: string, rangeEnd = ''): RequestOp => ({
    request: {
      $case: 'requestRange',
      value: RangeRequest.fromPartial({ key: b(key), rangeEnd: b(rangeEnd) }),
    },
  }),
  del: (key: string, prevKv = false): RequestOp => ({
    request: { $case: 'requestDeleteRange', value: DeleteRangeRequest.fromPartial({ key: b(key), prevKv }) },
  }),
  txn: (t: TxnRequest): RequestOp => ({ request: { $case: 'requestTxn', value: t } }),
};
const compare = (key: string): Compare =>
  Compare.fromPartial({
    key: b(key),
    result: Compare_CompareResult.EQUAL,
    target: Compare_CompareTarget.VERSION,
    targetUnion: { $case: 'version', value: 0n },
  });

function refuses(fn: () => unknown, message: string, what?: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof AuthError, `expected an AuthError, got ${String(e)}`);
      assert.equal(e.message, message, what);
      return true;
    },
    what,
  );
}

function refused(o: ApplyOutcome): string {
  if (o.ok) return assert.fail('expected a refusal');
  return o.error.message;
}

function response<T>(o: ApplyOutcome): T {
  if (!o.ok) return assert.fail(`refused: ${o.error.message}`);
  return o.response as T;
}

/**
 * root (root role), alice (writer: write on w/; reader: read on r/; both: readwrite on the key
 * "both"), bob (no roles); auth on.
 */
function setUp(s: MemberState): void {
  const a = s.auth;
  for (const name of ['root', 'alice', 'bob'])
    a.userAdd({ name, password: '', hashedPassword: HASHED, options: undefined });
  a.userGrantRole({ user: 'root', role: 'root' });
  const grants: [string, Permission_Type, string, string][] = [
    ['writer', Permission_Type.WRITE, 'w/', 'w0'],
    ['reader', Permission_Type.READ, 'r/', 'r0'],
    ['both', Permission_Type.READWRITE, 'both', ''],
  ];
  for (const [role, permType, key, rangeEnd] of grants) {
    a.roleAdd({ name: role });
    a.roleGrantPermission({ name: role, perm: { permType, key: b(key), rangeEnd: b(rangeEnd) } });
    a.userGrantRole({ user: 'alice', role });
  }
  a.enable();
}

const keysIn = (s: MemberState, prefix: string): string[] => {
  const r = response<RangeResponse>(
    s.applier.apply(by(s, 'root', { range: { key: b(prefix), rangeEnd: b(prefix.slice(0, -1) + '0') } })),
  );
  return r.kvs.map((kv) => text(kv.key));
};

// ---- Key-value requests ------------------------------------------------------------------------------

test('authInfoOf reads the user and auth revision from the header', () => {
  assert.equal(authInfoOf(InternalRaftRequest.fromPartial({ put: {} })), undefined);
  const r = InternalRaftRequest.fromPartial({ header: { username: 'alice', authRevision: 12n } });
  assert.deepEqual(authInfoOf(r), { username: 'alice', revision: 12 });
});

test('with auth off every request is permitted, with or without a header', (t) => {
  const s = openMember(t);
  checkPermitted(s.auth, s.lessor, by(s, undefined, put('anything')));
  checkPermitted(s.auth, s.lessor, by(s, 'nobody', { authUserAdd: { name: 'x' } }));
  assert.ok(s.applier.apply(by(s, undefined, put('k'))).ok);
});

test('a put needs write permission on its key', (t) => {
  const s = openMember(t);
  setUp(s);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', put('r/x'))), DENIED);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'bob', put('w/x'))), DENIED);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, undefined, put('w/x'))), USER_EMPTY);
  refuses(
    () => checkPermitted(s.auth, s.lessor, by(s, 'alice', put('w/x'), s.auth.revision - 1)),
    'etcdserver: revision of auth store is old',
  );
  checkPermitted(s.auth, s.lessor, by(s, 'alice', put('w/x')));
  checkPermitted(s.auth, s.lessor, by(s, 'root', put('r/x')));

  // Through the applier: the refused put writes nothing, the permitted one is written.
  assert.equal(refused(s.applier.apply(by(s, 'alice', put('r/x')))), DENIED);
  assert.deepEqual(keysIn(s, 'r/'), []);
  assert.ok(s.applier.apply(by(s, 'alice', put('w/x'))).ok);
  assert.deepEqual(keysIn(s, 'w/'), ['w/x']);
});

test('a put that asks for the previous value needs read permission too', (t) => {
  const s = openMember(t);
  setUp(s);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', put('w/x', { prevKv: true }))), DENIED);
  checkPermitted(s.auth, s.lessor, by(s, 'alice', put('both', { prevKv: true })));
});

test('a range needs read permission over the whole range', (t) => {
  const s = openMember(t);
  setUp(s);
  const range = (key: string, rangeEnd = ''): Req => ({ range: { key: b(key), rangeEnd: b(rangeEnd) } });
  checkPermitted(s.auth, s.lessor, by(s, 'alice', range('r/', 'r0')));
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', range('r/', 'r1'))), DENIED);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', range('w/x'))), DENIED);
});

test('a delete needs write permission, and read permission too when it returns the previous values', (t) => {
  const s = openMember(t);
  setUp(s);
  const del = (key: string, rangeEnd: string, prevKv: boolean): Req => ({
    deleteRange: { key: b(key), rangeEnd: b(rangeEnd), prevKv },
  });
  checkPermitted(s.auth, s.lessor, by(s, 'alice', del('w/', 'w0', false)));
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', del('w/', 'w0', true))), DENIED);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', del('r/', 'r0', false))), DENIED);
  checkPermitted(s.auth, s.lessor, by(s, 'alice', del('both', '', true)));
});

test('a txn needs read on its compares and the permissions of every op in both branches, nested too', (t) => {
  const s = openMember(t);
  setUp(s);
  const txn = (c: string[], success: RequestOp[], failure: RequestOp[] = []): TxnRequest =>
    TxnRequest.fromPartial({ compare: c.map(compare), success, failure });
  const check = (x: TxnRequest): void => checkPermitted(s.auth, s.lessor, by(s, 'alice', { txn: x }));

  check(txn(['r/a'], [ops.put('w/a')], [ops.range('r/a')]));
  refuses(() => check(txn(['w/a'], [ops.put('w/a')])), DENIED, 'compare on a write-only key');
  refuses(() => check(txn(['r/a'], [ops.range('w/a')])), DENIED, 'range on a write-only key');
  refuses(() => check(txn(['r/a'], [], [ops.put('r/a')])), DENIED, 'the failure branch counts too');
  refuses(() => check(txn([], [ops.del('r/a')])), DENIED, 'delete on a read-only key');
  refuses(() => check(txn([], [ops.del('w/a', true)])), DENIED, 'delete with prev_kv on a write-only key');
  check(txn([], [ops.del('w/a'), ops.del('both', true)]));

  check(txn([], [ops.txn(txn(['r/b'], [ops.put('w/b')]))]));
  refuses(() => check(txn([], [ops.txn(txn([], [ops.put('r/b')]))])), DENIED, 'a put inside a nested txn');
  refuses(() => check(txn([], [], [ops.txn(txn(['w/b'], []))])), DENIED, 'a compare inside a nested txn');

  // The exported form (read-only txns served without raft) checks the same way.
  refuses(
    () => checkTxn(s.auth, s.lessor, { username: 'alice', revision: s.auth.revision }, txn(['w/a'], [])),
    DENIED,
  );

  // Through the applier a refused txn changes nothing.
  assert.equal(
    refused(s.applier.apply(by(s, 'alice', { txn: txn([], [ops.put('w/t'), ops.put('r/t')]) }))),
    DENIED,
  );
  assert.deepEqual(keysIn(s, 'w/'), []);
});

// ---- Leases ----------------------------------------------------------------------------------------------

/** Lease 5 holds "secret" (alice cannot write it); lease 6 holds "w/held" (she can). */
function withLeases(s: MemberState): void {
  for (const [id, key] of [
    [5n, 'secret'],
    [6n, 'w/held'],
  ] as const) {
    assert.ok(s.applier.apply(by(s, 'root', { leaseGrant: { ID: id, TTL: 100n } })).ok);
    assert.ok(s.applier.apply(by(s, 'root', put(key, { lease: id }))).ok);
  }
  assert.deepEqual(s.lessor.keysOf(5n).map(text), ['secret']);
}

test('a put onto a lease holding a key the user cannot write is refused; root may', (t) => {
  const s = openMember(t);
  setUp(s);
  withLeases(s);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', put('w/x', { lease: 5n }))), DENIED);
  checkPermitted(s.auth, s.lessor, by(s, 'alice', put('w/x', { lease: 6n })));
  checkPermitted(s.auth, s.lessor, by(s, 'alice', put('w/x', { lease: 77n }))); // an unknown lease holds nothing
  checkPermitted(s.auth, s.lessor, by(s, 'root', put('w/x', { lease: 5n })));
  const inTxn = TxnRequest.fromPartial({ success: [ops.put('w/x', 5n)] });
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', { txn: inTxn })), DENIED, 'inside a txn too');

  assert.equal(refused(s.applier.apply(by(s, 'alice', put('w/x', { lease: 5n })))), DENIED);
  assert.deepEqual(s.lessor.keysOf(5n).map(text), ['secret']);
  assert.ok(s.applier.apply(by(s, 'alice', put('w/x', { lease: 6n }))).ok);
  assert.deepEqual(s.lessor.keysOf(6n).map(text).sort(), ['w/held', 'w/x']);
});

test('revoking a lease needs write permission on every key it holds; root may', (t) => {
  const s = openMember(t);
  setUp(s);
  withLeases(s);
  const revoke = (id: bigint): Req => ({ leaseRevoke: { ID: id } });
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', revoke(5n))), DENIED);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'bob', revoke(6n))), DENIED);
  refuses(() => checkPermitted(s.auth, s.lessor, by(s, undefined, revoke(6n))), USER_EMPTY);
  checkPermitted(s.auth, s.lessor, by(s, 'alice', revoke(6n)));
  checkPermitted(s.auth, s.lessor, by(s, 'root', revoke(5n)));

  assert.equal(refused(s.applier.apply(by(s, 'alice', revoke(5n)))), DENIED);
  assert.ok(s.lessor.has(5n), 'the refused revoke left the lease');
  assert.ok(s.applier.apply(by(s, 'root', revoke(5n))).ok);
  assert.equal(s.lessor.has(5n), false);
});

// ---- Auth requests ----------------------------------------------------------------------------------------

test('a user may get itself but not another user; root may get anyone', (t) => {
  const s = openMember(t);
  setUp(s);
  const get = (name: string): Req => ({ authUserGet: { name } });
  assert.deepEqual(response<AuthUserGetResponse>(s.applier.apply(by(s, 'alice', get('alice')))).roles, [
    'both',
    'reader',
    'writer',
  ]);
  assert.equal(refused(s.applier.apply(by(s, 'alice', get('bob')))), DENIED);
  assert.equal(refused(s.applier.apply(by(s, 'bob', get('root')))), DENIED);
  assert.deepEqual(response<AuthUserGetResponse>(s.applier.apply(by(s, 'root', get('bob')))).roles, []);
  assert.equal(refused(s.applier.apply(by(s, undefined, get('bob')))), USER_EMPTY);
  assert.equal(refused(s.applier.apply(by(s, 'ghost', get('bob')))), 'etcdserver: user name not found');
});

test('a user may get the roles it holds but not others; root may get any', (t) => {
  const s = openMember(t);
  setUp(s);
  s.auth.roleAdd({ name: 'secret-role' });
  const get = (role: string): Req => ({ authRoleGet: { role } });
  const perms = response<AuthRoleGetResponse>(s.applier.apply(by(s, 'alice', get('reader')))).perm;
  assert.deepEqual(
    perms.map((p) => [p.permType, text(p.key), text(p.rangeEnd)]),
    [[Permission_Type.READ, 'r/', 'r0']],
  );
  assert.equal(refused(s.applier.apply(by(s, 'alice', get('secret-role')))), DENIED);
  assert.equal(refused(s.applier.apply(by(s, 'bob', get('reader')))), DENIED);
  assert.deepEqual(
    response<AuthRoleGetResponse>(s.applier.apply(by(s, 'root', get('secret-role')))).perm,
    [],
  );
});

test('auth management is for root only', (t) => {
  const s = openMember(t);
  setUp(s);
  const perm = { permType: Permission_Type.READ, key: b('k'), rangeEnd: b('') };
  const admin: [string, Req][] = [
    ['enable', { authEnable: {} }],
    ['disable', { authDisable: {} }],
    ['userAdd', { authUserAdd: { name: 'carol', hashedPassword: HASHED } }],
    ['userDelete', { authUserDelete: { name: 'bob' } }],
    ['changePassword', { authUserChangePassword: { name: 'alice', hashedPassword: HASHED } }],
    ['grantRole', { authUserGrantRole: { user: 'bob', role: 'writer' } }],
    ['revokeRole', { authUserRevokeRole: { name: 'alice', role: 'writer' } }],
    ['userList', { authUserList: {} }],
    ['roleAdd', { authRoleAdd: { name: 'new' } }],
    ['roleDelete', { authRoleDelete: { role: 'writer' } }],
    ['grantPermission', { authRoleGrantPermission: { name: 'writer', perm } }],
    ['revokePermission', { authRoleRevokePermission: { role: 'reader', key: b('r/'), rangeEnd: b('r0') } }],
    ['roleList', { authRoleList: {} }],
  ];
  const rev = s.auth.revision;
  for (const [what, r] of admin) {
    refuses(() => checkPermitted(s.auth, s.lessor, by(s, 'alice', r)), DENIED, what);
    refuses(() => checkPermitted(s.auth, s.lessor, by(s, undefined, r)), USER_EMPTY, what);
    refuses(
      () => checkPermitted(s.auth, s.lessor, by(s, 'ghost', r)),
      'etcdserver: user name not found',
      what,
    );
    checkPermitted(s.auth, s.lessor, by(s, 'root', r));
    assert.equal(refused(s.applier.apply(by(s, 'alice', r))), DENIED, what);
  }
  assert.equal(s.auth.revision, rev, 'no refused request changed anything');
  assert.deepEqual(s.auth.userList(), ['alice', 'bob', 'root']);
});

test('root manages users and roles through the applier', (t) => {
  const s = openMember(t);
  setUp(s);
  const ok = (r: Req): object => response<object>(s.applier.apply(by(s, 'root', r)));
  ok({ authUserAdd: { name: 'carol', hashedPassword: HASHED } });
  ok({ authRoleAdd: { name: 'ops' } });
  ok({ authUserGrantRole: { user: 'carol', role: 'ops' } });
  ok({ authRoleGrantPermission: { name: 'ops', perm: { permType: Permission_Type.WRITE, key: b('o') } } });
  assert.deepEqual(ok({ authUserList: {} }), {
    header: { clusterId: 0n, memberId: 0n, revision: 1n, raftTerm: 0n },
    users: ['alice', 'bob', 'carol', 'root'],
  });
  assert.deepEqual((ok({ authRoleList: {} }) as { roles: string[] }).roles, [
    'both',
    'ops',
    'reader',
    'writer',
  ]);
  assert.ok(s.applier.apply(by(s, 'carol', put('o'))).ok);
  ok({ authUserDelete: { name: 'carol' } });
  assert.equal(refused(s.applier.apply(by(s, 'carol', put('o')))), DENIED);
  assert.equal(
    refused(s.applier.apply(by(s, 'root', { authUserDelete: { name: 'root' } }))),
    'etcdserver: invalid auth management',
  );
  ok({ authDisable: {} });
  assert.equal(s.auth.isEnabled, false);
  assert.ok(s.applier.apply(by(s, undefined, put('anything'))).ok);
});

test('applyAuth leaves requests that are not Auth requests alone', (t) => {
  const s = openMember(t);
  const tokens = new SimpleTokens(1000, () => 0);
  assert.equal(applyAuth(s.auth, tokens, by(s, undefined, put('k')), 1), undefined);
  assert.equal(
    applyAuth(s.auth, tokens, by(s, undefined, { leaseGrant: { ID: 1n, TTL: 5n } }), 1),
    undefined,
  );
});

// ---- Authenticate -----------------------------------------------------------------------------------------

const authenticate = (name: string, simpleToken = 'abcdefghijklmnop'): Req => ({
  authenticate: { name, password: '', simpleToken },
});

test('Authenticate with simple tokens registers prefix.index for the user and returns it', (t) => {
  let now = 0;
  const tokens = new SimpleTokens(60_000, () => now);
  const s = openMember(t, tokens);
  refuses(
    () => applyAuth(s.auth, tokens, by(s, undefined, authenticate('alice')), 42),
    'etcdserver: authentication is not enabled',
  );
  setUp(s);
  const applied = applyAuth(s.auth, tokens, by(s, undefined, authenticate('alice')), 42);
  assert.deepEqual(applied, { response: { token: 'abcdefghijklmnop.42' } });
  assert.deepEqual(tokens.info('abcdefghijklmnop.42', s.auth.revision), {
    username: 'alice',
    revision: s.auth.revision,
  });

  const o = s.applier.apply(by(s, undefined, authenticate('bob', 'ponmlkjihgfedcba')), 43);
  assert.equal(response<{ token: string }>(o).token, 'ponmlkjihgfedcba.43');
  assert.equal(o.ok && o.toSign, undefined);
  assert.equal(tokens.info('ponmlkjihgfedcba.43', 1)?.username, 'bob');

  refuses(
    () => applyAuth(s.auth, tokens, by(s, undefined, authenticate('ghost')), 44),
    'etcdserver: authentication failed, invalid user ID or password',
  );
  assert.equal(tokens.info('abcdefghijklmnop.44', 1), undefined, 'nothing registered for a failure');

  // Deleting the user ends its session; the store tells the member's token registry.
  s.auth.userDelete({ name: 'bob' });
  assert.equal(tokens.info('ponmlkjihgfedcba.43', s.auth.revision), undefined);
  now += 60_001;
  assert.equal(tokens.info('abcdefghijklmnop.42', s.auth.revision), undefined, 'lapsed');
});

test('Authenticate refuses a user without a password', (t) => {
  const tokens = new SimpleTokens(60_000, () => 0);
  const s = openMember(t, tokens);
  s.auth.userAdd({ name: 'bot', password: '', hashedPassword: '', options: { noPassword: true } });
  setUp(s);
  refuses(
    () => applyAuth(s.auth, tokens, by(s, undefined, authenticate('bot')), 5),
    'etcdserver: authentication failed, invalid user ID or password',
  );
});

test('Authenticate with JWTs asks the proposer to sign for the user at the current auth revision', async (t) => {
  const dir = tempDir(t);
  const secret = join(dir, 'secret');
  writeFileSync(secret, 'a shared secret for HS256 tokens');
  const tokens = JwtTokens.fromOptions(
    new Map([
      ['priv-key', secret],
      ['sign-method', 'HS256'],
    ]),
  );
  const s = openMember(t, tokens);
  setUp(s);
  const applied = applyAuth(s.auth, tokens, by(s, undefined, authenticate('alice', '')), 9);
  assert.deepEqual(applied, {
    response: { token: '' },
    toSign: { username: 'alice', revision: s.auth.revision },
  });
  const o = s.applier.apply(by(s, undefined, authenticate('alice', '')), 10);
  assert.ok(o.ok);
  assert.deepEqual(o.toSign, { username: 'alice', revision: s.auth.revision });

  const info = await tokens.info(await tokens.sign('alice', s.auth.revision));
  assert.deepEqual(info, { username: 'alice', revision: s.auth.revision });
  s.auth.checkWrite(info, b('w/x'));
  s.auth.roleRevokePermission({ role: 'writer', key: b('w/'), rangeEnd: b('w0') });
  refuses(() => s.auth.checkWrite(info, b('w/x')), 'etcdserver: revision of auth store is old');
});
