// cairnctl's auth, user and role commands without a server: permission ranges from the arguments, the
// texts of every output format, --user parsing, stdin reading for password prompts, and the argument
// errors (compared with real etcdctl, which fails the same way before connecting anywhere).

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';

import { Permission_Type, type Permission } from '../../../src/proto/authpb/auth.js';
import type { ResponseHeader } from '../../../src/proto/etcdserverpb/rpc.js';
import { permissionLine, revokedText, roleText, userText } from '../../../src/cli/cairnctl/auth-text.js';
import { permRange } from '../../../src/cli/cairnctl/cmd-role.js';
import { parseUserFlag } from '../../../src/cli/cairnctl/credentials.js';
import { ExitError } from '../../../src/cli/cairnctl/exit.js';
import { authStatusResponse, roleGetResponse, userGetResponse } from '../../../src/cli/cairnctl/json-auth.js';
import { run } from '../../../src/cli/cairnctl/main.js';
import type { Output } from '../../../src/cli/cairnctl/output.js';
import { askNewPassword } from '../../../src/cli/cairnctl/password.js';
import { FieldsPrinter } from '../../../src/cli/cairnctl/print-fields.js';
import { SimplePrinter } from '../../../src/cli/cairnctl/print-simple.js';
import { StdinReader } from '../../../src/cli/cairnctl/stdin-reader.js';
import { CAIRNCTL, ETCDCTL, maskNoise, runTool } from '../cairnctl/harness.js';

const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const perm = (permType: Permission_Type, key: string, rangeEnd = ''): Permission => ({
  permType,
  key: b(key),
  rangeEnd: b(rangeEnd),
});
const latin1 = (buf: Uint8Array): string => Buffer.from(buf).toString('latin1');
/** IDs above 2^53, as real cluster and member IDs are: they must print exactly. */
const HEADER: ResponseHeader = {
  clusterId: 11567015440416752144n,
  memberId: 11115775094564258213n,
  revision: 6n,
  raftTerm: 2n,
};

function capture(): Output & { stdout(): string; stderr(): string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  return {
    out: (d) => out.push(Buffer.from(d)),
    err: (d) => err.push(Buffer.from(d)),
    stdout: () => Buffer.concat(out).toString('latin1'),
    stderr: () => Buffer.concat(err).toString('latin1'),
  };
}

function exitOf(fn: () => unknown): { code: number; text: string | undefined } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ExitError) return { code: e.code, text: e.text };
    throw e;
  }
  assert.fail('expected an ExitError');
}

test('permRange: single key, range, prefix, from-key and the whole key space', () => {
  const r = (args: string[], prefix = false, fromKey = false): [string, string] => {
    const p = permRange(args, prefix, fromKey);
    return [latin1(p.key), latin1(p.rangeEnd)];
  };
  assert.deepEqual(r(['k1']), ['k1', '']);
  assert.deepEqual(r(['a', 'z']), ['a', 'z']);
  assert.deepEqual(r(['a', 'z', 'ignored']), ['a', 'z']);
  assert.deepEqual(r(['/app/'], true), ['/app/', '/app0']);
  // Keys are UTF-8 on the wire: "é" is c3 a9, whose prefix ends at c3 aa.
  assert.deepEqual(r(['\u00e9'], true), ['\xc3\xa9', '\xc3\xaa']);
  assert.deepEqual(r(['from'], false, true), ['from', '\0']);
  // An empty key stands for the whole key space, which the server only accepts from "\0".
  assert.deepEqual(r(['']), ['\0', '']);
  assert.deepEqual(r([''], true), ['\0', '\0']);
  assert.deepEqual(r(['', 'z'], false, true), ['\0', '\0']);
});

test('permRange: the flag conflicts are bad arguments (exit 128) with etcdctl texts', () => {
  const conflict = '--from-key and --prefix flags are mutually exclusive';
  assert.deepEqual(
    exitOf(() => permRange(['k'], true, true)),
    { code: 128, text: conflict },
  );
  assert.deepEqual(
    exitOf(() => permRange([''], true, true)),
    { code: 128, text: conflict },
  );
  assert.deepEqual(
    exitOf(() => permRange(['a', 'b'], true, false)),
    {
      code: 128,
      text: 'unexpected endkey argument with --prefix flag',
    },
  );
  assert.deepEqual(
    exitOf(() => permRange(['a', 'b'], false, true)),
    {
      code: 128,
      text: 'unexpected endkey argument with --from-key flag',
    },
  );
});

