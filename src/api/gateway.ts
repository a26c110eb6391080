// The JSON gateway (`POST /v3/...`), answering as etcd 3.4's grpc-gateway does: one JSON object in,
// one out for unary calls; for the Watch and LeaseKeepAlive streams a body of back-to-back request
// objects in and newline-delimited `{"result":{...}}` objects out for as long as the client stays.
// Calls go straight to the member through the same method table as gRPC (no loopback connection).

import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { status as Status } from '@grpc/grpc-js';

import {
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  SnapshotResponse,
  WatchRequest,
  WatchResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { ServerApi } from '../server/api.js';
import { errorBody, gatewayJson, goJson, nextObject } from './gateway-json.js';
import type { ClientPortLogger } from './logger.js';
import { streamSnapshot } from './snapshot-stream.js';
import { gatewayCredentials } from './credentials.js';
import { KeepAliveSession, WatchSession, type ResponseSink } from './stream-sessions.js';
import { failure, failureOf, httpStatusOf, type CallFailure } from './status.js';
import { UNARY_METHODS, type UnaryMethod } from './unary-methods.js';

export interface GatewayOptions {
  /** gRPC's receive limit: a request whose message is larger is refused as gRPC would. */
  readonly maxReceiveBytes: number;
  readonly logger: ClientPortLogger;
}

/** HTTP reason phrases for the statuses the gateway sends (grpc-gateway's stream error chunk). */
const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export class Gateway {
  private readonly unary = new Map<string, UnaryMethod>();
  /** The largest body read for a unary call: JSON of a maximal message (base64 grows it by 4/3). */
  private readonly maxBodyBytes: number;

  constructor(
    private readonly api: ServerApi,
    private readonly options: GatewayOptions,
  ) {
    for (const m of UNARY_METHODS) for (const p of m.gatewayPaths) this.unary.set(p, m);
    this.maxBodyBytes = 2 * options.maxReceiveBytes + 64 * 1024;
  }

  /** Whether `path` (below the version prefix, e.g. '/kv/range') is a gateway route. */
  has(path: string): boolean {
    return (
      this.unary.has(path) ||
      path === '/watch' ||
      path === '/lease/keepalive' ||
      path === '/maintenance/snapshot'
    );
  }

  /** Serves a POST to a route `has()` accepted. */
  serve(path: string, req: IncomingMessage, res: ServerResponse): void {
    const m = this.unary.get(path);
    if (m !== undefined) {
      this.serveUnary(m, req, res).catch(() => res.destroy());
    } else if (path === '/watch') {
      this.serveStream(req, res, WatchRequest.fromJSON, WatchResponse.toJSON, (sink) => {
        const s = new WatchSession(this.api, sink, gatewayCredentials(req.headers));
        return { handle: (r) => s.handle(r), close: () => s.close() };
      });
    } else if (path === '/lease/keepalive') {
      this.serveStream(req, res, LeaseKeepAliveRequest.fromJSON, LeaseKeepAliveResponse.toJSON, (sink) => {
        const s = new KeepAliveSession(this.api, sink);
        return { handle: (r) => s.handle(r), close: () => s.close() };
      });
    } else {
      this.serveSnapshot(req, res);
    }
  }

  /** The request body carries nothing (SnapshotRequest is empty): stream as soon as it has arrived. */
  private serveSnapshot(req: IncomingMessage, res: ServerResponse): void {
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    const out = new StreamOut(res, SnapshotResponse.toJSON, () => abort.abort());
    req.resume();
    const ctx = { signal: abort.signal, credentials: gatewayCredentials(req.headers) };
    req.once('end', () => void streamSnapshot(this.api, out.sink, () => out.end(), ctx));
  }

  private async serveUnary(m: UnaryMethod, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, this.maxBodyBytes);
    if (body === undefined) {
      sendError(res, failure(Status.RESOURCE_EXHAUSTED, 'cairn: request body too large'));
      return;
    }
    const parsed = nextObject(body, true);
    if (parsed.kind === 'error') {
      sendError(res, failure(Status.INVALID_ARGUMENT, parsed.message), false);
      return;
    }
    let request: unknown;
    try {
      request = m.fromJson(parsed.kind === 'value' ? parsed.value : {});
    } catch (e) {
      sendError(res, failure(Status.INVALID_ARGUMENT, e instanceof Error ? e.message : String(e)), false);
      return;
    }
    if (body.length > this.options.maxReceiveBytes) {
      const size = m.encodedSize(request);
      if (size > this.options.maxReceiveBytes) {
        const limit = this.options.maxReceiveBytes;
        sendError(
          res,
          failure(Status.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${size} vs. ${limit})`),
        );
        return;
      }
    }
    const abort = new AbortController();
    const onClose = (): void => {
      if (!res.writableEnded) abort.abort();
    };
    res.once('close', onClose);
    try {
      const response = await m.invoke(this.api, request, {
        signal: abort.signal,
        credentials: gatewayCredentials(req.headers),
      });
      const text = gatewayJson(m.toJson(response));
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Grpc-Metadata-Content-Type': 'application/grpc',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
    } catch (e) {
      const f = failureOf(e);
      if (f.code === Status.UNKNOWN)
        this.options.logger.warn('gateway: request failed', { path: req.url, error: f.message });
      sendError(res, f);
    } finally {
      res.off('close', onClose);
    }
  }

  private serveStream<Req, Res>(
    req: IncomingMessage,
    res: ServerResponse,
    fromJson: (json: unknown) => Req,
    toJson: (r: Res) => unknown,
    open: (sink: ResponseSink<Res>) => { handle(r: Req): void; close(): void },
  ): void {
    const out = new StreamOut(res, toJson, () => session.close());
    const session = open(out.sink);
    res.once('close', () => session.close());

    // Requests arrive as the body streams in. The first must parse (else the call fails as etcd's
    // does); a later bad one only stops reading, and responses keep flowing.
    req.setEncoding('utf8');
    let buffered = '';
    let first = true;
    let reading = true;
    const consume = (final: boolean): void => {
      while (reading) {
        const p = nextObject(buffered, final);
        if (p.kind === 'incomplete' || p.kind === 'end') return;
        if (p.kind === 'error') {
          reading = false;
          if (first) failFirst(p.message);
          return;
        }
        buffered = p.rest;
        let r: Req;
        try {
          r = fromJson(p.value);
        } catch (e) {
          reading = false;
          if (first) failFirst(e instanceof Error ? e.message : String(e));
          return;
        }
        first = false;
        session.handle(r);
      }
    };
    const failFirst = (message: string): void => {
      if (!out.claim()) return;
      session.close();
      const text = errorBody(Status.UNKNOWN, message);
      res.writeHead(500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    req.on('data', (chunk: string) => {
      if (!reading) return;
      buffered += chunk;
      // A client that streams one endless unterminated object must not grow our memory forever.
      if (buffered.length > this.maxBodyBytes) {
        reading = false;
        if (first) failFirst('cairn: request message too large');
        return;
      }
      consume(false);
    });
    req.on('end', () => consume(true));
  }
}

/** A gateway stream's response side: `{"result":…}` lines, or an error chunk that ends it. */
class StreamOut<Res> {
  private started = false;
  private ended = false;
  readonly sink: ResponseSink<Res>;

  constructor(
    private readonly res: ServerResponse,
    toJson: (r: Res) => unknown,
    onFail: () => void,
  ) {
    this.sink = {
      write: (r) => {
        if (this.ended) return true;
        this.start();
        return res.write(`{"result":${gatewayJson(toJson(r))}}\n`);
      },
      drained: () => drainedOrClosed(res),
      fail: (f) => {
        if (this.ended) return;
        this.ended = true;
        if (!this.started) {
          this.started = true;
          res.writeHead(httpStatusOf(f.code), { 'Content-Type': 'application/json' });
        }
        res.end(streamErrorChunk(f));
        onFail();
      },
    };
    res.once('close', () => (this.ended = true));
  }

  /** Takes the response for an answer of the caller's own; false when it is already over. */
  claim(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.started = true;
    return true;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.start();
    this.res.end();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      'Content-Type': 'application/json',
      'Grpc-Metadata-Content-Type': 'application/grpc',
    });
  }
}

/** grpc-gateway v1's error chunk for a stream that fails. */
function streamErrorChunk(f: CallFailure): string {
  const http = httpStatusOf(f.code);
  return `${goJson({ error: { grpc_code: f.code, http_code: http, message: f.message, http_status: REASONS[http] ?? '' } })}\n`;
}

/**
 * An error answer. Errors of the call itself come, as from grpc-gateway, chunked with the gRPC
 * content type as a trailer; errors decoding the request come before any call, without it.
 */
function sendError(res: ServerResponse, f: CallFailure, fromCall = true): void {
  const text = errorBody(f.code, f.message);
  if (!fromCall) {
    res.writeHead(httpStatusOf(f.code), {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
    return;
  }
  res.writeHead(httpStatusOf(f.code), {
    'Content-Type': 'application/json',
    Trailer: 'Grpc-Trailer-Content-Type',
  });
  res.write(text);
  res.addTrailers({ 'Grpc-Trailer-Content-Type': 'application/grpc' });
  res.end();
}

/** The whole body as text, or undefined when it is longer than `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** Resolves when a writable can take more, or when it closed (the caller checks which). */
function drainedOrClosed(stream: EventEmitter): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
