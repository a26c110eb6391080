import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeMessage } from '../../../src/raft/codec.js';
import {
  FrameDecoder,
  FramingError,
  PING_FRAME,
  PongReader,
  buildFrame,
  decodeBatch,
} from '../../../src/transport/framing.js';
import { append, heartbeat } from './helpers.js';

function frameOf(encoded: Uint8Array[]): Buffer {
  const bytes = encoded.reduce((n, m) => n + 4 + m.byteLength, 0);
  return buildFrame(encoded, 0, encoded.length, bytes);
}

describe('framing', () => {
  const messages = [heartbeat(1n, 2n, 7), append(1n, 2n, 10, 300, 3), heartbeat(1n, 2n, 8)];
  const encoded = messages.map(encodeMessage);

  it('round-trips a batch of messages', () => {
    const frame = frameOf(encoded);
    assert.equal(frame.readUInt32BE(0), frame.byteLength - 4);
    assert.deepEqual(
      decodeBatch(new Uint8Array(frame.buffer, frame.byteOffset + 4, frame.byteLength - 4)),
      messages,
    );
  });

  it('reassembles frames split at every byte position', () => {
    const one = frameOf(encoded);
    const two = frameOf([encoded[0]]);
    const stream = Buffer.concat([one, two]);
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const decoder = new FrameDecoder(1 << 20);
      const frames: Uint8Array[] = [];
      decoder.push(stream.subarray(0, cut), (f) => frames.push(f.slice()));
      decoder.push(stream.subarray(cut), (f) => frames.push(f.slice()));
      assert.equal(frames.length, 2, `cut at ${cut}`);
      assert.deepEqual(decodeBatch(frames[0]), messages);
      assert.deepEqual(decodeBatch(frames[1]), [messages[0]]);
      assert.ok(decoder.idle);
    }
  });

  it('reassembles a stream fed one byte at a time', () => {
    const stream = Buffer.concat([frameOf(encoded), frameOf(encoded)]);
    const decoder = new FrameDecoder(1 << 20);
    let count = 0;
    for (let i = 0; i < stream.byteLength; i++) {
      decoder.push(stream.subarray(i, i + 1), (f) => {
        assert.deepEqual(decodeBatch(f), messages);
        count++;
      });
    }
    assert.equal(count, 2);
  });

  it('decodes a frame that fits in one chunk without copying it', () => {
    const frame = frameOf(encoded);
    const decoder = new FrameDecoder(1 << 20);
    let payload: Uint8Array | undefined;
    decoder.push(frame, (f) => (payload = f));
    assert.ok(payload !== undefined);
    assert.equal(payload.buffer, frame.buffer);
  });

  it('refuses a frame above the limit', () => {
    const decoder = new FrameDecoder(16);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(17, 0);
    assert.throws(() => decoder.push(header, () => {}), FramingError);
  });

  it('refuses a payload whose message length runs past the frame', () => {
    const payload = Buffer.alloc(6);
    payload.writeUInt32BE(100, 0);
    assert.throws(() => decodeBatch(payload), FramingError);
    assert.throws(() => decodeBatch(Buffer.alloc(2)), FramingError);
  });

  it('an empty payload is an empty batch', () => {
    assert.deepEqual(decodeBatch(new Uint8Array(0)), []);
  });

  it('a ping is an empty frame; answers are counted across chunks, and anything else refused', () => {
    const frames: Uint8Array[] = [];
    new FrameDecoder(1024).push(Buffer.concat([PING_FRAME, PING_FRAME]), (f) => frames.push(f));
    assert.deepEqual(
      frames.map((f) => f.byteLength),
      [0, 0],
    );
    const pongs = new PongReader();
    assert.equal(pongs.push(new Uint8Array(3)), 0);
    assert.equal(pongs.push(new Uint8Array(6)), 2);
    assert.equal(pongs.push(new Uint8Array(3)), 1);
    assert.equal(new PongReader().push(Uint8Array.of(0, 0, 1, 0)), -1);
  });
});
