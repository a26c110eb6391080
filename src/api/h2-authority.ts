// Clients whose `:authority` carries a scheme. grpc-go as used by etcdctl 3.4 dials some endpoints
// as `passthrough:///http://host:port` and then sends `:authority: http://host:port`; Go servers
// accept that, but Node's HTTP/2 (nghttp2, under grpc-js) rejects an authority containing '/' and
// resets the stream with PROTOCOL_ERROR, and offers no switch to relax it.
//
// So the client port looks at the first request of every HTTP/2 connection before grpc-js gets it:
// - A normal authority: the raw socket goes to grpc-js (its native, fast stream path), with the bytes
//   read so far put back.
// - A scheme in the authority: the connection runs through a Duplex for its whole life that re-encodes
//   every client header block with the scheme (and any path) cut off the authority. Everything else,
//   and all server-to-client bytes, pass through untouched.
// - A PING before the first request, or no request within FIRST_HEADERS_TIMEOUT_MS: the Duplex too.
//   It is always correct, and a client waiting for an answer must not stall; the price is that an
//   idle connection's later requests take the slower path.
//
// grpc-go sends no request before it has the server's SETTINGS, and grpc-js is not attached yet, so
// the port sends an extra empty SETTINGS frame first (a peer may send SETTINGS at any time). The
// client's ACK of that frame is removed from what grpc-js sees: nghttp2 would pair it with its own
// SETTINGS, and the real ACK that follows would then be a protocol error.

import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

import { HpackDecoder, HpackEncoder, type HeaderField } from './hpack.js';

/** The HTTP/2 client connection preface; an HTTP/1 request can never start with it. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const FRAME_HEADER_BYTES = 9;
const TYPE_HEADERS = 0x1;
const TYPE_SETTINGS = 0x4;
const TYPE_PUSH_PROMISE = 0x5;
const TYPE_PING = 0x6;
const TYPE_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const PRIORITY_BYTES = 5;

/**
 * SETTINGS_MAX_FRAME_SIZE of grpc-js's HTTP/2 server (Node's default, which grpc-js keeps): the
 * largest frame a client may send and the size the rewriter re-frames header blocks to.
 */
export const MAX_FRAME_SIZE = 16384;
/** A client header block above this is refused (bounds memory; no gRPC request comes near it). */
const MAX_HEADER_BLOCK_BYTES = 256 * 1024;
/** Opening bytes buffered while waiting for the first request, before giving up and rewriting. */
const MAX_OPENING_BYTES = 1024 * 1024;
/** How long to wait for the first request before rewriting (never stall a client that waits). */
export const FIRST_HEADERS_TIMEOUT_MS = 1000;

/** A SETTINGS frame with no parameters. */
export const EMPTY_SETTINGS_FRAME = Buffer.from([0, 0, 0, TYPE_SETTINGS, 0, 0, 0, 0, 0]);

export class H2ProtocolError extends Error {
  constructor(message: string) {
    super(`http2: ${message}`);
    this.name = 'H2ProtocolError';
  }
}

const SCHEME_PREFIX = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** The authority without a leading `scheme://` and without any path: `http://h:1/x` -> `h:1`. */
export function stripScheme(authority: string): string {
  const m = SCHEME_PREFIX.exec(authority);
  const rest = m === null ? authority : authority.slice(m[0].length);
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}

/** Whether the header list carries an authority that nghttp2 would refuse and stripScheme fixes. */
export function needsAuthorityRewrite(fields: readonly HeaderField[]): boolean {
  return fields.some((f) => f.name === ':authority' && stripScheme(f.value) !== f.value);
}

interface FrameHeader {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
}

function readFrameHeader(buf: Buffer, off: number): FrameHeader {
  return {
    length: buf.readUIntBE(off, 3),
    type: buf[off + 3],
    flags: buf[off + 4],
    streamId: buf.readUInt32BE(off + 5) & 0x7fffffff,
  };
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return h;
}

