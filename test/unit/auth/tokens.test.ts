// Auth tokens: the --auth-token option, simple tokens (in memory, with a TTL refreshed by use) and
// JWTs signed and verified with keys made here (RS256, ES256, HS256).

import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { SignJWT } from 'jose';

import {
  DEFAULT_SIMPLE_TTL_MS,
  JwtTokens,
  SimpleTokens,
  TokenOptionError,
  createTokenProvider,
  parseAuthTokenOption,
  type TokenProvider,
} from '../../../src/auth/tokens.js';

const INVALID_OPTIONS = 'auth: invalid auth options';

// ---- Keys, written once for the whole file ----------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'cairn-tokens-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeKey(name: string, pem: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, pem);
  return path;
}

function pemPair(kind: 'rsa' | 'ec', name: string): { pub: string; priv: string } {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    pub: writeKey(`${name}.pub.pem`, pair.publicKey.export({ type: 'spki', format: 'pem' })),
    priv: writeKey(`${name}.pem`, pair.privateKey.export({ type: 'pkcs8', format: 'pem' })),
  };
}

const rsa = pemPair('rsa', 'rsa');
const rsaOther = pemPair('rsa', 'rsa-other');
const ec = pemPair('ec', 'ec');
const hmac = writeKey('hmac.secret', randomBytes(32).toString('hex'));
const hmacOther = writeKey('hmac-other.secret', randomBytes(32).toString('hex'));

const jwt = (opts: string): TokenProvider => createTokenProvider({ authToken: `jwt,${opts}`, ttlSeconds: 0 });

