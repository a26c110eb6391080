// The auth store over a real backend: users, roles and permissions with etcd's errors, the auth
// revision, persistence in etcd's buckets and encodings, and the permission checks requests make.
// Password hashing (password.ts) is tested here too, since the store keeps what it produces.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';

import { AuthError } from '../../../src/auth/errors.js';
import { hashPassword, passwordMatches, storedHash } from '../../../src/auth/password.js';
import { AuthStore, type AuthInfo, type AuthStoreHooks } from '../../../src/auth/store.js';
import { Permission_Type, Role, User } from '../../../src/proto/authpb/auth.js';
import { Backend } from '../../../src/storage/backend/index.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const NONE = new Uint8Array(0);
const FROM_KEY = b('\0');

/** One bcrypt hash (cost 4, to stay fast) as a raft entry carries it: base64 of the hash. */
const PASSWORD = 'secret';
const HASHED = await hashPassword(PASSWORD, 4);

const E = {
  userEmpty: 'etcdserver: user name is empty',
  roleEmpty: 'etcdserver: role name is empty',
  authFailed: 'etcdserver: authentication failed, invalid user ID or password',
  invalidMgmt: 'etcdserver: invalid auth management',
  oldRevision: 'etcdserver: revision of auth store is old',
  permissionNotGiven: 'etcdserver: permission not given',
  rootUserMissing: 'etcdserver: root user does not exist',
  rootRoleMissing: 'etcdserver: root user does not have root role',
  userExists: 'etcdserver: user name already exists',
  userNotFound: 'etcdserver: user name not found',
  roleExists: 'etcdserver: role name already exists',
  roleNotFound: 'etcdserver: role name not found',
  roleNotGranted: 'etcdserver: role is not granted to the user',
  permNotGranted: 'etcdserver: permission is not granted to the role',
  authNotEnabled: 'etcdserver: authentication is not enabled',
  denied: 'etcdserver: permission denied',
} as const;

/** Runs `fn` and checks it throws an AuthError with exactly `message`. */
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

interface Fixture {
  readonly backend: Backend;
  open(hooks?: AuthStoreHooks): AuthStore;
  /** Commits, closes the backend, opens it again and a new store over it. */
  reopen(hooks?: AuthStoreHooks): Promise<AuthStore>;
}

function fixture(t: TestContext): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-auth-'));
  const path = join(dir, 'db');
  const quiet = { logger: { warn: () => {} } };
  let backend = Backend.open(path, quiet);
  t.after(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get backend() {
      return backend;
    },
    open: (hooks) => new AuthStore(backend.batchTx, hooks),
    async reopen(hooks) {
      await backend.commit();
      await backend.close();
      backend = Backend.open(path, quiet);
      return new AuthStore(backend.batchTx, hooks);
    },
  };
}

// Requests, as the applier hands them over.
const addUser = (s: AuthStore, name: string, noPassword = false): void =>
  s.userAdd({ name, password: '', hashedPassword: noPassword ? '' : HASHED, options: { noPassword } });
const grantRole = (s: AuthStore, user: string, role: string): void => s.userGrantRole({ user, role });
const revokeRole = (s: AuthStore, name: string, role: string): void => s.userRevokeRole({ name, role });
const grantPerm = (s: AuthStore, name: string, permType: Permission_Type, key: string, rangeEnd = ''): void =>
  s.roleGrantPermission({ name, perm: { permType, key: b(key), rangeEnd: b(rangeEnd) } });
const revokePerm = (s: AuthStore, role: string, key: string, rangeEnd = ''): void =>
  s.roleRevokePermission({ role, key: b(key), rangeEnd: b(rangeEnd) });

/** Adds root with the root role and turns auth on. */
function enableWithRoot(s: AuthStore): void {
  addUser(s, 'root');
  grantRole(s, 'root', 'root');
  s.enable();
}

const as = (s: AuthStore, username: string): AuthInfo => ({ username, revision: s.revision });
const rawRevision = (f: Fixture): string =>
  Buffer.from(f.backend.batchTx.get('auth', b('authRevision')) ?? NONE).toString('hex');

// ---- Revision ------------------------------------------------------------------------------------

test('a new store starts at auth revision 1, stored as 8 big-endian bytes, and keeps it when reopened', async (t) => {
  const f = fixture(t);
  const s = f.open();
  assert.equal(s.revision, 1);
  assert.equal(s.isEnabled, false);
  assert.equal(rawRevision(f), '0000000000000001');
  const again = await f.reopen();
  assert.equal(again.revision, 1, 'reopening does not count as a change');
  assert.equal(rawRevision(f), '0000000000000001');
});

