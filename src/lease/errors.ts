// Lease errors with etcd's exact texts and gRPC status codes (rpctypes/error.go; reference/etcd-v3.md
// §2.1), so the API layer maps them by `code` instead of matching strings.

/** The gRPC status codes a lease error can carry, by name and number. */
export const LEASE_GRPC_STATUS = {
  NotFound: 5,
  FailedPrecondition: 9,
  OutOfRange: 11,
  Unavailable: 14,
} as const;

export type LeaseGrpcCode = keyof typeof LEASE_GRPC_STATUS;

/** What went wrong, independent of the wire text. */
export type LeaseErrorReason = 'lease-not-found' | 'lease-exists' | 'ttl-too-large' | 'not-primary';

export const LEASE_NOT_FOUND_MESSAGE = 'etcdserver: requested lease not found';
export const LEASE_EXISTS_MESSAGE = 'etcdserver: lease already exists';
export const LEASE_TTL_TOO_LARGE_MESSAGE = 'etcdserver: too large lease TTL';
/**
 * etcd has no wire text for this: its server forwards keepalives and time-to-live queries to the
 * leader instead. The server should do the same and never send this to a client; if it ever escapes,
 * Unavailable makes clients retry.
 */
export const LEASE_NOT_PRIMARY_MESSAGE = 'lease: this member is not the primary lessor';

const TABLE: Readonly<Record<LeaseErrorReason, { code: LeaseGrpcCode; message: string }>> = {
  'lease-not-found': { code: 'NotFound', message: LEASE_NOT_FOUND_MESSAGE },
  'lease-exists': { code: 'FailedPrecondition', message: LEASE_EXISTS_MESSAGE },
  'ttl-too-large': { code: 'OutOfRange', message: LEASE_TTL_TOO_LARGE_MESSAGE },
  'not-primary': { code: 'Unavailable', message: LEASE_NOT_PRIMARY_MESSAGE },
};

export class LeaseError extends Error {
  readonly reason: LeaseErrorReason;
  /** gRPC status name, e.g. 'NotFound'. */
  readonly code: LeaseGrpcCode;
  /** gRPC status number, e.g. 5. */
  readonly status: number;

  constructor(reason: LeaseErrorReason) {
    const { code, message } = TABLE[reason];
    super(message);
    this.name = 'LeaseError';
    this.reason = reason;
    this.code = code;
    this.status = LEASE_GRPC_STATUS[code];
  }
}

export function isLeaseError(e: unknown, reason?: LeaseErrorReason): e is LeaseError {
  return e instanceof LeaseError && (reason === undefined || e.reason === reason);
}
