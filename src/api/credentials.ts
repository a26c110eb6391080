// Where a caller's credentials come from on each wire: gRPC sends the token as `token` metadata, and
// a client certificate verified by the TLS port names a user by its common name (etcd uses it when
// no token is given); the JSON gateway sends the token as the Authorization header (with or
// without "Bearer ") and never authenticates by certificate.

import type { IncomingHttpHeaders } from 'node:http';

import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';

import type { Credentials } from '../server/api.js';

const withoutBearer = (s: string): string => (s.startsWith('Bearer ') ? s.slice('Bearer '.length) : s);

/** The grpc-js server call parts credentials come from. */
interface GrpcCall {
  readonly metadata: Metadata;
  getAuthContext(): ReturnType<ServerUnaryCall<unknown, unknown>['getAuthContext']>;
}

export function grpcCallCredentials(call: GrpcCall): Credentials {
  const token = call.metadata.get('token')[0] ?? call.metadata.get('authorization')[0];
  const cn = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  return {
    token: typeof token === 'string' ? withoutBearer(token) : undefined,
    commonName: typeof cn === 'string' ? cn : undefined,
  };
}

export function gatewayCredentials(headers: IncomingHttpHeaders): Credentials {
  const token = headers.authorization;
  return { token: token === undefined ? undefined : withoutBearer(token) };
}
