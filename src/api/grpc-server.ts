// The gRPC side of the client port: a grpc-js server with etcd's services, built from the unary
// method table plus the two bidirectional streams, and the health service. It owns no socket: the
// client port hands it connections (see client-port.ts), so gRPC and HTTP/1 share one port as with
// etcd's cmux.

import {
  Server,
  status as Status,
  type Metadata,
  type ServerDuplexStream,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
  type handleUnaryCall,
} from '@grpc/grpc-js';

import {
  AuthService,
  ClusterService,
  KVService,
  LeaseService,
  MaintenanceService,
  WatchService,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type SnapshotRequest,
  type SnapshotResponse,
  type WatchRequest,
  type WatchResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { ServerApi } from '../server/api.js';
import { grpcCallCredentials } from './credentials.js';
import { HealthService, healthImplementation } from './health-service.js';
import type { LeaderMonitor } from './leader-monitor.js';
import type { ClientPortLogger } from './logger.js';
import { KeepAliveSession, WatchSession, type ResponseSink } from './stream-sessions.js';
import {
  failureOf,
  NO_LEADER,
  NOT_SUPPORTED_FOR_LEARNER,
  toStatusError,
  type CallFailure,
} from './status.js';
import { streamSnapshot } from './snapshot-stream.js';
import { UNARY_METHODS, type ServiceName, type UnaryMethod } from './unary-methods.js';

/** etcd's allowance for gRPC framing on top of --max-request-bytes. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;
/** Largest message etcd sends (math.MaxInt32). */
export const MAX_SEND_BYTES = 2 ** 31 - 1;

export interface GrpcServerOptions {
  /** --max-request-bytes; gRPC accepts messages up to this plus GRPC_OVERHEAD_BYTES. */
  readonly maxRequestBytes: number;
  /** Server keepalive pings (--grpc-keepalive-interval / -timeout; etcd: 2 h / 20 s). */
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  readonly logger: ClientPortLogger;
  /** Cancels the `hasleader` streams once the member has been without a leader too long. */
  readonly leaderMonitor?: LeaderMonitor;
}

export const maxReceiveBytes = (maxRequestBytes: number): number => maxRequestBytes + GRPC_OVERHEAD_BYTES;

/** Whether the call asks to fail when the member knows no leader (clientv3 WithRequireLeader). */
export function requiresLeader(metadata: Metadata): boolean {
  const v = metadata.get('hasleader');
  return v.length > 0 && v[0] === 'true';
}

export function createGrpcServer(api: ServerApi, options: GrpcServerOptions): Server {
  const server = new Server({
    'grpc.max_receive_message_length': maxReceiveBytes(options.maxRequestBytes),
    'grpc.max_send_message_length': MAX_SEND_BYTES,
    'grpc.max_concurrent_streams': 2 ** 32 - 1,
    'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 2 * 60 * 60 * 1000,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 20_000,
  });
  const impls: Record<ServiceName, Record<string, UntypedHandleCall>> = {
    KV: {},
    Lease: {},
    Cluster: {},
    Maintenance: {},
    Auth: {},
  };
  for (const m of UNARY_METHODS) impls[m.service][m.handler] = unaryHandler(api, m, options.logger);
  impls.Lease['leaseKeepAlive'] = keepAliveHandler(api, options.leaderMonitor);
  impls.Maintenance['snapshot'] = snapshotHandler(api);

  const add = (def: object, impl: UntypedServiceImplementation): void =>
    server.addService(def as ServiceDefinition, impl);
  add(KVService, impls.KV);
  add(WatchService, { watch: watchHandler(api, options.leaderMonitor) });
  add(LeaseService, impls.Lease);
  add(ClusterService, impls.Cluster);
  add(MaintenanceService, impls.Maintenance);
  add(AuthService, impls.Auth);
  add(HealthService, healthImplementation(api));
  return server;
}

function unaryHandler(
  api: ServerApi,
  m: UnaryMethod,
  logger: ClientPortLogger,
): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    if (requiresLeader(call.metadata) && !api.hasLeader()) {
      callback(toStatusError(NO_LEADER));
      return;
    }
    // No cancellation signal on this hot path: a canceled call's proposal applies anyway (as with
    // etcd), and its wait ends at the apply or the request timeout; the answer is then dropped.
    // Credentials are read only if the member asks (auth on): a TLS peer certificate costs a copy.
    const ctx = {
      get credentials() {
        return grpcCallCredentials(call);
      },
    };
    m.invoke(api, call.request, ctx).then(
      (response) => callback(null, response),
      (e: unknown) => {
        const f = failureOf(e);
        if (f.code === Status.UNKNOWN)
          logger.warn('client port: request failed', { method: m.handler, error: f.message });
        callback(toStatusError(f));
      },
    );
  };
}

