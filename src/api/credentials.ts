// Where a caller's credentials come from on each wire: gRPC sends the token as `token` metadata, and
// a client certificate verified by the TLS port names a user by its common name (etcd uses it when
// no token is given); the JSON gateway sends the token as the Authorization header (with or
// without "Bearer ") and never authenticates by certificate.

import type { IncomingHttpHeaders } from 'node:http';
import type { IncomingHttpHeaders as Http2Headers, ServerHttp2Stream } from 'node:http2';

import type { Credentials } from '../server/api.js';
import { headerValue, peerCommonName } from './grpc-call.js';

const withoutBearer = (s: string): string => (s.startsWith('Bearer ') ? s.slice('Bearer '.length) : s);

/** A gRPC call's credentials: its metadata (request headers) and the connection's certificate. */
export function grpcCallCredentials(stream: ServerHttp2Stream, headers: Http2Headers): Credentials {
  const token = headerValue(headers, 'token') ?? headerValue(headers, 'authorization');
  return {
    token: token === undefined ? undefined : withoutBearer(token),
    commonName: peerCommonName(stream),
  };
}

export function gatewayCredentials(headers: IncomingHttpHeaders): Credentials {
  const token = headers.authorization;
  return { token: token === undefined ? undefined : withoutBearer(token) };
}
