// The HTTP/1.1 side of the client port: /health, /version, /metrics and the JSON gateway under /v3
// (and /v3beta, which etcd 3.4 rewrites to /v3). Bodies, statuses and the headers clients look at
// are etcd 3.4.23's, observed on the real thing.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import type { ServerApi } from '../server/api.js';
import { Gateway } from './gateway.js';
import type { ClientPortLogger } from './logger.js';

export interface HttpHandlerOptions {
  readonly maxReceiveBytes: number;
  readonly logger: ClientPortLogger;
}

/** etcd's client handler adds these to every answer. */
const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Headers': 'accept, content-type, authorization',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Origin': '*',
};

const TEXT = 'text/plain; charset=utf-8';

/** Go's http.Error: the text plus a newline, as plain text that must not be sniffed. */
function httpError(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    ...headers,
    'Content-Type': TEXT,
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function createHttpHandler(
  api: ServerApi,
  options: HttpHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const gateway = new Gateway(api, options);
  const { logger } = options;

  const health = async (res: ServerResponse): Promise<void> => {
    const h = await api.health();
    if (h.health) {
      send(res, 200, TEXT, '{"health":"true"}');
      return;
    }
    logger.warn('client port: /health error', { reason: h.reason });
    // etcd 3.4 writes the failure through http.Error, hence the newline and nosniff.
    httpError(res, 503, '{"health":"false"}');
  };

  return (req, res) => {
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q < 0 ? url : url.slice(0, q);
    if (path.startsWith('/v3beta/')) path = `/v3/${path.slice('/v3beta/'.length)}`;

    if (path.startsWith('/v3/')) {
      const route = path.slice('/v3'.length);
      if (!gateway.has(route)) httpError(res, 404, 'Not Found');
      else if (req.method !== 'POST') httpError(res, 405, 'Method Not Allowed');
      else gateway.serve(route, req, res);
      return;
    }
    switch (path) {
      case '/health':
        if (req.method !== 'GET') {
          httpError(res, 405, 'Method Not Allowed', { Allow: 'GET' });
          return;
        }
        health(res).catch((e: unknown) => {
          logger.warn('client port: /health failed', { error: e instanceof Error ? e.message : String(e) });
          if (!res.headersSent) httpError(res, 503, '{"health":"false"}');
        });
        return;
      case '/version': {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          httpError(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
          return;
        }
        const v = api.version();
        send(res, 200, 'application/json', JSON.stringify({ etcdserver: v.server, etcdcluster: v.cluster }));
        return;
      }
      case '/metrics':
        api.metrics.metrics().then(
          (text) => send(res, 200, api.metrics.contentType, text),
          (e: unknown) => httpError(res, 500, e instanceof Error ? e.message : String(e)),
        );
        return;
      default:
        httpError(res, 404, '404 page not found');
    }
  };
}

/** A node:http server with no listener of its own: the client port hands it connections. */
export function createHttpServer(api: ServerApi, options: HttpHandlerOptions): Server {
  const server = createServer(createHttpHandler(api, options));
  // Watch and keepalive responses stream for as long as the client wants.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  return server;
}
