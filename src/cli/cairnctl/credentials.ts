// The global --user / --password flags (or ETCDCTL_USER / ETCDCTL_PASSWORD) as etcdctl reads them.

/** --user / --password as etcdctl resolves them. */
export interface UserCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * `--user name:password`, or `--user name` with `--password` (then the whole --user value is the
 * name); undefined fields mean "ask". No --user means no credentials.
 */
export function parseUserFlag(
  user: string,
  password: string,
): { username: string; password: string | undefined } | undefined {
  if (user === '') return undefined;
  if (password !== '') return { username: user, password };
  const colon = user.indexOf(':');
  if (colon < 0) return { username: user, password: undefined };
  return { username: user.slice(0, colon), password: user.slice(colon + 1) };
}