/** The header block fragment of a HEADERS payload, and its priority fields; padding is dropped. */
function headersFragment(payload: Buffer, flags: number): { fragment: Buffer; priority?: Buffer } {
  let start = 0;
  let end = payload.length;
  if (flags & FLAG_PADDED) {
    if (payload.length < 1) throw new H2ProtocolError('HEADERS too short for its pad length');
    start = 1;
    end -= payload[0];
  }
  let priority: Buffer | undefined;
  if (flags & FLAG_PRIORITY) {
    if (end - start < PRIORITY_BYTES) throw new H2ProtocolError('HEADERS too short for its priority');
    priority = payload.subarray(start, start + PRIORITY_BYTES);
    start += PRIORITY_BYTES;
  }
  if (end < start) throw new H2ProtocolError('HEADERS padding longer than its payload');
  return { fragment: payload.subarray(start, end), priority };
}

/** A header block as HEADERS + CONTINUATION frames of at most MAX_FRAME_SIZE, without padding. */
export function headerBlockFrames(
  streamId: number,
  block: Buffer,
  endStream: boolean,
  priority: Buffer | undefined,
): Buffer {
  const parts: Buffer[] = [];
  const firstRoom = MAX_FRAME_SIZE - (priority === undefined ? 0 : PRIORITY_BYTES);
  let off = Math.min(block.length, firstRoom);
  let flags = (endStream ? FLAG_END_STREAM : 0) | (priority === undefined ? 0 : FLAG_PRIORITY);
  if (off === block.length) flags |= FLAG_END_HEADERS;
  const firstLength = off + (priority === undefined ? 0 : PRIORITY_BYTES);
  parts.push(frameHeader(firstLength, TYPE_HEADERS, flags, streamId));
  if (priority !== undefined) parts.push(priority);
  parts.push(block.subarray(0, off));
  while (off < block.length) {
    const n = Math.min(block.length - off, MAX_FRAME_SIZE);
    const last = off + n === block.length;
    parts.push(frameHeader(n, TYPE_CONTINUATION, last ? FLAG_END_HEADERS : 0, streamId));
    parts.push(block.subarray(off, off + n));
    off += n;
  }
  return Buffer.concat(parts);
}

/** Collects output as few buffers as possible: neighbouring slices of one input chunk are merged. */
class Output {
  private readonly parts: Buffer[] = [];
  private src: Buffer | undefined;
  private start = 0;
  private end = 0;

  slice(src: Buffer, start: number, end: number): void {
    if (end <= start) return;
    if (src === this.src && start === this.end) {
      this.end = end;
      return;
    }
    this.flush();
    this.src = src;
    this.start = start;
    this.end = end;
  }

  add(b: Buffer): void {
    this.flush();
    if (b.length > 0) this.parts.push(b);
  }

  take(): Buffer {
    this.flush();
    if (this.parts.length <= 1) return this.parts[0] ?? Buffer.alloc(0);
    return Buffer.concat(this.parts);
  }

  private flush(): void {
    if (this.src !== undefined) this.parts.push(this.src.subarray(this.start, this.end));
    this.src = undefined;
  }
}

type ParseState =
  | { readonly kind: 'preface'; left: number }
  | { readonly kind: 'head' }
  | { readonly kind: 'pass'; left: number }
  | { readonly kind: 'skip'; left: number }
  | { readonly kind: 'collect'; readonly frame: FrameHeader; readonly payload: Buffer; have: number };

interface OpenBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly priority: Buffer | undefined;
  readonly fragments: Buffer[];
  size: number;
}

/**
 * The client-to-server byte stream of one connection, rewritten: every header block is decoded
 * (mirroring the client's HPACK encoder) and re-encoded for nghttp2 (mirroring its decoder) with
 * the authority's scheme cut off. Other frames pass through as they are, in their original bytes.
 * Pure and synchronous: bytes in, bytes out, H2ProtocolError/HpackError on a broken stream.
 */
