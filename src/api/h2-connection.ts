// The client port's HTTP/2 (RFC 9113), server side, framed by hand on the connection's socket.
//
// Why not node:http2: measured on this 2-core box (docs/benchmarks.md, session 8), Node's HTTP/2
// sends nothing when asked. Its frames leave from a native immediate in the check phase, after the
// rest of the event loop's turn, so every answer waited for the requests parsed in the meantime; and
// nghttp2's per-stream objects, header objects and events were a third of a put leader's busy time.
// gRPC needs little of HTTP/2: a request is HEADERS (+ CONTINUATION) and DATA, an answer is HEADERS,
// DATA and trailing HEADERS; no push, no priorities. This file keeps what gRPC clients use: stream
// states, flow control both ways, SETTINGS, PING, RST_STREAM and GOAWAY. What one turn of the event
// loop answers leaves in one socket write, at the end of the microtasks that produced it.
//
// Lenient where leniency costs nothing (unknown frame types and settings, PRIORITY, frames on
// streams this side already closed are ignored); strict where a broken peer could make it misbehave
// (frame sizes, header blocks, flow-control overflow: connection error, GOAWAY, socket closed).

import type { Duplex } from 'node:stream';

import { HpackDecoder } from './hpack.js';

/** The HTTP/2 client connection preface; an HTTP/1 request can never start with it. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const FRAME_HEADER_BYTES = 9;

const TYPE_DATA = 0x0;
const TYPE_HEADERS = 0x1;
const TYPE_PRIORITY = 0x2;
const TYPE_RST_STREAM = 0x3;
const TYPE_SETTINGS = 0x4;
const TYPE_PUSH_PROMISE = 0x5;
const TYPE_PING = 0x6;
const TYPE_GOAWAY = 0x7;
const TYPE_WINDOW_UPDATE = 0x8;
const TYPE_CONTINUATION = 0x9;

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const PRIORITY_BYTES = 5;

const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const STREAM_CLOSED = 0x5;
const FRAME_SIZE_ERROR = 0x6;
const COMPRESSION_ERROR = 0x9;
const ENHANCE_YOUR_CALM = 0xb;

const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

const DEFAULT_WINDOW = 65535;
const MAX_WINDOW = 2 ** 31 - 1;
/** SETTINGS_MAX_FRAME_SIZE both ways by default; this side never advertises more. */
const MAX_FRAME_SIZE = 16384;
const LARGEST_FRAME_SIZE = 2 ** 24 - 1;

/** SETTINGS_INITIAL_WINDOW_SIZE this side advertises: a 1.5 MiB request needs few WINDOW_UPDATEs. */
const STREAM_RECEIVE_WINDOW = 1 << 20;
/** Unacknowledged request bytes on a stream before a WINDOW_UPDATE: below half the default window,
 * which is all a client has until it has read this side's SETTINGS. */
const STREAM_UPDATE_THRESHOLD = 16 * 1024;
/** The connection's receive window, raised once at the start. */
const CONNECTION_RECEIVE_WINDOW = 1 << 24;
const CONNECTION_UPDATE_THRESHOLD = 1 << 20;
/** A client header block above this is refused (bounds memory; no gRPC request comes near it). */
const MAX_HEADER_BLOCK_BYTES = 256 * 1024;
/** Frames one header block may span (16 full frames hold the largest block allowed). */
const MAX_HEADER_BLOCK_FRAMES = 64;
/** A stream's writes report back-pressure once this much of it waits for window or socket. */
const STREAM_HIGH_WATER_BYTES = 64 * 1024;
/** Answers (PING and SETTINGS acks) owed to a client that does not read, before it is cut off. */
const MAX_UNREAD_CONTROL_FRAMES = 10_000;
/** Keepalive times at or above this mean no keepalive pings (grpc's "infinity"). */
const KEEPALIVE_NEVER_MS = 2 ** 31 - 1;
/** Output gathered in one turn up to this size is joined into one buffer; above, written as a list. */
const JOIN_OUTPUT_BYTES = 256 * 1024;

/** This side's SETTINGS, sent first: the default frame size and header table, push off, a larger window. */
const SERVER_SETTINGS = settingsPayload([
  [SETTINGS_ENABLE_PUSH, 0],
  [SETTINGS_INITIAL_WINDOW_SIZE, STREAM_RECEIVE_WINDOW],
]);

