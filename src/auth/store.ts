// The auth store: users, roles, their permissions, whether auth is on, and the auth revision. It is
// a deterministic state machine over the backend's `auth`, `authUsers` and `authRoles` buckets, laid
// out as etcd lays them out (so snapshots and restores carry it both ways), changed only by applying
// committed entries. Every change bumps the auth revision except enabling; a request that carries an
// older auth revision than the store's is refused ("revision of auth store is old").
// Passwords arrive already hashed (bcrypt): hashing is slow and salted, so it happens once, on the
// member that proposes, not while applying (except for entries etcd 3.4 wrote; see storedHash).

import { Permission, Role, User } from '../proto/authpb/auth.js';
import type {
  AuthRoleAddRequest,
  AuthRoleDeleteRequest,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest,
  AuthRoleRevokePermissionRequest,
  AuthUserAddRequest,
  AuthUserChangePasswordRequest,
  AuthUserDeleteRequest,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserGrantRoleRequest,
  AuthUserRevokeRoleRequest,
} from '../proto/etcdserverpb/rpc.js';
import {
  errAuthFailed,
  errAuthNotEnabled,
  errAuthOldRevision,
  errInvalidAuthMgmt,
  errPermissionDenied,
  errPermissionNotGiven,
  errPermissionNotGranted,
  errRoleAlreadyExist,
  errRoleEmpty,
  errRoleNotFound,
  errRoleNotGranted,
  errRootRoleNotExist,
  errRootUserNotExist,
  errUserAlreadyExist,
  errUserEmpty,
  errUserNotFound,
} from './errors.js';
import { storedHash } from './password.js';
import { covers, intervalOf, mergePermissions, type MergedPermissions } from './permissions.js';

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

/** Who is asking, as a request carries it: the user name and the auth revision its token was checked at. */
export interface AuthInfo {
  readonly username: string;
  readonly revision: number;
}

/** The three auth buckets through the backend's batch transaction (`Backend.batchTx` satisfies it). */
export interface AuthBuckets {
  put(bucket: 'auth' | 'authUsers' | 'authRoles', key: Uint8Array, value: Uint8Array): void;
  delete(bucket: 'authUsers' | 'authRoles', key: Uint8Array): void;
  get(bucket: 'auth', key: Uint8Array): Uint8Array | undefined;
  range(
    bucket: 'authUsers' | 'authRoles',
    start: Uint8Array,
  ): readonly { readonly key: Uint8Array; readonly value: Uint8Array }[];
}

/** Told about changes that end sessions: the member's token registry listens. */
export interface AuthStoreHooks {
  userInvalidated?(name: string): void;
  enabledChanged?(enabled: boolean): void;
}

const ENABLED_KEY = Buffer.from('authEnabled');
const REVISION_KEY = Buffer.from('authRevision');
const ON = Uint8Array.of(1);
const OFF = Uint8Array.of(0);
const EMPTY = new Uint8Array(0);

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
const byBytes = (a: string, b: string): number => Buffer.compare(utf8(a), utf8(b));
const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

function readRevision(b: Uint8Array | undefined): number {
  if (b === undefined || b.byteLength !== 8) return 0;
  return Number(Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64BE(0));
}

