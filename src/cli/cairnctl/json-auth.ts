// `-w json` of the Auth responses: Go's encoding/json of the generated structs (proto field names,
// zero values omitted, bytes base64, the permission type as its number).

import type { Permission } from '../../proto/authpb/auth.js';
import type {
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthStatusResponse,
  AuthUserGetResponse,
  AuthUserListResponse,
} from '../../proto/etcdserverpb/rpc.js';
import { goJsonString } from './go-text.js';
import { header, JsonObject } from './json.js';

export function permission(p: Permission): string {
  return new JsonObject()
    .int('permType', p.permType)
    .bytes('key', p.key)
    .bytes('range_end', p.rangeEnd)
    .toString();
}

export function roleGetResponse(r: AuthRoleGetResponse): string {
  return new JsonObject().raw('header', header(r.header)).list('perm', r.perm, permission).toString();
}

export function userGetResponse(r: AuthUserGetResponse): string {
  return new JsonObject().raw('header', header(r.header)).list('roles', r.roles, goJsonString).toString();
}

export function roleListResponse(r: AuthRoleListResponse): string {
  return new JsonObject().raw('header', header(r.header)).list('roles', r.roles, goJsonString).toString();
}

export function userListResponse(r: AuthUserListResponse): string {
  return new JsonObject().raw('header', header(r.header)).list('users', r.users, goJsonString).toString();
}

/** etcd 3.5's AuthStatusResponse. */
export function authStatusResponse(r: AuthStatusResponse): string {
  return new JsonObject()
    .raw('header', header(r.header))
    .bool('enabled', r.enabled)
    .int('authRevision', r.authRevision)
    .toString();
}
