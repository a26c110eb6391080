// The Auth service: enabling authentication, users, roles and their key permissions. Reads (get, list,
// status) may be repeated on another endpoint like KV reads; changes are sent once.

import { Permission_Type } from '../proto/authpb/auth.js';
import {
  AuthService,
  type AuthDisableResponse,
  type AuthEnableResponse,
  type AuthenticateResponse,
  type AuthRoleAddResponse,
  type AuthRoleDeleteResponse,
  type AuthRoleGetResponse,
  type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse,
  type AuthRoleRevokePermissionResponse,
  type AuthStatusResponse,
  type AuthUserAddResponse,
  type AuthUserChangePasswordResponse,
  type AuthUserDeleteResponse,
  type AuthUserGetResponse,
  type AuthUserGrantRoleResponse,
  type AuthUserListResponse,
  type AuthUserRevokeRoleResponse,
} from '../proto/etcdserverpb/rpc.js';
import { toBytes, type Bytes } from './bytes.js';
import type { CallOptions, Transport } from './transport.js';

export { Permission_Type as PermissionType };

/** etcd's permission names (`read`, `write`, `readwrite`, any case), as etcdctl accepts them. */
export function parsePermissionType(text: string): Permission_Type | undefined {
  switch (text.toUpperCase()) {
    case 'READ':
      return Permission_Type.READ;
    case 'WRITE':
      return Permission_Type.WRITE;
    case 'READWRITE':
      return Permission_Type.READWRITE;
    default:
      return undefined;
  }
}

export interface UserAddOptions {
  /** A user that cannot log in with a password (TLS common-name auth only). */
  readonly noPassword?: boolean;
}

const EMPTY = new Uint8Array(0);

export class Auth {
  constructor(private readonly transport: Transport) {}

  private read(call: CallOptions): CallOptions & { retryUnavailable: boolean } {
    return { ...call, retryUnavailable: true };
  }

  /** Asks for a token; this call itself carries none (the client fetches its own token by itself). */
  authenticate(name: string, password: string, call: CallOptions = {}): Promise<AuthenticateResponse> {
    return this.transport.unary(AuthService.authenticate, { name, password }, { ...call, anonymous: true });
  }

  authEnable(call: CallOptions = {}): Promise<AuthEnableResponse> {
    return this.transport.unary(AuthService.authEnable, {}, call);
  }

  authDisable(call: CallOptions = {}): Promise<AuthDisableResponse> {
    return this.transport.unary(AuthService.authDisable, {}, call);
  }

  /** etcd 3.5's AuthStatus; a 3.4 server answers Unimplemented. */
  authStatus(call: CallOptions = {}): Promise<AuthStatusResponse> {
    return this.transport.unary(AuthService.authStatus, {}, this.read(call));
  }

  userAdd(
    name: string,
    password: string,
    options: UserAddOptions = {},
    call: CallOptions = {},
  ): Promise<AuthUserAddResponse> {
    const request = {
      name,
      password,
      options: { noPassword: options.noPassword ?? false },
      hashedPassword: '',
    };
    return this.transport.unary(AuthService.userAdd, request, call);
  }

  userGet(name: string, call: CallOptions = {}): Promise<AuthUserGetResponse> {
    return this.transport.unary(AuthService.userGet, { name }, this.read(call));
  }

  userList(call: CallOptions = {}): Promise<AuthUserListResponse> {
    return this.transport.unary(AuthService.userList, {}, this.read(call));
  }

  userDelete(name: string, call: CallOptions = {}): Promise<AuthUserDeleteResponse> {
    return this.transport.unary(AuthService.userDelete, { name }, call);
  }

  userChangePassword(
    name: string,
    password: string,
    call: CallOptions = {},
  ): Promise<AuthUserChangePasswordResponse> {
    const request = { name, password, hashedPassword: '' };
    return this.transport.unary(AuthService.userChangePassword, request, call);
  }

  userGrantRole(user: string, role: string, call: CallOptions = {}): Promise<AuthUserGrantRoleResponse> {
    return this.transport.unary(AuthService.userGrantRole, { user, role }, call);
  }

  userRevokeRole(name: string, role: string, call: CallOptions = {}): Promise<AuthUserRevokeRoleResponse> {
    return this.transport.unary(AuthService.userRevokeRole, { name, role }, call);
  }

  roleAdd(name: string, call: CallOptions = {}): Promise<AuthRoleAddResponse> {
    return this.transport.unary(AuthService.roleAdd, { name }, call);
  }

  roleGet(role: string, call: CallOptions = {}): Promise<AuthRoleGetResponse> {
    return this.transport.unary(AuthService.roleGet, { role }, this.read(call));
  }

  roleList(call: CallOptions = {}): Promise<AuthRoleListResponse> {
    return this.transport.unary(AuthService.roleList, {}, this.read(call));
  }

  roleDelete(role: string, call: CallOptions = {}): Promise<AuthRoleDeleteResponse> {
    return this.transport.unary(AuthService.roleDelete, { role }, call);
  }

  /**
   * Grants `permType` on [key, rangeEnd) to `name`; an empty rangeEnd means the single key, "\0" every
   * key >= key (see prefixEnd and FROM_KEY_END for prefixes and open ranges).
   */
  roleGrantPermission(
    name: string,
    key: Bytes,
    rangeEnd: Bytes,
    permType: Permission_Type,
    call: CallOptions = {},
  ): Promise<AuthRoleGrantPermissionResponse> {
    const perm = { permType, key: toBytes(key), rangeEnd: toBytes(rangeEnd) };
    return this.transport.unary(AuthService.roleGrantPermission, { name, perm }, call);
  }

  /** Revokes the permission granted on exactly [key, rangeEnd). */
  roleRevokePermission(
    role: string,
    key: Bytes,
    rangeEnd: Bytes = EMPTY,
    call: CallOptions = {},
  ): Promise<AuthRoleRevokePermissionResponse> {
    const request = { role, key: toBytes(key), rangeEnd: toBytes(rangeEnd) };
    return this.transport.unary(AuthService.roleRevokePermission, request, call);
  }
}
