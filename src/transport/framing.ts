// The byte format of the raft message stream.
//
//   frame   = u32 BE payload length, payload
//   payload = { u32 BE message length, encoded raft Message }*
//
// An empty frame (four zero bytes) from the sender is a ping; the receiver answers each with the same
// four zero bytes, the only thing it ever writes on the stream, in order.
//
// A sender writes one frame per flush (all messages queued in one event-loop turn), so a burst of
// heartbeats or appends costs one write and one stream chunk, not one per message. The receiver
// decodes a frame that arrived in one network chunk in place (the messages' byte fields are views into
// that chunk, no copy) and copies only frames that straddle chunks, once, into a buffer of known size.

import { decodeMessage } from '../raft/codec.js';
import type { Message } from '../raft/types.js';

/** The stream does not follow the framing: the connection is unusable and must be dropped. */
export class FramingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FramingError';
  }
}

/** A ping, and its answer: an empty frame. */
export const PING_FRAME: Buffer = Buffer.alloc(4);

/** Counts the answers to pings in what a receiver writes back; anything else is a protocol error. */
export class PongReader {
  private have = 0;

  /** The pings answered in full by `chunk`, or -1 if it holds something other than answers. */
  push(chunk: Uint8Array): number {
    for (const b of chunk) if (b !== 0) return -1;
    const total = this.have + chunk.byteLength;
    this.have = total % 4;
    return Math.floor(total / 4);
  }
}

/**
 * One frame holding `messages[start, end)`. `payloadBytes` must be the sum of (4 + length) over those
 * messages; the caller keeps that sum as it queues, so building the frame is a single pass of copies.
 */
export function buildFrame(
  messages: readonly Uint8Array[],
  start: number,
  end: number,
  payloadBytes: number,
): Buffer {
  // allocUnsafe: every byte is written below. Small frames come from Node's shared pool.
  const out = Buffer.allocUnsafe(4 + payloadBytes);
  out.writeUInt32BE(payloadBytes, 0);
  let at = 4;
  for (let i = start; i < end; i++) {
    const m = messages[i];
    out.writeUInt32BE(m.byteLength, at);
    out.set(m, at + 4);
    at += 4 + m.byteLength;
  }
  if (at !== out.byteLength) throw new FramingError(`frame size mismatch: wrote ${at} of ${out.byteLength}`);
  return out;
}

/** Splits a frame payload into messages. Throws FramingError (or the codec's CodecError) on bad input. */
export function decodeBatch(payload: Uint8Array): Message[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const out: Message[] = [];
  let at = 0;
  while (at < payload.byteLength) {
    if (payload.byteLength - at < 4) throw new FramingError(`truncated message length at byte ${at}`);
    const n = view.getUint32(at);
    at += 4;
    if (n > payload.byteLength - at) {
      throw new FramingError(`message of ${n} bytes at byte ${at - 4} runs past the frame end`);
    }
    out.push(decodeMessage(payload.subarray(at, at + n)));
    at += n;
  }
  return out;
}

/**
 * Reassembles frames from stream chunks of any size. Keeps at most one partial frame (bounded by
 * `maxFrameBytes`) and the few header bytes that precede it.
 */
export class FrameDecoder {
  /** Header bytes of the next frame seen so far (a length prefix split across chunks). */
  private header = Buffer.alloc(4);
  private headerHave = 0;
  /** The frame being filled, once its length is known and it did not fit in one chunk. */
  private partial: Buffer | undefined;
  private partialHave = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds one chunk; calls `onFrame` for each complete payload, in order. Throws FramingError. */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    let at = 0;
    const len = chunk.byteLength;
    while (at < len) {
      if (this.partial !== undefined) {
        const need = this.partial.byteLength - this.partialHave;
        const take = Math.min(need, len - at);
        this.partial.set(chunk.subarray(at, at + take), this.partialHave);
        this.partialHave += take;
        at += take;
        if (this.partialHave === this.partial.byteLength) {
          const frame = this.partial;
          this.partial = undefined;
          this.partialHave = 0;
          onFrame(plain(frame, 0, frame.byteLength));
        }
        continue;
      }
      let size: number;
      if (this.headerHave === 0 && len - at >= 4) {
        // Common case: the whole length prefix is in this chunk.
        size = readU32(chunk, at);
        at += 4;
      } else {
        while (this.headerHave < 4 && at < len) this.header[this.headerHave++] = chunk[at++];
        if (this.headerHave < 4) return;
        size = this.header.readUInt32BE(0);
        this.headerHave = 0;
      }
      if (size > this.maxFrameBytes) {
        throw new FramingError(`frame of ${size} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      if (len - at >= size) {
        // The whole frame is in this chunk: hand out a view, no copy.
        const frame = plain(chunk, at, size);
        at += size;
        onFrame(frame);
      } else {
        this.partial = Buffer.allocUnsafe(size);
        this.partialHave = 0;
      }
    }
  }

  /** True when no partial frame is pending: the stream ended on a frame boundary. */
  get idle(): boolean {
    return this.partial === undefined && this.headerHave === 0;
  }
}

/**
 * A plain Uint8Array view (no copy) of `b`: decoded byte fields then are Uint8Arrays like everywhere
 * else in raft, not Buffers, whatever Node handed us.
 */
function plain(b: Uint8Array, at: number, size: number): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset + at, size);
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}
