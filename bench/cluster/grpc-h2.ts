// A lean gRPC client straight on node:http2, for load generation. grpc-js costs too much CPU per
// call to stay out of the way on a 2-core box (reference/ecosystem.md §3: its client capped even Go
// etcd at ~8k rps), so this does only what the benchmarks need: unary calls (one POST per call with
// a pre-framed body, grpc-status from the trailers or from a trailers-only answer) and bidirectional
// streams (Watch, LeaseKeepAlive) that hand each received message to a callback.

import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';

/** gRPC status codes used here by name (the rest are reported as numbers). */
export const GRPC_OK = 0;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_UNAVAILABLE = 14;
/** Our code for "the call never got a gRPC status" (reset stream, bad HTTP status). */
export const NO_STATUS = -1;

/** The 5-byte gRPC prefix (uncompressed, big-endian length) in front of an encoded message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** The message inside a unary response body (one frame), or undefined if the body is not one frame. */
export function unframe(body: Buffer): Buffer | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const len = body.readUInt32BE(1);
  return body.length === 5 + len ? body.subarray(5) : undefined;
}

/** Called once per call: code 0 is success; `body` only when the call asked to keep it. */
export type Done = (code: number, message: string, body: Buffer | undefined) => void;

export interface CallOptions {
  /** Keep the response body (Status, the revision check); the load path skips the copy. */
  readonly keepBody?: boolean;
  /** Cancel the call after this long and report DEADLINE_EXCEEDED (also sent as grpc-timeout). */
  readonly timeoutMs?: number;
}

function statusOf(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers['grpc-status'];
  return raw === undefined ? undefined : Number(raw);
}

