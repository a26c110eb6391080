// Auth tokens, chosen with --auth-token as etcd does: `simple` (the default) or
// `jwt,pub-key=FILE,priv-key=FILE,sign-method=RS256[,ttl=5m]`.
//
// A simple token is `<16 random letters>.<raft index of the Authenticate entry>`. The proposing member
// picks the letters; every member registers the token when it applies the entry, so the client may
// present it to any member. It is a bearer secret kept in memory only: it lapses after --auth-token-ttl
// without use, when its user is deleted or changes password, when auth is turned off, and when the
// member restarts (clients then authenticate again, as with etcd).
//
// A JWT carries the user name, the auth revision it was issued at and an expiry, signed with the
// member's key; any member holding the public key verifies it without shared state.

import { createPrivateKey, createPublicKey, createSecretKey, randomInt, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { SignJWT, jwtVerify } from 'jose';

import type { AuthInfo } from './store.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SIMPLE_PREFIX_LENGTH = 16;
/** etcd's default --auth-token-ttl (seconds 300). */
export const DEFAULT_SIMPLE_TTL_MS = 300_000;
/** etcd's default lifetime of a JWT when the option leaves it out. */
const DEFAULT_JWT_TTL_MS = 5 * 60 * 1000;

export interface TokenProvider {
  readonly kind: 'simple' | 'jwt';
  /** What the proposer puts in the Authenticate entry (simple: the random part; jwt: nothing). */
  prefix(): string;
  /**
   * Applying Authenticate, on every member: a simple provider registers and returns the token; a
   * JWT provider returns undefined and the proposer signs with `sign` afterwards.
   */
  assign(username: string, prefix: string, index: number): string | undefined;
  sign(username: string, revision: number): Promise<string>;
  /** Who a token belongs to, checked at the store's current auth revision; undefined if not valid. */
  info(token: string, currentRevision: number): Promise<AuthInfo | undefined> | AuthInfo | undefined;
  invalidateUser(username: string): void;
  /** Auth turned on or off: turning it off forgets every session. */
  setEnabled(enabled: boolean): void;
}

export class TokenOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenOptionError';
  }
}

/** The parts of --auth-token: the type and its `name=value` options. */
export function parseAuthTokenOption(value: string): { type: string; options: Map<string, string> } {
  const [type, ...rest] = value.split(',');
  const options = new Map<string, string>();
  for (const pair of rest) {
    const parts = pair.split('=');
    if (parts.length !== 2 || options.has(parts[0])) throw new TokenOptionError('auth: invalid auth options');
    options.set(parts[0], parts[1]);
  }
  return { type, options };
}

export interface TokenProviderOptions {
  /** --auth-token */
  readonly authToken: string;
  /** --auth-token-ttl, seconds (simple tokens) */
  readonly ttlSeconds: number;
  readonly now?: () => number;
}

/** Builds the provider --auth-token names; reads key files now, so bad ones stop the start-up. */
export function createTokenProvider(o: TokenProviderOptions): TokenProvider {
  const { type, options } = parseAuthTokenOption(o.authToken);
  const now = o.now ?? Date.now;
  if (type === 'simple')
    return new SimpleTokens(o.ttlSeconds > 0 ? o.ttlSeconds * 1000 : DEFAULT_SIMPLE_TTL_MS, now);
  if (type === 'jwt') return JwtTokens.fromOptions(options);
  throw new TokenOptionError('auth: invalid auth options');
}

export class SimpleTokens implements TokenProvider {
  readonly kind = 'simple';
  /** token -> user and when it lapses */
  private readonly tokens = new Map<string, { username: string; expires: number }>();
  private enabled = false;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  prefix(): string {
    let s = '';
    for (let i = 0; i < SIMPLE_PREFIX_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
    return s;
  }

  assign(username: string, prefix: string, index: number): string | undefined {
    // An entry proposed by a member using JWTs carries no prefix: there is nothing to register.
    if (prefix === '') return '';
    const token = `${prefix}.${index}`;
    if (this.enabled) {
      this.sweep();
      this.tokens.set(token, { username, expires: this.now() + this.ttlMs });
    }
    return token;
  }

  sign(): Promise<string> {
    return Promise.reject(new Error('auth: simple tokens are not signed'));
  }

  info(token: string, currentRevision: number): AuthInfo | undefined {
    const t = this.tokens.get(token);
    if (t === undefined) return undefined;
    const now = this.now();
    if (now > t.expires) {
      this.tokens.delete(token);
      return undefined;
    }
    // Each use keeps the session alive for another TTL.
    t.expires = now + this.ttlMs;
    return { username: t.username, revision: currentRevision };
  }

  invalidateUser(username: string): void {
    for (const [token, t] of this.tokens) if (t.username === username) this.tokens.delete(token);
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    if (!enabled) this.tokens.clear();
  }

  /** Drops lapsed tokens, so abandoned sessions do not pile up. */
  private sweep(): void {
    const now = this.now();
    for (const [token, t] of this.tokens) if (now > t.expires) this.tokens.delete(token);
  }
}

type JwtAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'HS256'
  | 'HS384'
  | 'HS512';

const ALGORITHMS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
];

