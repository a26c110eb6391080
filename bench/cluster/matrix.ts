// The comparison matrix (`bench/main.ts --compare`): which cells exist, with which topology and
// sizes, and running them. Each cell gets fresh clusters of both targets and alternating rounds
// (alternate.ts); load cells share the round runner of put.ts (round.ts).

import { runAlternating } from './alternate.js';
import { grantLease } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';
import { keepAliveChannels } from './keepalive-channel.js';
import type { Cluster, Target } from './launcher.js';
import type { ChannelFactory, Stop } from './load.js';
import { runMemoryRound } from './memory.js';
import { preload } from './preload.js';
import { pool, roundLine, type RoundResult, type Row } from './report.js';
import { restartFixture, runRestartRound } from './restart.js';
import { roundFailures, runLoadRound, type RoundContext } from './round.js';
import type { MetricRound } from './summary.js';
import { runWatchRound } from './watch.js';
import { getWorkload, keepAliveWorkload, putWorkload, txnPutWorkload, type Workload } from './workloads.js';

export interface MatrixSettings {
  readonly targets: readonly Target[];
  readonly smoke: boolean;
  readonly rounds: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly timeoutMs: number;
  readonly conns: number;
  readonly valueSize: number;
  /** Members of the cells that the issue runs on 3 (the smoke runs everything on 1). */
  readonly members: number;
  /** In flight for the cells at 64 (the smoke uses fewer). */
  readonly inFlight: number;
  readonly putInFlight: readonly number[];
  readonly getKeys: number;
  readonly watchers: number;
  readonly watchConns: number;
  readonly watchStreams: number;
  readonly watchRate: number;
  readonly leaseStreams: number;
  readonly memoryKeys: number;
  readonly restartKeys: number;
}

export interface Cell {
  /** Unique, e.g. "put-256"; `--only` takes names or families. */
  readonly name: string;
  /** "put", "get", "txn", "watch", "lease", "memory", "restart". */
  readonly family: string;
  readonly what: string;
  run(s: MatrixSettings, out: MatrixResults): Promise<void>;
}

export interface MatrixResults {
  readonly rows: Row[];
  readonly metrics: MetricRound[];
  readonly failures: string[];
}

/** Rounds of a load cell: pooled per target into rows, failures collected. */
async function loadCell(
  s: MatrixSettings,
  out: MatrixResults,
  cell: string,
  members: number,
  clients: number,
  setup: (ctx: RoundContext) => Promise<{ workload: Workload; channels?: ChannelFactory }>,
): Promise<void> {
  const results = await runAlternating(
    { cell, targets: s.targets, members, rounds: s.rounds },
    async (ctx) => {
      const { workload, channels } = await setup(ctx);
      const stop: Stop = { kind: 'duration', ms: s.durationMs };
      const r = await runLoadRound(ctx, {
        clients,
        conns: s.conns,
        warmupMs: s.warmupMs,
        stop,
        timeoutMs: s.timeoutMs,
        workload,
        channels,
      });
      console.log(roundLine(r));
      return r;
    },
  );
  collect(s, out, results);
}

function collect(s: MatrixSettings, out: MatrixResults, results: readonly RoundResult[]): void {
  for (const t of s.targets) {
    const mine = results.filter((r) => r.target === t);
    if (mine.length > 0) out.rows.push(pool(mine));
  }
  out.failures.push(...results.flatMap(roundFailures));
}

/** Runs `once` the first time a cluster is seen (e.g. to load the keys a read cell reads). */
function oncePerCluster(once: (ctx: RoundContext) => Promise<void>): (ctx: RoundContext) => Promise<void> {
  const done = new Set<Cluster>();
  return async (ctx) => {
    if (done.has(ctx.cluster)) return;
    done.add(ctx.cluster);
    await once(ctx);
  };
}

function putCell(members: number, clients: number, name: string): Cell {
  return {
    name,
    family: 'put',
    what: `puts, ${clients} in flight, ${members} member(s)`,
    run: (s, out) =>
      loadCell(s, out, name, members, clients, async (ctx) => ({
        workload: putWorkload({
          keyPrefix: 'bench/put/',
          keyspace: 100_000,
          keyOrder: 'random',
          valueSize: s.valueSize,
          // The same seed for both targets in a round: they get the same keys in the same order.
          seed: ctx.round,
        }),
      })),
  };
}

