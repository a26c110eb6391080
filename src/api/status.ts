// gRPC status codes for the errors the member throws, and the HTTP statuses the JSON gateway answers
// them with. The member's errors carry the code NAME (`.code`) and etcd's exact text (`.message`);
// anything else is sent as Unknown with its message, which is what etcd does with unmapped errors.

import { status as Status } from '@grpc/grpc-js';

/** gRPC status numbers by the names the member's error classes use. */
export const GRPC_STATUS: Readonly<Record<string, Status>> = {
  OK: Status.OK,
  Canceled: Status.CANCELLED,
  Unknown: Status.UNKNOWN,
  InvalidArgument: Status.INVALID_ARGUMENT,
  DeadlineExceeded: Status.DEADLINE_EXCEEDED,
  NotFound: Status.NOT_FOUND,
  AlreadyExists: Status.ALREADY_EXISTS,
  PermissionDenied: Status.PERMISSION_DENIED,
  ResourceExhausted: Status.RESOURCE_EXHAUSTED,
  FailedPrecondition: Status.FAILED_PRECONDITION,
  Aborted: Status.ABORTED,
  OutOfRange: Status.OUT_OF_RANGE,
  Unimplemented: Status.UNIMPLEMENTED,
  Internal: Status.INTERNAL,
  Unavailable: Status.UNAVAILABLE,
  DataLoss: Status.DATA_LOSS,
  Unauthenticated: Status.UNAUTHENTICATED,
};

/** A status to answer a call with: the code number and etcd's text. */
export interface CallFailure {
  readonly code: Status;
  readonly message: string;
}

/**
 * The status for anything a ServerApi method threw. Most errors carry the code name in `.code` and
 * the wire text in `.message`; membership errors keep etcd's internal text in `.message` and give the
 * client-facing status as `.grpc` ({code, message}), which wins when present.
 */
export function failureOf(e: unknown): CallFailure {
  if (!(e instanceof Error)) return { code: Status.UNKNOWN, message: String(e) };
  const wire = (e as { grpc?: unknown }).grpc;
  if (typeof wire === 'object' && wire !== null) {
    const { code, message } = wire as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && typeof message === 'string') {
      return { code: GRPC_STATUS[code] ?? Status.UNKNOWN, message };
    }
  }
  const name = (e as { code?: unknown }).code;
  const code = typeof name === 'string' ? GRPC_STATUS[name] : undefined;
  return { code: code ?? Status.UNKNOWN, message: e.message };
}

export const failure = (code: Status, message: string): CallFailure => ({ code, message });

export const NO_LEADER: CallFailure = failure(Status.UNAVAILABLE, 'etcdserver: no leader');

export const NOT_SUPPORTED_FOR_LEARNER: CallFailure = failure(
  Status.UNAVAILABLE,
  'etcdserver: rpc not supported for learner',
);

/**
 * The HTTP status grpc-gateway (v1, as in etcd 3.4) answers a gRPC code with; 404, 400 (OutOfRange,
 * InvalidArgument) and 412 (FailedPrecondition) were observed on etcd 3.4.23.
 */
export function httpStatusOf(code: Status): number {
  switch (code) {
    case Status.OK:
      return 200;
    case Status.CANCELLED:
      return 408;
    case Status.INVALID_ARGUMENT:
    case Status.OUT_OF_RANGE:
      return 400;
    case Status.DEADLINE_EXCEEDED:
      return 504;
    case Status.NOT_FOUND:
      return 404;
    case Status.ALREADY_EXISTS:
    case Status.ABORTED:
      return 409;
    case Status.PERMISSION_DENIED:
      return 403;
    case Status.UNAUTHENTICATED:
      return 401;
    case Status.RESOURCE_EXHAUSTED:
      return 429;
    case Status.FAILED_PRECONDITION:
      return 412;
    case Status.UNIMPLEMENTED:
      return 501;
    case Status.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}