/** A Go duration as the ttl option takes it (`10m`, `1h30m`, `90s`). */
function parseGoDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * unit[m[2]];
    matched = re.lastIndex;
  }
  if (s === '' || matched !== s.length) throw new TokenOptionError(`auth: invalid ttl "${s}"`);
  return total;
}

export class JwtTokens implements TokenProvider {
  readonly kind = 'jwt';

  constructor(
    private readonly algorithm: JwtAlgorithm,
    private readonly signingKey: KeyObject | undefined,
    private readonly verifyKey: KeyObject,
    private readonly ttlMs: number,
  ) {}

  static fromOptions(options: ReadonlyMap<string, string>): JwtTokens {
    const method = options.get('sign-method') ?? '';
    if (!ALGORITHMS.includes(method)) {
      throw new TokenOptionError(`auth: invalid auth options: unsupported sign-method "${method}"`);
    }
    const algorithm = method as JwtAlgorithm;
    const ttlMs = options.has('ttl') ? parseGoDuration(options.get('ttl') ?? '') : DEFAULT_JWT_TTL_MS;
    const read = (name: string): Buffer | undefined => {
      const path = options.get(name);
      if (path === undefined) return undefined;
      try {
        return readFileSync(path);
      } catch (e) {
        throw new TokenOptionError(`auth: cannot read ${name} ${path}: ${(e as Error).message}`);
      }
    };
    const priv = read('priv-key');
    const pub = read('pub-key');
    try {
      if (algorithm.startsWith('HS')) {
        // The secret of an HMAC method is the content of priv-key.
        if (priv === undefined) throw new TokenOptionError('auth: invalid auth options: HMAC needs priv-key');
        const secret = createSecretKey(priv);
        return new JwtTokens(algorithm, secret, secret, ttlMs);
      }
      const signingKey = priv === undefined ? undefined : createPrivateKey(priv);
      const verifyKey =
        pub !== undefined
          ? createPublicKey(pub)
          : signingKey !== undefined
            ? createPublicKey(signingKey)
            : undefined;
      if (verifyKey === undefined) throw new TokenOptionError('auth: invalid auth options: no key given');
      return new JwtTokens(algorithm, signingKey, verifyKey, ttlMs);
    } catch (e) {
      if (e instanceof TokenOptionError) throw e;
      throw new TokenOptionError(`auth: invalid key for ${algorithm}: ${(e as Error).message}`);
    }
  }

  prefix(): string {
    return '';
  }

  assign(): undefined {
    return undefined;
  }

  async sign(username: string, revision: number): Promise<string> {
    // A member with only the public key verifies tokens but cannot issue them (etcd's verify-only mode).
    if (this.signingKey === undefined)
      throw new TokenOptionError('auth: this member has no private key to sign tokens');
    return new SignJWT({ username, revision })
      .setProtectedHeader({ alg: this.algorithm })
      .setExpirationTime(Math.floor((Date.now() + this.ttlMs) / 1000))
      .sign(this.signingKey);
  }

  async info(token: string): Promise<AuthInfo | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.verifyKey, { algorithms: [this.algorithm] });
      const { username, revision } = payload;
      if (typeof username !== 'string' || typeof revision !== 'number') return undefined;
      return { username, revision };
    } catch {
      return undefined;
    }
  }

  invalidateUser(): void {
    // Signed tokens cannot be withdrawn; the auth revision in them makes old ones fail instead.
  }

  setEnabled(): void {}
}