export class ClientFrameRewriter {
  private state: ParseState = { kind: 'preface', left: H2_PREFACE.length };
  private readonly head = Buffer.alloc(FRAME_HEADER_BYTES);
  private headHave = 0;
  private block: OpenBlock | undefined;
  private dropSettingsAck: boolean;
  // Both tables have the default 4096 octets: the size Node's server advertises (the client's
  // encoder may not use more) and the one nghttp2 decodes with. Plain strings cost nghttp2 less
  // than Huffman, and these bytes never cross a network.
  private readonly decoder = new HpackDecoder();
  private readonly encoder = new HpackEncoder({ huffman: false });

  /** `dropFirstSettingsAck`: the client still owes the ACK of the port's injected SETTINGS. */
  constructor(options: { readonly dropFirstSettingsAck?: boolean } = {}) {
    this.dropSettingsAck = options.dropFirstSettingsAck ?? false;
  }

  /** Takes the next bytes from the client; returns what to pass on to the server (maybe nothing). */
  push(chunk: Buffer): Buffer {
    const out = new Output();
    let i = 0;
    while (i < chunk.length) {
      const s = this.state;
      switch (s.kind) {
        case 'preface':
        case 'pass': {
          const n = Math.min(s.left, chunk.length - i);
          out.slice(chunk, i, i + n);
          i += n;
          s.left -= n;
          if (s.left === 0) this.state = { kind: 'head' };
          break;
        }
        case 'skip': {
          const n = Math.min(s.left, chunk.length - i);
          i += n;
          s.left -= n;
          if (s.left === 0) this.state = { kind: 'head' };
          break;
        }
        case 'head': {
          if (this.headHave === 0 && chunk.length - i >= FRAME_HEADER_BYTES) {
            // The common case: the whole frame header is in this chunk; pass it on without copying.
            this.onFrameHeader(readFrameHeader(chunk, i), out, chunk, i);
            i += FRAME_HEADER_BYTES;
          } else {
            const n = Math.min(FRAME_HEADER_BYTES - this.headHave, chunk.length - i);
            chunk.copy(this.head, this.headHave, i, i + n);
            this.headHave += n;
            i += n;
            if (this.headHave === FRAME_HEADER_BYTES) {
              this.headHave = 0;
              const copy = Buffer.from(this.head);
              this.onFrameHeader(readFrameHeader(copy, 0), out, copy, 0);
            }
          }
          break;
        }
        case 'collect': {
          const n = Math.min(s.payload.length - s.have, chunk.length - i);
          chunk.copy(s.payload, s.have, i, i + n);
          s.have += n;
          i += n;
          if (s.have === s.payload.length) this.onHeaderFrame(s.frame, s.payload, out);
          break;
        }
      }
    }
    return out.take();
  }

  private onFrameHeader(h: FrameHeader, out: Output, src: Buffer, off: number): void {
    if (this.block !== undefined && h.type !== TYPE_CONTINUATION) {
      throw new H2ProtocolError(`frame type ${h.type} inside a header block`);
    }
    switch (h.type) {
      case TYPE_HEADERS:
      case TYPE_CONTINUATION:
        if (h.length > MAX_FRAME_SIZE) throw new H2ProtocolError(`frame of ${h.length} bytes`);
        this.state = { kind: 'collect', frame: h, payload: Buffer.allocUnsafe(h.length), have: 0 };
        if (h.length === 0) this.onHeaderFrame(h, this.state.payload, out);
        return;
      case TYPE_PUSH_PROMISE:
        throw new H2ProtocolError('PUSH_PROMISE from a client');
      case TYPE_SETTINGS:
        if ((h.flags & FLAG_ACK) !== 0 && this.dropSettingsAck) {
          this.dropSettingsAck = false;
          this.state = h.length === 0 ? { kind: 'head' } : { kind: 'skip', left: h.length };
          return;
        }
        break;
    }
    out.slice(src, off, off + FRAME_HEADER_BYTES);
    this.state = h.length === 0 ? { kind: 'head' } : { kind: 'pass', left: h.length };
  }

