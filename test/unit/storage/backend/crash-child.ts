// Child process for the backend crash tests. The parent SIGKILLs it; what is on disk afterwards must
// have the data and the consistent index that describes it both or neither.
//
//   node crash-child.js <db-path> buffered    writes round 1 and the index, never commits
//   node crash-child.js <db-path> committed   writes round 1 and the index, commits
//   node crash-child.js <db-path> loop        rounds 1, 2, ... each committed, without end
//
// A round r is KEYS_PER_ROUND puts `r/i` in the `key` bucket plus setConsistentIndex(r, 1), all in
// one synchronous stretch. It prints `buffered 1`, `committed <r>` on stdout as it goes.

import { Backend } from '../../../../src/storage/backend/index.js';

export const KEYS_PER_ROUND = 2000;
const VALUE = new Uint8Array(100).fill(0x61);

function writeRound(be: Backend, r: number): void {
  for (let i = 0; i < KEYS_PER_ROUND; i++) be.batchTx.put('key', Buffer.from(`${r}/${i}`), VALUE);
  be.batchTx.setConsistentIndex(r, 1);
}

async function main(): Promise<void> {
  const [path, mode] = process.argv.slice(2);
  if (path === undefined || mode === undefined) throw new Error('usage: crash-child.js <db-path> <mode>');
  // No automatic commits in 'buffered': the parent decides when the process dies.
  const be = Backend.open(path, { batchInterval: 3_600_000, batchLimit: 1e9 });
  const hold = setInterval(() => {}, 1000); // stay alive until killed
  if (mode === 'buffered') {
    writeRound(be, 1);
    process.stdout.write('buffered 1\n');
  } else if (mode === 'committed') {
    writeRound(be, 1);
    await be.commit();
    process.stdout.write('committed 1\n');
  } else if (mode === 'loop') {
    for (let r = 1; ; r++) {
      writeRound(be, r);
      await be.commit();
      process.stdout.write(`committed ${r}\n`);
    }
  } else {
    clearInterval(hold);
    throw new Error(`unknown mode ${mode}`);
  }
}

if (process.argv[1]?.endsWith('crash-child.js')) await main();
