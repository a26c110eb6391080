// End to end, authentication: the same command scripts (users, roles, permissions, auth enable and
// disable, --user / --password / ETCDCTL_USER, password prompts, and their errors) run with real
// etcdctl against one fresh server and with bin/cairnctl against another of the same kind; stdout,
// stderr and exit codes must agree. Both servers go through the same history; what differs by
// construction (cluster and member IDs, ports) is mapped from the second server's values to the
// first's, and per-run noise (log timestamps, client names) is masked.

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';

import { cairnCluster } from '../support/cairn-cluster.js';
import { leaderOf } from '../support/etcdctl.js';
import { startRealEtcd } from '../support/real-etcd.js';
import { CAIRNCTL, ETCDCTL, maskNoise, runTool, type RunResult } from '../unit/cairnctl/harness.js';

/** A server the scripts run against; each test starts two of them. */
interface Server {
  /** host:port of its client URL. */
  readonly endpoint: string;
}

interface Target {
  readonly name: string;
  /** The API the server speaks: 3.4 has no AuthStatus call (`auth status` is etcdctl 3.5's). */
  readonly api: '3.4' | '3.5';
  /** Starts a fresh single-member server, stopped (by pid) and removed when the test ends. */
  start(t: TestContext): Promise<Server>;
}

/** The servers to compare on: cairnctl and etcdctl must agree on each. */
const targets: readonly Target[] = [
  {
    name: 'etcd 3.4',
    api: '3.4',
    start: async (t) => ({ endpoint: `127.0.0.1:${(await startRealEtcd(t)).clientPort}` }),
  },
  {
    name: 'Cairn',
    api: '3.5',
    start: async (t) => {
      const c = await cairnCluster(t, ['default']);
      c.start(c.members[0]);
      return { endpoint: await leaderOf(c) };
    },
  },
];

interface Step {
  readonly args: readonly string[];
  /** Standard input of both tools (password prompts, --interactive=false). */
  readonly stdin?: string;
  /** ETCDCTL_* variables for both tools. */
  readonly env?: Readonly<Record<string, string>>;
  /** Run both tools against the first server: read-only steps whose output cannot be mapped (protobuf). */
  readonly sameServer?: boolean;
}

const step = (...args: string[]): Step => ({ args });
const withStdin = (stdin: string, ...args: string[]): Step => ({ args, stdin });
const withEnv = (env: Record<string, string>, ...args: string[]): Step => ({ args, env });
const both = (...args: string[]): Step => ({ args, sameServer: true });

const ROOT = ['--user', 'root:rootpw'];

