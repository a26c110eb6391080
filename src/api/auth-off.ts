// The Auth service of a member without an auth store: auth is off and no user or role exists. The
// answers are the ones etcd 3.4.23 gives with auth disabled and no users (observed through its
// gateway): Authenticate is refused, lists are empty, lookups find nothing, enabling needs a root user
// that cannot exist. Adding a user or role would have to persist it, so those are refused as
// unimplemented rather than pretending to succeed.

import type { ResponseHeader } from '../proto/etcdserverpb/rpc.js';

/** An error with a gRPC code name and etcd's text, like the member's own errors. */
export class AuthOffError extends Error {
  constructor(
    readonly code: 'FailedPrecondition' | 'InvalidArgument' | 'Unimplemented',
    message: string,
  ) {
    super(message);
    this.name = 'AuthOffError';
  }
}

const notEnabled = (): AuthOffError =>
  new AuthOffError('FailedPrecondition', 'etcdserver: authentication is not enabled');
const userNotFound = (): AuthOffError =>
  new AuthOffError('FailedPrecondition', 'etcdserver: user name not found');
const roleNotFound = (): AuthOffError =>
  new AuthOffError('FailedPrecondition', 'etcdserver: role name not found');
const noRoot = (): AuthOffError =>
  new AuthOffError('FailedPrecondition', 'etcdserver: root user does not exist');
const noStore = (what: string): AuthOffError =>
  new AuthOffError('Unimplemented', `cairn: ${what} needs the auth store, which is not implemented yet`);

/** What the answers need from the member: a response header at the current revision. */
export type HeaderSource = () => ResponseHeader;

export const authOff = {
  status: (header: HeaderSource) => ({ header: header(), enabled: false, authRevision: 0n }),
  enable: (): never => {
    throw noRoot();
  },
  disable: (header: HeaderSource) => ({ header: header() }),
  authenticate: (): never => {
    throw notEnabled();
  },
  userAdd: (name: string): never => {
    if (name === '') throw new AuthOffError('InvalidArgument', 'etcdserver: user name is empty');
    throw noStore('adding a user');
  },
  roleAdd: (name: string): never => {
    if (name === '') throw new AuthOffError('InvalidArgument', 'etcdserver: role name is empty');
    throw noStore('adding a role');
  },
  userList: (header: HeaderSource) => ({ header: header(), users: [] as string[] }),
  roleList: (header: HeaderSource) => ({ header: header(), roles: [] as string[] }),
  /** Get, delete, change password, grant and revoke of a user: there is none. */
  noSuchUser: (): never => {
    throw userNotFound();
  },
  /** Get, delete, grant and revoke permission of a role: there is none. */
  noSuchRole: (): never => {
    throw roleNotFound();
  },
};