/** A connection error: the connection is closed with this code in its GOAWAY. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`http2: ${message}`);
    this.name = 'H2ConnectionError';
  }
}

/** Request headers, names lower-case, the first value of a repeated name. */
export type RequestHeaders = Readonly<Record<string, string>>;

export interface H2ConnectionOptions {
  /** A new request stream, its headers complete. Set its `ondata`/`onend` before returning. */
  readonly onStream: (stream: H2Stream) => void;
  /** The connection broke the protocol and was closed. */
  readonly onProtocolError: (e: Error) => void;
  /** Server keepalive: a PING every this many ms, and no ACK within the timeout closes the connection. */
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
}

function settingsPayload(settings: readonly (readonly [number, number])[]): Buffer {
  const b = Buffer.allocUnsafe(settings.length * 6);
  settings.forEach(([id, value], i) => {
    b.writeUInt16BE(id, i * 6);
    b.writeUInt32BE(value, i * 6 + 2);
  });
  return b;
}

function writeFrameHeader(
  out: Buffer,
  off: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  out[off] = length >>> 16;
  out[off + 1] = (length >>> 8) & 0xff;
  out[off + 2] = length & 0xff;
  out[off + 3] = type;
  out[off + 4] = flags;
  out.writeUInt32BE(streamId, off + 5);
}

/** Header field names must be lower case in HTTP/2 (RFC 9113 §8.2.1). */
const UPPER_CASE = /[A-Z]/;

/** One frame in a fresh buffer. */
function frame(type: number, flags: number, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload?.byteLength ?? 0;
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(b, 0, length, type, flags, streamId);
  if (payload !== undefined) b.set(payload, FRAME_HEADER_BYTES);
  return b;
}

function u32Frame(type: number, streamId: number, value: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(b, 0, 4, type, 0, streamId);
  b.writeUInt32BE(value, FRAME_HEADER_BYTES);
  return b;
}

const ignore = (): void => {};

/**
 * One request stream. The reading side is callbacks (`ondata`, `onend`, close listeners); the writing
 * side sends header blocks (already HPACK-encoded, see hpack.ts encodeStatelessBlock) and DATA, the
 * DATA held back by flow control when the client's windows are closed.
 */
export class H2Stream {
  /** Request body bytes as they arrive. */
  ondata: ((chunk: Buffer) => void) | undefined;
  /** The client finished its side (END_STREAM). */
  onend: (() => void) | undefined;
  /** HEADERS sent (or a trailers-only answer). */
  headersSent = false;
  /** Closed: both sides ended, reset by either side, or the connection gone. Nothing more is sent. */
  closed = false;
  /** What the client's window still lets this side send. */
  sendWindow: number;
  /** DATA waiting for window, oldest first, and the trailers to send after it. */
  readonly queue: Buffer[] = [];
  queuedBytes = 0;
  trailers: Buffer | undefined;
  /** END_STREAM has been asked for (trailers sent or queued): no more writes. */
  private finishing = false;
  /** END_STREAM has left (into the connection's output). */
  private localEnded = false;
  private remoteEnded = false;
  private receivedUnacked = 0;
  private closeListeners: (() => void)[] | undefined;
  private drainWaiters: (() => void)[] | undefined;