/** Runs `fn` and checks it throws a TokenOptionError whose message matches `message`. */
function optionError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TokenOptionError, `expected a TokenOptionError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

const base64url = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const payloadOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

// ---- --auth-token ------------------------------------------------------------------------------------

test('parseAuthTokenOption splits the type from its name=value options', () => {
  const simple = parseAuthTokenOption('simple');
  assert.equal(simple.type, 'simple');
  assert.equal(simple.options.size, 0);
  const j = parseAuthTokenOption('jwt,pub-key=/k.pub,priv-key=/k,sign-method=RS256,ttl=10m');
  assert.equal(j.type, 'jwt');
  assert.deepEqual(
    [...j.options],
    [
      ['pub-key', '/k.pub'],
      ['priv-key', '/k'],
      ['sign-method', 'RS256'],
      ['ttl', '10m'],
    ],
  );
});

test('parseAuthTokenOption refuses a repeated or malformed option', () => {
  optionError(() => parseAuthTokenOption('jwt,sign-method=RS256,sign-method=ES256'), INVALID_OPTIONS);
  optionError(() => parseAuthTokenOption('jwt,sign-method'), INVALID_OPTIONS);
  optionError(() => parseAuthTokenOption('jwt,a=b=c'), INVALID_OPTIONS);
  optionError(() => parseAuthTokenOption('jwt,'), INVALID_OPTIONS);
});

test('createTokenProvider builds simple and jwt providers and refuses other types', () => {
  const simple = createTokenProvider({ authToken: 'simple', ttlSeconds: 300 });
  assert.ok(simple instanceof SimpleTokens);
  assert.equal(simple.kind, 'simple');
  const j = jwt(`pub-key=${rsa.pub},priv-key=${rsa.priv},sign-method=RS256`);
  assert.ok(j instanceof JwtTokens);
  assert.equal(j.kind, 'jwt');
  optionError(() => createTokenProvider({ authToken: 'bogus', ttlSeconds: 300 }), INVALID_OPTIONS);
  optionError(() => createTokenProvider({ authToken: '', ttlSeconds: 300 }), INVALID_OPTIONS);
  optionError(() => createTokenProvider({ authToken: 'bogus,x', ttlSeconds: 300 }), INVALID_OPTIONS);
});

test('createTokenProvider gives simple tokens --auth-token-ttl, or the default of 300 s', () => {
  let now = 0;
  const clock = (): number => now;
  const ten = createTokenProvider({ authToken: 'simple', ttlSeconds: 10, now: clock });
  const dflt = createTokenProvider({ authToken: 'simple', ttlSeconds: 0, now: clock });
  assert.equal(DEFAULT_SIMPLE_TTL_MS, 300_000);
  for (const p of [ten, dflt]) {
    p.setEnabled(true);
    p.assign('alice', 'abcdefghijklmnop', 1);
  }
  now = 10_001;
  assert.equal(ten.info('abcdefghijklmnop.1', 1), undefined, 'lapsed after 10 s');
  now = 300_000;
  assert.deepEqual(dflt.info('abcdefghijklmnop.1', 1), { username: 'alice', revision: 1 });
  now = 600_001;
  assert.equal(dflt.info('abcdefghijklmnop.1', 1), undefined, 'lapsed 300 s after its last use');
});

// ---- Simple tokens -------------------------------------------------------------------------------------

test('a simple prefix is 16 random letters', () => {
  const t = new SimpleTokens(1000, () => 0);
  const a = t.prefix();
  assert.match(a, /^[a-zA-Z]{16}$/);
  assert.notEqual(t.prefix(), a);
});

test('assign makes prefix.index and registers it only while auth is on', () => {
  const t = new SimpleTokens(1000, () => 0);
  assert.equal(t.assign('alice', 'abcdefghijklmnop', 7), 'abcdefghijklmnop.7');
  assert.equal(t.info('abcdefghijklmnop.7', 3), undefined, 'not registered while off');
  t.setEnabled(true);
  assert.equal(t.assign('alice', 'abcdefghijklmnop', 8), 'abcdefghijklmnop.8');
  assert.deepEqual(t.info('abcdefghijklmnop.8', 3), { username: 'alice', revision: 3 });
  assert.equal(t.info('abcdefghijklmnop.9', 3), undefined);
  assert.equal(t.assign('alice', '', 9), '', 'an entry with no prefix registers nothing');
  assert.equal(t.info('.9', 3), undefined);
});

test('a simple token stays alive while used and lapses after a TTL without use', () => {
  let now = 1000;
  const t = new SimpleTokens(100, () => now);
  t.setEnabled(true);
  const token = t.assign('alice', 'abcdefghijklmnop', 1) ?? '';
  for (let i = 0; i < 5; i++) {
    now += 100;
    assert.deepEqual(t.info(token, 2), { username: 'alice', revision: 2 }, `use ${i}`);
  }
  now += 101;
  assert.equal(t.info(token, 2), undefined);
  now -= 50;
  assert.equal(t.info(token, 2), undefined, 'once lapsed it is gone');
});

test("invalidateUser ends only that user's tokens; turning auth off forgets every token", () => {
  const t = new SimpleTokens(1000, () => 0);
  t.setEnabled(true);
  const a1 = t.assign('alice', 'aaaaaaaaaaaaaaaa', 1) ?? '';
  const a2 = t.assign('alice', 'bbbbbbbbbbbbbbbb', 2) ?? '';
  const b1 = t.assign('bob', 'cccccccccccccccc', 3) ?? '';
  t.invalidateUser('alice');
  assert.equal(t.info(a1, 1), undefined);
  assert.equal(t.info(a2, 1), undefined);
  assert.deepEqual(t.info(b1, 1), { username: 'bob', revision: 1 });
  t.setEnabled(false);
  t.setEnabled(true);
  assert.equal(t.info(b1, 1), undefined);
});

test('simple tokens are not signed', async () => {
  const t: TokenProvider = new SimpleTokens(1000, () => 0);
  await assert.rejects(t.sign('alice', 1), /not signed/);
});

// ---- JWT -------------------------------------------------------------------------------------------------

test('JWT: a token signed with RS256, ES256 or HS256 gives back its user and auth revision', async () => {
  const providers: [string, TokenProvider][] = [
    ['RS256', jwt(`pub-key=${rsa.pub},priv-key=${rsa.priv},sign-method=RS256`)],
    ['ES256', jwt(`pub-key=${ec.pub},priv-key=${ec.priv},sign-method=ES256`)],
    ['HS256', jwt(`priv-key=${hmac},sign-method=HS256`)],
    ['RS256 from priv-key alone', jwt(`priv-key=${rsa.priv},sign-method=RS256`)],
  ];
  for (const [what, p] of providers) {
    const token = await p.sign('alice', 7);
    assert.equal(token.split('.').length, 3, what);
    assert.deepEqual(await p.info(token, 99), { username: 'alice', revision: 7 }, what);
    assert.equal(p.prefix(), '', what);
    assert.equal(p.assign('alice', '', 5), undefined, `${what}: the proposer signs instead`);
  }
});

test('JWT: an RSA key in PKCS#1 form is accepted', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const path = writeKey('pkcs1.pem', privateKey.export({ type: 'pkcs1', format: 'pem' }));
  const p = jwt(`priv-key=${path},sign-method=RS256`);
  assert.deepEqual(await p.info(await p.sign('bob', 2), 2), { username: 'bob', revision: 2 });
});

test('JWT: the expiry is the ttl option from now, 5 minutes by default', async () => {
  const cases: [string, number][] = [
    ['', 300],
    [',ttl=10m', 600],
    [',ttl=1h30m', 5400],
    [',ttl=90s', 90],
  ];
  for (const [ttl, seconds] of cases) {
    const p = jwt(`priv-key=${hmac},sign-method=HS256${ttl}`);
    const before = Math.floor(Date.now() / 1000);
    const token = await p.sign('alice', 1);
    const afterSign = Math.floor(Date.now() / 1000);
    const exp = payloadOf(token).exp;
    assert.equal(typeof exp, 'number');
    assert.ok(
      (exp as number) >= before + seconds && (exp as number) <= afterSign + seconds,
      `${ttl}: ${exp}`,
    );
  }
});

test('JWT: a token from another key, a tampered token or an expired token is not valid', async () => {
  const p = jwt(`pub-key=${rsa.pub},priv-key=${rsa.priv},sign-method=RS256`);
  const other = jwt(`pub-key=${rsaOther.pub},priv-key=${rsaOther.priv},sign-method=RS256`);
  assert.equal(await p.info(await other.sign('alice', 1), 1), undefined, 'another RSA key');
  const hs = jwt(`priv-key=${hmac},sign-method=HS256`);
  const hsOther = jwt(`priv-key=${hmacOther},sign-method=HS256`);
  assert.equal(await hs.info(await hsOther.sign('alice', 1), 1), undefined, 'another secret');
  assert.equal(await p.info(await hs.sign('alice', 1), 1), undefined, 'another algorithm');
  const ecp = jwt(`pub-key=${ec.pub},priv-key=${ec.priv},sign-method=ES256`);
  assert.equal(await p.info(await ecp.sign('alice', 1), 1), undefined, 'an ES256 token for RS256');

  const good = await p.sign('alice', 1);
  const [head, body, sig] = good.split('.');
  const claims = payloadOf(good);
  const forged = `${head}.${base64url({ ...claims, username: 'root' })}.${sig}`;
  assert.equal(await p.info(forged, 1), undefined, 'payload changed');
  assert.equal(await p.info(`${head}.${body}.`, 1), undefined, 'signature removed');
  const unsigned = `${base64url({ alg: 'none' })}.${body}.`;
  assert.equal(await p.info(unsigned, 1), undefined, 'alg none');
  assert.equal(await p.info('not a token', 1), undefined);
  assert.deepEqual(await p.info(good, 1), { username: 'alice', revision: 1 }, 'the original still is');

  const key = createPrivateKey(readFileSync(rsa.priv));
  const expired = await new SignJWT({ username: 'alice', revision: 1 })
    .setProtectedHeader({ alg: 'RS256' })
    .setExpirationTime(1_000_000)
    .sign(key);
  assert.equal(await p.info(expired, 1), undefined, 'expired long ago');
  const noRevision = await new SignJWT({ username: 'alice' })
    .setProtectedHeader({ alg: 'RS256' })
    .setExpirationTime('1h')
    .sign(key);
  assert.equal(await p.info(noRevision, 1), undefined, 'claims missing');
  const fine = await new SignJWT({ username: 'alice', revision: 4 })
    .setProtectedHeader({ alg: 'RS256' })
    .setExpirationTime('1h')
    .sign(key);
  assert.deepEqual(await p.info(fine, 1), { username: 'alice', revision: 4 }, 'the crafting itself is sound');
});

test('JWT: with ttl=0s a token has expired as soon as it is made', async () => {
  const p = jwt(`priv-key=${hmac},sign-method=HS256,ttl=0s`);
  assert.equal(await p.info(await p.sign('alice', 1), 1), undefined);
});

test('JWT: a member with only the public key verifies tokens but cannot sign', async () => {
  const signer = jwt(`pub-key=${ec.pub},priv-key=${ec.priv},sign-method=ES256`);
  const verifier = jwt(`pub-key=${ec.pub},sign-method=ES256`);
  const token = await signer.sign('alice', 3);
  assert.deepEqual(await verifier.info(token, 3), { username: 'alice', revision: 3 });
  await assert.rejects(verifier.sign('alice', 3), TokenOptionError);
});

test('JWT: bad options are refused when the provider is built', () => {
  optionError(
    () => jwt(`pub-key=${rsa.pub},priv-key=${rsa.priv},sign-method=XS256`),
    'auth: invalid auth options: unsupported sign-method "XS256"',
  );
  optionError(() => jwt(`pub-key=${rsa.pub},priv-key=${rsa.priv}`), /unsupported sign-method ""/);
  optionError(() => jwt(`pub-key=${rsa.pub},sign-method=HS256`), /HMAC needs priv-key/);
  optionError(() => jwt('sign-method=RS256'), /no key given/);
  optionError(() => jwt(`priv-key=${join(dir, 'missing.pem')},sign-method=RS256`), /cannot read priv-key/);
  optionError(() => jwt(`priv-key=${hmac},sign-method=RS256`), /invalid key for RS256/);
  optionError(() => jwt(`priv-key=${hmac},sign-method=HS256,ttl=5 minutes`), /invalid ttl/);
  optionError(() => jwt(`priv-key=${hmac},sign-method=HS256,ttl=`), /invalid ttl/);
  optionError(() => jwt(`priv-key=${hmac},sign-method=HS256,ttl=10`), /invalid ttl/);
});

test('JWT: sessions are not kept, so invalidating and switching auth off change nothing here', async () => {
  const p = jwt(`priv-key=${hmac},sign-method=HS256`);
  const token = await p.sign('alice', 2);
  p.invalidateUser('alice');
  p.setEnabled(false);
  assert.deepEqual(await p.info(token, 2), { username: 'alice', revision: 2 });
});
