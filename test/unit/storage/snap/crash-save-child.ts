// Child process for the snapshotter crash test: saves a snapshot and is SIGKILLed by its own hook
// just before the rename, like a crash at the worst moment.
//
//   node crash-save-child.js <snap-dir>

import { saveSnap } from '../../../../src/storage/snap/snapshotter.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: crash-save-child.js <snap-dir>');
await saveSnap(
  dir,
  {
    data: new Uint8Array(Buffer.from('new state')),
    metadata: { term: 2, index: 20, confState: { voters: [1n], learners: [] } },
  },
  { beforeRename: () => void process.kill(process.pid, 'SIGKILL') },
);
throw new Error('unreachable: the hook kills the process');
