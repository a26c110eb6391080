// Errors the server itself answers with (beyond the keyspace's and the lessor's), with etcd's exact
// texts and gRPC codes (reference §2.1): clients match on the text, so these must not drift.

export const GRPC_CODE_NAMES = [
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'FailedPrecondition',
  'ResourceExhausted',
  'OutOfRange',
  'Unavailable',
  'DataLoss',
  'PermissionDenied',
  'Unauthenticated',
] as const;

export type GrpcCodeName = (typeof GRPC_CODE_NAMES)[number];

export function isGrpcCodeName(s: unknown): s is GrpcCodeName {
  return typeof s === 'string' && (GRPC_CODE_NAMES as readonly string[]).includes(s);
}

export class ServerError extends Error {
  constructor(
    readonly code: GrpcCodeName,
    message: string,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

const make = (code: GrpcCodeName, message: string) => (): ServerError => new ServerError(code, message);

export const errNoLeader = make('Unavailable', 'etcdserver: no leader');
export const errLeaderChanged = make('Unavailable', 'etcdserver: leader changed');
export const errStopped = make('Unavailable', 'etcdserver: server stopped');
export const errTimeout = make('Unavailable', 'etcdserver: request timed out');
export const errTimeoutDueToLeaderFail = make(
  'Unavailable',
  'etcdserver: request timed out, possibly due to previous leader failure',
);
export const errTimeoutDueToConnectionLost = make(
  'Unavailable',
  'etcdserver: request timed out, possibly due to connection lost',
);
export const errTimeoutWaitAppliedIndex = make(
  'Unavailable',
  'etcdserver: request timed out, waiting for the applied index took too long',
);
export const errUnhealthyCluster = make('Unavailable', 'etcdserver: unhealthy cluster');
export const errNotCapable = make('Unavailable', 'etcdserver: not capable');
export const errLearnerNotSupported = make('Unavailable', 'etcdserver: rpc not supported for learner');
export const errRequestTooLarge = make('InvalidArgument', 'etcdserver: request is too large');
// etcd sends this one with code Unknown (reference §2.2).
export const errTooManyRequests = make('Unknown', 'etcdserver: too many requests');
export const errNoSpace = make('ResourceExhausted', 'etcdserver: mvcc: database space exceeded');
export const errCorrupt = make('DataLoss', 'etcdserver: corrupt cluster');
export const errNotLeader = make('FailedPrecondition', 'etcdserver: not leader');
export const errBadLeaderTransferee = make('FailedPrecondition', 'etcdserver: bad leader transferee');
