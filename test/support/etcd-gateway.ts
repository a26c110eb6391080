// Small clients of an etcd (or Cairn) client port for tests: the JSON gateway (POST /v3/<service>/<rpc>
// with proto3 JSON: bytes as base64, int64 as strings, etcd's snake_case field names) and a unary gRPC
// call over HTTP/2 for what 3.4's gateway cannot reach (HashKV: its /v3/maintenance/hash serves Hash).

import { connect, constants } from 'node:http2';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A failed call as the client sees it: the gRPC status code number and its message. */
export interface GrpcFailure {
  readonly code: number;
  readonly message: string;
}

export type Reply<T> =
  { readonly ok: true; readonly body: T } | { readonly ok: false; readonly error: GrpcFailure };

/** gRPC status code numbers by name (the names KeyspaceError and friends use). */
export const GRPC_CODES = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

export class EtcdGateway {
  /**
   * @param baseUrl http://host:port of the client port
   * @param prefix '/v3' (etcd 3.4 also serves '/v3beta', 3.3 '/v3alpha')
   */
  constructor(
    readonly baseUrl: string,
    readonly prefix = '/v3',
    private readonly headers: Readonly<Record<string, string>> = {},
  ) {}

  /** The same gateway with an auth token (the gateway's `Authorization` header). */
  withToken(token: string): EtcdGateway {
    return new EtcdGateway(this.baseUrl, this.prefix, { ...this.headers, Authorization: token });
  }

  /** POSTs `body` to `<prefix><path>`, e.g. call('/kv/range', {key: 'YQ=='}). */
  async call(path: string, body: JsonObject, timeoutMs = 10_000): Promise<Reply<JsonObject>> {
    const url = `${this.baseUrl}${this.prefix}${path}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`gateway ${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (!isObject(parsed)) throw new Error(`gateway ${url}: HTTP ${res.status}, not an object: ${text}`);
    // grpc-gateway errors: {"error": msg, "message": msg, "code": <gRPC code>} with an HTTP error status.
    if (!res.ok) {
      const code = parsed['code'];
      const message = parsed['message'] ?? parsed['error'];
      if (typeof code !== 'number' || typeof message !== 'string') {
        throw new Error(`gateway ${url}: HTTP ${res.status}: ${text}`);
      }
      return { ok: false, error: { code, message } };
    }
    return { ok: true, body: parsed };
  }

  range = (body: JsonObject): Promise<Reply<JsonObject>> => this.call('/kv/range', body);
  put = (body: JsonObject): Promise<Reply<JsonObject>> => this.call('/kv/put', body);
  deleteRange = (body: JsonObject): Promise<Reply<JsonObject>> => this.call('/kv/deleterange', body);
  txn = (body: JsonObject): Promise<Reply<JsonObject>> => this.call('/kv/txn', body);
  compact = (body: JsonObject): Promise<Reply<JsonObject>> => this.call('/kv/compaction', body);
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * One unary gRPC call over cleartext HTTP/2 (prior knowledge, as etcdctl does without TLS), e.g.
 * grpcUnary(url, '/etcdserverpb.Maintenance/HashKV', HashKVRequest.encode(r).finish()). Returns the
 * response message bytes, or the status code and message.
 */
export function grpcUnary(
  baseUrl: string,
  method: string,
  request: Uint8Array,
  timeoutMs = 10_000,
): Promise<Reply<Uint8Array>> {
  return new Promise((resolve, reject) => {
    const session = connect(baseUrl);
    const fail = (e: Error): void => {
      session.destroy();
      reject(new Error(`grpc ${method}: ${e.message}`));
    };
    session.once('error', fail);
    const frame = Buffer.alloc(5 + request.byteLength);
    frame.writeUInt8(0, 0); // not compressed
    frame.writeUInt32BE(request.byteLength, 1);
    frame.set(request, 5);
    const req = session.request({
      ':method': 'POST',
      ':path': method,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    req.setTimeout(timeoutMs, () => {
      req.close(constants.NGHTTP2_CANCEL);
      fail(new Error(`no answer in ${timeoutMs} ms`));
    });
    let status: string | undefined;
    let message: string | undefined;
    const take = (h: Record<string, string | string[] | undefined>): void => {
      const s = h['grpc-status'];
      const m = h['grpc-message'];
      if (typeof s === 'string') status = s;
      if (typeof m === 'string') message = decodeURIComponent(m);
    };
    // A failed call may come as headers only (the status in the headers), else in the trailers.
    req.on('response', take);
    req.on('trailers', take);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('error', fail);
    req.once('end', () => {
      session.close();
      const code = status === undefined ? GRPC_CODES.Unknown : Number(status);
      if (code !== GRPC_CODES.OK) {
        resolve({ ok: false, error: { code, message: message ?? `(no grpc-status: ${String(status)})` } });
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.byteLength < 5 || body.readUInt8(0) !== 0 || body.readUInt32BE(1) !== body.byteLength - 5) {
        reject(new Error(`grpc ${method}: expected one uncompressed message, got ${body.byteLength} bytes`));
        return;
      }
      resolve({ ok: true, body: new Uint8Array(body.subarray(5)) });
    });
    req.end(frame);
  });
}
