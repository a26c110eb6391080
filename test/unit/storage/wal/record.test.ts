// The WAL's frames and records, byte for byte as etcd 3.4 writes them.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { encodeEntry } from '../../../../src/raft/codec.js';
import {
  CRC_TYPE,
  ENTRY_TYPE,
  FrameBuilder,
  METADATA_TYPE,
  SNAPSHOT_TYPE,
  decodeLengthWord,
  decodeMetadata,
  decodeRecord,
  decodeWalSnapshot,
  encodeFrame,
  encodeMetadata,
  encodeRecord,
  encodeWalSnapshot,
} from '../../../../src/storage/wal/record.js';
import { hasZeroSectorChunk } from '../../../../src/storage/wal/decoder.js';
import { parseWalName, selectSegments, walName } from '../../../../src/storage/wal/segment.js';
import { WalNotFoundError } from '../../../../src/storage/wal/errors.js';

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('WAL frames (etcd wal/encoder.go)', () => {
  test('a 4-byte record gets 4 bytes of padding and the length word 0x8400000000000004', () => {
    // The crc record that starts a new WAL: type 4, crc 0, no data.
    const rec = encodeRecord(CRC_TYPE, 0, undefined);
    assert.equal(hex(rec), '08041000');
    const frame = encodeFrame(rec);
    assert.equal(hex(frame), '0400000000000084' + '08041000' + '00000000');
  });

  test('a record whose length is a multiple of 8 has no padding and a plain length word', () => {
    const rec = new Uint8Array(32).fill(7);
    const frame = encodeFrame(rec);
    assert.equal(hex(frame.subarray(0, 8)), '2000000000000000');
    assert.equal(frame.byteLength, 40);
  });

  test('every padding 1..7 is encoded in the top byte and decoded back', () => {
    for (let len = 1; len <= 16; len++) {
      const frame = encodeFrame(new Uint8Array(len).fill(1));
      const view = new DataView(frame.buffer);
      const { recordBytes, padBytes } = decodeLengthWord(view.getUint32(0, true), view.getUint32(4, true));
      assert.equal(recordBytes, len);
      assert.equal(padBytes, (8 - (len % 8)) % 8);
      assert.equal(frame.byteLength % 8, 0);
      if (padBytes > 0) assert.equal(frame[7], 0x80 | padBytes);
      else assert.equal(frame[7], 0);
    }
  });

  test('walpb.Record: type and crc always, data only when present', () => {
    const data = new Uint8Array([1, 2, 3]);
    assert.equal(hex(encodeRecord(ENTRY_TYPE, 0x12345678, data)), '0802' + '10f8acd19101' + '1a03010203');
    assert.equal(hex(encodeRecord(ENTRY_TYPE, 0, new Uint8Array(0))), '080210001a00');
    const back = decodeRecord(encodeRecord(ENTRY_TYPE, 0xffffffff, data));
    assert.equal(back.type, ENTRY_TYPE);
    assert.equal(back.crc, 0xffffffff);
    assert.deepEqual(back.data, data);
    assert.equal(decodeRecord(encodeRecord(CRC_TYPE, 5, undefined)).data, undefined);
  });

  test('walpb.Record decoding is strict about wire types and truncation, lenient about unknown fields', () => {
    assert.throws(() => decodeRecord(Uint8Array.from([0x08, 0x02, 0x10])), /truncated/);
    assert.throws(() => decodeRecord(Uint8Array.from([0x0a, 0x00])), /wrong wire type 2 for field type/);
    assert.throws(() => decodeRecord(Uint8Array.from([0x08, 0x02, 0x1a, 0x05, 0x01])), /truncated/);
    // field 9 (varint) is skipped
    assert.deepEqual(decodeRecord(Uint8Array.from([0x48, 0x01, 0x08, 0x03, 0x10, 0x07])), {
      type: 3,
      crc: 7,
      data: undefined,
    });
  });

  test('etcdserverpb.Metadata and walpb.Snapshot always write both fields', () => {
    assert.equal(hex(encodeWalSnapshot({ index: 0, term: 0 })), '08001000');
    assert.equal(hex(encodeWalSnapshot({ index: 300, term: 2 })), '08ac021002');
    const md = { nodeId: 0x2919addb8c50e44n, clusterId: 0xc2d5034720b2d854n };
    const b = encodeMetadata(md);
    assert.equal(b[0], 0x08);
    assert.deepEqual(decodeMetadata(b), md);
    assert.deepEqual(decodeMetadata(encodeMetadata({ nodeId: 0n, clusterId: (1n << 64n) - 1n })), {
      nodeId: 0n,
      clusterId: (1n << 64n) - 1n,
    });
    assert.deepEqual(decodeWalSnapshot(Uint8Array.from([0x08, 0x05, 0x10, 0x02, 0x1a, 0x00])), {
      index: 5,
      term: 2,
    });
  });

  test('the start of a new WAL: crc record (crc 0), metadata record, snapshot record {0,0}', () => {
    const md = encodeMetadata({ nodeId: 1n, clusterId: 2n });
    const b = new FrameBuilder(0);
    b.add(CRC_TYPE, undefined);
    b.add(METADATA_TYPE, md);
    b.add(SNAPSHOT_TYPE, encodeWalSnapshot({ index: 0, term: 0 }));
    const out = b.take();
    const mdCrc = crc32c(md, 0);
    const snapCrc = crc32c(Uint8Array.from([8, 0, 16, 0]), mdCrc);
    const expected = Buffer.concat([
      encodeFrame(encodeRecord(CRC_TYPE, 0, undefined)),
      encodeFrame(encodeRecord(METADATA_TYPE, mdCrc, md)),
      encodeFrame(encodeRecord(SNAPSHOT_TYPE, snapCrc, Uint8Array.from([8, 0, 16, 0]))),
    ]);
    assert.equal(hex(out), hex(expected));
    assert.equal(b.crc, snapCrc);
  });

  test('the CRC chains over the data of each record: crc32c(data, previous)', () => {
    const b = new FrameBuilder(0xdeadbeef);
    const e1 = encodeEntry({ index: 1, term: 1, type: 'normal', data: Uint8Array.from([1]) });
    const e2 = encodeEntry({ index: 2, term: 1, type: 'normal', data: Uint8Array.from([2]) });
    b.add(ENTRY_TYPE, e1);
    const c1 = b.crc;
    b.add(ENTRY_TYPE, e2);
    b.add(CRC_TYPE, undefined);
    assert.equal(c1, crc32c(e1, 0xdeadbeef));
    assert.equal(b.crc, crc32c(e2, c1));
    assert.equal(b.crc, crc32c(Buffer.concat([e1, e2]), 0xdeadbeef));
  });

  test('a record at or over 10 MB is refused when written', () => {
    const b = new FrameBuilder(0);
    assert.throws(
      () => b.add(ENTRY_TYPE, new Uint8Array(10 * 1024 * 1024)),
      /exceeds the 10485760-byte limit/,
    );
    assert.equal(b.byteLength, 0);
  });
});