/** Why a stream may not start (etcd's stream interceptor): a learner serves none, then `hasleader`. */
function streamRefusal(api: ServerApi, metadata: Metadata): CallFailure | undefined {
  if (api.isLearner()) return NOT_SUPPORTED_FOR_LEARNER;
  if (requiresLeader(metadata) && !api.hasLeader()) return NO_LEADER;
  return undefined;
}

/** A response sink over a grpc-js server stream; it stops waiting when the call goes away. */
function streamSink<Req, Res>(
  call: ServerDuplexStream<Req, Res> | ServerWritableStream<Req, Res>,
): ResponseSink<Res> {
  return {
    write: (r) => call.write(r),
    drained: () =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          call.off('drain', done);
          call.off('close', done);
          call.off('cancelled', done);
          resolve();
        };
        call.on('drain', done);
        call.on('close', done);
        call.on('cancelled', done);
      }),
    fail: (f: CallFailure) => call.emit('error', toStatusError(f)),
  };
}

/**
 * Ties a stream session to its call: requests in, the session closed when the call goes away, and,
 * for a `hasleader` call, the call ended with "no leader" when the monitor gives up on the leader.
 */
function runSession<Req, Res>(
  call: ServerDuplexStream<Req, Res>,
  session: { handle(r: Req): void; close(): void },
  monitor: LeaderMonitor | undefined,
): void {
  call.on('data', (r: Req) => session.handle(r));
  const untrack =
    monitor !== undefined && requiresLeader(call.metadata)
      ? monitor.track(() => {
          session.close();
          call.emit('error', toStatusError(NO_LEADER));
        })
      : () => {};
  // The client closing its side is not the end: etcd keeps sending until the call is gone.
  const close = (): void => {
    untrack();
    session.close();
  };
  call.once('cancelled', close);
  call.once('close', close);
  call.once('finish', close);
}

function watchHandler(api: ServerApi, monitor: LeaderMonitor | undefined): UntypedHandleCall {
  return (call: ServerDuplexStream<WatchRequest, WatchResponse>) => {
    const refusal = streamRefusal(api, call.metadata);
    if (refusal !== undefined) {
      call.emit('error', toStatusError(refusal));
      return;
    }
    runSession(call, new WatchSession(api, streamSink(call), grpcCallCredentials(call)), monitor);
  };
}

function keepAliveHandler(api: ServerApi, monitor: LeaderMonitor | undefined): UntypedHandleCall {
  return (call: ServerDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>) => {
    const refusal = streamRefusal(api, call.metadata);
    if (refusal !== undefined) {
      call.emit('error', toStatusError(refusal));
      return;
    }
    runSession(call, new KeepAliveSession(api, streamSink(call)), monitor);
  };
}

function snapshotHandler(api: ServerApi): UntypedHandleCall {
  return (call: ServerWritableStream<SnapshotRequest, SnapshotResponse>) => {
    const refusal = streamRefusal(api, call.metadata);
    if (refusal !== undefined) {
      call.emit('error', toStatusError(refusal));
      return;
    }
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    call.once('cancelled', stop);
    call.once('close', stop);
    void streamSnapshot(api, streamSink(call), () => call.end(), {
      signal: abort.signal,
      credentials: grpcCallCredentials(call),
    });
  };
}
