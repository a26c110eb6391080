// Running seeds: option parsing shared by the CLI and the tests, and a worker-thread pool so that
// long sweeps use every core. Results never depend on which worker ran a seed.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ALL_BUGS, ALL_FAULTS, runSimulation, type Bug, type Fault, type SimStats } from './cluster.js';
import type { FailureKind } from './invariants.js';

export interface SeedSpec {
  readonly seed: number;
  readonly members: number;
  readonly faults: readonly Fault[];
  readonly bug?: Bug | undefined;
  readonly duration?: number | undefined;
}

export interface SeedOutcome {
  readonly spec: SeedSpec;
  readonly ok: boolean;
  readonly kind?: FailureKind;
  readonly message?: string;
  readonly stats: SimStats;
  readonly trace: readonly string[];
}

/** Without --members, odd seeds run 3 members and even seeds 5. */
export function membersForSeed(seed: number, fixed: number | undefined): number {
  return fixed ?? (seed % 2 === 0 ? 5 : 3);
}

/** "1..100", "7", "1,5,9..12". */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',')) {
    const range = /^(\d+)\.\.(\d+)$/.exec(part.trim());
    if (range !== null) {
      const lo = Number(range[1]);
      const hi = Number(range[2]);
      if (hi < lo) throw new Error(`empty seed range ${part}`);
      for (let s = lo; s <= hi; s++) seeds.push(s);
    } else if (/^\d+$/.test(part.trim())) {
      seeds.push(Number(part.trim()));
    } else {
      throw new Error(`bad seed list ${JSON.stringify(text)} (expected e.g. 1..100 or 3,7,9..12)`);
    }
  }
  return seeds;
}

/** "all", "none" or a comma list of fault names. */
export function parseFaults(text: string): Fault[] {
  const set = new Set<Fault>();
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === '' || name === 'none') continue;
    if (name === 'all') {
      for (const f of ALL_FAULTS) set.add(f);
      continue;
    }
    const fault = ALL_FAULTS.find((f) => f === name);
    if (fault === undefined)
      throw new Error(`unknown fault ${JSON.stringify(name)}; known: all, none, ${ALL_FAULTS.join(', ')}`);
    set.add(fault);
  }
  return ALL_FAULTS.filter((f) => set.has(f));
}

export function parseBug(text: string): Bug {
  const bug = ALL_BUGS.find((b) => b === text);
  if (bug === undefined)
    throw new Error(`unknown bug ${JSON.stringify(text)}; known: ${ALL_BUGS.join(', ')}`);
  return bug;
}

export function faultsLabel(faults: readonly Fault[]): string {
  if (faults.length === 0) return 'none';
  if (faults.length === ALL_FAULTS.length) return 'all';
  return faults.join(',');
}

export function replayCommand(spec: SeedSpec): string {
  let cmd = `npm run sim -- --seeds=${spec.seed} --members=${spec.members} --faults=${faultsLabel(spec.faults)}`;
  if (spec.bug !== undefined) cmd += ` --bug=${spec.bug}`;
  if (spec.duration !== undefined) cmd += ` --duration=${spec.duration}`;
  return cmd;
}

export function runSeed(spec: SeedSpec, trace = 0): SeedOutcome {
  const result = runSimulation({
    seed: spec.seed,
    members: spec.members,
    faults: new Set(spec.faults),
    bug: spec.bug,
    duration: spec.duration,
    trace,
  });
  return result.ok
    ? { spec, ok: true, stats: result.stats, trace: result.trace }
    : {
        spec,
        ok: false,
        kind: result.kind,
        message: result.message,
        stats: result.stats,
        trace: result.trace,
      };
}

/** One line for a failed seed, followed by the command that replays it. */
export function describeFailure(o: SeedOutcome): string {
  const first = (o.message ?? '').split('\n')[0] ?? '';
  return (
    `FAIL seed=${o.spec.seed} members=${o.spec.members} faults=${faultsLabel(o.spec.faults)} [${o.kind}] ${first}\n` +
    `  replay: ${replayCommand(o.spec)}`
  );
}

interface WorkerRequest {
  readonly spec: SeedSpec;
}

export interface WorkerReply {
  readonly outcome: SeedOutcome;
}

/** Runs seeds on worker threads; with jobs <= 1 runs them in this thread. */
export class SeedPool {
  private readonly workers: Worker[] = [];

  constructor(readonly jobs: number = availableParallelism()) {}

  async run(specs: readonly SeedSpec[], onResult?: (o: SeedOutcome) => void): Promise<SeedOutcome[]> {
    const results = new Array<SeedOutcome | undefined>(specs.length);
    if (this.jobs <= 1) {
      specs.forEach((spec, i) => {
        const o = runSeed(spec);
        results[i] = o;
        onResult?.(o);
      });
      return results.map((r) => r!);
    }
    while (this.workers.length < Math.min(this.jobs, specs.length)) {
      const w = new Worker(new URL('./worker.js', import.meta.url));
      this.workers.push(w);
    }
    let next = 0;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const feed = (): void => {
              if (next >= specs.length) {
                w.off('message', onMessage);
                w.off('error', onError);
                resolve();
                return;
              }
              const i = next++;
              pending = i;
              const req: WorkerRequest = { spec: specs[i]! };
              w.postMessage(req);
            };
            let pending = -1;
            const onMessage = (reply: WorkerReply): void => {
              results[pending] = reply.outcome;
              onResult?.(reply.outcome);
              feed();
            };
            const onError = (err: Error): void => reject(err);
            w.on('message', onMessage);
            w.on('error', onError);
            feed();
          }),
      ),
    );
    return results.map((r) => r!);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
