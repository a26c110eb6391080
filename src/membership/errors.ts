// Membership errors. Each carries etcd's internal text (what etcd logs) and maps to the status a client
// sees: etcd's exact wire text and gRPC code (rpctypes/error.go, v3rpc's error map; reference
// etcd-v3.md §2.1-2.2), so the API layer maps by reason, never by matching strings.

export const MEMBERSHIP_GRPC_STATUS = {
  Unknown: 2,
  InvalidArgument: 3,
  NotFound: 5,
  FailedPrecondition: 9,
  Unavailable: 14,
} as const;

export type MembershipGrpcCode = keyof typeof MEMBERSHIP_GRPC_STATUS;

export type MembershipErrorReason =
  | 'id-removed'
  | 'id-exists'
  | 'id-not-found'
  | 'peer-url-exists'
  | 'member-not-learner'
  | 'too-many-learners'
  | 'not-enough-started'
  | 'learner-not-ready'
  | 'unhealthy'
  | 'bad-urls';

export const MEMBER_NOT_FOUND_MESSAGE = 'etcdserver: member not found';
export const MEMBER_EXISTS_MESSAGE = 'etcdserver: member ID already exist';
export const PEER_URL_EXISTS_MESSAGE = 'etcdserver: Peer URLs already exists';
export const MEMBER_NOT_LEARNER_MESSAGE = 'etcdserver: can only promote a learner member';
export const TOO_MANY_LEARNERS_MESSAGE = 'etcdserver: too many learner members in cluster';
export const NOT_ENOUGH_STARTED_MESSAGE =
  'etcdserver: re-configuration failed due to not enough started members';
export const LEARNER_NOT_READY_MESSAGE =
  'etcdserver: can only promote a learner member which is in sync with leader';
export const UNHEALTHY_MESSAGE = 'etcdserver: unhealthy cluster';
export const BAD_URLS_MESSAGE = 'etcdserver: given member URLs are invalid';

interface Entry {
  readonly internal: string;
  readonly code: MembershipGrpcCode;
  readonly wire: string;
}

const TABLE: Readonly<Record<MembershipErrorReason, Entry>> = {
  // A removed ID reads as "not found" to clients: removed IDs are gone for good.
  'id-removed': { internal: 'membership: ID removed', code: 'NotFound', wire: MEMBER_NOT_FOUND_MESSAGE },
  'id-exists': { internal: 'membership: ID exists', code: 'FailedPrecondition', wire: MEMBER_EXISTS_MESSAGE },
  'id-not-found': { internal: 'membership: ID not found', code: 'NotFound', wire: MEMBER_NOT_FOUND_MESSAGE },
  'peer-url-exists': {
    internal: 'membership: peerURL exists',
    code: 'FailedPrecondition',
    wire: PEER_URL_EXISTS_MESSAGE,
  },
  'member-not-learner': {
    internal: 'membership: can only promote a learner member',
    code: 'FailedPrecondition',
    wire: MEMBER_NOT_LEARNER_MESSAGE,
  },
  'too-many-learners': {
    internal: 'membership: too many learner members in cluster',
    code: 'FailedPrecondition',
    wire: TOO_MANY_LEARNERS_MESSAGE,
  },
  // etcd sends this one as the client-side error value, which grpc-go turns into code Unknown.
  'not-enough-started': {
    internal: NOT_ENOUGH_STARTED_MESSAGE,
    code: 'Unknown',
    wire: NOT_ENOUGH_STARTED_MESSAGE,
  },
  'learner-not-ready': {
    internal: LEARNER_NOT_READY_MESSAGE,
    code: 'FailedPrecondition',
    wire: LEARNER_NOT_READY_MESSAGE,
  },
  unhealthy: { internal: UNHEALTHY_MESSAGE, code: 'Unavailable', wire: UNHEALTHY_MESSAGE },
  'bad-urls': { internal: BAD_URLS_MESSAGE, code: 'InvalidArgument', wire: BAD_URLS_MESSAGE },
};

export interface GrpcStatus {
  /** gRPC status name, e.g. 'NotFound'. */
  readonly code: MembershipGrpcCode;
  /** gRPC status number, e.g. 5. */
  readonly status: number;
  /** etcd's exact status message. */
  readonly message: string;
}

export class MembershipError extends Error {
  readonly reason: MembershipErrorReason;

  /** `message` is etcd's internal text; `grpc` is what the client must see. */
  constructor(reason: MembershipErrorReason) {
    super(TABLE[reason].internal);
    this.name = 'MembershipError';
    this.reason = reason;
  }

  get grpc(): GrpcStatus {
    return grpcStatusOf(this.reason);
  }
}

export function grpcStatusOf(reason: MembershipErrorReason): GrpcStatus {
  const { code, wire } = TABLE[reason];
  return { code, status: MEMBERSHIP_GRPC_STATUS[code], message: wire };
}

/** The client-facing status of a membership error; undefined for anything else. */
export function toGrpcStatus(e: unknown): GrpcStatus | undefined {
  return e instanceof MembershipError ? e.grpc : undefined;
}

export function isMembershipError(e: unknown, reason?: MembershipErrorReason): e is MembershipError {
  return e instanceof MembershipError && (reason === undefined || e.reason === reason);
}