test('every change bumps the auth revision; enabling, refused changes and a repeated role grant do not', (t) => {
  const f = fixture(t);
  const s = f.open();
  const steps: [string, () => void, number][] = [
    ['roleAdd', () => s.roleAdd({ name: 'r' }), 2],
    ['userAdd alice', () => addUser(s, 'alice'), 3],
    ['userAdd root', () => addUser(s, 'root'), 4],
    ['grant root root', () => grantRole(s, 'root', 'root'), 5],
    ['grant alice r', () => grantRole(s, 'alice', 'r'), 6],
    ['grant alice r again', () => grantRole(s, 'alice', 'r'), 6],
    ['grant permission', () => grantPerm(s, 'r', Permission_Type.READ, 'k'), 7],
    ['revoke permission', () => revokePerm(s, 'r', 'k'), 8],
    [
      'change password',
      () => s.userChangePassword({ name: 'alice', password: '', hashedPassword: HASHED }),
      9,
    ],
    ['revoke alice r', () => revokeRole(s, 'alice', 'r'), 10],
    ['enable', () => s.enable(), 10],
    ['enable again', () => s.enable(), 10],
    ['disable', () => s.disable(), 11],
    ['disable again', () => s.disable(), 11],
    ['roleDelete', () => s.roleDelete({ role: 'r' }), 12],
    ['userDelete', () => s.userDelete({ name: 'alice' }), 13],
  ];
  for (const [what, step, rev] of steps) {
    step();
    assert.equal(s.revision, rev, what);
  }
  refuses(() => addUser(s, 'root'), E.userExists);
  refuses(() => s.roleDelete({ role: 'r' }), E.roleNotFound);
  assert.equal(s.revision, 13, 'refused changes leave the revision alone');
  assert.equal(rawRevision(f), '000000000000000d', 'the revision is written with each change');
});

// ---- Enabling and the root user -------------------------------------------------------------------

test('enable needs a root user that holds the root role', (t) => {
  const f = fixture(t);
  const seen: boolean[] = [];
  const s = f.open({ enabledChanged: (on) => seen.push(on) });
  refuses(() => s.enable(), E.rootUserMissing);
  addUser(s, 'root');
  refuses(() => s.enable(), E.rootRoleMissing);
  assert.equal(s.isEnabled, false);
  grantRole(s, 'root', 'root');
  s.enable();
  assert.equal(s.isEnabled, true);
  s.disable();
  assert.deepEqual(seen, [true, false], 'the token registry hears about it');
});

test('the root role can be granted without being added as a role', (t) => {
  const s = fixture(t).open();
  addUser(s, 'root');
  grantRole(s, 'root', 'root');
  assert.deepEqual(s.userGet({ name: 'root' }).roles, ['root']);
  assert.deepEqual(s.roleList(), []);
});

test('while auth is on, root, its root role and the root role cannot be removed; once off they can', (t) => {
  const s = fixture(t).open();
  s.roleAdd({ name: 'root' });
  enableWithRoot(s);
  refuses(() => s.userDelete({ name: 'root' }), E.invalidMgmt);
  refuses(() => revokeRole(s, 'root', 'root'), E.invalidMgmt);
  refuses(() => s.roleDelete({ role: 'root' }), E.invalidMgmt);
  assert.ok(s.hasRole('root', 'root'));
  s.disable();
  s.roleDelete({ role: 'root' });
  assert.deepEqual(s.userGet({ name: 'root' }).roles, [], 'deleting the role took it from root');
  s.userDelete({ name: 'root' });
  assert.deepEqual(s.userList(), []);
});

// ---- Refusals ---------------------------------------------------------------------------------------

