// The auth side of applying an entry: who proposed it (the entry's header carries the user name and
// the auth revision its credentials were checked at), whether that user may do what it asks, and the
// Auth requests themselves. The checks run at apply time, against the auth state every member holds
// at that point of the log, so a permission revoked just before a write lands refuses that write on
// every member alike (etcd's authApplierV3).

import type { AuthInfo, AuthStore, TokenProvider } from '../auth/index.js';
import type { Lessor } from '../lease/lessor.js';
import type { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import type { PutRequest, RequestOp, TxnRequest } from '../proto/etcdserverpb/rpc.js';

/** The proposer's credentials as the entry carries them; none when the header has no user. */
export function authInfoOf(r: InternalRaftRequest): AuthInfo | undefined {
  const h = r.header;
  if (h === undefined) return undefined;
  return { username: h.username, revision: Number(h.authRevision) };
}

/** Refuses the request (throws etcd's error) unless the proposer may run it. */
export function checkPermitted(auth: AuthStore, lessor: Lessor, r: InternalRaftRequest): void {
  if (!auth.isEnabled) return;
  const info = authInfoOf(r);
  if (r.put !== undefined) checkPut(auth, lessor, info, r.put);
  else if (r.deleteRange !== undefined) {
    const d = r.deleteRange;
    auth.checkWrite(info, d.key, d.rangeEnd);
    if (d.prevKv) auth.checkRead(info, d.key, d.rangeEnd);
  } else if (r.txn !== undefined) checkTxn(auth, lessor, info, r.txn);
  else if (r.range !== undefined) auth.checkRead(info, r.range.key, r.range.rangeEnd);
  else if (r.leaseRevoke !== undefined) checkLeaseKeys(auth, lessor, info, r.leaseRevoke.ID);
  else if (needsAdmin(r)) auth.checkAdmin(info);
  else if (r.authUserGet !== undefined) {
    // Users may look at themselves; anything else is for root.
    if (!auth.isAdmin(info) && r.authUserGet.name !== info?.username) auth.checkAdmin(info);
  } else if (r.authRoleGet !== undefined) {
    // ... and at the roles they hold.
    if (!auth.isAdmin(info) && !auth.hasRole(info?.username ?? '', r.authRoleGet.role)) auth.checkAdmin(info);
  }
}

/** A read-only txn served without raft is checked the same way before it runs. */
export function checkTxn(auth: AuthStore, lessor: Lessor, info: AuthInfo | undefined, t: TxnRequest): void {
  for (const c of t.compare) auth.checkRead(info, c.key, c.rangeEnd);
  checkOps(auth, lessor, info, t.success);
  checkOps(auth, lessor, info, t.failure);
}

function checkOps(
  auth: AuthStore,
  lessor: Lessor,
  info: AuthInfo | undefined,
  ops: readonly RequestOp[],
): void {
  for (const op of ops) {
    const u = op.request;
    switch (u?.$case) {
      case 'requestRange':
        auth.checkRead(info, u.value.key, u.value.rangeEnd);
        break;
      case 'requestPut':
        checkPut(auth, lessor, info, u.value);
        break;
      case 'requestDeleteRange':
        if (u.value.prevKv) auth.checkRead(info, u.value.key, u.value.rangeEnd);
        auth.checkWrite(info, u.value.key, u.value.rangeEnd);
        break;
      case 'requestTxn':
        checkTxn(auth, lessor, info, u.value);
        break;
      default:
        break;
    }
  }
}

function checkPut(auth: AuthStore, lessor: Lessor, info: AuthInfo | undefined, p: PutRequest): void {
  auth.checkWrite(info, p.key);
  // Attaching a key to a lease lets its holder delete it by revoking: the caller must be able to
  // write every key already on the lease.
  checkLeaseKeys(auth, lessor, info, p.lease);
  if (p.prevKv) auth.checkRead(info, p.key);
}

function checkLeaseKeys(auth: AuthStore, lessor: Lessor, info: AuthInfo | undefined, lease: bigint): void {
  if (lease === 0n || auth.isAdmin(info)) return;
  for (const key of lessor.keysOf(lease)) auth.checkWrite(info, key);
}

function needsAdmin(r: InternalRaftRequest): boolean {
  return (
    r.authEnable !== undefined ||
    r.authDisable !== undefined ||
    r.authUserAdd !== undefined ||
    r.authUserDelete !== undefined ||
    r.authUserChangePassword !== undefined ||
    r.authUserGrantRole !== undefined ||
    r.authUserRevokeRole !== undefined ||
    r.authUserList !== undefined ||
    r.authRoleAdd !== undefined ||
    r.authRoleDelete !== undefined ||
    r.authRoleGrantPermission !== undefined ||
    r.authRoleRevokePermission !== undefined ||
    r.authRoleList !== undefined
  );
}

/** What applying an Auth request gives back; `toSign` asks the proposer to issue a JWT. */
export interface AuthApplied {
  readonly response: object;
  readonly toSign?: AuthInfo;
}

/**
 * Applies an Auth request, or returns undefined if `r` is not one. `index` is the entry's raft
 * index, the unique part of a simple token.
 */
export function applyAuth(
  auth: AuthStore,
  tokens: TokenProvider,
  r: InternalRaftRequest,
  index: number,
): AuthApplied | undefined {
  if (r.authenticate !== undefined) {
    const { name, simpleToken } = r.authenticate;
    auth.checkAuthenticate(name);
    const token = tokens.assign(name, simpleToken, index);
    if (token !== undefined) return { response: { token } };
    return { response: { token: '' }, toSign: { username: name, revision: auth.revision } };
  }
  if (r.authEnable !== undefined) auth.enable();
  else if (r.authDisable !== undefined) auth.disable();
  else if (r.authUserAdd !== undefined) auth.userAdd(r.authUserAdd);
  else if (r.authUserDelete !== undefined) auth.userDelete(r.authUserDelete);
  else if (r.authUserChangePassword !== undefined) auth.userChangePassword(r.authUserChangePassword);
  else if (r.authUserGrantRole !== undefined) auth.userGrantRole(r.authUserGrantRole);
  else if (r.authUserRevokeRole !== undefined) auth.userRevokeRole(r.authUserRevokeRole);
  else if (r.authRoleAdd !== undefined) auth.roleAdd(r.authRoleAdd);
  else if (r.authRoleDelete !== undefined) auth.roleDelete(r.authRoleDelete);
  else if (r.authRoleGrantPermission !== undefined) auth.roleGrantPermission(r.authRoleGrantPermission);
  else if (r.authRoleRevokePermission !== undefined) auth.roleRevokePermission(r.authRoleRevokePermission);
  else if (r.authUserGet !== undefined) return { response: auth.userGet(r.authUserGet) };
  else if (r.authRoleGet !== undefined) return { response: auth.roleGet(r.authRoleGet) };
  else if (r.authUserList !== undefined) return { response: { users: auth.userList() } };
  else if (r.authRoleList !== undefined) return { response: { roles: auth.roleList() } };
  else return undefined;
  return { response: {} };
}