  private onHeaderFrame(h: FrameHeader, payload: Buffer, out: Output): void {
    this.state = { kind: 'head' };
    let fragment: Buffer;
    if (h.type === TYPE_HEADERS) {
      if (h.streamId === 0) throw new H2ProtocolError('HEADERS on stream 0');
      const f = headersFragment(payload, h.flags);
      fragment = f.fragment;
      this.block = {
        streamId: h.streamId,
        endStream: (h.flags & FLAG_END_STREAM) !== 0,
        priority: f.priority === undefined ? undefined : Buffer.from(f.priority),
        fragments: [],
        size: 0,
      };
    } else {
      if (this.block === undefined || this.block.streamId !== h.streamId) {
        throw new H2ProtocolError('CONTINUATION without its HEADERS');
      }
      fragment = payload;
    }
    const block = this.block;
    block.fragments.push(fragment);
    block.size += fragment.length;
    if (block.size > MAX_HEADER_BLOCK_BYTES) throw new H2ProtocolError('header block too large');
    if ((h.flags & FLAG_END_HEADERS) === 0) return;
    this.block = undefined;
    const fields = this.decoder.decode(Buffer.concat(block.fragments, block.size));
    const rewritten = fields.map((f) =>
      f.name === ':authority' ? { name: f.name, value: stripScheme(f.value), sensitive: f.sensitive } : f,
    );
    out.add(
      headerBlockFrames(block.streamId, this.encoder.encode(rewritten), block.endStream, block.priority),
    );
  }
}

/**
 * A client connection as grpc-js should see it: reads are the client's bytes through a
 * ClientFrameRewriter, writes go to the socket as they are.
 */
export class RewritingConnection extends Duplex {
  private readonly rewriter = new ClientFrameRewriter({ dropFirstSettingsAck: true });

  /**
   * `opening`: the bytes already read from the socket (from the preface on). The client has not
   * ACKed the injected SETTINGS frame in anything before them.
   */
  constructor(
    private readonly socket: Socket,
    opening: Buffer,
    private readonly onProtocolError: (e: Error) => void,
  ) {
    super();
    socket.on('data', (chunk: Buffer) => this.fromClient(chunk));
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    this.fromClient(opening);
  }

  // Node's HTTP/2 and grpc-js read these from the connection for logs and channelz.
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  override _read(): void {
    this.socket.resume();
  }