test('duplicates, empty names and missing users, roles and permissions are refused with etcd texts', (t) => {
  const s = fixture(t).open();
  addUser(s, 'alice');
  s.roleAdd({ name: 'r' });
  refuses(() => addUser(s, 'alice'), E.userExists);
  refuses(() => s.roleAdd({ name: 'r' }), E.roleExists);
  refuses(() => addUser(s, ''), E.userEmpty);
  refuses(() => s.roleAdd({ name: '' }), E.roleEmpty);
  refuses(() => grantRole(s, 'alice', 'missing'), E.roleNotFound);
  refuses(() => grantRole(s, 'nobody', 'r'), E.userNotFound);
  refuses(() => revokeRole(s, 'alice', 'r'), E.roleNotGranted);
  refuses(() => revokeRole(s, 'nobody', 'r'), E.userNotFound);
  refuses(() => revokePerm(s, 'r', 'k'), E.permNotGranted);
  refuses(() => revokePerm(s, 'missing', 'k'), E.roleNotFound);
  refuses(() => grantPerm(s, 'missing', Permission_Type.READ, 'k'), E.roleNotFound);
  refuses(() => s.roleGrantPermission({ name: 'r', perm: undefined }), E.permissionNotGiven);
  refuses(() => s.userDelete({ name: 'nobody' }), E.userNotFound);
  refuses(() => s.roleDelete({ role: 'missing' }), E.roleNotFound);
  refuses(
    () => s.userChangePassword({ name: 'nobody', password: '', hashedPassword: HASHED }),
    E.userNotFound,
  );
  refuses(() => s.userGet({ name: 'nobody' }), E.userNotFound);
  refuses(() => s.roleGet({ role: 'missing' }), E.roleNotFound);
  assert.deepEqual(s.userGet({ name: 'alice' }).roles, [], 'nothing was granted along the way');
});

test('errors carry the gRPC codes etcd answers with', (t) => {
  const s = fixture(t).open();
  const codeOf = (fn: () => void): string => {
    try {
      fn();
    } catch (e) {
      if (e instanceof AuthError) return e.code;
    }
    return 'no AuthError';
  };
  assert.equal(
    codeOf(() => addUser(s, '')),
    'InvalidArgument',
  );
  assert.equal(
    codeOf(() => s.enable()),
    'FailedPrecondition',
  );
  enableWithRoot(s);
  addUser(s, 'alice');
  assert.equal(
    codeOf(() => s.checkAdmin(as(s, 'alice'))),
    'PermissionDenied',
  );
});

test('a role revoke must name the exact range granted', (t) => {
  const s = fixture(t).open();
  s.roleAdd({ name: 'r' });
  grantPerm(s, 'r', Permission_Type.READ, 'a', 'c');
  refuses(() => revokePerm(s, 'r', 'a'), E.permNotGranted);
  refuses(() => revokePerm(s, 'r', 'a', 'b'), E.permNotGranted);
  revokePerm(s, 'r', 'a', 'c');
  assert.deepEqual(s.roleGet({ role: 'r' }).perm, []);
});

// ---- Roles, permissions, lists ------------------------------------------------------------------------

test('deleting a role takes it from every user that held it, in memory and in the bucket', async (t) => {
  const f = fixture(t);
  const s = f.open();
  s.roleAdd({ name: 'a' });
  s.roleAdd({ name: 'b' });
  addUser(s, 'alice');
  addUser(s, 'bob');
  addUser(s, 'carol');
  grantRole(s, 'alice', 'a');
  grantRole(s, 'alice', 'b');
  grantRole(s, 'bob', 'a');
  grantRole(s, 'carol', 'b');
  s.roleDelete({ role: 'a' });
  assert.deepEqual(s.userGet({ name: 'alice' }).roles, ['b']);
  assert.deepEqual(s.userGet({ name: 'bob' }).roles, []);
  assert.deepEqual(s.userGet({ name: 'carol' }).roles, ['b']);
  assert.deepEqual(s.roleList(), ['b']);
  const stored = User.decode(f.backend.batchTx.get('authUsers', b('alice')) ?? NONE);
  assert.deepEqual(stored.roles, ['b']);
  assert.equal(f.backend.batchTx.get('authRoles', b('a')), undefined);
  const again = await f.reopen();
  assert.deepEqual(again.userGet({ name: 'bob' }).roles, []);
  refuses(() => again.roleGet({ role: 'a' }), E.roleNotFound);
});

test('granting the same range again changes its type; permissions stay sorted by key', (t) => {
  const s = fixture(t).open();
  s.roleAdd({ name: 'r' });
  grantPerm(s, 'r', Permission_Type.READ, 'c');
  grantPerm(s, 'r', Permission_Type.WRITE, 'a', 'b');
  grantPerm(s, 'r', Permission_Type.READ, '\xff');
  grantPerm(s, 'r', Permission_Type.READ, 'b', '\0');
  grantPerm(s, 'r', Permission_Type.READWRITE, 'c');
  grantPerm(s, 'r', Permission_Type.READ, 'a', 'c');
  const perms = s
    .roleGet({ role: 'r' })
    .perm.map((p) => [
      Buffer.from(p.key).toString('latin1'),
      Buffer.from(p.rangeEnd).toString('latin1'),
      p.permType,
    ]);
  assert.deepEqual(perms.length, 5, 'one permission per range');
  assert.deepEqual(
    perms.map(([k]) => k),
    ['a', 'a', 'b', 'c', '\xff'],
  );
  assert.deepEqual(
    perms.find(([k]) => k === 'c'),
    ['c', '', Permission_Type.READWRITE],
  );
  assert.deepEqual(perms.filter(([k]) => k === 'a').sort(), [
    ['a', 'b', Permission_Type.WRITE],
    ['a', 'c', Permission_Type.READ],
  ]);
});

