// The auth token of a client created with a user name and password: fetched with Auth/Authenticate on
// first use, sent as the `token` metadata of every call and stream, and fetched again when the server
// says it is no longer good (as clientv3 does). A server with auth disabled answers Authenticate with
// "authentication is not enabled"; the client then goes on without a token.

import { EtcdError } from './errors.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** Where a fetch must end: an absolute time (ms since the epoch, Infinity for none) and a cancel signal. */
export interface FetchLimits {
  readonly deadline: number;
  readonly signal?: AbortSignal;
}

/** Asks the server for a token (the Authenticate call, sent without a token). */
export type TokenFetcher = (credentials: Credentials, limits: FetchLimits) => Promise<string>;

const AUTH_NOT_ENABLED = 'etcdserver: authentication is not enabled';

/**
 * Answers after which a call is worth one retry with a fresh token: the token expired or the server
 * restarted (invalid token), users or roles changed since it was issued (old revision), or no token
 * reached the server although the client has credentials (user name is empty: auth was enabled after
 * the client found it disabled, or the token was dropped).
 */
const REFRESH_ON: ReadonlySet<string> = new Set([
  'etcdserver: invalid auth token',
  'etcdserver: revision of auth store is old',
  'etcdserver: user name is empty',
]);

export function needsNewToken(e: EtcdError): boolean {
  return !e.local && REFRESH_ON.has(e.details);
}

export class AuthToken {
  /** undefined: not fetched yet; '': the server has auth disabled, send none. */
  private token: string | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly credentials: Credentials,
    private readonly fetch: TokenFetcher,
  ) {}

  /** The token to send ('' for none), fetching one first if none is held. */
  current(limits: FetchLimits): Promise<string> {
    if (this.token !== undefined) return Promise.resolve(this.token);
    return this.fetchOnce(limits);
  }

  /**
   * A new token after a call carrying `stale` was refused. Calls that failed with the same token share
   * one Authenticate; one that carried an older token simply gets the newer one.
   */
  refresh(stale: string, limits: FetchLimits): Promise<string> {
    if (this.token === stale) this.token = undefined;
    return this.current(limits);
  }

  /** Forgets the token (a stream was refused with it): the next call or stream fetches a new one. */
  invalidate(stale: string): void {
    if (this.token === stale) this.token = undefined;
  }

  private fetchOnce(limits: FetchLimits): Promise<string> {
    if (this.pending === undefined) {
      this.pending = this.fetch(this.credentials, limits)
        .catch((e: unknown) => {
          if (e instanceof EtcdError && e.details === AUTH_NOT_ENABLED) return '';
          throw e;
        })
        .then((token) => {
          this.token = token;
          return token;
        })
        .finally(() => {
          this.pending = undefined;
        });
    }
    return this.pending;
  }
}
