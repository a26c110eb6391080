// The benchmark entry point (`npm run bench -- ...`):
//   --compare [...]      the comparison matrix, Cairn against etcd 3.4 (bench/cluster/compare.ts)
//   --workload=... [...] the load generator against one running endpoint (bench/cluster/standalone.ts)
// The micro-benchmarks keep their own entry points (dist/bench/raft, mvcc, storage).

import { compare, COMPARE_USAGE } from './cluster/compare.js';
import { standalone, STANDALONE_USAGE } from './cluster/standalone.js';

const USAGE = `usage:\n  ${COMPARE_USAGE}\n  ${STANDALONE_USAGE}`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--compare')) await compare();
  else if (args.some((a) => a.startsWith('--workload='))) await standalone();
  else {
    console.error(USAGE);
    process.exitCode = args.includes('--help') ? 0 : 2;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