function getCell(serializable: boolean): Cell {
  const name = serializable ? 'get-ser' : 'get-lin';
  return {
    name,
    family: 'get',
    what: `${serializable ? 'serializable' : 'linearizable'} single-key gets`,
    run: (s, out) => {
      const load = oncePerCluster(async (ctx) => {
        const conn = await GrpcConnection.connect(ctx.leader.clientUrl);
        try {
          await preload(conn, { prefix: 'bench/get/', count: s.getKeys, valueSize: s.valueSize });
        } finally {
          conn.close();
        }
      });
      return loadCell(s, out, name, s.members, s.inFlight, async (ctx) => {
        await load(ctx);
        return {
          workload: getWorkload({
            keyPrefix: 'bench/get/',
            keyspace: s.getKeys,
            serializable,
            seed: ctx.round,
          }),
        };
      });
    },
  };
}

const txnCell: Cell = {
  name: 'txn-put',
  family: 'txn',
  what: 'compare-and-set txns (version compare, put on success)',
  run: (s, out) =>
    loadCell(s, out, 'txn-put', s.members, s.inFlight, async (ctx) => ({
      // A fresh prefix per round: every client's key starts at version 0.
      workload: txnPutWorkload({
        keyPrefix: `bench/txn/r${ctx.round}/`,
        clients: s.inFlight,
        valueSize: s.valueSize,
        seed: ctx.round,
      }),
    })),
};

const leaseCell: Cell = {
  name: 'lease-keepalive',
  family: 'lease',
  what: 'LeaseKeepAlive requests over a few streams, one lease per client',
  run: (s, out) =>
    loadCell(s, out, 'lease-keepalive', s.members, s.inFlight, async (ctx) => {
      const conn = await GrpcConnection.connect(ctx.leader.clientUrl);
      const leases: bigint[] = [];
      try {
        // Long enough to outlive the round: an expiry would show as a failed keepalive.
        for (let i = 0; i < s.inFlight; i++) leases.push(await grantLease(conn, 600));
      } finally {
        conn.close();
      }
      return {
        workload: keepAliveWorkload(leases),
        channels: keepAliveChannels(s.leaseStreams, s.timeoutMs),
      };
    }),
};

const watchCell: Cell = {
  name: 'watch',
  family: 'watch',
  what: 'watch fan-out: one key, a putter at a steady rate',
  run: async (s, out) => {
    const results = await runAlternating(
      { cell: 'watch', targets: s.targets, members: s.members, rounds: s.rounds },
      async (ctx) => {
        const r = await runWatchRound(ctx, {
          watchers: s.watchers,
          conns: s.watchConns,
          streams: s.watchStreams,
          rate: s.watchRate,
          warmupMs: s.warmupMs,
          durationMs: s.durationMs,
          valueSize: s.valueSize,
          drainMs: 10_000,
          timeoutMs: s.timeoutMs,
        });
        console.log(roundLine(r));
        return r;
      },
    );
    collect(s, out, results);
  },
};

const memoryCell: Cell = {
  name: 'memory',
  family: 'memory',
  what: 'RSS of each member after loading keys',
  run: async (s, out) => {
    // A fresh cluster every round: a second load into the same one would measure twice the keys.
    for (let round = 1; round <= s.rounds; round++) {
      const results = await runAlternating(
        { cell: 'memory', targets: s.targets, members: s.members, rounds: 1 },
        (ctx) => runMemoryRound({ ...ctx, round }, { keys: s.memoryKeys, valueSize: s.valueSize }),
      );
      out.metrics.push(...results);
      out.failures.push(...results.flatMap((r) => r.failures));
    }
  },
};

const restartCell: Cell = {
  name: 'restart',
  family: 'restart',
  what: 'snapshot restore and save, restart of a member holding many keys',
  run: async (s, out) => {
    const o = { keys: s.restartKeys, valueSize: s.valueSize, timeoutMs: 300_000 };
    const fixture = await restartFixture(o);
    console.log(
      `restart: built a snapshot of ${o.keys} keys (${(fixture.bytes / 1e6).toFixed(0)} MB) in ${fixture.buildSeconds.toFixed(1)} s`,
    );
    try {
      for (let round = 1; round <= s.rounds; round++) {
        const results = await runAlternating(
          {
            cell: 'restart',
            targets: s.targets,
            members: 1,
            rounds: 1,
            prepare: (layout) => fixture.prepare(layout),
            startTimeoutMs: o.timeoutMs,
          },
          (ctx) => runRestartRound({ ...ctx, round }, o, fixture),
        );
        out.metrics.push(...results);
        out.failures.push(...results.flatMap((r) => r.failures));
      }
    } finally {
      fixture.remove();
    }
  },
};

/** The cells in the order they run. */
export function cells(s: MatrixSettings): Cell[] {
  const puts = s.putInFlight.map((c) => putCell(s.members, c, `put-${c}`));
  // The single-member put cell of the issue; the smoke is single-member throughout.
  if (!s.smoke) puts.push(putCell(1, s.inFlight, `put-${s.inFlight}-1m`));
  return [...puts, getCell(false), getCell(true), txnCell, leaseCell, watchCell, memoryCell, restartCell];
}
