// Where a caller's credentials come from on each wire: gRPC sends the token as `token` metadata, and
// a client certificate verified by the TLS port names a user by its common name (etcd uses it when
// no token is given); the JSON gateway sends the token as the Authorization header (with or
// without "Bearer ") and never authenticates by certificate.

import type { IncomingHttpHeaders } from 'node:http';

import type { Credentials } from '../server/api.js';
import { peerCommonName } from './grpc-call.js';
import type { H2Stream } from './h2-connection.js';

const withoutBearer = (s: string): string => (s.startsWith('Bearer ') ? s.slice('Bearer '.length) : s);

/** A gRPC call's credentials: its metadata (request headers) and the connection's certificate. */
export function grpcCallCredentials(stream: H2Stream): Credentials {
  const token = stream.headers.token ?? stream.headers.authorization;
  return {
    token: token === undefined ? undefined : withoutBearer(token),
    commonName: peerCommonName(stream),
  };
}

export function gatewayCredentials(headers: IncomingHttpHeaders): Credentials {
  const token = headers.authorization;
  return { token: token === undefined ? undefined : withoutBearer(token) };
}
