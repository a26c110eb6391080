// The load generator on its own: one workload against one running server (any etcd v3 endpoint),
// no cluster started, no comparison. Prints throughput, latency percentiles, errors and the client's
// CPU per call, and whether the store revision moved as the acknowledged writes say (another client
// writing meanwhile would also move it, so there it is only reported). Exits 1 on any error.

import { checkFlags, choiceFlag, numberFlag, stringFlag } from '../flags.js';
import { grantLease } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';
import { keepAliveChannels } from './keepalive-channel.js';
import { runLoad, type ChannelFactory, type LoadResult, type Stop } from './load.js';
import { preload } from './preload.js';
import { ms, percentile } from './report.js';
import { openBracket, type Bracket } from './round.js';
import { watchFanout } from './watch.js';
import { getWorkload, keepAliveWorkload, putWorkload, txnPutWorkload, type Workload } from './workloads.js';

export const STANDALONE_FLAGS = [
  'workload',
  'endpoint',
  'clients',
  'conns',
  'streams',
  'total',
  'duration',
  'warmup',
  'value-size',
  'keyspace',
  'timeout-ms',
  'watchers',
  'watch-streams',
  'watch-rate',
];

export const STANDALONE_USAGE = `node dist/bench/main.js --workload=put|get|get-ser|txn-put|watch|lease-keepalive
    --endpoint=http://127.0.0.1:2379 [--clients=64] [--conns=1] [--total=N | --duration=10] [--warmup=1]
    [--value-size=256] [--keyspace=10000] [--timeout-ms=30000] [--streams=8 (lease-keepalive)]
    [--watchers=1000] [--watch-streams=20] [--watch-rate=100] (watch: --conns connections, default 4)
  get and get-ser first write --keyspace keys under bench/get/; every workload writes under bench/.`;

const WORKLOADS = ['put', 'get', 'get-ser', 'txn-put', 'watch', 'lease-keepalive'] as const;

function summary(what: string, unit: string, load: LoadResult): string {
  const l = load.latenciesUs;
  const calls = load.ok + load.errors;
  return [
    what,
    `${(load.ok / Math.max(load.seconds, 1e-9)).toFixed(0)} ${unit}/s (${load.ok} in ${load.seconds.toFixed(1)} s)`,
    `latency ms: p50 ${ms(percentile(l, 0.5) / 1000)}, p90 ${ms(percentile(l, 0.9) / 1000)}, ` +
      `p99 ${ms(percentile(l, 0.99) / 1000)}, max ${ms(percentile(l, 1) / 1000)}`,
    `errors: ${load.errors + load.warmupErrors}${load.firstError === undefined ? '' : ` (first: ${load.firstError})`}`,
    `client CPU: ${calls > 0 ? ((load.clientCpuSeconds / calls) * 1e6).toFixed(1) : '-'} µs per ${unit.replace(/s$/, '')} ` +
      `(${(load.clientCpuSeconds / Math.max(load.seconds, 1e-9)).toFixed(2)} core)`,
    `per second: ${load.perSecond.join(' ')}`,
  ].join('\n  ');
}

interface Outcome {
  readonly what: string;
  readonly unit: string;
  readonly load: LoadResult;
  /** Revisions the acknowledged writes account for. */
  readonly expected: number;
}

interface Common {
  readonly url: string;
  readonly control: GrpcConnection;
  readonly clients: number;
  readonly valueSize: number;
  readonly keyspace: number;
  readonly timeoutMs: number;
  readonly warmupMs: number;
  readonly stop: Stop;
}

async function watchOutcome(c: Common): Promise<Outcome> {
  if (c.stop.kind !== 'duration') throw new Error('watch runs for a --duration');
  const watchers = numberFlag('watchers', 1000);
  const rate = numberFlag('watch-rate', 100);
  const r = await watchFanout(
    c.url,
    Buffer.from('bench/watch/standalone'),
    {
      watchers,
      conns: numberFlag('conns', 4),
      streams: numberFlag('watch-streams', 20),
      rate,
      warmupMs: c.warmupMs,
      durationMs: c.stop.ms,
      valueSize: c.valueSize,
      drainMs: 10_000,
      timeoutMs: c.timeoutMs,
    },
    () => () => {},
  );
  const what = `watch fan-out: ${watchers} watchers of one key, a putter at ${rate} puts/s`;
  return { what, unit: 'events', load: r.load, expected: r.acked };
}

