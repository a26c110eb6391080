// Child process for kill.test.ts: appends one entry at a time to a WAL, syncing each, and reports
// every acknowledged index on stdout ("ack <index>") only after save() resolved. It runs until killed.
// Usage: node child-writer.js <dir> <segmentBytes>

import fs from 'node:fs';
import { Wal } from '../../../../src/storage/wal/wal.js';
import { METADATA, entry, hs } from './helpers.js';

const [dir, segmentArg] = process.argv.slice(2);
const segmentBytes = Number(segmentArg);

async function main(): Promise<void> {
  let wal: Wal;
  let next = 1;
  if (Wal.exists(dir)) {
    wal = await Wal.open(dir, { index: 0, term: 0 }, { segmentBytes });
    const { entries } = wal.readAll();
    next = (entries.at(-1)?.index ?? 0) + 1;
  } else {
    wal = await Wal.create(dir, METADATA, { segmentBytes });
  }
  fs.writeSync(1, `start ${next}\n`);
  for (let i = next; ; i++) {
    await wal.save(hs(1, 1n, i - 1), [entry(i, 1, 100 + (i % 200))]);
    fs.writeSync(1, `ack ${i}\n`); // synchronous: nothing is reported before it is durable
  }
}

main().catch((e: unknown) => {
  fs.writeSync(2, `child-writer: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
