// npm run sim -- --seeds=1..1000 [--members=3|5] [--faults=all|none|drop,dup,...] [--jobs=N]
//                [--verbose[=2]] [--bug=local-reads|early-ack|snapshot-bootstrap] [--duration=T]
// Faults: drop, dup, delay (reordering, stragglers), partition, pause (stalled process), crash, membership,
// transfer, compact; 'all' (the default) enables every one.
//
// Runs the cluster simulation for every seed; prints one line per failing seed with the command that
// replays it, then a total. Exits non-zero if any seed failed. --verbose prints the trace of each seed
// (run a single seed with it); --verbose=2 adds every message delivery and apply.

import { availableParallelism } from 'node:os';
import { ALL_BUGS, ALL_FAULTS, type Bug } from './cluster.js';
import {
  describeFailure,
  faultsLabel,
  membersForSeed,
  parseBug,
  parseFaults,
  parseSeeds,
  runSeed,
  SeedPool,
  type SeedOutcome,
  type SeedSpec,
} from './run.js';

interface CliOptions {
  seeds: number[];
  members: number | undefined;
  faults: string;
  jobs: number;
  verbose: number;
  bug: Bug | undefined;
  duration: number | undefined;
}

function usage(): string {
  return (
    `usage: npm run sim -- --seeds=1..N [--members=3|5] [--faults=all|none|${ALL_FAULTS.join(',')}]\n` +
    `                      [--jobs=N] [--verbose[=2]] [--bug=${ALL_BUGS.join('|')}] [--duration=T]\n` +
    '  Without --members, odd seeds run 3 members and even seeds 5. --faults takes a comma list.'
  );
}

function parseArgs(argv: readonly string[]): CliOptions {
  const opts: CliOptions = {
    seeds: [1],
    members: undefined,
    faults: 'all',
    jobs: availableParallelism(),
    verbose: 0,
    bug: undefined,
    duration: undefined,
  };
  for (const arg of argv) {
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (m === null) throw new Error(`unexpected argument ${JSON.stringify(arg)}\n${usage()}`);
    const [, name, value] = m;
    const need = (): string => {
      if (value === undefined || value === '') throw new Error(`--${name} needs a value\n${usage()}`);
      return value;
    };
    switch (name) {
      case 'seeds':
        opts.seeds = parseSeeds(need());
        break;
      case 'members': {
        const n = Number(need());
        if (n !== 3 && n !== 5) throw new Error('--members must be 3 or 5');
        opts.members = n;
        break;
      }
      case 'faults':
        opts.faults = need();
        break;
      case 'jobs':
        opts.jobs = Math.max(1, Number(need()));
        break;
      case 'verbose':
        opts.verbose = value === undefined ? 1 : Number(value);
        break;
      case 'bug':
        opts.bug = parseBug(need());
        break;
      case 'duration':
        opts.duration = Number(need());
        break;
      case 'help':
        console.log(usage());
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option --${name}\n${usage()}`);
    }
  }
  return opts;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const faults = parseFaults(opts.faults);
  const specs: SeedSpec[] = opts.seeds.map((seed) => ({
    seed,
    members: membersForSeed(seed, opts.members),
    faults,
    bug: opts.bug,
    duration: opts.duration,
  }));

  let outcomes: SeedOutcome[];
  if (opts.verbose > 0) {
    outcomes = specs.map((spec) => {
      const o = runSeed(spec, opts.verbose);
      for (const line of o.trace) console.log(line);
      console.log(`stats: ${JSON.stringify(o.stats)}`);
      return o;
    });
  } else {
    const pool = new SeedPool(Math.min(opts.jobs, specs.length));
    let done = 0;
    const started = Date.now();
    const progress = process.stderr.isTTY && specs.length >= 100;
    outcomes = await pool.run(specs, (o) => {
      done++;
      if (progress && !o.ok) process.stderr.write(`\n${describeFailure(o)}\n`);
      if (progress && (done % 50 === 0 || done === specs.length)) {
        const secs = ((Date.now() - started) / 1000).toFixed(0);
        process.stderr.write(`\r${done}/${specs.length} seeds (${secs}s)`);
      }
    });
    if (progress) process.stderr.write('\n');
    await pool.close();
  }

  const failed = outcomes.filter((o) => !o.ok).sort((a, b) => a.spec.seed - b.spec.seed);
  for (const o of failed) console.log(describeFailure(o));
  if (failed.length > 0 && opts.verbose === 0) {
    console.log('(add --verbose to a replay command for its trace; --verbose=2 adds every message)');
  }
  const byKind = new Map<string, number>();
  for (const o of failed) byKind.set(o.kind ?? '?', (byKind.get(o.kind ?? '?') ?? 0) + 1);
  const kinds = [...byKind].map(([k, n]) => `${k}=${n}`).join(' ');
  const ops = outcomes.reduce((sum, o) => sum + o.stats.operations, 0);
  console.log(
    `${outcomes.length} seeds: ${outcomes.length - failed.length} passed, ${failed.length} failed` +
      (kinds ? ` (${kinds})` : '') +
      ` [faults=${faultsLabel(faults)}${opts.bug ? ` bug=${opts.bug}` : ''}, ${ops} client operations]`,
  );
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 2;
  },
);
