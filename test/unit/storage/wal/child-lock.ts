// Child process for lock.test.ts: opens a WAL and either reports and exits ('try') or holds it until
// its stdin closes ('hold'). Usage: node child-lock.js <dir> try|hold

import { Wal } from '../../../../src/storage/wal/wal.js';

const [dir, mode] = process.argv.slice(2);

async function main(): Promise<void> {
  let wal: Wal;
  try {
    wal = await Wal.open(dir, { index: 0, term: 0 }, { segmentBytes: 65536 });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    process.stdout.write(JSON.stringify({ ok: false, name: err.name, message: err.message }) + '\n');
    process.exitCode = 1;
    return;
  }
  process.stdout.write(JSON.stringify({ ok: true, pid: process.pid }) + '\n');
  if (mode === 'hold') {
    await new Promise<void>((resolve) => {
      process.stdin.on('end', resolve);
      process.stdin.on('close', resolve);
      process.stdin.resume();
    });
  }
  await wal.close();
}

void main();
