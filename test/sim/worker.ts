// Worker thread of SeedPool: runs the seeds it is sent, one at a time.

import { parentPort } from 'node:worker_threads';
import { runSeed, type SeedSpec, type WorkerReply } from './run.js';

const port = parentPort;
if (port === null) throw new Error('worker.js must run as a worker thread');
port.on('message', (req: { spec: SeedSpec }) => {
  // Traces stay off in sweeps; replay a seed alone to see one.
  const outcome = runSeed(req.spec);
  const reply: WorkerReply = { outcome: { ...outcome, trace: [] } };
  port.postMessage(reply);
});
