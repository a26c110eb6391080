// The gRPC side of the client port: etcd's services on our own HTTP/2 (h2-connection.ts), built from
// the unary method table plus the three streams (Watch, LeaseKeepAlive, Snapshot) and the health
// check. It owns no socket: the client port hands it connections (see client-port.ts), so gRPC and
// HTTP/1 share one port as with etcd's cmux.
//
// Why not grpc-js's server: measured on this 2-core box (docs/benchmarks.md), a unary Put through
// grpc-js cost the server 47-49 µs of CPU, and 28-32 µs straight on node:http2, with the request
// plumbing the largest share of a put leader's CPU. etcd's clients need only the HTTP/2 mapping of
// gRPC (grpc-call.ts), which this file routes; the client library (src/client) still uses grpc-js.

import type { Duplex } from 'node:stream';

import { status as Status } from '@grpc/grpc-js';

import {
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  SnapshotRequest,
  SnapshotResponse,
  WatchRequest,
  WatchResponse,
  AuthService,
  ClusterService,
  KVService,
  LeaseService,
  MaintenanceService,
  WatchService,
} from '../proto/etcdserverpb/rpc.js';
import { encoded } from '../proto/reused-writer.js';
import type { CallContext, ServerApi } from '../server/api.js';
import { grpcCallCredentials } from './credentials.js';
import {
  answerUnary,
  encodingRefusal,
  httpStatusBlock,
  MessageReader,
  onlyMessage,
  prefixRefusal,
  refuseCall,
  ResponseStream,
} from './grpc-call.js';
import { H2ServerConnection, type H2Stream, type RequestHeaders } from './h2-connection.js';
import {
  checkHealth,
  decodeHealthCheckRequest,
  encodeHealthCheckResponse,
  HealthService,
  type HealthCheckResponse,
} from './health-service.js';
import type { LeaderMonitor } from './leader-monitor.js';
import type { ClientPortLogger } from './logger.js';
import { KeepAliveSession, WatchSession, type ResponseSink } from './stream-sessions.js';
import { failure, failureOf, NO_LEADER, NOT_SUPPORTED_FOR_LEARNER, type CallFailure } from './status.js';
import { streamSnapshot } from './snapshot-stream.js';
import { UNARY_METHODS, type ServiceName } from './unary-methods.js';

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

export interface GrpcServer {
  /**
   * Serves one client connection: a socket (maybe TLS), paused, and the bytes read from it so far,
   * starting with the HTTP/2 client preface.
   */
  serve(connection: Duplex, opening: Buffer): void;
  /** Ends every connection, and with them every call. */
  close(): void;
}

export const maxReceiveBytes = (maxRequestBytes: number): number => maxRequestBytes + GRPC_OVERHEAD_BYTES;

/** Whether the call asks to fail when the member knows no leader (clientv3 WithRequireLeader). */
export function requiresLeader(headers: RequestHeaders): boolean {
  return headers.hasleader === 'true';
}

/** Starts serving one call; its request headers (gRPC metadata included) are `stream.headers`. */
type Route = (stream: H2Stream) => void;

interface RouteContext {
  readonly api: ServerApi;
  readonly logger: ClientPortLogger;
  readonly maxBytes: number;
  readonly monitor: LeaderMonitor | undefined;
}

const ignore = (): void => {};
const UNSUPPORTED_MEDIA_TYPE = httpStatusBlock(415);