function messageOf(headers: IncomingHttpHeaders): string {
  const raw = headers['grpc-message'];
  if (typeof raw !== 'string') return '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * How a call ended, as far as known: the grpc-status of a trailers-only answer (in the headers) or of
 * the trailers, a non-200 HTTP status, a stream error, or whatever the caller records; the first wins.
 */
class CallStatus {
  code: number | undefined;
  message = '';

  constructor(stream: http2.ClientHttp2Stream) {
    stream.on('response', (h) => {
      const s = statusOf(h);
      if (s !== undefined) this.set(s, messageOf(h));
      else if (h[':status'] !== 200) this.set(NO_STATUS, `HTTP ${String(h[':status'])}`);
    });
    stream.on('trailers', (t) => {
      const s = statusOf(t);
      if (s !== undefined) this.set(s, messageOf(t));
    });
    stream.on('error', (e: Error) => this.set(NO_STATUS, e.message));
  }

  set(code: number, message: string): void {
    if (this.code !== undefined) return;
    this.code = code;
    this.message = message;
  }
}

export class GrpcConnection {
  private closed = false;
  private lastError: string | undefined;
  // One headers object per path and deadline: building it per call is measurable at 10k+ calls/s.
  private readonly headersByPath = new Map<string, http2.OutgoingHttpHeaders>();

  private constructor(
    readonly url: string,
    private readonly session: ClientHttp2Session,
  ) {
    session.on('error', (e: Error) => {
      this.lastError = e.message;
    });
    session.on('close', () => {
      this.closed = true;
    });
    session.on('goaway', (code: number) => {
      this.lastError = `GOAWAY ${code}`;
    });
  }

  /** Opens an h2c session (prior knowledge, as gRPC does) and waits for the server's SETTINGS. */
  static connect(url: string, timeoutMs = 5000): Promise<GrpcConnection> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(url, { settings: { enablePush: false } });
      const timer = setTimeout(() => {
        session.destroy();
        reject(new Error(`connect ${url}: no SETTINGS within ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (e: Error): void => {
        clearTimeout(timer);
        reject(new Error(`connect ${url}: ${e.message}`));
      };
      session.once('error', onError);
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        session.off('error', onError);
        resolve(new GrpcConnection(url, session));
      });
    });
  }

  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (calls beyond it wait in nghttp2's queue). */
  maxConcurrentStreams(): number | undefined {
    return this.session.remoteSettings.maxConcurrentStreams;
  }

  isOpen(): boolean {
    return !this.closed && !this.session.destroyed;
  }

  private headersFor(path: string, timeoutMs: number | undefined): http2.OutgoingHttpHeaders {
    const key = `${path} ${timeoutMs ?? ''}`;
    let h = this.headersByPath.get(key);
    if (h === undefined) {
      h = {
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...(timeoutMs === undefined ? {} : { 'grpc-timeout': `${timeoutMs}m` }),
      };
      this.headersByPath.set(key, h);
    }
    return h;
  }

  /** One unary call with an already framed body; `done` runs exactly once. */
  call(path: string, frame: Buffer, done: Done, options?: CallOptions): void {
    if (!this.isOpen()) {
      done(GRPC_UNAVAILABLE, `connection to ${this.url} closed: ${this.lastError ?? 'closed'}`, undefined);
      return;
    }
    const headers = this.headersFor(path, options?.timeoutMs);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session.request(headers, { endStream: false });
    } catch (e) {
      done(GRPC_UNAVAILABLE, e instanceof Error ? e.message : String(e), undefined);
      return;
    }
    const status = new CallStatus(stream);
    let chunks: Buffer[] | undefined = options?.keepBody === true ? [] : undefined;
    let finished = false;
    const finish = (c: number, m: string): void => {
      if (finished) return;
      finished = true;
      done(c, m, chunks === undefined ? undefined : Buffer.concat(chunks));
      chunks = undefined;
    };
    // The body has to be read for the stream to end; keep it only when asked.
    stream.on('data', (chunk: Buffer) => {
      chunks?.push(chunk);
    });
    stream.on('close', () => {
      if (status.code === undefined)
        finish(NO_STATUS, `stream closed without grpc-status (rst ${stream.rstCode})`);
      else finish(status.code, status.message);
    });
    if (options?.timeoutMs !== undefined) {
      stream.setTimeout(options.timeoutMs, () => {
        status.set(GRPC_DEADLINE_EXCEEDED, `no answer within ${options.timeoutMs} ms`);
        stream.close(http2.constants.NGHTTP2_CANCEL);
      });
    }
    stream.end(frame);
  }

  /** The promise form of call() for the few calls outside the load loop. */
  unary(path: string, frame: Buffer, timeoutMs = 5000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.call(
        path,
        frame,
        (code, message, body) => {
          if (code !== GRPC_OK) {
            reject(new Error(`${path}: grpc-status ${code}: ${message}`));
            return;
          }
          const msg = body === undefined ? undefined : unframe(body);
          if (msg === undefined) reject(new Error(`${path}: response is not one gRPC frame`));
          else resolve(msg);
        },
        { keepBody: true, timeoutMs },
      );
    });
  }

  /**
   * Opens a bidirectional stream. `onMessage` gets each response message (unframed); `onEnd` runs
   * once, when the stream ends for any reason, with its grpc-status (NO_STATUS if none came).
   */
  openStream(
    path: string,
    onMessage: (message: Buffer) => void,
    onEnd: (code: number, message: string) => void,
  ): GrpcStream {
    const stream = this.session.request(this.headersFor(path, undefined), { endStream: false });
    return new GrpcStream(stream, onMessage, onEnd);
  }

  close(): void {
    if (this.session.destroyed) return;
    this.session.close();
    // Don't let a peer that never acknowledges GOAWAY keep us alive.
    setTimeout(() => this.session.destroy(), 1000).unref();
  }
}

/** Cuts a byte stream into gRPC messages: 5-byte prefix (compressed flag, length), then the message. */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onMessage: (message: Buffer) => void) {}

  /** Throws on a compressed frame: we never offer compression, so a server must not send one. */
  push(chunk: Buffer): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (buf.length >= 5) {
      if (buf[0] !== 0) throw new Error('compressed gRPC frame received');
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      this.onMessage(buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
    }
    this.pending = buf;
  }
}

/** One open bidirectional call (see GrpcConnection.openStream). */
export class GrpcStream {
  private ended = false;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    onMessage: (message: Buffer) => void,
    onEnd: (code: number, message: string) => void,
  ) {
    const status = new CallStatus(stream);
    const splitter = new FrameSplitter(onMessage);
    const end = (c: number, m: string): void => {
      if (this.ended) return;
      this.ended = true;
      onEnd(c, m);
    };
    stream.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk);
      } catch (e) {
        status.set(NO_STATUS, e instanceof Error ? e.message : String(e));
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      }
    });
    stream.on('close', () =>
      end(
        status.code ?? NO_STATUS,
        status.code === undefined ? `stream closed (rst ${stream.rstCode})` : status.message,
      ),
    );
  }

  isOpen(): boolean {
    return !this.ended && !this.stream.destroyed;
  }

  /** Sends one framed message; false once the stream has ended. */
  write(frame: Buffer): boolean {
    if (!this.isOpen()) return false;
    this.stream.write(frame);
    return true;
  }

  /** Cancels the call (RST_STREAM CANCEL), as a client does when it is done with a stream. */
  cancel(): void {
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}
