// Errors of the keyspace with etcd's exact texts and gRPC status codes: clients match on the text
// (reference §2.1), so the API layer passes both through unchanged.

export type GrpcCode =
  'InvalidArgument' | 'OutOfRange' | 'ResourceExhausted' | 'NotFound' | 'FailedPrecondition';

export class KeyspaceError extends Error {
  constructor(
    readonly code: GrpcCode,
    message: string,
  ) {
    super(message);
    this.name = 'KeyspaceError';
  }
}

export const errCompacted = (): KeyspaceError =>
  new KeyspaceError('OutOfRange', 'etcdserver: mvcc: required revision has been compacted');
export const errFutureRevision = (): KeyspaceError =>
  new KeyspaceError('OutOfRange', 'etcdserver: mvcc: required revision is a future revision');
export const errNoSpace = (): KeyspaceError =>
  new KeyspaceError('ResourceExhausted', 'etcdserver: mvcc: database space exceeded');
export const errEmptyKey = (): KeyspaceError =>
  new KeyspaceError('InvalidArgument', 'etcdserver: key is not provided');
export const errKeyNotFound = (): KeyspaceError =>
  new KeyspaceError('InvalidArgument', 'etcdserver: key not found');
export const errValueProvided = (): KeyspaceError =>
  new KeyspaceError('InvalidArgument', 'etcdserver: value is provided');
export const errLeaseProvided = (): KeyspaceError =>
  new KeyspaceError('InvalidArgument', 'etcdserver: lease is provided');
export const errTooManyOps = (): KeyspaceError =>
  new KeyspaceError('InvalidArgument', 'etcdserver: too many operations in txn request');
export const errDuplicateKey = (): KeyspaceError =>
  new KeyspaceError('InvalidArgument', 'etcdserver: duplicate key given in txn request');
export const errLeaseNotFound = (): KeyspaceError =>
  new KeyspaceError('NotFound', 'etcdserver: requested lease not found');