test('user and role lists are in byte order of their UTF-8 names', (t) => {
  const s = fixture(t).open();
  // Byte order: B (42) < a < b < é (c3 a9) < ！ (ef bc 81) < 😀 (f0 9f 98 80). UTF-16 order would put
  // 😀 (d83d) before ！ (ff01).
  const names = ['😀', 'b', '！', 'é', 'a', 'B'];
  for (const n of names) {
    addUser(s, n, true);
    s.roleAdd({ name: n });
  }
  const want = ['B', 'a', 'b', 'é', '！', '😀'];
  assert.deepEqual(s.userList(), want);
  assert.deepEqual(s.roleList(), want);
});

test("a user's roles are kept in byte order, as etcd sorts them", (t) => {
  const s = fixture(t).open();
  addUser(s, 'alice');
  for (const r of ['😀', '！', 'b', 'a']) {
    s.roleAdd({ name: r });
    grantRole(s, 'alice', r);
  }
  // Go's sort.Strings compares bytes: ！ (ef bc 81) before 😀 (f0 9f 98 80).
  assert.deepEqual(s.userGet({ name: 'alice' }).roles, ['a', 'b', '！', '😀']);
});

// ---- Persistence --------------------------------------------------------------------------------------

test("everything survives reopening, stored in etcd's buckets and encodings", async (t) => {
  const f = fixture(t);
  const s = f.open();
  s.roleAdd({ name: 'reader' });
  grantPerm(s, 'reader', Permission_Type.READ, 'k/', 'k0');
  addUser(s, 'alice');
  addUser(s, 'bot', true);
  grantRole(s, 'alice', 'reader');
  enableWithRoot(s);
  const rev = s.revision;

  const again = await f.reopen();
  const tx = f.backend.batchTx;
  assert.deepEqual([...(tx.get('auth', b('authEnabled')) ?? NONE)], [1], 'authEnabled is one byte');
  assert.equal(rawRevision(f), rev.toString(16).padStart(16, '0'));

  const alice = User.decode(tx.get('authUsers', b('alice')) ?? NONE);
  assert.equal(Buffer.from(alice.name).toString(), 'alice');
  assert.deepEqual(alice.roles, ['reader']);
  assert.equal(
    Buffer.from(alice.password).toString('latin1'),
    Buffer.from(HASHED, 'base64').toString('latin1'),
  );
  const bot = User.decode(tx.get('authUsers', b('bot')) ?? NONE);
  assert.equal(bot.password.byteLength, 0);
  assert.equal(bot.options?.noPassword, true);
  const reader = Role.decode(tx.get('authRoles', b('reader')) ?? NONE);
  assert.equal(Buffer.from(reader.name).toString(), 'reader');
  assert.deepEqual(
    reader.keyPermission.map((p) => [
      p.permType,
      Buffer.from(p.key).toString(),
      Buffer.from(p.rangeEnd).toString(),
    ]),
    [[Permission_Type.READ, 'k/', 'k0']],
  );

  assert.equal(again.isEnabled, true);
  assert.equal(again.revision, rev);
  assert.deepEqual(again.userList(), ['alice', 'bot', 'root']);
  assert.deepEqual(again.roleList(), ['reader']);
  assert.deepEqual(again.userGet({ name: 'alice' }).roles, ['reader']);
  again.checkRead(as(again, 'alice'), b('k/'), b('k0'));
  refuses(() => again.checkWrite(as(again, 'alice'), b('k/x')), E.denied);
  again.checkAdmin(as(again, 'root'));

  again.disable();
  const third = await f.reopen();
  assert.deepEqual([...(f.backend.batchTx.get('auth', b('authEnabled')) ?? NONE)], [0]);
  assert.equal(third.isEnabled, false);
  assert.equal(third.revision, rev + 1);
});

// ---- Permission checks ------------------------------------------------------------------------------------

