// Authentication and role-based access end to end: real etcdctl against a Cairn member and against
// real etcd 3.4.23, the same script on both, and the answers compared (output, error text, exit code)
// for every RPC with an allowed and a refused caller. Then what a script cannot show: tokens across
// members, token lifetime, old tokens after a permission change (JWT), restart, and snapshots that
// carry users and roles between Cairn and etcd both ways.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { CAIRN_BIN, cairnCluster, waitFor } from '../support/cairn-cluster.js';
import { clientCertAuthFlags, makeTestCerts } from '../support/certs.js';
import { ETCDCTL, leaderOf } from '../support/etcdctl.js';
import { freePort, startRealEtcd } from '../support/real-etcd.js';
import { CAIRNUTL_BIN, runTool, tempDir, type ToolRun } from '../support/tools.js';

/** etcdctl with `input` on stdin (txn reads its operations there). */
function ctl(endpoint: string, args: readonly string[], input = ''): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = execFile(
      ETCDCTL,
      ['--endpoints', endpoint, '--command-timeout', '5s', ...args],
      { env: { PATH: process.env.PATH, ETCDCTL_API: '3' }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

/** What must match between the two servers: the client's own JSON log lines and IDs aside. */
function comparable(r: ToolRun): string {
  const strip = (s: string): string =>
    s
      .split('\n')
      .filter((l) => !l.startsWith('{"level"'))
      .join('\n')
      // etcdctl prints member IDs with %x: a leading zero nibble makes them shorter than 16 digits.
      .replace(/\b[0-9a-f]{12,16}\b/g, '<id>')
      .replace(/127\.0\.0\.1:\d+/g, '<endpoint>');
  return `exit ${r.code}\n${strip(r.stdout)}\n${strip(r.stderr)}`;
}

interface Step {
  readonly args: readonly string[];
  readonly input?: string;
}

const as = (user: string, ...args: string[]): Step => ({ args: ['--user', user, ...args] });
const ROOT = 'root:rootpw';
const ALICE = 'alice:alicepw';
const BOB = 'bob:bobpw';

/**
 * Alice may read and write /app/ (prefix) and read /shared; bob holds no role. Each RPC is run by a
 * caller that may and by one that may not.
 */
const SCRIPT: readonly Step[] = [
  // Set-up while auth is off, and its mistakes.
  { args: ['user', 'add', `root:rootpw`] },
  { args: ['user', 'add', ALICE] },
  { args: ['user', 'add', BOB] },
  { args: ['user', 'add', ALICE] },
  { args: ['role', 'add', 'app'] },
  { args: ['role', 'add', 'app'] },
  { args: ['role', 'grant-permission', 'app', 'readwrite', '/app/', '--prefix=true'] },
  { args: ['role', 'grant-permission', 'app', 'read', '/shared'] },
  { args: ['role', 'grant-permission', 'missing', 'read', '/x'] },
  { args: ['user', 'grant-role', 'alice', 'app'] },
  { args: ['user', 'grant-role', 'alice', 'missing'] },
  { args: ['user', 'grant-role', 'nobody', 'app'] },
  { args: ['user', 'revoke-role', 'bob', 'app'] },
  { args: ['role', 'revoke-permission', 'app', '/nothing'] },
  { args: ['role', 'get', 'app'] },
  { args: ['user', 'get', 'alice'] },
  { args: ['user', 'list'] },
  { args: ['role', 'list'] },
  { args: ['put', '/shared', 'everyone'] },
  { args: ['auth', 'enable'] },
  // No credentials, wrong password, unknown user.
  { args: ['get', '/app/a'] },
  { args: ['put', '/app/a', '1'] },
  as('alice:wrong', 'get', '/app/a'),
  as('nobody:pw', 'get', '/app/a'),
  // KV
  as(ALICE, 'put', '/app/a', '1'),
  as(BOB, 'put', '/app/a', '2'),
  as(ALICE, 'put', '/shared', 'mine'),
  as(ALICE, 'get', '/app/a'),
  as(BOB, 'get', '/app/a'),
  as(ALICE, 'get', '/app/', '--prefix'),
  as(ALICE, 'get', '/ap', '--prefix'),
  as(ALICE, 'get', '/shared'),
  as(ALICE, 'get', '/app/', '--from-key'),
  as(ROOT, 'get', '/app/', '--from-key'),
  as(ALICE, 'del', '/app/a', '--prev-kv'),
  as(BOB, 'del', '/app/a'),
  as(ALICE, 'put', '/app/b', 'x'),
  { args: ['--user', ALICE, 'txn'], input: 'value("/app/b") = "x"\n\nput /app/c y\n\nget /app/b\n\n' },
  { args: ['--user', ALICE, 'txn'], input: 'value("/shared") = "everyone"\n\nput /app/c z\n\n\n' },
  { args: ['--user', ALICE, 'txn'], input: 'value("/app/b") = "x"\n\nput /shared nope\n\n\n' },
  { args: ['--user', BOB, 'txn'], input: '\nget /app/b\n\n\n' },
  as(ALICE, 'compaction', '1'),
  // Watch outside the caller's range: created and canceled at once.
  as(BOB, 'watch', '/app/a'),
  // Leases: anyone may grant; writing keys onto a lease and revoking it need write on its keys.
  as(ALICE, 'lease', 'list'),
  // Cluster
  as(ALICE, 'member', 'list'),
  as(ALICE, 'member', 'add', 'x', '--peer-urls=http://127.0.0.1:9'),
  { args: ['member', 'remove', '1'] },
  // Maintenance: status for all; defragment, hash, snapshot for root only (etcd's "auth:" errors).
  as(ALICE, 'defrag'),
  { args: ['defrag'] },
  as(ALICE, 'endpoint', 'hashkv'),
  as(ALICE, 'alarm', 'list'),
  // Auth management
  as(ALICE, 'user', 'get', 'alice'),
  as(ALICE, 'user', 'get', 'bob'),
  as(ALICE, 'role', 'get', 'app'),
  as(BOB, 'role', 'get', 'app'),
  as(ALICE, 'user', 'list'),
  as(ALICE, 'user', 'add', 'eve:pw'),
  as(ALICE, 'role', 'add', 'r2'),
  as(ROOT, 'user', 'delete', 'root'),
  as(ROOT, 'user', 'revoke-role', 'root', 'root'),
  as(ROOT, 'role', 'delete', 'root'),
  as(ROOT, 'role', 'get', 'root'),
  // A revoked permission is gone at once; a deleted role leaves its users.
  as(ROOT, 'role', 'revoke-permission', 'app', '/shared'),
  as(ALICE, 'get', '/shared'),
  as(ROOT, 'user', 'passwd', 'alice', '--interactive=false'),
  as(ROOT, 'role', 'delete', 'app'),
  as(ROOT, 'user', 'get', 'alice'),
  as(ALICE, 'get', '/app/b'),
  as(ROOT, 'auth', 'disable'),
  { args: ['get', '/app/b'] },
];

test(
  'etcdctl against Cairn and etcd 3.4.23: the same answers for every RPC, allowed and refused',
  { timeout: 240_000 },
  async (t) => {
    const etcd = await startRealEtcd(t);
    const c = await cairnCluster(t, ['default'], 'auth-script');
    c.start(c.members[0]);
    const cairn = await leaderOf(c);
    const targets = [
      { name: 'etcd', endpoint: etcd.clientUrl.replace('http://', '') },
      { name: 'cairn', endpoint: cairn },
    ];
    for (const step of SCRIPT) {
      // passwd reads the new password from stdin when not interactive.
      const input = step.input ?? (step.args.includes('passwd') ? 'alicepw\n' : '');
      const got: string[] = [];
      for (const target of targets) got.push(comparable(await ctl(target.endpoint, step.args, input)));
      assert.equal(got[1], got[0], `etcdctl ${step.args.join(' ')}`);
    }
  },
);

/** POST to the JSON gateway; returns the status and the parsed body. */
async function gateway(
  url: string,
  path: string,
  body: object,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = token;
  const res = await fetch(`${url}/v3${path}`, { method: 'POST', body: JSON.stringify(body), headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function enableAuth(endpoint: string): Promise<void> {
  for (const args of [
    ['user', 'add', 'root:rootpw'],
    ['user', 'add', 'alice:alicepw'],
    ['role', 'add', 'app'],
    ['role', 'grant-permission', 'app', 'readwrite', '/app/', '--prefix=true'],
    ['user', 'grant-role', 'alice', 'app'],
    ['auth', 'enable'],
  ]) {
    const r = await ctl(endpoint, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
}

test(
  'three members: a simple token works on every member, lapses unused, and auth survives a restart',
  { timeout: 120_000 },
  async (t) => {
    const c = await cairnCluster(t, ['a1', 'a2', 'a3'], 'auth-cluster', {
      flags: () => ['--auth-token-ttl', '2'],
    });
    for (const m of c.members) c.start(m);
    const leader = await leaderOf(c);
    await enableAuth(leader);

    const [m1, m2, m3] = c.members;
    const login = await gateway(m1.clientUrl, '/auth/authenticate', { name: 'alice', password: 'alicepw' });
    assert.equal(login.status, 200);
    const token = String(login.body['token']);
    assert.match(token, /^[a-zA-Z]{16}\.\d+$/);
    // Registered on every member when the Authenticate entry applied there.
    const put = await gateway(m2.clientUrl, '/kv/put', { key: b64('/app/k'), value: b64('v') }, token);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const get = await waitFor('the key on the third member', async () => {
      const r = await gateway(m3.clientUrl, '/kv/range', { key: b64('/app/k') }, token);
      return r.status === 200 && Array.isArray(r.body['kvs']) ? r : undefined;
    });
    assert.equal(get.status, 200);
    const outside = await gateway(m3.clientUrl, '/kv/range', { key: b64('/other') }, token);
    assert.deepEqual(outside.body, {
      error: 'etcdserver: permission denied',
      message: 'etcdserver: permission denied',
      code: 7,
    });
    // Unused for longer than --auth-token-ttl (2 s): gone.
    await new Promise((r) => setTimeout(r, 3500));
    const lapsed = await gateway(m1.clientUrl, '/kv/range', { key: b64('/app/k') }, token);
    assert.equal(lapsed.status, 401);
    assert.equal(lapsed.body['error'], 'etcdserver: invalid auth token');

    // A restart of the whole cluster keeps users, roles and the enabled flag.
    for (const m of c.members) await c.kill(m, 'SIGTERM');
    for (const m of c.members) c.start(m);
    const after = await leaderOf(c);
    const noCreds = await ctl(after, ['get', '/app/k']);
    assert.equal(noCreds.code, 1);
    assert.match(noCreds.stderr, /Error: etcdserver: user name is empty/);
    const alice = await ctl(after, ['--user', 'alice:alicepw', 'get', '/app/k']);
    assert.equal(alice.stdout, '/app/k\nv\n');
    const list = await ctl(after, ['--user', 'root:rootpw', 'user', 'list']);
    assert.equal(list.stdout, 'alice\nroot\n');
  },
);

test(
  'JWT tokens: signed with the member key, checked on another member, refused once permissions change',
  { timeout: 120_000 },
  async (t) => {
    const dir = tempDir(t);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const priv = join(dir, 'jwt.key');
    const pub = join(dir, 'jwt.pub');
    writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const jwt = `jwt,pub-key=${pub},priv-key=${priv},sign-method=RS256,ttl=10m`;
    const c = await cairnCluster(t, ['j1', 'j2'], 'auth-jwt', { flags: () => ['--auth-token', jwt] });
    for (const m of c.members) c.start(m);
    await enableAuth(await leaderOf(c));

    const login = await gateway(c.members[0].clientUrl, '/auth/authenticate', {
      name: 'alice',
      password: 'alicepw',
    });
    const token = String(login.body['token']);
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims['username'], 'alice');
    assert.equal(typeof claims['revision'], 'number');
    const ok = await gateway(
      c.members[1].clientUrl,
      '/kv/put',
      { key: b64('/app/j'), value: b64('1') },
      token,
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.body));

    // Any change to users or roles moves the auth revision: the old token is refused, a new one works.
    const grant = await ctl(await leaderOf(c), ['--user', 'root:rootpw', 'role', 'add', 'other']);
    assert.equal(grant.code, 0, grant.stderr);
    const stale = await waitFor('the role change on the second member', async () => {
      const r = await gateway(
        c.members[1].clientUrl,
        '/kv/put',
        { key: b64('/app/j'), value: b64('2') },
        token,
      );
      return r.status === 200 ? undefined : r;
    });
    assert.equal(stale.body['error'], 'etcdserver: revision of auth store is old');
    const forged = `${token.slice(0, -4)}AAAA`;
    const bad = await gateway(c.members[1].clientUrl, '/kv/range', { key: b64('/app/j') }, forged);
    assert.equal(bad.body['error'], 'etcdserver: invalid auth token');
    const again = await ctl(c.endpoints(), [
      '--user',
      'alice:alicepw',
      'get',
      '/app/j',
      '--print-value-only',
    ]);
    assert.equal(again.stdout, '1\n');
  },
);

test(
  'snapshots carry users and roles: Cairn to etcd and etcd to Cairn, passwords still good',
  { timeout: 180_000 },
  async (t) => {
    const dir = tempDir(t);
    // Cairn -> etcd
    const c = await cairnCluster(t, ['s1'], 'auth-snap');
    c.start(c.members[0]);
    const ep = await leaderOf(c);
    await enableAuth(ep);
    assert.equal((await ctl(ep, ['--user', 'alice:alicepw', 'put', '/app/s', 'from-cairn'])).code, 0);
    const fromCairn = join(dir, 'cairn.db');
    const refused = await ctl(ep, ['--user', 'alice:alicepw', 'snapshot', 'save', fromCairn]);
    // etcdctl exits 5 when a snapshot fails; the error is etcd 3.4's own text (code Unknown).
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /auth: permission denied/);
    const saved = await ctl(ep, ['--user', 'root:rootpw', 'snapshot', 'save', fromCairn]);
    assert.equal(saved.code, 0, saved.stderr);
    const peerPort = await freePort();
    const etcdDir = join(dir, 'etcd-restored');
    const restored = await runTool(ETCDCTL, [
      'snapshot',
      'restore',
      fromCairn,
      '--name',
      'default',
      '--data-dir',
      etcdDir,
      '--initial-cluster',
      `default=http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
    const etcd = await startRealEtcd(t, { dataDir: etcdDir, peerPort });
    const etcdEp = etcd.clientUrl.replace('http://', '');
    assert.equal((await ctl(etcdEp, ['get', '/app/s'])).code, 1);
    const onEtcd = await ctl(etcdEp, ['--user', 'alice:alicepw', 'get', '/app/s', '--print-value-only']);
    assert.equal(onEtcd.stdout, 'from-cairn\n', onEtcd.stderr);

    // etcd -> Cairn: a user etcd made (its own bcrypt hash) logs in on Cairn.
    assert.equal((await ctl(etcdEp, ['--user', 'root:rootpw', 'user', 'add', 'carol:carolpw'])).code, 0);
    assert.equal(
      (await ctl(etcdEp, ['--user', 'root:rootpw', 'user', 'grant-role', 'carol', 'app'])).code,
      0,
    );
    const fromEtcd = join(dir, 'etcd.db');
    assert.equal((await ctl(etcdEp, ['--user', 'root:rootpw', 'snapshot', 'save', fromEtcd])).code, 0);
    const m = await c.newMember('r1');
    const cairnRestore = await runTool(CAIRNUTL_BIN, [
      'snapshot',
      'restore',
      fromEtcd,
      '--name',
      'r1',
      '--data-dir',
      m.dataDir,
      '--initial-cluster',
      `r1=${m.peerUrl}`,
      '--initial-advertise-peer-urls',
      m.peerUrl,
    ]);
    assert.equal(cairnRestore.code, 0, cairnRestore.stderr);
    await c.kill(c.members[0]);
    c.start(m, ['--initial-cluster', `r1=${m.peerUrl}`]);
    const restoredEp = m.clientUrl.replace('http://', '');
    const carol = await waitFor('the restored member', async () => {
      const r = await ctl(restoredEp, ['--user', 'carol:carolpw', 'get', '/app/s', '--print-value-only']);
      return r.code === 0 ? r : undefined;
    });
    assert.equal(carol.stdout, 'from-cairn\n');
    const denied = await ctl(restoredEp, ['--user', 'carol:carolpw', 'get', '/elsewhere']);
    assert.match(denied.stderr, /Error: etcdserver: permission denied/);
  },
);

test(
  'a verified client certificate names the user when no token is sent (CN "root")',
  { timeout: 60_000 },
  async (t) => {
    const certs = makeTestCerts(t);
    const c = await cairnCluster(t, ['t1'], 'auth-cn', {
      clientScheme: 'https',
      flags: () => [...clientCertAuthFlags(certs)],
    });
    c.start(c.members[0]);
    const ep = c.members[0].clientUrl.replace('https://', '');
    const tls = ['--cacert', certs.ca.cert, '--cert', certs.client.cert, '--key', certs.client.key];
    await waitFor('the TLS member', async () => {
      const r = await ctl(ep, [...tls, 'endpoint', 'health']);
      return r.code === 0 ? r : undefined;
    });
    for (const args of [
      ['user', 'add', 'root', '--no-password'],
      ['user', 'grant-role', 'root', 'root'],
      ['auth', 'enable'],
    ]) {
      const r = await ctl(ep, [...tls, ...args]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    // No --user: the certificate's CN "root" is the caller, and root may do anything.
    const put = await ctl(ep, [...tls, 'put', 'k', 'v']);
    assert.equal(put.stdout, 'OK\n', put.stderr);
    const list = await ctl(ep, [...tls, 'user', 'list']);
    assert.equal(list.stdout, 'root\n', list.stderr);
    // A user without a password cannot log in with one.
    const login = await ctl(ep, [...tls, '--user', 'root:anything', 'get', 'k']);
    assert.match(login.stderr, /authentication failed, invalid user ID or password/);
  },
);

test('a JWT key that cannot be used stops the member before it touches its data dir', async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'never.etcd');
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a key\n');
  for (const [option, message] of [
    [`jwt,pub-key=${garbage},priv-key=${garbage},sign-method=RS256`, /cairn: auth: invalid key for RS256/],
    [`jwt,priv-key=${join(dir, 'missing.pem')},sign-method=RS256`, /cairn: auth: cannot read priv-key/],
    [`jwt,priv-key=${garbage},sign-method=XY123`, /unsupported sign-method "XY123"/],
    ['jwt,pub-key', /auth: invalid auth options/],
  ] as const) {
    const r = await runTool(process.execPath, [CAIRN_BIN, '--data-dir', dataDir, '--auth-token', option]);
    assert.notEqual(r.code, 0, option);
    assert.match(r.stderr, message);
    assert.equal(existsSync(dataDir), false, option);
  }
});