  constructor(
    readonly id: number,
    readonly headers: RequestHeaders,
    private readonly connection: H2ServerConnection,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  /** The connection's transport: a socket (maybe TLS) or any duplex handed to the server. */
  get transport(): Duplex {
    return this.connection.transport;
  }

  /** True while an answer can still be sent. */
  get live(): boolean {
    return !this.closed && !this.finishing;
  }

  onClose(listener: () => void): void {
    if (this.closed) return;
    (this.closeListeners ??= []).push(listener);
  }

  /** Sends a header block; with `endStream` it is the whole answer (gRPC's trailers-only). */
  respond(block: Buffer, endStream: boolean): void {
    if (!this.live || this.headersSent) return;
    this.headersSent = true;
    if (endStream) this.finishing = true;
    this.connection.sendHeaderBlock(this.id, block, endStream);
    if (endStream) this.onLocalEnd();
  }

  /** Sends DATA; false when this stream has too much not yet on the socket (wait for drained()). */
  write(data: Buffer): boolean {
    if (!this.live) return true;
    this.queue.push(data);
    this.queuedBytes += data.length;
    this.connection.pump(this);
    return this.roomy();
  }

  /** Ends the answer with trailers, after any DATA still held back. */
  end(trailers: Buffer): void {
    if (!this.live) return;
    this.finishing = true;
    this.trailers = trailers;
    this.connection.pump(this);
  }

  /**
   * A whole unary answer: headers, one DATA frame holding `prefix` and `message`, trailers. One
   * buffer when the windows allow, as almost always; otherwise the general path.
   */
  answer(headers: Buffer, prefix: Buffer, message: Uint8Array, trailers: Buffer): void {
    if (!this.live || this.headersSent) return;
    if (!this.connection.answerAtOnce(this, headers, prefix, message, trailers)) {
      this.respond(headers, false);
      const data = Buffer.allocUnsafe(prefix.length + message.byteLength);
      data.set(prefix, 0);
      data.set(message, prefix.length);
      this.write(data);
      this.end(trailers);
      return;
    }
    this.headersSent = true;
    this.finishing = true;
    this.onLocalEnd();
  }

  /** Resolves when writes may go on, or when the stream closed (the caller checks `live`). */
  drained(): Promise<void> {
    if (this.closed || this.roomy()) return Promise.resolve();
    return new Promise((resolve) => {
      (this.drainWaiters ??= []).push(resolve);
      this.connection.watchDrain(this);
    });
  }

  /** Closes the stream with RST_STREAM (this side gives up on it). */
  reset(code: number): void {
    if (this.closed) return;
    this.connection.sendReset(this.id, code);
    this.close();
  }

  // ---- for the connection ----

  roomy(): boolean {
    return this.queuedBytes < STREAM_HIGH_WATER_BYTES && !this.connection.congested();
  }

  /** Wakes drain waiters if there is room (or the stream closed); true when none are left. */
  notifyDrain(): boolean {
    const waiters = this.drainWaiters;
    if (waiters === undefined) return true;
    if (!this.closed && !this.roomy()) return false;
    this.drainWaiters = undefined;
    for (const w of waiters) w();
    return true;
  }

  /** The trailers left (END_STREAM): pump calls this once the queue is empty. */
  onTrailersSent(): void {
    this.trailers = undefined;
    this.onLocalEnd();
  }

  receiveData(data: Buffer, frameLength: number, endStream: boolean): void {
    if (data.length > 0) this.ondata?.(data);
    if (this.closed) return;
    if (endStream) {
      this.receiveEnd();
      return;
    }
    this.receivedUnacked += frameLength;
    if (this.receivedUnacked >= STREAM_UPDATE_THRESHOLD) {
      this.connection.sendWindowUpdate(this.id, this.receivedUnacked);
      this.receivedUnacked = 0;
    }
  }

  receiveEnd(): void {
    if (this.remoteEnded || this.closed) return;
    this.remoteEnded = true;
    this.onend?.();
    if (this.localEnded) this.close();
  }

  get remoteOpen(): boolean {
    return !this.remoteEnded;
  }

  /** Closed by the client's RST_STREAM or by the connection going away. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.finishing = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.connection.forget(this);
    this.notifyDrain();
    const listeners = this.closeListeners;
    this.closeListeners = undefined;
    if (listeners !== undefined) for (const l of listeners) l();
  }

  private onLocalEnd(): void {
    this.localEnded = true;
    if (this.remoteEnded) {
      this.close();
      return;
    }
    // As grpc-go: an answer that ends before the request did stops the client sending the rest.
    this.reset(NO_ERROR);
  }
}

interface OpenHeaderBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly fragments: Buffer[];
  size: number;
}

/** One client connection. */
export class H2ServerConnection {
  private readonly streams = new Map<number, H2Stream>();
  /** Streams holding DATA until the client opens its windows, in the order they blocked. */
  private readonly blocked = new Set<H2Stream>();
  private readonly draining = new Set<H2Stream>();
  private readonly decoder = new HpackDecoder();
  private lastStreamId = 0;
  private prefaceLeft = H2_PREFACE.length;
  private pending: Buffer | undefined;
  private block: OpenHeaderBlock | undefined;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrameSize = MAX_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW;
  private receivedUnacked = 0;
  private output: Buffer[] = [];
  private outputBytes = 0;
  private flushQueued = false;
  private unreadControlFrames = 0;
  private goneAway = false;
  private closed = false;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private keepalivePayload: Buffer | undefined;
  private readonly flushOutput = (): void => this.flush();

  /**
   * `opening`: the bytes read so far, starting with the client preface (the port reads them to tell
   * HTTP/2 from HTTP/1).
   */
  constructor(
    readonly transport: Duplex,
    opening: Buffer,
    private readonly options: H2ConnectionOptions,
  ) {
    this.queue(frame(TYPE_SETTINGS, 0, 0, SERVER_SETTINGS));
    this.queue(u32Frame(TYPE_WINDOW_UPDATE, 0, CONNECTION_RECEIVE_WINDOW - DEFAULT_WINDOW));
    transport.on('data', (chunk: Buffer) => this.receive(chunk));
    transport.on('drain', () => this.onTransportDrain());
    transport.on('error', ignore);
    transport.once('end', () => this.destroy());
    transport.once('close', () => this.teardown());
    this.scheduleKeepalive();
    this.receive(opening);
    transport.resume();
  }

  /** Sends GOAWAY and closes the connection, ending every stream on it. */
  close(): void {
    if (this.closed) return;
    this.goAway(NO_ERROR, '');
    this.destroy();
  }

  // ---- input ----

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    let off = 0;
    try {
      if (this.prefaceLeft > 0) {
        const at = H2_PREFACE.length - this.prefaceLeft;
        const n = Math.min(this.prefaceLeft, buf.length);
        if (!buf.subarray(0, n).equals(H2_PREFACE.subarray(at, at + n))) {
          throw new ConnectionError(PROTOCOL_ERROR, 'bad client preface');
        }
        this.prefaceLeft -= n;
        off = n;
      }
      while (!this.closed && buf.length - off >= FRAME_HEADER_BYTES) {
        const length = (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2];
        if (length > MAX_FRAME_SIZE) {
          throw new ConnectionError(FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        }
        const end = off + FRAME_HEADER_BYTES + length;
        if (end > buf.length) break;
        const type = buf[off + 3];
        const flags = buf[off + 4];
        const streamId = buf.readUInt32BE(off + 5) & 0x7fffffff;
        const payload = buf.subarray(off + FRAME_HEADER_BYTES, end);
        off = end;
        this.onFrame(type, flags, streamId, payload);
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    if (!this.closed && off < buf.length) {
      if (off > 0) buf = buf.subarray(off);
      this.pending = buf;
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.block !== undefined && type !== TYPE_CONTINUATION) {
      throw new ConnectionError(PROTOCOL_ERROR, `frame type ${type} inside a header block`);
    }
    switch (type) {
      case TYPE_DATA:
        return this.onData(flags, streamId, payload);
      case TYPE_HEADERS:
        return this.onHeaders(flags, streamId, payload);
      case TYPE_CONTINUATION:
        return this.onContinuation(flags, streamId, payload);
      case TYPE_PRIORITY:
        if (streamId === 0) throw new ConnectionError(PROTOCOL_ERROR, 'PRIORITY on stream 0');
        return;
      case TYPE_RST_STREAM:
        if (streamId === 0) throw new ConnectionError(PROTOCOL_ERROR, 'RST_STREAM on stream 0');
        if (payload.length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, 'RST_STREAM size');
        this.checkNotIdle(streamId, 'RST_STREAM');
        this.streams.get(streamId)?.close();
        return;
      case TYPE_SETTINGS:
        return this.onSettings(flags, streamId, payload);
      case TYPE_PUSH_PROMISE:
        throw new ConnectionError(PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case TYPE_PING:
        return this.onPing(flags, streamId, payload);
      case TYPE_GOAWAY:
        if (streamId !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'GOAWAY on a stream');
        // The client opens no more streams; the ones open finish, then it closes the connection.
        return;
      case TYPE_WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, payload);
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1).
        return;
    }
  }

  private checkNotIdle(streamId: number, what: string): void {
    if (streamId > this.lastStreamId) throw new ConnectionError(PROTOCOL_ERROR, `${what} on an idle stream`);
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(PROTOCOL_ERROR, 'DATA on stream 0');
    this.checkNotIdle(streamId, 'DATA');
    // Every DATA byte counts against the connection window, whatever becomes of its stream.
    this.receivedUnacked += payload.length;
    if (this.receivedUnacked >= CONNECTION_UPDATE_THRESHOLD) {
      this.sendWindowUpdate(0, this.receivedUnacked);
      this.receivedUnacked = 0;
    }
    let data = payload;
    if (flags & FLAG_PADDED) {
      if (payload.length < 1 || payload[0] >= payload.length) {
        throw new ConnectionError(PROTOCOL_ERROR, 'DATA padding longer than its payload');
      }
      data = payload.subarray(1, payload.length - payload[0]);
    }
    const stream = this.streams.get(streamId);
    // A stream closed here (answered, or reset) may still get what the client sent before it knew.
    if (stream === undefined) return;
    if (!stream.remoteOpen) {
      stream.reset(STREAM_CLOSED);
      return;
    }
    stream.receiveData(data, payload.length, (flags & FLAG_END_STREAM) !== 0);
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS on stream 0');
    let start = 0;
    let end = payload.length;
    if (flags & FLAG_PADDED) {
      if (payload.length < 1) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS too short for its padding');
      start = 1;
      end -= payload[0];
    }
    if (flags & FLAG_PRIORITY) start += PRIORITY_BYTES;
    if (end < start) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS padding longer than its payload');
    const fragment = payload.subarray(start, end);
    this.block = {
      streamId,
      endStream: (flags & FLAG_END_STREAM) !== 0,
      fragments: [fragment],
      size: fragment.length,
    };
    if (flags & FLAG_END_HEADERS) this.endHeaderBlock();
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const block = this.block;
    if (block === undefined || block.streamId !== streamId) {
      throw new ConnectionError(PROTOCOL_ERROR, 'CONTINUATION without its HEADERS');
    }
    block.fragments.push(payload);
    block.size += payload.length;
    // Counting frames too: a stream of empty CONTINUATIONs would otherwise grow the list forever.
    if (block.size > MAX_HEADER_BLOCK_BYTES || block.fragments.length > MAX_HEADER_BLOCK_FRAMES) {
      throw new ConnectionError(ENHANCE_YOUR_CALM, 'header block too large');
    }
    if (flags & FLAG_END_HEADERS) this.endHeaderBlock();
  }

  private endHeaderBlock(): void {
    const block = this.block as OpenHeaderBlock;
    this.block = undefined;
    const bytes =
      block.fragments.length === 1 ? block.fragments[0] : Buffer.concat(block.fragments, block.size);
    let fields;
    try {
      // Every block is decoded, even one this side ignores: the client's encoder counts on it.
      fields = this.decoder.decode(bytes);
    } catch (e) {
      throw new ConnectionError(COMPRESSION_ERROR, e instanceof Error ? e.message : String(e));
    }
    const id = block.streamId;
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      // Trailers from the client: they must end its side.
      if (!block.endStream || !existing.remoteOpen) existing.reset(PROTOCOL_ERROR);
      else existing.receiveEnd();
      return;
    }
    // A stream closed here: the client may not know yet.
    if (id <= this.lastStreamId) return;
    if (id % 2 === 0) throw new ConnectionError(PROTOCOL_ERROR, `client stream ${id} is even`);
    this.lastStreamId = id;
    if (this.goneAway) return;
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    let malformed = false;
    for (const f of fields) {
      if (UPPER_CASE.test(f.name)) malformed = true;
      if (headers[f.name] === undefined) headers[f.name] = f.value;
    }
    if (malformed || headers[':method'] === undefined || headers[':path'] === undefined) {
      this.sendReset(id, PROTOCOL_ERROR);
      return;
    }
    const stream = new H2Stream(id, headers, this, this.peerInitialWindow);
    this.streams.set(id, stream);
    this.options.onStream(stream);
    if (block.endStream) stream.receiveEnd();
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) {
      if (payload.length !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS size');
    for (let off = 0; off < payload.length; off += 6) {
      const id = payload.readUInt16BE(off);
      const value = payload.readUInt32BE(off + 2);
      switch (id) {
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, 'initial window too large');
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW)
              throw new ConnectionError(FLOW_CONTROL_ERROR, 'stream window too large');
          }
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < MAX_FRAME_SIZE || value > LARGEST_FRAME_SIZE) {
            throw new ConnectionError(PROTOCOL_ERROR, `max frame size ${value}`);
          }
          this.peerMaxFrameSize = value;
          break;
        case SETTINGS_ENABLE_PUSH:
          if (value > 1) throw new ConnectionError(PROTOCOL_ERROR, `enable push ${value}`);
          break;
        default:
          // SETTINGS_HEADER_TABLE_SIZE needs nothing: this side's header blocks never use the
          // client decoder's dynamic table. Unknown settings are ignored (RFC 9113 §6.5.2).
          break;
      }
    }
    this.queueControl(frame(TYPE_SETTINGS, FLAG_ACK, 0));
    if (this.blocked.size > 0) this.pumpBlocked();
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'PING on a stream');
    if (payload.length !== 8) throw new ConnectionError(FRAME_SIZE_ERROR, 'PING size');
    if (flags & FLAG_ACK) {
      if (this.keepalivePayload !== undefined && payload.equals(this.keepalivePayload)) {
        this.keepalivePayload = undefined;
        clearTimeout(this.keepaliveTimer);
        this.scheduleKeepalive();
      }
      return;
    }
    this.queueControl(frame(TYPE_PING, FLAG_ACK, 0, payload));
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, 'WINDOW_UPDATE size');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW)
        throw new ConnectionError(FLOW_CONTROL_ERROR, 'connection window too large');
      this.pumpBlocked();
      return;
    }
    this.checkNotIdle(streamId, 'WINDOW_UPDATE');
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (increment === 0) {
      stream.reset(PROTOCOL_ERROR);
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      stream.reset(FLOW_CONTROL_ERROR);
      return;
    }
    this.pump(stream);
  }

  // ---- output ----

  /** Sends what flow control lets `stream` send, then its trailers once nothing is held back. */
  pump(stream: H2Stream): void {
    if (stream.closed) return;
    const q = stream.queue;
    while (q.length > 0) {
      const head = q[0];
      const n = Math.min(head.length, stream.sendWindow, this.sendWindow, this.peerMaxFrameSize);
      if (n <= 0 && head.length > 0) {
        this.blocked.add(stream);
        return;
      }
      this.queueData(stream.id, n === head.length ? head : head.subarray(0, n));
      stream.sendWindow -= n;
      this.sendWindow -= n;
      stream.queuedBytes -= n;
      if (n === head.length) q.shift();
      else q[0] = head.subarray(n);
    }
    this.blocked.delete(stream);
    const trailers = stream.trailers;
    if (trailers !== undefined) {
      this.sendHeaderBlock(stream.id, trailers, true);
      stream.onTrailersSent();
    }
    if (this.draining.has(stream) && stream.notifyDrain()) this.draining.delete(stream);
  }

  /**
   * The unary fast path (H2Stream.answer): true when the whole answer went into the output in one
   * buffer, false when flow control or frame sizes ask for the general path.
   */
  answerAtOnce(
    stream: H2Stream,
    headers: Buffer,
    prefix: Buffer,
    message: Uint8Array,
    trailers: Buffer,
  ): boolean {
    const dataLength = prefix.length + message.byteLength;
    if (
      dataLength > stream.sendWindow ||
      dataLength > this.sendWindow ||
      dataLength > this.peerMaxFrameSize ||
      headers.length > this.peerMaxFrameSize ||
      trailers.length > this.peerMaxFrameSize
    ) {
      return false;
    }
    stream.sendWindow -= dataLength;
    this.sendWindow -= dataLength;
    const b = Buffer.allocUnsafe(3 * FRAME_HEADER_BYTES + headers.length + dataLength + trailers.length);
    let off = 0;
    writeFrameHeader(b, off, headers.length, TYPE_HEADERS, FLAG_END_HEADERS, stream.id);
    off += FRAME_HEADER_BYTES;
    b.set(headers, off);
    off += headers.length;
    writeFrameHeader(b, off, dataLength, TYPE_DATA, 0, stream.id);
    off += FRAME_HEADER_BYTES;
    b.set(prefix, off);
    b.set(message, off + prefix.length);
    off += dataLength;
    writeFrameHeader(b, off, trailers.length, TYPE_HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, stream.id);
    b.set(trailers, off + FRAME_HEADER_BYTES);
    this.queue(b);
    return true;
  }

  /** A header block as HEADERS (+ CONTINUATION) frames. */
  sendHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    const max = this.peerMaxFrameSize;
    const endFlag = endStream ? FLAG_END_STREAM : 0;
    if (block.length <= max) {
      this.queue(frame(TYPE_HEADERS, FLAG_END_HEADERS | endFlag, streamId, block));
      return;
    }
    this.queue(frame(TYPE_HEADERS, endFlag, streamId, block.subarray(0, max)));
    for (let off = max; off < block.length; off += max) {
      const last = off + max >= block.length;
      this.queue(
        frame(TYPE_CONTINUATION, last ? FLAG_END_HEADERS : 0, streamId, block.subarray(off, off + max)),
      );
    }
  }

  sendWindowUpdate(streamId: number, increment: number): void {
    this.queue(u32Frame(TYPE_WINDOW_UPDATE, streamId, increment));
  }

  sendReset(streamId: number, code: number): void {
    this.queue(u32Frame(TYPE_RST_STREAM, streamId, code));
  }

  /** Whether the transport is behind: writes should wait for its drain. */
  congested(): boolean {
    return this.transport.writableNeedDrain;
  }

  watchDrain(stream: H2Stream): void {
    this.draining.add(stream);
  }

  forget(stream: H2Stream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    this.draining.delete(stream);
  }

  private pumpBlocked(): void {
    for (const s of [...this.blocked]) {
      if (this.sendWindow <= 0) return;
      this.pump(s);
    }
  }

  private queueData(streamId: number, data: Buffer): void {
    if (data.length <= 1024) {
      this.queue(frame(TYPE_DATA, 0, streamId, data));
      return;
    }
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    writeFrameHeader(head, 0, data.length, TYPE_DATA, 0, streamId);
    this.queue(head);
    this.queue(data);
  }

  /** A frame answering the client; a client that keeps asking without reading is cut off. */
  private queueControl(b: Buffer): void {
    if (this.transport.writableNeedDrain && ++this.unreadControlFrames > MAX_UNREAD_CONTROL_FRAMES) {
      throw new ConnectionError(ENHANCE_YOUR_CALM, 'too many control frames unread');
    }
    this.queue(b);
  }

  private queue(b: Buffer): void {
    if (this.closed) return;
    this.output.push(b);
    this.outputBytes += b.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushOutput);
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.closed || this.output.length === 0) return;
    const parts = this.output;
    const bytes = this.outputBytes;
    this.output = [];
    this.outputBytes = 0;
    const t = this.transport;
    if (parts.length === 1) t.write(parts[0]);
    else if (bytes <= JOIN_OUTPUT_BYTES) t.write(Buffer.concat(parts, bytes));
    else {
      t.cork();
      for (const p of parts) t.write(p);
      t.uncork();
    }
    if (!t.writableNeedDrain) this.onTransportDrain();
  }

  private onTransportDrain(): void {
    this.unreadControlFrames = 0;
    if (this.draining.size === 0) return;
    for (const s of [...this.draining]) if (s.notifyDrain()) this.draining.delete(s);
  }

  // ---- lifecycle ----

  private scheduleKeepalive(): void {
    const timeMs = this.options.keepaliveTimeMs ?? 0;
    if (!(timeMs > 0 && timeMs < KEEPALIVE_NEVER_MS) || this.closed) return;
    this.keepaliveTimer = setTimeout(() => {
      const payload = Buffer.allocUnsafe(8);
      payload.writeDoubleBE(Date.now());
      this.keepalivePayload = payload;
      this.queue(frame(TYPE_PING, 0, 0, payload));
      this.keepaliveTimer = setTimeout(() => this.destroy(), this.options.keepaliveTimeoutMs ?? 20_000);
      this.keepaliveTimer.unref();
    }, timeMs);
    this.keepaliveTimer.unref();
  }

  private goAway(code: number, debug: string): void {
    if (this.goneAway && code === NO_ERROR) return;
    this.goneAway = true;
    const debugBytes = Buffer.from(debug, 'utf8');
    const payload = Buffer.allocUnsafe(8 + debugBytes.length);
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    debugBytes.copy(payload, 8);
    this.queue(frame(TYPE_GOAWAY, 0, 0, payload));
    this.flush();
  }

  private fail(e: unknown): void {
    const error = e instanceof Error ? e : new Error(String(e));
    this.goAway(e instanceof ConnectionError ? e.code : PROTOCOL_ERROR, error.message);
    this.destroy();
    this.options.onProtocolError(error);
  }

  /** Ends the transport once what was written has left, and every stream now. */
  private destroy(): void {
    if (this.closed) return;
    this.flush();
    this.teardown();
    this.transport.end(() => this.transport.destroy());
    // A client that stops reading must not hold the socket open forever.
    setTimeout(() => this.transport.destroy(), 1000).unref();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.keepaliveTimer);
    this.output = [];
    this.outputBytes = 0;
    for (const s of [...this.streams.values()]) s.close();
    this.blocked.clear();
    this.draining.clear();
  }
}