/** Users, roles and permissions with auth off; argument and output-format errors. */
const MANAGEMENT: readonly Step[] = [
  step('role', 'add', 'r1'),
  step('role', 'add', 'r1'),
  step('role', 'add', ''),
  step('role', 'add'),
  step('role', 'add', 'r2', '-w', 'json'),
  step('role', 'add', 'r3', '-w', 'fields'),
  step('role', 'add', 'r4', '-w', 'table'),
  step('role', 'list'),
  step('role', 'list', 'extra'),
  step('role', 'list', '-w', 'json'),
  step('role', 'list', '-w', 'fields'),
  step('role', 'list', '-w', 'table'),
  both('role', 'list', '-w', 'protobuf'),
  step('role', 'get', 'r1'),
  step('role', 'get', 'nope'),
  step('role', 'get', ''),
  step('role', 'grant-permission', 'r1', 'read', 'k1'),
  step('role', 'grant-permission', 'r1', 'readwrite', '/app/', '--prefix'),
  step('role', 'grant-permission', 'r1', 'write', 'a', 'z'),
  step('role', 'grant-permission', 'r1', 'read', 'from', '--from-key'),
  step('role', 'grant-permission', 'r1', 'read', '', '--prefix'),
  step('role', 'grant-permission', 'r1', 'WRITE', '', '--from-key', '-w', 'json'),
  step('role', 'grant-permission', 'r1', 'readWrite', '\u00ff\u00ff', '--prefix', '-w', 'fields'),
  step('role', 'grant-permission', 'r1', 'bad', 'k'),
  step('role', 'grant-permission', 'r1', 'read'),
  step('role', 'grant-permission', 'r1', 'read', 'k', '--prefix', '--from-key'),
  step('role', 'grant-permission', 'r1', 'read', '', '--prefix', '--from-key'),
  step('role', 'grant-permission', 'r1', 'read', 'a', 'b', '--prefix'),
  step('role', 'grant-permission', 'r1', 'read', 'a', 'b', '--from-key'),
  step('role', 'grant-permission', 'nope', 'read', 'k'),
  step('role', 'get', 'r1'),
  step('role', 'get', 'r1', '-w', 'json'),
  step('role', 'get', 'r1', '-w', 'fields'),
  step('role', 'get', 'r1', '-w', 'table'),
  both('role', 'get', 'r1', '-w', 'protobuf'),
  step('role', 'get', 'r1', '--hex'),
  step('user', 'add', 'alice:pw'),
  step('user', 'add', 'alice:pw'),
  step('user', 'add', ':pw'),
  step('user', 'add', ':'),
  step('user', 'add'),
  step('user', 'add', 'a', 'b'),
  step('user', 'add', 'bob', '--new-user-password', 'bobpw'),
  step('user', 'add', 'carol', '--no-password'),
  withStdin('davepw\ndavepw\n', 'user', 'add', 'dave'),
  withStdin('one\ntwo\n', 'user', 'add', 'dave2'),
  withStdin('\n', 'user', 'add', 'dave3'),
  withStdin('', 'user', 'add', 'dave4'),
  withStdin('  spaced pw \r\n  spaced pw\n', 'user', 'add', 'dave5'),
  withStdin('eve pw\n', 'user', 'add', 'eve', '--interactive=false'),
  withStdin('\n', 'user', 'add', 'eve2', '--interactive=false'),
  withStdin('\n', 'user', 'add', ''),
  step('user', 'add', 'frank:pw', '-w', 'json'),
  step('user', 'add', 'gina:pw', '-w', 'fields'),
  step('user', 'add', 'hal:pw', '-w', 'table'),
  step('user', 'add', 'ivy:pw', '-w', 'yaml'),
  step('user', 'list'),
  step('user', 'list', '-w', 'json'),
  step('user', 'list', '-w', 'fields'),
  both('user', 'list', '-w', 'protobuf'),
  step('user', 'grant-role', 'alice', 'r1'),
  step('user', 'grant-role', 'alice', 'r1'),
  step('user', 'grant-role', 'alice', 'r2', '-w', 'json'),
  step('user', 'grant-role', 'alice', 'nope'),
  step('user', 'grant-role', 'nobody', 'r1'),
  step('user', 'grant-role', '', 'r1'),
  step('user', 'grant-role', 'alice'),
  step('user', 'get', 'alice'),
  step('user', 'get', 'bob'),
  step('user', 'get', 'alice', '-w', 'json'),
  step('user', 'get', 'alice', '-w', 'fields'),
  both('user', 'get', 'alice', '-w', 'protobuf'),
  step('user', 'get', 'alice', '--detail'),
  step('user', 'get', 'alice', '--detail', '-w', 'json'),
  step('user', 'get', 'alice', '--detail', '-w', 'fields'),
  step('user', 'get', 'bob', '--detail'),
  step('user', 'get', 'nobody'),
  step('user', 'get', 'nobody', '--detail'),
  step('user', 'get', ''),
  step('user', 'get'),
  step('user', 'revoke-role', 'alice', 'r3'),
  step('user', 'revoke-role', 'alice', 'r2'),
  step('user', 'revoke-role', 'alice', 'r2'),
  step('user', 'revoke-role', 'nobody', 'r2'),
  step('user', 'revoke-role', 'alice'),
  withStdin('alicepw\nalicepw\n', 'user', 'passwd', 'alice'),
  withStdin('x\ny\n', 'user', 'passwd', 'alice'),
  withStdin('\n', 'user', 'passwd', 'alice'),
  withStdin('pw\n', 'user', 'passwd', 'nobody', '--interactive=false'),
  withStdin('pw\n', 'user', 'passwd', 'bob', '--interactive=false', '-w', 'json'),
  step('user', 'passwd'),
  step('role', 'revoke-permission', 'r1', 'k1'),
  step('role', 'revoke-permission', 'r1', 'k1'),
  step('role', 'revoke-permission', 'r1', '/app/', '--prefix'),
  step('role', 'revoke-permission', 'r1', 'from', '--from-key'),
  step('role', 'revoke-permission', 'r1', 'a', 'z'),
  step('role', 'revoke-permission', 'r1', '', '--prefix'),
  step('role', 'revoke-permission', 'r1', '', '--from-key', '-w', 'json'),
  step('role', 'revoke-permission', 'r1', '\u00ff\u00ff', '--prefix', '-w', 'fields'),
  step('role', 'revoke-permission', 'r1'),
  step('role', 'revoke-permission', 'r1', 'a', 'b', '--prefix'),
  step('role', 'revoke-permission', 'nope', 'k'),
  step('role', 'get', 'r1'),
  step('role', 'delete', 'r4'),
  step('role', 'delete', 'r4'),
  step('role', 'delete', 'r3', '-w', 'json'),
  step('role', 'delete'),
  step('user', 'delete', 'carol'),
  step('user', 'delete', 'carol'),
  step('user', 'delete', 'gina', '-w', 'fields'),
  step('user', 'delete'),
  step('user', 'list'),
  step('role', 'list'),
];