export function createGrpcServer(api: ServerApi, options: GrpcServerOptions): GrpcServer {
  const ctx: RouteContext = {
    api,
    logger: options.logger,
    maxBytes: maxReceiveBytes(options.maxRequestBytes),
    monitor: options.leaderMonitor,
  };
  const routes = new Map<string, Route>();
  const definitions: Record<ServiceName, Record<string, { readonly path: string }>> = {
    KV: KVService,
    Lease: LeaseService,
    Cluster: ClusterService,
    Maintenance: MaintenanceService,
    Auth: AuthService,
  };
  for (const m of UNARY_METHODS) {
    routes.set(
      definitions[m.service][m.handler].path,
      unaryRoute(ctx, m.handler, m.decode, m.encode, (r, c) => m.invoke(api, r, c)),
    );
  }
  routes.set(
    HealthService.check.path,
    unaryRoute(
      ctx,
      'check',
      decodeHealthCheckRequest,
      (r) => encodeHealthCheckResponse(r as HealthCheckResponse),
      (r) => checkHealth(api, r),
    ),
  );
  routes.set(WatchService.watch.path, watchRoute(ctx));
  routes.set(LeaseService.leaseKeepAlive.path, keepAliveRoute(ctx));
  routes.set(MaintenanceService.snapshot.path, snapshotRoute(ctx));
  const services = new Set([...routes.keys()].map((p) => p.split('/')[1]));

  const onStream = (stream: H2Stream): void => {
    const headers = stream.headers;
    const path = headers[':path'];
    const route = routes.get(path);
    const contentType = headers['content-type'];
    if (contentType === undefined || !contentType.startsWith('application/grpc')) {
      stream.respond(UNSUPPORTED_MEDIA_TYPE, true);
      return;
    }
    if (route === undefined) {
      refuseCall(stream, unknownMethod(path, services));
      return;
    }
    const refusal = encodingRefusal(headers);
    if (refusal !== undefined) {
      refuseCall(stream, refusal);
      return;
    }
    route(stream);
  };
  const onProtocolError = (e: Error): void =>
    options.logger.warn('client port: closing a connection that broke HTTP/2', { error: e.message });
  const connections = new Set<H2ServerConnection>();

  return {
    serve: (transport, opening) => {
      const c = new H2ServerConnection(transport, opening, {
        onStream,
        onProtocolError,
        keepaliveTimeMs: options.keepaliveTimeMs ?? 2 * 60 * 60 * 1000,
        keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? 20_000,
      });
      connections.add(c);
      transport.once('close', () => connections.delete(c));
    },
    close: () => {
      for (const c of connections) c.close();
      connections.clear();
    },
  };
}

/** grpc-go's answer for a path it serves nothing at. */
function unknownMethod(path: string, services: ReadonlySet<string>): CallFailure {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (m === null) return failure(Status.UNIMPLEMENTED, `malformed method name: ${JSON.stringify(path)}`);
  const [, service, method] = m;
  return failure(
    Status.UNIMPLEMENTED,
    services.has(service) ? `unknown method ${method} for service ${service}` : `unknown service ${service}`,
  );
}

const unmarshalFailure = (e: unknown): CallFailure =>
  failure(
    Status.INTERNAL,
    `grpc: error unmarshalling request: ${e instanceof Error ? e.message : String(e)}`,
  );

/**
 * A unary method: one request message in, one response or a status out. The body is collected
 * as it comes (one chunk for almost every request) and read once the client ends it.
 */
function unaryRoute<Req, Res>(
  ctx: RouteContext,
  name: string,
  decode: (bytes: Uint8Array) => Req,
  encode: (response: Res) => Uint8Array,
  invoke: (request: Req, call: CallContext) => Promise<Res>,
): Route {
  const { api, logger, maxBytes } = ctx;
  return (stream) => {
    let body: Buffer | undefined;
    let refused = false;
    stream.ondata = (chunk: Buffer): void => {
      if (refused) return;
      body = body === undefined ? chunk : Buffer.concat([body, chunk]);
      const f = prefixRefusal(body, maxBytes);
      if (f !== undefined) {
        refused = true;
        body = undefined;
        refuseCall(stream, f);
      }
    };
    stream.onend = (): void => {
      if (refused) return;
      const request = onlyMessage(body, maxBytes);
      if (!(request instanceof Uint8Array)) {
        refuseCall(stream, request);
        return;
      }
      let decoded: Req;
      try {
        decoded = decode(request);
      } catch (e) {
        refuseCall(stream, unmarshalFailure(e));
        return;
      }
      if (requiresLeader(stream.headers) && !api.hasLeader()) {
        refuseCall(stream, NO_LEADER);
        return;
      }
      // No cancellation signal on this hot path: a canceled call's proposal applies anyway (as with
      // etcd), and its wait ends at the apply or the request timeout; the answer is then dropped.
      // Credentials are read only if the member asks (auth on): a TLS peer certificate costs a copy.
      const call: CallContext = {
        get credentials() {
          return grpcCallCredentials(stream);
        },
      };
      invoke(decoded, call).then(
        (response) => answerUnary(stream, encode(response)),
        (e: unknown) => {
          const f = failureOf(e);
          if (f.code === Status.UNKNOWN)
            logger.warn('client port: request failed', { method: name, error: f.message });
          refuseCall(stream, f);
        },
      );
    };
  };
}