  // Server-to-client bytes go out as they are; the socket's own buffer provides the back-pressure.
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error | null) => void): void {
    this.toClient([chunk], callback);
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (e?: Error | null) => void,
  ): void {
    this.toClient(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (e?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (e?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }

  private toClient(chunks: Buffer[], callback: () => void): void {
    let room = true;
    for (const c of chunks) room = this.socket.write(c);
    // Without room, wait for 'drain'; if the socket dies instead, its 'close' destroys this stream.
    if (room) callback();
    else this.socket.once('drain', callback);
  }

  private fromClient(chunk: Buffer): void {
    if (this.destroyed) return;
    let out: Buffer;
    try {
      out = this.rewriter.push(chunk);
    } catch (e) {
      this.onProtocolError(e instanceof Error ? e : new Error(String(e)));
      this.destroy();
      return;
    }
    if (out.length > 0 && !this.push(out)) this.socket.pause();
  }
}

/** What the port learned from a connection's first frames (after the preface). */
interface Opening {
  /** Byte range of the client's first SETTINGS ACK (the ACK of the injected frame). */
  readonly ack: readonly [number, number] | undefined;
  readonly ping: boolean;
  /** The first complete header block. */
  readonly block: Buffer | undefined;
  /** Frames no server would accept there: leave the error to nghttp2. */
  readonly broken: boolean;
}

function scanOpening(buf: Buffer): Opening {
  let ack: [number, number] | undefined;
  let ping = false;
  let fragments: Buffer[] | undefined;
  let block: Buffer | undefined;
  let openStream = -1;
  let off = H2_PREFACE.length;
  try {
    while (off + FRAME_HEADER_BYTES <= buf.length) {
      const h = readFrameHeader(buf, off);
      const end = off + FRAME_HEADER_BYTES + h.length;
      if (end > buf.length) break;
      const payload = buf.subarray(off + FRAME_HEADER_BYTES, end);
      if (h.type === TYPE_SETTINGS && (h.flags & FLAG_ACK) !== 0 && ack === undefined) ack = [off, end];
      if (h.type === TYPE_PING) ping = true;
      if (block === undefined) {
        if (fragments !== undefined && (h.type !== TYPE_CONTINUATION || h.streamId !== openStream)) {
          return { ack, ping, block, broken: true };
        }
        if (h.type === TYPE_HEADERS) {
          if (fragments !== undefined) return { ack, ping, block, broken: true };
          fragments = [headersFragment(payload, h.flags).fragment];
          openStream = h.streamId;
        } else if (h.type === TYPE_CONTINUATION) {
          if (fragments === undefined) return { ack, ping, block, broken: true };
          fragments.push(payload);
        }
        if (fragments !== undefined && (h.flags & FLAG_END_HEADERS) !== 0) block = Buffer.concat(fragments);
      }
      off = end;
    }
  } catch {
    return { ack, ping, block, broken: true };
  }
  return { ack, ping, block, broken: false };
}

export type H2Connection =
  | { readonly kind: 'native'; readonly socket: Socket }
  | { readonly kind: 'rewriting'; readonly stream: RewritingConnection };

export interface SettleOptions {
  /** How long to wait for the first request before rewriting (default FIRST_HEADERS_TIMEOUT_MS). */
  readonly firstHeadersTimeoutMs?: number;
  /** A rewritten connection broke the protocol (it is closed). */
  readonly onProtocolError: (e: Error) => void;
}

/**
 * Decides how an HTTP/2 connection reaches grpc-js. `opening` holds the bytes read so far, starting
 * with the complete client preface. Sends the empty SETTINGS frame, reads until the first header
 * block and the ACK of that frame are in, and calls `done` once: with the socket itself (paused,
 * the bytes minus that ACK put back) when the authority is fine, else with a RewritingConnection.
 * Nothing is called if the socket closes first.
 */
export function settleH2Connection(
  socket: Socket,
  opening: Buffer,
  options: SettleOptions,
  done: (connection: H2Connection) => void,
): void {
  let buf = opening;
  let settled = false;
  const finish = (native: boolean, ack: Opening['ack']): void => {
    settled = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    if (socket.destroyed) return;
    socket.pause();
    if (native) {
      socket.unshift(
        ack === undefined ? buf : Buffer.concat([buf.subarray(0, ack[0]), buf.subarray(ack[1])]),
      );
      done({ kind: 'native', socket });
    } else {
      done({ kind: 'rewriting', stream: new RewritingConnection(socket, buf, options.onProtocolError) });
    }
  };
  const check = (): void => {
    const o = scanOpening(buf);
    if (o.block !== undefined && o.ack !== undefined) {
      let rewrite = false;
      try {
        rewrite = needsAuthorityRewrite(new HpackDecoder().decode(o.block));
      } catch {
        // Undecodable: nghttp2 will say so to the client.
      }
      finish(!rewrite, o.ack);
    } else if (o.broken) {
      finish(true, o.ack);
    } else if (o.ping || buf.length > MAX_OPENING_BYTES) {
      // A client waiting for its PING's answer would wait forever: rewriting is always correct.
      finish(false, o.ack);
    }
  };
  const onData = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    check();
  };
  const onClose = (): void => clearTimeout(timer);
  const timer = setTimeout(() => {
    if (!settled) finish(false, undefined);
  }, options.firstHeadersTimeoutMs ?? FIRST_HEADERS_TIMEOUT_MS);
  timer.unref();
  socket.write(EMPTY_SETTINGS_FRAME);
  socket.on('data', onData);
  socket.once('close', onClose);
  check();
  if (!settled) socket.resume();
}