describe('torn-write detection (etcd decoder.isTornEntry)', () => {
  test('a record with an all-zero piece between sector boundaries is torn', () => {
    const data = new Uint8Array(1024).fill(1);
    assert.equal(hasZeroSectorChunk(data, 8), false);
    data.fill(0, 504, 1016); // exactly file sector 1 (offsets 512..1023 = data 504..1015)
    assert.equal(hasZeroSectorChunk(data, 8), true);
    // zeros that do not cover a whole piece are not evidence
    const d2 = new Uint8Array(1024).fill(1);
    d2.fill(0, 505, 1016);
    assert.equal(hasZeroSectorChunk(d2, 8), false);
    // the last piece (from a sector boundary to the end of the record) counts too
    const d3 = new Uint8Array(600).fill(1);
    d3.fill(0, 504);
    assert.equal(hasZeroSectorChunk(d3, 8), true);
  });
});

describe('segment names (etcd wal/util.go)', () => {
  test('%016x-%016x.wal', () => {
    assert.equal(walName(0, 0), '0000000000000000-0000000000000000.wal');
    assert.equal(walName(1, 0x21), '0000000000000001-0000000000000021.wal');
    assert.deepEqual(parseWalName('00000000000000ff-0000000000001000.wal'), {
      name: '00000000000000ff-0000000000001000.wal',
      seq: 255,
      index: 4096,
    });
    for (const bad of ['0-0.wal', '0000000000000000-0000000000000000.wal.broken', '0.tmp', '.lock']) {
      assert.equal(parseWalName(bad), undefined, bad);
    }
  });

  test('reading at an index starts at the last segment whose first index is not after it', () => {
    const all = [walName(0, 0), walName(1, 11), walName(2, 21)].map((n) => parseWalName(n)!);
    assert.deepEqual(
      selectSegments('d', all, 15).map((s) => s.seq),
      [1, 2],
    );
    assert.deepEqual(
      selectSegments('d', all, 21).map((s) => s.seq),
      [2],
    );
    assert.deepEqual(
      selectSegments('d', all, 0).map((s) => s.seq),
      [0, 1, 2],
    );
    assert.throws(() => selectSegments('d', all.slice(1), 5), WalNotFoundError);
    assert.throws(() => selectSegments('d', [all[0], all[2]], 0), /has a gap/);
  });
});
