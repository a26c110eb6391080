// Authentication and authorisation errors with etcd's exact texts and gRPC codes (rpctypes/error.go;
// reference/etcd-v3.md §2.1). clientv3 and etcdctl match the text, so these must not drift.

export type AuthErrorCode =
  'InvalidArgument' | 'FailedPrecondition' | 'PermissionDenied' | 'Unauthenticated' | 'Unavailable';

export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

const make = (code: AuthErrorCode, text: string) => (): AuthError =>
  new AuthError(code, `etcdserver: ${text}`);

/** Also what a request without credentials gets while auth is on. */
export const errUserEmpty = make('InvalidArgument', 'user name is empty');
export const errRoleEmpty = make('InvalidArgument', 'role name is empty');
export const errAuthFailed = make('InvalidArgument', 'authentication failed, invalid user ID or password');
export const errInvalidAuthMgmt = make('InvalidArgument', 'invalid auth management');
export const errAuthOldRevision = make('InvalidArgument', 'revision of auth store is old');
export const errPermissionNotGiven = make('InvalidArgument', 'permission not given');
export const errRootUserNotExist = make('FailedPrecondition', 'root user does not exist');
export const errRootRoleNotExist = make('FailedPrecondition', 'root user does not have root role');
export const errUserAlreadyExist = make('FailedPrecondition', 'user name already exists');
export const errUserNotFound = make('FailedPrecondition', 'user name not found');
export const errRoleAlreadyExist = make('FailedPrecondition', 'role name already exists');
export const errRoleNotFound = make('FailedPrecondition', 'role name not found');
export const errRoleNotGranted = make('FailedPrecondition', 'role is not granted to the user');
export const errPermissionNotGranted = make('FailedPrecondition', 'permission is not granted to the role');
export const errAuthNotEnabled = make('FailedPrecondition', 'authentication is not enabled');
export const errPermissionDenied = make('PermissionDenied', 'permission denied');
export const errInvalidAuthToken = make('Unauthenticated', 'invalid auth token');
