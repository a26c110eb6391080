// Compatibility with a WAL written by real etcd 3.4.23 (fixtures/etcd-3.4.23, see its README).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeEntry, decodeHardState } from '../../../../src/raft/codec.js';
import { WalSnapshotNotFoundError } from '../../../../src/storage/wal/errors.js';
import {
  ENTRY_TYPE,
  SNAPSHOT_TYPE,
  STATE_TYPE,
  decodeLengthWord,
  decodeMetadata,
  decodeRecord,
  decodeWalSnapshot,
  type WalRecord,
} from '../../../../src/storage/wal/record.js';
import { walName } from '../../../../src/storage/wal/segment.js';
import { Wal } from '../../../../src/storage/wal/wal.js';
import { withTmpDir } from './helpers.js';
import { MemFs } from './mem-fs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..');
const FIXTURE_DIR = path.join(ROOT, 'test/unit/storage/wal/fixtures/etcd-3.4.23');
const FIXTURE = path.join(FIXTURE_DIR, walName(0, 0));
const MEMBER = 0x75b4ed4f1a3bc8e0n;
const CLUSTER = 0xe8f33b59f5b9cc67n;

function records(content: Uint8Array): WalRecord[] {
  const out: WalRecord[] = [];
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  for (let pos = 0; pos + 8 <= content.byteLength;) {
    const { recordBytes, padBytes } = decodeLengthWord(
      view.getUint32(pos, true),
      view.getUint32(pos + 4, true),
    );
    if (recordBytes === 0) break;
    out.push(decodeRecord(content.subarray(pos + 8, pos + 8 + recordBytes)));
    pos += 8 + recordBytes + padBytes;
  }
  return out;
}

describe('reading and writing etcd 3.4 WALs', () => {
  test('a WAL written by etcd 3.4.23 reads back: metadata, entries, hard state, snapshot', async () => {
    await withTmpDir(async (tmp) => {
      const dir = path.join(tmp, 'member', 'wal');
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(FIXTURE, path.join(dir, walName(0, 0)));

      const all = Wal.read(dir, { index: 0, term: 0 });
      assert.deepEqual(all.metadata, { nodeId: MEMBER, clusterId: CLUSTER });
      assert.deepEqual(all.hardState, { term: 2, vote: MEMBER, commit: 16 });
      assert.deepEqual(
        all.entries.map((e) => `${e.index}/${e.term}/${e.type}/${e.data.byteLength}`),
        [
          '1/1/confChange/92',
          '2/2/normal/0',
          '3/2/normal/134',
          '4/2/normal/58',
          ...Array.from({ length: 12 }, (_, k) => `${k + 5}/2/normal/34`),
        ],
      );

      const wal = await Wal.open(dir, { index: 9, term: 2 }, { segmentBytes: 65536 });
      assert.deepEqual(
        wal.readAll().entries.map((e) => e.index),
        [10, 11, 12, 13, 14, 15, 16],
      );
      // append to etcd's segment and read it all back
      await wal.save({ term: 3, vote: MEMBER, commit: 17 }, [
        { index: 17, term: 3, type: 'normal', data: new Uint8Array() },
      ]);
      await wal.close();
      const after = Wal.read(dir, { index: 0, term: 0 });
      assert.equal(after.entries.length, 17);
      assert.deepEqual(after.hardState, { term: 3, vote: MEMBER, commit: 17 });

      await assert.rejects(Wal.open(dir, { index: 5, term: 2 }), WalSnapshotNotFoundError);
    });
  });

  test('replaying etcd’s records through this WAL writes the same bytes etcd wrote', async () => {
    const etcd = new Uint8Array(fs.readFileSync(FIXTURE));
    const recs = records(etcd);
    assert.equal(recs.length, 36);
    const m = new MemFs();
    m.setupDir('/d');
    const wal = await Wal.create('/d/wal', decodeMetadata(recs[1].data!), { fs: m, segmentBytes: 65536 });
    for (const r of recs.slice(3)) {
      if (r.type === ENTRY_TYPE) await wal.save(undefined, [decodeEntry(r.data!)]);
      else if (r.type === STATE_TYPE) await wal.save(decodeHardState(r.data!), []);
      else if (r.type === SNAPSHOT_TYPE) await wal.saveSnapshot(decodeWalSnapshot(r.data!));
      else assert.fail(`unexpected record type ${r.type}`);
    }
    await wal.close();
    const ours = m.read(`/d/wal/${walName(0, 0)}`);
    assert.equal(ours.byteLength, 65536);
    assert.equal(
      Buffer.from(ours.subarray(0, etcd.byteLength)).toString('hex'),
      Buffer.from(etcd).toString('hex'),
    );
    assert.ok(ours.subarray(etcd.byteLength).every((b) => b === 0));
  });
});