/** Why a stream may not start (etcd's stream interceptor): a learner serves none, then `hasleader`. */
function streamRefusal(api: ServerApi, headers: RequestHeaders): CallFailure | undefined {
  if (api.isLearner()) return NOT_SUPPORTED_FOR_LEARNER;
  if (requiresLeader(headers) && !api.hasLeader()) return NO_LEADER;
  return undefined;
}

/** The sink of a streaming call's responses, encoded and framed onto `out`. */
function sinkOf<Res>(out: ResponseStream, encode: (response: Res) => Uint8Array): ResponseSink<Res> {
  return {
    write: (r) => out.write(encode(r)),
    drained: () => out.drained(),
    fail: (f) => out.end(f),
  };
}

/** Hands each request message of a streaming call to `handle`; an unreadable one ends the call. */
function readRequests<Req>(
  stream: H2Stream,
  maxBytes: number,
  out: ResponseStream,
  decode: (bytes: Uint8Array) => Req,
  handle: (request: Req) => void,
): void {
  const reader = new MessageReader(
    maxBytes,
    (bytes) => {
      if (!out.live) return;
      let request: Req;
      try {
        request = decode(bytes);
      } catch (e) {
        out.end(unmarshalFailure(e));
        return;
      }
      handle(request);
    },
    (f) => out.end(f),
  );
  stream.ondata = (chunk: Buffer): void => reader.push(chunk);
}

/**
 * A bidirectional stream bound to a session: requests in, the session closed when the call goes
 * away or fails, and, for a `hasleader` call, the call ended with "no leader" when the monitor gives
 * up on the leader. The client closing its side is not the end: etcd keeps sending until the call
 * is gone.
 */
function sessionRoute<Req, Res>(
  ctx: RouteContext,
  decode: (bytes: Uint8Array) => Req,
  encode: (response: Res) => Uint8Array,
  open: (
    sink: ResponseSink<Res>,
    stream: H2Stream,
  ) => {
    handle(request: Req): void;
    close(): void;
  },
): Route {
  const { api, maxBytes, monitor } = ctx;
  return (stream) => {
    const headers = stream.headers;
    const refusal = streamRefusal(api, headers);
    if (refusal !== undefined) {
      refuseCall(stream, refusal);
      return;
    }
    const out = new ResponseStream(stream);
    // The sessions close themselves after failing their sink.
    const session = open(sinkOf(out, encode), stream);
    readRequests(stream, maxBytes, out, decode, (r) => session.handle(r));
    const untrack =
      monitor !== undefined && requiresLeader(headers)
        ? monitor.track(() => {
            session.close();
            out.end(NO_LEADER);
          })
        : ignore;
    stream.onClose(() => {
      untrack();
      session.close();
    });
  };
}

function watchRoute(ctx: RouteContext): Route {
  return sessionRoute<WatchRequest, WatchResponse>(
    ctx,
    (b) => WatchRequest.decode(b),
    (r) => encoded(WatchResponse, r),
    (sink, stream) => new WatchSession(ctx.api, sink, grpcCallCredentials(stream)),
  );
}

function keepAliveRoute(ctx: RouteContext): Route {
  return sessionRoute<LeaseKeepAliveRequest, LeaseKeepAliveResponse>(
    ctx,
    (b) => LeaseKeepAliveRequest.decode(b),
    (r) => encoded(LeaseKeepAliveResponse, r),
    (sink) => new KeepAliveSession(ctx.api, sink),
  );
}

/** Maintenance.Snapshot: one request, then the image as a stream of messages (snapshot-stream.ts). */
function snapshotRoute(ctx: RouteContext): Route {
  const { api, maxBytes } = ctx;
  return (stream) => {
    const refusal = streamRefusal(api, stream.headers);
    if (refusal !== undefined) {
      refuseCall(stream, refusal);
      return;
    }
    const out = new ResponseStream(stream);
    let started = false;
    readRequests(
      stream,
      maxBytes,
      out,
      (b) => SnapshotRequest.decode(b),
      () => {
        if (started) return;
        started = true;
        const abort = new AbortController();
        stream.onClose(() => abort.abort());
        void streamSnapshot(
          api,
          sinkOf<SnapshotResponse>(out, (r) => SnapshotResponse.encode(r).finish()),
          () => out.end(),
          { signal: abort.signal, credentials: grpcCallCredentials(stream) },
        );
      },
    );
  };
}
