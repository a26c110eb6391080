// Errors of the client: every failed call surfaces as an EtcdError carrying the gRPC status code and the
// server's exact message. etcd clients (clientv3, etcdctl) recognise server errors by their text, so the
// text is kept byte for byte and `known` says whether it is one of etcd's own error strings.

import { status as Status, type ServiceError } from '@grpc/grpc-js';

/** gRPC status codes by the names grpc-go prints (`rpc error: code = NotFound desc = ...`). */
const CODE_NAMES: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** The messages clientv3 turns into its typed errors (etcd 3.4 rpctypes); anything else stays a raw status. */
const KNOWN_MESSAGES: ReadonlySet<string> = new Set(
  [
    'key is not provided',
    'key not found',
    'value is provided',
    'lease is provided',
    'too many operations in txn request',
    'duplicate key given in txn request',
    'mvcc: required revision has been compacted',
    'mvcc: required revision is a future revision',
    'mvcc: database space exceeded',
    'requested lease not found',
    'lease already exists',
    'too large lease TTL',
    'member ID already exist',
    'Peer URLs already exists',
    're-configuration failed due to not enough started members',
    'given member URLs are invalid',
    'member not found',
    'can only promote a learner member',
    'can only promote a learner member which is in sync with leader',
    'too many learner members in cluster',
    'request is too large',
    'too many requests',
    'root user does not exist',
    'root user does not have root role',
    'user name already exists',
    'user name is empty',
    'user name not found',
    'role name already exists',
    'role name not found',
    'role name is empty',
    'authentication failed, invalid user ID or password',
    'permission denied',
    'role is not granted to the user',
    'permission is not granted to the role',
    'authentication is not enabled',
    'invalid auth token',
    'invalid auth management',
    'revision of auth store is old',
    'no leader',
    'not leader',
    'leader changed',
    'not capable',
    'server stopped',
    'request timed out',
    'request timed out, possibly due to previous leader failure',
    'request timed out, possibly due to connection lost',
    'request timed out, waiting for the applied index took too long',
    'unhealthy cluster',
    'corrupt cluster',
    'rpc not supported for learner',
    'bad leader transferee',
  ].map((m) => `etcdserver: ${m}`),
);

/** The text a caller's own deadline produces (Go's context.DeadlineExceeded). */
export const DEADLINE_EXCEEDED_MESSAGE = 'context deadline exceeded';
/** The text a caller's own cancellation produces (Go's context.Canceled). */
export const CANCELED_MESSAGE = 'context canceled';

export interface EtcdErrorOptions {
  /** The failure happened before any server answered (no connection to any endpoint). */
  readonly connectionFailed?: boolean;
  /** Raised by the client itself (deadline, cancel, lease not found in a keep-alive), not sent by a server. */
  readonly local?: boolean;
}

export class EtcdError extends Error {
  /** gRPC status code (`@grpc/grpc-js` `status`). */
  readonly code: number;
  /** The status message exactly as the server sent it (or the client's own text for local errors). */
  readonly details: string;
  /** Whether `details` is one of etcd's error strings (clientv3 would return a typed error). */
  readonly known: boolean;
  readonly connectionFailed: boolean;
  readonly local: boolean;

  constructor(code: number, details: string, options: EtcdErrorOptions = {}) {
    const known = KNOWN_MESSAGES.has(details);
    const local = options.local ?? false;
    super(known || local ? details : grpcText(code, details));
    this.name = 'EtcdError';
    this.code = code;
    this.details = details;
    this.known = known;
    this.connectionFailed = options.connectionFailed ?? false;
    this.local = local;
  }

  get codeName(): string {
    return codeName(this.code);
  }

  /** grpc-go's rendering of the status: `rpc error: code = NotFound desc = etcdserver: ...`. */
  get grpcText(): string {
    return grpcText(this.code, this.details);
  }
}

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `Code(${code})`;
}

function grpcText(code: number, details: string): string {
  return `rpc error: code = ${codeName(code)} desc = ${details}`;
}

export function isServiceError(e: unknown): e is ServiceError {
  return e instanceof Error && typeof (e as Partial<ServiceError>).code === 'number';
}

/** Turns whatever a grpc-js call rejected with into an EtcdError. */
export function toEtcdError(e: unknown): EtcdError {
  if (e instanceof EtcdError) return e;
  if (isServiceError(e)) return new EtcdError(e.code, e.details ?? e.message);
  return new EtcdError(Status.UNKNOWN, e instanceof Error ? e.message : String(e));
}

/** Whether a status means "this endpoint could not serve the call" (worth trying another endpoint). */
export function isUnavailable(e: EtcdError): boolean {
  return e.code === Status.UNAVAILABLE;
}