test('role get text: keys, ranges, prefixes and open ranges under KV Read and KV Write', () => {
  const perms = [
    perm(Permission_Type.READ, '\0', '\0'),
    perm(Permission_Type.READWRITE, '/app/', '/app0'),
    perm(Permission_Type.WRITE, 'a', 'z'),
    perm(Permission_Type.READ, 'from', '\0'),
    perm(Permission_Type.READ, 'k1'),
    perm(Permission_Type.WRITE, '\xff\xff', '\0'),
  ];
  assert.equal(
    latin1(roleText('r1', perms)),
    'Role r1\nKV Read:\n' +
      '\t[\0, <open ended>\n' +
      '\t[/app/, /app0) (prefix /app/)\n' +
      '\t[from, <open ended>\n' +
      '\tk1\n' +
      'KV Write:\n' +
      '\t[/app/, /app0) (prefix /app/)\n' +
      '\t[a, z)\n' +
      // A prefix of only 0xff bytes ends at "\0": open ended, and still a prefix.
      '\t[\xff\xff, <open ended> (prefix \xff\xff)\n',
  );
  assert.equal(latin1(roleText('empty', [])), 'Role empty\nKV Read:\nKV Write:\n');
  assert.equal(latin1(permissionLine(perm(Permission_Type.READ, '', '\0'))), '\t[, <open ended> (prefix )\n');
});

test('revoke-permission and user get texts', () => {
  assert.equal(latin1(revokedText('r1', 'k1', b(''))), 'Permission of key k1 is revoked from role r1\n');
  assert.equal(
    latin1(revokedText('r1', '/app/', b('/app0'))),
    'Permission of range [/app/, /app0) is revoked from role r1\n',
  );
  assert.equal(
    latin1(revokedText('r1', '', b('\0'))),
    'Permission of range [, <open ended> is revoked from role r1\n',
  );
  assert.equal(userText('alice', ['r1', 'r2']), 'User: alice\nRoles: r1 r2\n');
  assert.equal(userText('bob', []), 'User: bob\nRoles:\n');
});

test('json: exact 64-bit header, permission type as a number (READ omitted), bytes as base64', () => {
  assert.equal(
    roleGetResponse({
      header: HEADER,
      perm: [perm(Permission_Type.READ, 'k1'), perm(Permission_Type.READWRITE, '/app/', '/app0')],
    }),
    '{"header":{"cluster_id":11567015440416752144,"member_id":11115775094564258213,"revision":6,"raft_term":2},' +
      '"perm":[{"key":"azE="},{"permType":2,"key":"L2FwcC8=","range_end":"L2FwcDA="}]}',
  );
  assert.equal(
    userGetResponse({ header: { ...HEADER, revision: 1n }, roles: [] }),
    '{"header":{"cluster_id":11567015440416752144,"member_id":11115775094564258213,"revision":1,"raft_term":2}}',
  );
  assert.equal(userGetResponse({ header: undefined, roles: ['r<1>'] }), '{"roles":["r\\u003c1\\u003e"]}');
  assert.equal(
    authStatusResponse({ header: undefined, enabled: true, authRevision: 12n }),
    '{"enabled":true,"authRevision":12}',
  );
});

test('fields: role get and role list; user get and user list are refused as in etcdctl 3.4', () => {
  const o = capture();
  const p = new FieldsPrinter(o);
  p.roleGet('r1', {
    header: HEADER,
    perm: [perm(Permission_Type.READWRITE, '/app/', '/app0'), perm(0, '\xff')],
  });
  p.roleList({ header: HEADER, roles: ['r1', 'a "b"'] });
  const hdr =
    '"ClusterID" : 11567015440416752144\n"MemberID" : 11115775094564258213\n"Revision" : 6\n"RaftTerm" : 2\n';
  assert.equal(
    o.stdout(),
    hdr +
      '"PermType" :  READWRITE\n"Key" : "/app/"\n"RangeEnd" : "/app0"\n' +
      '"PermType" :  READ\n"Key" : "\\xff"\n"RangeEnd" : ""\n' +
      hdr +
      '"Roles" : "r1" "a \\"b\\""\n',
  );
  assert.deepEqual(
    exitOf(() => p.userGet('alice', { header: HEADER, roles: [] })),
    { code: 4, text: 'fields not supported as output format' },
  );
  assert.deepEqual(
    exitOf(() => p.userList({ header: HEADER, users: [] })),
    {
      code: 4,
      text: 'fields not supported as output format',
    },
  );
});

test('simple: role get writes key bytes as they are', () => {
  const o = capture();
  new SimplePrinter(o, false).roleGet('r', { header: HEADER, perm: [perm(Permission_Type.READ, 'k\xff')] });
  assert.equal(o.stdout(), 'Role r\nKV Read:\n\tk\xff\nKV Write:\n');
});

test('parseUserFlag: name:password, --password, or a prompt', () => {
  assert.equal(parseUserFlag('', ''), undefined);
  assert.equal(parseUserFlag('', 'pw'), undefined);
  assert.deepEqual(parseUserFlag('root:pw', ''), { username: 'root', password: 'pw' });
  assert.deepEqual(parseUserFlag('root:p:w', ''), { username: 'root', password: 'p:w' });
  assert.deepEqual(parseUserFlag('root:', ''), { username: 'root', password: '' });
  assert.deepEqual(parseUserFlag('root', ''), { username: 'root', password: undefined });
  // With --password the whole --user value is the name.
  assert.deepEqual(parseUserFlag('root:x', 'pw'), { username: 'root:x', password: 'pw' });
});