function encodeRevision(n: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export class AuthStore {
  private enabled: boolean;
  private rev: number;
  private readonly users = new Map<string, User>();
  private readonly roles = new Map<string, Role>();
  /** Merged permissions per user; dropped whenever users or roles change. */
  private merged = new Map<string, MergedPermissions>();

  constructor(
    private readonly buckets: AuthBuckets,
    private readonly hooks: AuthStoreHooks = {},
  ) {
    for (const row of buckets.range('authUsers', EMPTY)) {
      const u = User.decode(row.value);
      this.users.set(text(u.name), u);
    }
    for (const row of buckets.range('authRoles', EMPTY)) {
      const r = Role.decode(row.value);
      this.roles.set(text(r.name), r);
    }
    this.enabled = buckets.get('auth', ENABLED_KEY)?.[0] === 1;
    this.rev = readRevision(buckets.get('auth', REVISION_KEY));
    // A new store starts at auth revision 1 (as etcd's does), so that 0 can mean "no credentials".
    if (this.rev === 0) this.commitRevision();
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  get revision(): number {
    return this.rev;
  }

  // ---- Changes (applied from committed entries) ----------------------------------------------------

  enable(): void {
    if (this.enabled) return;
    const root = this.users.get(ROOT_USER);
    if (root === undefined) throw errRootUserNotExist();
    if (!hasRole(root, ROOT_ROLE)) throw errRootRoleNotExist();
    this.buckets.put('auth', ENABLED_KEY, ON);
    this.enabled = true;
    this.hooks.enabledChanged?.(true);
  }

  disable(): void {
    if (!this.enabled) return;
    this.buckets.put('auth', ENABLED_KEY, OFF);
    this.commitRevision();
    this.enabled = false;
    this.hooks.enabledChanged?.(false);
  }

  /** `hashedPassword` is the base64 of the bcrypt hash, as etcd 3.5 puts it in the raft entry. */
  userAdd(r: AuthUserAddRequest): void {
    if (r.name === '') throw errUserEmpty();
    if (this.users.has(r.name)) throw errUserAlreadyExist();
    const options = r.options ?? { noPassword: false };
    const user: User = {
      name: utf8(r.name),
      password: options.noPassword ? EMPTY : storedHash(r.password, r.hashedPassword),
      roles: [],
      options,
    };
    this.putUser(user);
  }

  userDelete(r: AuthUserDeleteRequest): void {
    if (this.enabled && r.name === ROOT_USER) throw errInvalidAuthMgmt();
    if (!this.users.has(r.name)) throw errUserNotFound();
    this.users.delete(r.name);
    this.buckets.delete('authUsers', utf8(r.name));
    this.changed();
    this.hooks.userInvalidated?.(r.name);
  }

  userChangePassword(r: AuthUserChangePasswordRequest): void {
    const user = this.users.get(r.name);
    if (user === undefined) throw errUserNotFound();
    const password = user.options?.noPassword === true ? EMPTY : storedHash(r.password, r.hashedPassword);
    this.putUser({ ...user, password });
    this.hooks.userInvalidated?.(r.name);
  }

  userGrantRole(r: AuthUserGrantRoleRequest): void {
    const user = this.users.get(r.user);
    if (user === undefined) throw errUserNotFound();
    if (r.role !== ROOT_ROLE && !this.roles.has(r.role)) throw errRoleNotFound();
    // Granting a role twice is accepted and changes nothing (etcd logs and ignores it).
    if (hasRole(user, r.role)) return;
    this.putUser({ ...user, roles: [...user.roles, r.role].sort(byBytes) });
  }

  userRevokeRole(r: AuthUserRevokeRoleRequest): void {
    if (this.enabled && r.name === ROOT_USER && r.role === ROOT_ROLE) throw errInvalidAuthMgmt();
    const user = this.users.get(r.name);
    if (user === undefined) throw errUserNotFound();
    if (!hasRole(user, r.role)) throw errRoleNotGranted();
    this.putUser({ ...user, roles: user.roles.filter((x) => x !== r.role) });
  }

  roleAdd(r: AuthRoleAddRequest): void {
    if (r.name === '') throw errRoleEmpty();
    if (this.roles.has(r.name)) throw errRoleAlreadyExist();
    this.putRole({ name: utf8(r.name), keyPermission: [] });
  }

  roleDelete(r: AuthRoleDeleteRequest): void {
    if (this.enabled && r.role === ROOT_ROLE) throw errInvalidAuthMgmt();
    if (!this.roles.has(r.role)) throw errRoleNotFound();
    this.roles.delete(r.role);
    this.buckets.delete('authRoles', utf8(r.role));
    // Users lose the role in the same change.
    for (const user of [...this.users.values()]) {
      if (hasRole(user, r.role)) this.writeUser({ ...user, roles: user.roles.filter((x) => x !== r.role) });
    }
    this.changed();
  }

  roleGrantPermission(r: AuthRoleGrantPermissionRequest): void {
    const perm = r.perm;
    if (perm === undefined) throw errPermissionNotGiven();
    const role = this.roles.get(r.name);
    if (role === undefined) throw errRoleNotFound();
    const same = role.keyPermission.findIndex(
      (p) => bytesEqual(p.key, perm.key) && bytesEqual(p.rangeEnd, perm.rangeEnd),
    );
    const keyPermission = [...role.keyPermission];
    const granted: Permission = { permType: perm.permType, key: perm.key, rangeEnd: perm.rangeEnd };
    // Granting the same range again only changes its type; permissions stay ordered by key.
    if (same >= 0) keyPermission[same] = granted;
    else {
      keyPermission.push(granted);
      keyPermission.sort((a, b) => Buffer.compare(a.key, b.key));
    }
    this.putRole({ ...role, keyPermission });
  }

  roleRevokePermission(r: AuthRoleRevokePermissionRequest): void {
    const role = this.roles.get(r.role);
    if (role === undefined) throw errRoleNotFound();
    const keyPermission = role.keyPermission.filter(
      (p) => !bytesEqual(p.key, r.key) || !bytesEqual(p.rangeEnd, r.rangeEnd),
    );
    if (keyPermission.length === role.keyPermission.length) throw errPermissionNotGranted();
    this.putRole({ ...role, keyPermission });
  }

  // ---- Reads ---------------------------------------------------------------------------------------

  userGet(r: AuthUserGetRequest): Omit<AuthUserGetResponse, 'header'> {
    const user = this.users.get(r.name);
    if (user === undefined) throw errUserNotFound();
    return { roles: [...user.roles] };
  }

  userList(): string[] {
    return [...this.users.keys()].sort(byBytes);
  }

  /** The root role shows what was granted to it (none, usually), as etcd 3.4 shows it. */
  roleGet(r: AuthRoleGetRequest): Omit<AuthRoleGetResponse, 'header'> {
    const role = this.roles.get(r.role);
    if (role === undefined) throw errRoleNotFound();
    return { perm: [...role.keyPermission] };
  }

  roleList(): string[] {
    return [...this.roles.keys()].sort(byBytes);
  }

  hasRole(username: string, role: string): boolean {
    const user = this.users.get(username);
    return user !== undefined && hasRole(user, role);
  }

  /**
   * The stored bcrypt hash to check a password against, with the auth revision it was read at. Fails
   * as etcd does: auth off, unknown user, or a user without a password.
   */
  passwordOf(name: string): { hash: string; revision: number } {
    if (!this.enabled) throw errAuthNotEnabled();
    const user = this.users.get(name);
    if (user === undefined || user.options?.noPassword === true) throw errAuthFailed();
    return { hash: Buffer.from(user.password).toString('latin1'), revision: this.rev };
  }

  /** Applying Authenticate: the user must still exist and have a password. */
  checkAuthenticate(name: string): void {
    if (!this.enabled) throw errAuthNotEnabled();
    const user = this.users.get(name);
    if (user === undefined || user.options?.noPassword === true) throw errAuthFailed();
  }

  // ---- Permission checks ---------------------------------------------------------------------------

  /** Read permission on [key, rangeEnd) (etcd's reading of range_end). */
  checkRead(info: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array = EMPTY): void {
    this.checkOp(info, key, rangeEnd, 'read');
  }

  /** Write permission on [key, rangeEnd); a put is the single key. */
  checkWrite(info: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array = EMPTY): void {
    this.checkOp(info, key, rangeEnd, 'write');
  }

  /** Whether the caller is root (or auth is off); admin operations need it. */
  checkAdmin(info: AuthInfo | undefined): void {
    if (!this.enabled) return;
    if (info === undefined || info.username === '') throw errUserEmpty();
    const user = this.users.get(info.username);
    if (user === undefined) throw errUserNotFound();
    if (!hasRole(user, ROOT_ROLE)) throw errPermissionDenied();
  }

  isAdmin(info: AuthInfo | undefined): boolean {
    if (!this.enabled) return true;
    const user = info === undefined ? undefined : this.users.get(info.username);
    return user !== undefined && hasRole(user, ROOT_ROLE);
  }

  private checkOp(
    info: AuthInfo | undefined,
    key: Uint8Array,
    rangeEnd: Uint8Array,
    op: 'read' | 'write',
  ): void {
    if (!this.enabled) return;
    // Revision 0 only comes from a request that carried no credentials.
    if (info === undefined || info.revision === 0) throw errUserEmpty();
    if (info.revision < this.rev) throw errAuthOldRevision();
    const user = this.users.get(info.username);
    if (user === undefined) throw errPermissionDenied();
    if (hasRole(user, ROOT_ROLE)) return;
    const perms = this.permissionsOf(user);
    if (!covers(op === 'read' ? perms.read : perms.write, intervalOf(key, rangeEnd)))
      throw errPermissionDenied();
  }

  private permissionsOf(user: User): MergedPermissions {
    const name = text(user.name);
    let merged = this.merged.get(name);
    if (merged === undefined) {
      const perms: Permission[] = [];
      for (const roleName of user.roles) perms.push(...(this.roles.get(roleName)?.keyPermission ?? []));
      merged = mergePermissions(perms);
      this.merged.set(name, merged);
    }
    return merged;
  }

  // ---- Persistence ---------------------------------------------------------------------------------

  private putUser(user: User): void {
    this.writeUser(user);
    this.changed();
  }

  private writeUser(user: User): void {
    this.users.set(text(user.name), user);
    this.buckets.put('authUsers', user.name, User.encode(user).finish());
  }

  private putRole(role: Role): void {
    this.roles.set(text(role.name), role);
    this.buckets.put('authRoles', role.name, Role.encode(role).finish());
    this.changed();
  }

  private changed(): void {
    this.merged = new Map();
    this.commitRevision();
  }

  private commitRevision(): void {
    this.rev += 1;
    this.buckets.put('auth', REVISION_KEY, encodeRevision(this.rev));
  }
}

function hasRole(user: User, role: string): boolean {
  return user.roles.includes(role);
}