/** Turning auth on (etcdctl's root-role bootstrap), then what users see with it on. */
const WITH_AUTH: readonly Step[] = [
  step('auth', 'enable', 'extra'),
  step('auth', 'disable', 'extra'),
  step('auth', 'enable'),
  step('user', 'add', 'root:rootpw'),
  step('auth', 'enable'),
  step('auth', 'enable'),
  step('get', 'foo'),
  step('role', 'list'),
  step(...ROOT, 'auth', 'enable', '-w', 'json'),
  step('--user', 'root:bad', 'get', 'foo'),
  step('--user', 'nobody:pw', 'role', 'list'),
  step('--user', 'root:', 'get', 'foo'),
  step('--user', 'root', '--password', 'bad', 'user', 'list'),
  step(...ROOT, 'user', 'list'),
  step(...ROOT, 'role', 'list'),
  step(...ROOT, 'user', 'get', 'root', '--detail'),
  step('--user', 'root', '--password', 'rootpw', 'role', 'get', 'root'),
  withStdin('rootpw\n', '--user', 'root', 'user', 'get', 'root'),
  withStdin('bad\n', '--user', 'root', 'user', 'get', 'root'),
  withStdin('newpw\nnewpw\nrootpw\n', '--user', 'root', 'user', 'add', 'jack'),
  withEnv({ ETCDCTL_USER: 'root:rootpw' }, 'user', 'get', 'jack'),
  withEnv({ ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: 'rootpw' }, 'role', 'list'),
  withEnv({ ETCDCTL_PASSWORD: 'rootpw' }, 'role', 'list'),
  { args: ['--user', 'root:rootpw', 'role', 'list'], env: { ETCDCTL_USER: 'root:rootpw' } },
  step(...ROOT, 'role', 'grant-permission', 'r1', 'readwrite', '/app/', '--prefix'),
  step(...ROOT, 'role', 'grant-permission', 'r1', 'read', 'shared'),
  step(...ROOT, 'put', '/app/a', '1'),
  step(...ROOT, 'put', 'shared', '2'),
  step(...ROOT, 'put', 'secret', '3'),
  step('--user', 'alice:alicepw', 'get', '/app/a'),
  step('--user', 'alice:alicepw', 'put', '/app/b', '4'),
  step('--user', 'alice:alicepw', 'get', '/app/', '--prefix', '-w', 'json'),
  step('--user', 'alice:alicepw', 'get', 'shared'),
  step('--user', 'alice:alicepw', 'put', 'shared', '5'),
  step('--user', 'alice:alicepw', 'get', 'secret'),
  step('--user', 'alice:alicepw', 'get', '', '--from-key'),
  step('--user', 'alice:alicepw', 'del', '/app/a'),
  step('--user', 'alice:alicepw', 'user', 'list'),
  step('--user', 'alice:alicepw', 'user', 'get', 'alice'),
  step('--user', 'alice:alicepw', 'role', 'add', 'r9'),
  step('--user', 'alice:alicepw', 'auth', 'disable'),
  step('--user', 'alice:wrong', 'get', '/app/a'),
  step('--user', 'bob:bobpw', 'get', '/app/a'),
  step('--user', 'carol:x', 'get', '/app/a'),
  step(...ROOT, 'user', 'delete', 'root'),
  step(...ROOT, 'role', 'delete', 'root'),
  step(...ROOT, 'user', 'revoke-role', 'root', 'root'),
  withStdin('x\nx\n', ...ROOT, 'user', 'passwd', 'alice'),
  step('--user', 'alice:alicepw', 'get', '/app/a'),
  step('--user', 'alice:x', 'get', '/app/a'),
  step(...ROOT, 'get', '', '--from-key', '--keys-only'),
  step(...ROOT, 'auth', 'disable', '-w', 'json'),
  step(...ROOT, 'get', 'shared'),
  step('--user', 'nobody:pw', 'get', 'shared'),
  step('auth', 'disable'),
  step('get', 'secret'),
];

/** etcdctl's texts with the noise of a run masked; `stty` complains on stderr when stdin is no terminal. */
function clean(r: RunResult): RunResult {
  return {
    stdout: maskNoise(r.stdout),
    stderr: maskNoise(r.stderr.replace(/^stty: .*\n/gm, '')),
    code: r.code,
  };
}

interface Ids {
  readonly clusterId: string;
  readonly memberId: string;
}