test('with auth off every check passes, whoever asks', (t) => {
  const s = fixture(t).open();
  s.checkRead(undefined, b('a'));
  s.checkWrite(undefined, b(''), FROM_KEY);
  s.checkWrite({ username: 'nobody', revision: 0 }, b('a'));
  s.checkAdmin(undefined);
  assert.equal(s.isAdmin(undefined), true);
});

test('with auth on, missing credentials, an old revision and an unknown user are refused', (t) => {
  const s = fixture(t).open();
  s.roleAdd({ name: 'all' });
  grantPerm(s, 'all', Permission_Type.READWRITE, '', '\0');
  addUser(s, 'alice');
  grantRole(s, 'alice', 'all');
  enableWithRoot(s);
  refuses(() => s.checkRead(undefined, b('a')), E.userEmpty);
  refuses(() => s.checkWrite({ username: 'alice', revision: 0 }, b('a')), E.userEmpty);
  refuses(() => s.checkRead({ username: 'root', revision: s.revision - 1 }, b('a')), E.oldRevision);
  refuses(() => s.checkRead({ username: 'nobody', revision: s.revision }, b('a')), E.denied);
  s.checkRead({ username: 'alice', revision: s.revision + 1 }, b('a'));
  s.checkWrite(as(s, 'alice'), b('zzz'));
});

test('root passes every range check', (t) => {
  const s = fixture(t).open();
  enableWithRoot(s);
  s.checkRead(as(s, 'root'), b(''), FROM_KEY);
  s.checkWrite(as(s, 'root'), b('any'));
  s.checkWrite(as(s, 'root'), b('a'), b('z'));
  assert.equal(s.isAdmin(as(s, 'root')), true);
});

test('read, write and readwrite grants each allow just their kind, over their range', (t) => {
  const s = fixture(t).open();
  s.roleAdd({ name: 'r' });
  grantPerm(s, 'r', Permission_Type.READ, 'read/', 'read0');
  grantPerm(s, 'r', Permission_Type.WRITE, 'write/', 'write0');
  grantPerm(s, 'r', Permission_Type.READWRITE, 'both');
  addUser(s, 'alice');
  grantRole(s, 'alice', 'r');
  enableWithRoot(s);
  const alice = as(s, 'alice');
  s.checkRead(alice, b('read/x'));
  s.checkRead(alice, b('read/'), b('read0'));
  refuses(() => s.checkWrite(alice, b('read/x')), E.denied);
  s.checkWrite(alice, b('write/x'));
  s.checkWrite(alice, b('write/'), b('write0'));
  refuses(() => s.checkRead(alice, b('write/x')), E.denied);
  s.checkRead(alice, b('both'));
  s.checkWrite(alice, b('both'));
  refuses(() => s.checkRead(alice, b('both'), b('bothz')), E.denied);
  refuses(() => s.checkRead(alice, b('read/'), FROM_KEY), E.denied);
  refuses(() => s.checkRead(alice, b('read'), b('read0')), E.denied, 'wider than the grant');
  refuses(() => s.checkWrite(alice, b('other')), E.denied);
});

test('permissions from several roles add up', (t) => {
  const s = fixture(t).open();
  s.roleAdd({ name: 'low' });
  s.roleAdd({ name: 'high' });
  grantPerm(s, 'low', Permission_Type.READ, 'a', 'm');
  grantPerm(s, 'high', Permission_Type.READ, 'm', 'z');
  addUser(s, 'alice');
  grantRole(s, 'alice', 'low');
  enableWithRoot(s);
  refuses(() => s.checkRead(as(s, 'alice'), b('a'), b('z')), E.denied);
  grantRole(s, 'alice', 'high');
  s.checkRead(as(s, 'alice'), b('a'), b('z'));
});

test('checkAdmin: root passes, other users are denied, unknown users are not found', (t) => {
  const s = fixture(t).open();
  addUser(s, 'alice');
  s.checkAdmin(undefined);
  enableWithRoot(s);
  s.checkAdmin(as(s, 'root'));
  refuses(() => s.checkAdmin(as(s, 'alice')), E.denied);
  refuses(() => s.checkAdmin(as(s, 'nobody')), E.userNotFound);
  refuses(() => s.checkAdmin(undefined), E.userEmpty);
  refuses(() => s.checkAdmin({ username: '', revision: s.revision }), E.userEmpty);
  assert.equal(s.isAdmin(as(s, 'alice')), false);
  assert.equal(s.isAdmin(undefined), false);
});