test('StdinReader: lines as speakeasy reads them, words as Scanf("%s"), and the rest', async () => {
  const reader = new StdinReader(
    Readable.from([Buffer.from('one\r\ntw'), Buffer.from('o\n  three four\nfive')]),
  );
  assert.equal(await reader.readLine(), 'one');
  assert.equal(await reader.readLine(), 'two');
  assert.equal(await reader.readWord(), 'three');
  assert.equal(await reader.readWord(), 'four');
  assert.equal((await reader.readAll()).toString(), 'five');
  assert.equal(await reader.readLine(), '');
  assert.equal(await reader.readWord(), '');

  const newlineFirst = new StdinReader(Readable.from([Buffer.from('\nword\n')]));
  assert.equal(await newlineFirst.readWord(), '', 'Scanf fails on a newline before the word');
  const chunks: string[] = [];
  for await (const c of newlineFirst.remaining()) chunks.push(c.toString());
  assert.equal(chunks.join(''), 'word\n');
});

test('new password prompts: both prompts, trimmed answers, etcdctl errors', async () => {
  const ask = async (input: string): Promise<{ out: string; result: string | ExitError }> => {
    const o = capture();
    const stdin = Readable.from([Buffer.from(input)]);
    const src = { o, stdin, reader: new StdinReader(stdin) };
    const result = await askNewPassword(src, 'bob').catch((e: unknown) => {
      if (e instanceof ExitError) return e;
      throw e;
    });
    return { out: o.stdout(), result };
  };
  const ok = await ask(' secret \nsecret\n');
  assert.deepEqual(ok, {
    out: 'Password of bob: \nType password of bob again for confirmation: \n',
    result: 'secret',
  });
  const differ = await ask('a\nb\n');
  assert.ok(differ.result instanceof ExitError);
  assert.deepEqual([differ.result.code, differ.result.text], [128, 'given passwords are different']);
  const empty = await ask('\n');
  assert.equal(empty.out, 'Password of bob: \n');
  assert.ok(empty.result instanceof ExitError);
  assert.deepEqual([empty.result.code, empty.result.text], [128, 'empty password']);
});

test('in process: argument errors end before any connection', async () => {
  const o = capture();
  const code = await run(['role', 'grant-permission', 'r1', 'rw', 'k'], {}, o, Readable.from([]));
  assert.deepEqual([code, o.stdout(), o.stderr()], [128, '', 'Error: invalid permission type: rw\n']);
});

/** Lines that fail before a server is involved: etcdctl and cairnctl must agree byte for byte. */
const OFFLINE: readonly { args: string[]; stdin?: string }[] = [
  { args: ['role', 'grant-permission', 'r1', 'bad', 'k'] },
  { args: ['role', 'grant-permission', 'r1', 'read'] },
  { args: ['role', 'grant-permission', 'r1', 'read', 'k', '--prefix', '--from-key'] },
  { args: ['role', 'revoke-permission', 'r1', 'a', 'b', '--from-key'] },
  { args: ['role', 'revoke-permission', 'r1'] },
  { args: ['role', 'add'] },
  { args: ['role', 'get', 'a', 'b'] },
  { args: ['role', 'delete'] },
  { args: ['role', 'list', 'x'] },
  { args: ['user', 'add'] },
  { args: ['user', 'add', ':pw'] },
  { args: ['user', 'add', 'bob'], stdin: 'one\ntwo\n' },
  { args: ['user', 'add', 'bob'], stdin: '' },
  { args: ['user', 'passwd', 'bob'], stdin: 'x\n\n' },
  { args: ['user', 'passwd'] },
  { args: ['user', 'get'] },
  { args: ['user', 'delete', 'a', 'b'] },
  { args: ['user', 'list', 'x'] },
  { args: ['user', 'grant-role', 'bob'] },
  { args: ['user', 'revoke-role', 'bob'] },
  { args: ['auth', 'enable', 'x'] },
  { args: ['auth', 'disable', 'x'] },
  // The client authenticates while connecting: an unreachable endpoint fails there, exit 2.
  { args: ['--user', 'root:pw', '--dial-timeout', '300ms', 'role', 'list'] },
  { args: ['--user', 'root', '--dial-timeout', '300ms', 'user', 'list'], stdin: 'pw\n' },
];

test('offline errors match etcdctl', async () => {
  // Nothing listens on port 1: any attempt to connect fails.
  const endpoint = '--endpoints=127.0.0.1:1';
  const clean = (r: { stdout: string; stderr: string; code: number }): typeof r => ({
    stdout: maskNoise(r.stdout),
    stderr: maskNoise(r.stderr.replace(/^stty: .*\n/gm, '')),
    code: r.code,
  });
  for (const { args, stdin } of OFFLINE) {
    const [e, c] = await Promise.all([
      runTool(ETCDCTL, [endpoint, ...args], { stdin }),
      runTool(CAIRNCTL, [endpoint, ...args], { stdin }),
    ]);
    assert.deepEqual(clean(c), clean(e), args.join(' '));
  }
});