async function idsOf(server: Server): Promise<Ids> {
  const r = await runTool(ETCDCTL, [`--endpoints=${server.endpoint}`, 'endpoint', 'status', '-w', 'json']);
  const m = /"cluster_id":(\d+),"member_id":(\d+)/.exec(r.stdout);
  assert.ok(m, `no IDs from ${server.endpoint}: ${r.stdout} ${r.stderr}`);
  return { clusterId: m[1], memberId: m[2] };
}

/** Runs steps with etcdctl on server A and cairnctl on server B, recording every disagreement. */
class Comparison {
  readonly mismatches: string[] = [];
  private readonly aliases: [string, string][] = [];

  private constructor(
    private readonly a: Server,
    private readonly b: Server,
  ) {}

  static async start(t: TestContext, target: Target): Promise<Comparison> {
    const [a, b] = await Promise.all([target.start(t), target.start(t)]);
    const c = new Comparison(a, b);
    const [ia, ib] = await Promise.all([idsOf(a), idsOf(b)]);
    c.alias(ib.clusterId, ia.clusterId);
    c.alias(ib.memberId, ia.memberId);
    c.alias(b.endpoint, a.endpoint);
    return c;
  }

  private alias(fromB: string, toA: string): void {
    if (fromB !== toA) this.aliases.push([fromB, toA]);
  }

  private mapB(s: string): string {
    let out = s;
    for (const [from, to] of this.aliases) out = out.split(from).join(to);
    return out;
  }

  async run(s: Step): Promise<void> {
    const options = { stdin: s.stdin ?? '', env: { ...s.env } };
    const on = (server: Server): string[] => [`--endpoints=${server.endpoint}`, ...s.args];
    const bServer = s.sameServer === true ? this.a : this.b;
    const [ra, rb] = await Promise.all([
      runTool(ETCDCTL, on(this.a), options),
      runTool(CAIRNCTL, on(bServer), options),
    ]);
    const expected = clean(ra);
    const got = clean({ stdout: this.mapB(rb.stdout), stderr: this.mapB(rb.stderr), code: rb.code });
    try {
      assert.deepEqual(got, expected);
    } catch (e) {
      this.mismatches.push(`${JSON.stringify(s)}\n${(e as Error).message}`);
    }
  }

  async runAll(steps: readonly Step[]): Promise<void> {
    for (const s of steps) await this.run(s);
  }

  /** Runs one tool on server A (cairnctl-only checks). */
  cairnctl(args: readonly string[], stdin = ''): Promise<RunResult> {
    return runTool(CAIRNCTL, [`--endpoints=${this.a.endpoint}`, ...args], { stdin });
  }

  etcdctl(args: readonly string[], stdin = ''): Promise<RunResult> {
    return runTool(ETCDCTL, [`--endpoints=${this.a.endpoint}`, ...args], { stdin });
  }
}

for (const target of targets) {
  test(`cairnctl auth, user and role commands match etcdctl on ${target.name}`, async (t) => {
    const c = await Comparison.start(t, target);
    await c.runAll(MANAGEMENT);
    await c.runAll(WITH_AUTH);
    assert.deepEqual(c.mismatches, [], c.mismatches.join('\n\n'));
  });

  test(`cairnctl auth enable grants an existing root role where etcdctl 3.4 gives up (${target.name})`, async (t) => {
    const c = await Comparison.start(t, target);
    // User root without role root, while a role named root exists.
    await c.runAll([step('user', 'add', 'root:rootpw'), step('role', 'add', 'root')]);
    assert.deepEqual(c.mismatches, [], c.mismatches.join('\n\n'));

    const e = clean(await c.etcdctl(['auth', 'enable']));
    assert.equal(e.code, 1);
    assert.match(e.stderr, /Error: etcdserver: role name already exists\n$/);

    const r = clean(await c.cairnctl(['auth', 'enable']));
    assert.deepEqual({ stdout: r.stdout, code: r.code }, { stdout: 'Authentication Enabled\n', code: 0 });
    const roles = await c.cairnctl([...ROOT, 'user', 'get', 'root']);
    assert.deepEqual(roles, { stdout: 'User: root\nRoles: root\n', stderr: '', code: 0 });
  });

  test(`cairnctl auth status reports the server's auth state (${target.name})`, async (t) => {
    const c = await Comparison.start(t, target);
    const r = await c.cairnctl(['auth', 'status']);
    if (target.api === '3.4') {
      const text =
        'rpc error: code = Unimplemented desc = unknown method AuthStatus for service etcdserverpb.Auth';
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`Error: ${text.replace(/[()]/g, '\\$&')}\n$`));
    } else {
      assert.match(r.stdout, /^Authentication Status: false\nAuthRevision: \d+\n$/);
      assert.equal(r.code, 0);
    }
    assert.equal(
      (await c.cairnctl(['auth', 'status', 'x'])).stderr,
      'Error: auth status command does not accept any arguments\n',
    );
  });
}