/** The workload and its channels; may write keys or grant leases first (before the bracket). */
async function prepare(
  kind: Exclude<(typeof WORKLOADS)[number], 'watch'>,
  c: Common,
): Promise<{ workload: Workload; channels?: ChannelFactory }> {
  switch (kind) {
    case 'put':
      return {
        workload: putWorkload({
          keyPrefix: 'bench/put/',
          keyspace: c.keyspace,
          keyOrder: 'random',
          valueSize: c.valueSize,
          seed: 1,
        }),
      };
    case 'get':
    case 'get-ser': {
      const p = await preload(c.control, { prefix: 'bench/get/', count: c.keyspace, valueSize: c.valueSize });
      console.log(`wrote ${p.keys} keys under bench/get/ in ${p.seconds.toFixed(1)} s`);
      return {
        workload: getWorkload({
          keyPrefix: 'bench/get/',
          keyspace: c.keyspace,
          serializable: kind === 'get-ser',
          seed: 1,
        }),
      };
    }
    case 'txn-put':
      // A fresh prefix, so that every client's key starts at version 0.
      return {
        workload: txnPutWorkload({
          keyPrefix: `bench/txn/${Date.now().toString(36)}/`,
          clients: c.clients,
          valueSize: c.valueSize,
          seed: 1,
        }),
      };
    case 'lease-keepalive': {
      const leases: bigint[] = [];
      for (let i = 0; i < c.clients; i++) leases.push(await grantLease(c.control, 600));
      return {
        workload: keepAliveWorkload(leases),
        channels: keepAliveChannels(numberFlag('streams', 8), c.timeoutMs),
      };
    }
  }
}

export async function standalone(): Promise<void> {
  checkFlags(STANDALONE_FLAGS);
  const kind = choiceFlag('workload', WORKLOADS, 'put');
  const url = stringFlag('endpoint', '');
  if (url === '') throw new Error(`--endpoint is required\n${STANDALONE_USAGE}`);
  if (stringFlag('total', '') !== '' && stringFlag('duration', '') !== '') {
    throw new Error('give --total or --duration, not both');
  }
  const stop: Stop =
    stringFlag('total', '') !== ''
      ? { kind: 'total', calls: numberFlag('total', 1) }
      : { kind: 'duration', ms: numberFlag('duration', 10, false) * 1000 };
  const control = await GrpcConnection.connect(url);
  try {
    const c: Common = {
      url,
      control,
      clients: numberFlag('clients', 64),
      valueSize: numberFlag('value-size', 256),
      keyspace: numberFlag('keyspace', 10_000),
      timeoutMs: numberFlag('timeout-ms', 30_000),
      warmupMs: numberFlag('warmup', 1, false) * 1000,
      stop,
    };
    let outcome: Outcome;
    let bracket: Bracket;
    if (kind === 'watch') {
      bracket = await openBracket(control, 0);
      outcome = await watchOutcome(c);
    } else {
      const { workload, channels } = await prepare(kind, c);
      // After the preload or the lease grants: their revisions are not the load's.
      bracket = await openBracket(control, 0);
      const load = await runLoad({
        url,
        conns: numberFlag('conns', 1),
        clients: c.clients,
        warmupMs: c.warmupMs,
        stop,
        timeoutMs: c.timeoutMs,
        workload,
        channels,
      });
      outcome = {
        what: `${workload.description}; ${c.clients} in flight`,
        unit: workload.unit,
        load,
        expected: (load.ok + load.warmupOk) * workload.revisionsPerCall,
      };
    }
    const b = await bracket.close();
    console.log(summary(outcome.what, outcome.unit, outcome.load));
    console.log(`  store revision +${b.revisionDelta}, acknowledged writes account for ${outcome.expected}`);
    if (b.termAfter !== b.termBefore)
      console.log(`  raft term ${b.termBefore} -> ${b.termAfter}: the leader changed`);
    const l = outcome.load;
    if (l.errors + l.warmupErrors > 0 || l.ok === 0) process.exitCode = 1;
  } finally {
    control.close();
  }
}
