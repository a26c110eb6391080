// gRPC's HTTP/2 mapping, server side, for one call on one stream: reading length-prefixed messages
// (with the receive limit), sending them, and ending the call with a status in the trailers (or in
// a trailers-only answer when nothing was sent). Texts are grpc-go's, since etcd's clients print them.
//
// This is the hot path of every request: the header blocks of successful calls are encoded once
// (hpack.ts encodeStatelessBlock), and a unary answer is one buffer of three frames.

import { TLSSocket } from 'node:tls';

import { status as Status } from '@grpc/grpc-js';

import type { H2Stream, RequestHeaders } from './h2-connection.js';
import { encodeStatelessBlock } from './hpack.js';
import { failure, type CallFailure } from './status.js';

const PREFIX_BYTES = 5;
const FLAG_COMPRESSED = 1;

const OK_HEADERS = encodeStatelessBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const OK_TRAILERS = encodeStatelessBlock([['grpc-status', '0']]);
const OK_TRAILERS_ONLY = Buffer.concat([OK_HEADERS, OK_TRAILERS]);
/** The 5-byte prefix of an uncompressed message, the length filled in per message. */
const UNARY_PREFIX = Buffer.alloc(PREFIX_BYTES);

/** A message with its 5-byte gRPC prefix (uncompressed, big-endian length). */
export function framed(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, PREFIX_BYTES);
  return frame;
}

/** grpc-message: printable ASCII except '%' as is, every other byte percent-encoded (gRPC spec). */
export function encodeStatusMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function statusTrailers(f: CallFailure): Buffer {
  return encodeStatelessBlock([
    ['grpc-status', String(f.code)],
    ['grpc-message', encodeStatusMessage(f.message)],
  ]);
}

/** The header block of an answer that is only a status (gRPC's trailers-only response). */
function trailersOnly(f: CallFailure | undefined): Buffer {
  return f === undefined ? OK_TRAILERS_ONLY : Buffer.concat([OK_HEADERS, statusTrailers(f)]);
}

/** A header block answering a request that is not gRPC at all: just an HTTP status. */
export function httpStatusBlock(status: number): Buffer {
  return encodeStatelessBlock([[':status', String(status)]]);
}

/** Why a request's encoding cannot be read, in grpc-go's words; undefined when it can. */
export function encodingRefusal(headers: RequestHeaders): CallFailure | undefined {
  const encoding = headers['grpc-encoding'];
  if (encoding === undefined || encoding === 'identity') return undefined;
  return failure(Status.UNIMPLEMENTED, `grpc: Decompressor is not installed for grpc-encoding "${encoding}"`);
}

/** The common name of the client certificate the TLS port verified, if the connection is TLS. */
export function peerCommonName(stream: H2Stream): string | undefined {
  const socket = stream.transport;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const cn: unknown = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

/**
 * Why the message starting at the front of `buf` cannot be read (compressed, or over `maxBytes`), in
 * grpc-go's words; undefined when it can, or when its prefix is not all there yet.
 */
export function prefixRefusal(buf: Buffer, maxBytes: number): CallFailure | undefined {
  if (buf.length < PREFIX_BYTES) return undefined;
  if (buf[0] & FLAG_COMPRESSED) {
    return failure(Status.INTERNAL, 'grpc: compressed flag set with identity or empty encoding');
  }
  const length = buf.readUInt32BE(1);
  if (length > maxBytes) {
    return failure(
      Status.RESOURCE_EXHAUSTED,
      `grpc: received message larger than max (${length} vs. ${maxBytes})`,
    );
  }
  return undefined;
}

/** The one message of a unary request body, or why there is not exactly one readable message. */
export function onlyMessage(body: Buffer | undefined, maxBytes: number): Uint8Array | CallFailure {
  const refusal = body === undefined ? undefined : prefixRefusal(body, maxBytes);
  if (refusal !== undefined) return refusal;
  if (body === undefined || body.length < PREFIX_BYTES) {
    return failure(Status.INTERNAL, 'grpc: the request body holds no message');
  }
  if (body.length !== PREFIX_BYTES + body.readUInt32BE(1)) {
    return failure(Status.INTERNAL, 'grpc: a unary request body must hold exactly one message');
  }
  return body.subarray(PREFIX_BYTES);
}

/**
 * Splits a request body into messages as its chunks arrive. A message longer than `maxBytes` or a
 * compressed one is refused with grpc-go's status; nothing after a refusal is read.
 */
export class MessageReader {
  private pending: Buffer | undefined;
  private refused = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onMessage: (message: Buffer) => void,
    private readonly onRefusal: (f: CallFailure) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.refused) return;
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    while (buf.length >= PREFIX_BYTES) {
      const refusal = prefixRefusal(buf, this.maxBytes);
      if (refusal !== undefined) return this.refuse(refusal);
      const length = buf.readUInt32BE(1);
      if (buf.length < PREFIX_BYTES + length) break;
      this.onMessage(buf.subarray(PREFIX_BYTES, PREFIX_BYTES + length));
      if (this.refused) return;
      buf = buf.subarray(PREFIX_BYTES + length);
    }
    if (buf.length > 0) this.pending = buf;
  }

  private refuse(f: CallFailure): void {
    this.refused = true;
    this.pending = undefined;
    this.onRefusal(f);
  }
}

/** Answers a unary call: the response message, then status OK. */
export function answerUnary(stream: H2Stream, message: Uint8Array): void {
  if (!stream.live || stream.headersSent) return;
  // answer() copies the prefix at once, so one shared prefix buffer serves every call.
  UNARY_PREFIX.writeUInt32BE(message.byteLength, 1);
  stream.answer(OK_HEADERS, UNARY_PREFIX, message, OK_TRAILERS);
}

/** Ends a call that has sent nothing yet with an error status (a trailers-only answer). */
export function refuseCall(stream: H2Stream, f: CallFailure): void {
  if (!stream.live || stream.headersSent) return;
  stream.respond(trailersOnly(f), true);
}

/**
 * The response side of a streaming call: messages as they come, then a status. Writes report
 * back-pressure like a Node stream; nothing is sent once the call has ended or the client left.
 */
export class ResponseStream {
  constructor(private readonly stream: H2Stream) {}

  /** False once the call is over (ended here, or reset or closed by the client). */
  get live(): boolean {
    return this.stream.live;
  }

  /** Sends one message; false when it was buffered beyond the high-water mark (wait for drained()). */
  write(message: Uint8Array): boolean {
    const stream = this.stream;
    if (!stream.live) return true;
    if (!stream.headersSent) stream.respond(OK_HEADERS, false);
    return stream.write(framed(message));
  }

  /** Resolves when the stream can take more, or when the call is over. */
  drained(): Promise<void> {
    return this.stream.drained();
  }

  /** Ends the call: status OK without `f`, else `f`'s code and text. Only the first end counts. */
  end(f?: CallFailure): void {
    const stream = this.stream;
    if (!stream.live) return;
    if (!stream.headersSent) {
      stream.respond(trailersOnly(f), true);
      return;
    }
    stream.end(f === undefined ? OK_TRAILERS : statusTrailers(f));
  }
}