test('a revoke takes effect at once: a check that passed fails at the new revision', (t) => {
  const s = fixture(t).open();
  s.roleAdd({ name: 'r' });
  grantPerm(s, 'r', Permission_Type.READ, 'k');
  grantPerm(s, 'r', Permission_Type.WRITE, 'w');
  addUser(s, 'alice');
  grantRole(s, 'alice', 'r');
  enableWithRoot(s);
  s.checkRead(as(s, 'alice'), b('k'));
  const before = as(s, 'alice');
  revokePerm(s, 'r', 'k');
  refuses(() => s.checkRead(before, b('k')), E.oldRevision);
  refuses(() => s.checkRead(as(s, 'alice'), b('k')), E.denied);

  s.checkWrite(as(s, 'alice'), b('w'));
  revokeRole(s, 'alice', 'r');
  refuses(() => s.checkWrite(as(s, 'alice'), b('w')), E.denied);

  grantRole(s, 'alice', 'r');
  s.checkWrite(as(s, 'alice'), b('w'));
  s.roleDelete({ role: 'r' });
  refuses(() => s.checkWrite(as(s, 'alice'), b('w')), E.denied);
});

test('a grant also takes effect at once', (t) => {
  const s = fixture(t).open();
  s.roleAdd({ name: 'r' });
  addUser(s, 'alice');
  grantRole(s, 'alice', 'r');
  enableWithRoot(s);
  refuses(() => s.checkRead(as(s, 'alice'), b('k')), E.denied);
  grantPerm(s, 'r', Permission_Type.READ, 'k');
  s.checkRead(as(s, 'alice'), b('k'));
});

// ---- Passwords --------------------------------------------------------------------------------------------

test('hashPassword gives base64 of a bcrypt hash that passwordMatches accepts', async () => {
  const hash = Buffer.from(HASHED, 'base64').toString('latin1');
  assert.match(hash, /^\$2[aby]?\$04\$[./A-Za-z0-9]{53}$/);
  assert.equal(Buffer.from(hash, 'latin1').toString('base64'), HASHED, 'plain base64');
  assert.equal(await passwordMatches(PASSWORD, hash), true);
  assert.equal(await passwordMatches('wrong', hash), false);
  const other = Buffer.from(await hashPassword(PASSWORD, 4), 'base64').toString('latin1');
  assert.notEqual(other, hash, 'salted');
});

test('storedHash keeps a hashed password as bytes and hashes a legacy plain one', async () => {
  assert.deepEqual(Buffer.from(storedHash('', HASHED)), Buffer.from(HASHED, 'base64'));
  assert.deepEqual(Buffer.from(storedHash('ignored', HASHED)), Buffer.from(HASHED, 'base64'));
  const legacy = Buffer.from(storedHash('plain', '', 4)).toString('latin1');
  assert.match(legacy, /^\$2[aby]?\$04\$/);
  assert.equal(await passwordMatches('plain', legacy), true);
  assert.equal(storedHash('', '').byteLength, 0);
});

test('passwordOf and checkAuthenticate: auth must be on and the user must have a password', async (t) => {
  const s = fixture(t).open();
  addUser(s, 'alice');
  addUser(s, 'bot', true);
  refuses(() => s.passwordOf('alice'), E.authNotEnabled);
  refuses(() => s.checkAuthenticate('alice'), E.authNotEnabled);
  enableWithRoot(s);
  const { hash, revision } = s.passwordOf('alice');
  assert.equal(revision, s.revision);
  assert.equal(await passwordMatches(PASSWORD, hash), true);
  s.checkAuthenticate('alice');
  refuses(() => s.passwordOf('nobody'), E.authFailed);
  refuses(() => s.passwordOf('bot'), E.authFailed);
  refuses(() => s.checkAuthenticate('nobody'), E.authFailed);
  refuses(() => s.checkAuthenticate('bot'), E.authFailed);
});

test('changing a password replaces the hash and ends the sessions of the user, as deleting does', async (t) => {
  const invalidated: string[] = [];
  const s = fixture(t).open({ userInvalidated: (n) => invalidated.push(n) });
  addUser(s, 'alice');
  addUser(s, 'bob');
  enableWithRoot(s);
  const newHash = await hashPassword('new', 4);
  s.userChangePassword({ name: 'alice', password: '', hashedPassword: newHash });
  const { hash } = s.passwordOf('alice');
  assert.equal(await passwordMatches('new', hash), true);
  assert.equal(await passwordMatches(PASSWORD, hash), false);
  s.userDelete({ name: 'bob' });
  assert.deepEqual(invalidated, ['alice', 'bob']);
});
