// Memory with data: a fresh cluster absorbs `keys` keys (txns of 128 puts), then, once it has settled
// for a second, the RSS of each member is read. The load itself is measured too (keys/s and server
// CPU per key), as a bulk-load figure.

import { countKeys } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';
import { preload } from './preload.js';
import { rssBytes } from './procfs.js';
import { leaderFirst, openBracket, openWindow, type RoundContext } from './round.js';
import type { MetricRound } from './summary.js';

export interface MemoryOptions {
  readonly keys: number;
  readonly valueSize: number;
}

const MiB = 2 ** 20;

export async function runMemoryRound(ctx: RoundContext, o: MemoryOptions): Promise<MetricRound> {
  const prefix = 'bench/rss/';
  const control = await GrpcConnection.connect(ctx.leader.clientUrl);
  try {
    const bracket = await openBracket(control, ctx.round);
    const cpu0 = process.cpuUsage();
    const close = openWindow(ctx.cluster, ctx.other, ctx.leader);
    const loaded = await preload(control, { prefix, count: o.keys, valueSize: o.valueSize });
    const cpu = process.cpuUsage(cpu0);
    const usage = close((cpu.user + cpu.system) / 1e6);
    const b = await bracket.close();
    const count = await countKeys(control, prefix);
    await new Promise((r) => setTimeout(r, 1000));
    const rssMiB = leaderFirst(ctx.cluster, ctx.leader).map((m) => rssBytes(m.pid) / MiB);
    const where = `${ctx.cell} ${ctx.cluster.target} round ${ctx.round}`;
    const failures: string[] = [];
    if (count !== o.keys) failures.push(`${where}: ${count} keys stored, ${o.keys} written`);
    if (b.revisionDelta !== BigInt(loaded.txns)) {
      failures.push(
        `${where}: store revision advanced by ${b.revisionDelta}, expected ${loaded.txns} (one per txn)`,
      );
    }
    if (b.termAfter !== b.termBefore)
      failures.push(`${where}: leader changed (term ${b.termBefore} -> ${b.termAfter})`);
    const keysPerSecond = loaded.keys / loaded.seconds;
    console.log(
      `${where}: ${o.keys} keys of ${o.valueSize} B in ${loaded.seconds.toFixed(1)} s (${keysPerSecond.toFixed(0)} keys/s, ` +
        `server CPU ${usage.serverCpuSeconds.toFixed(1)} s), then RSS ${rssMiB.map((x) => x.toFixed(0)).join(' / ')} MiB ` +
        `(leader first), term ${b.termBefore}${b.termAfter !== b.termBefore ? `->${b.termAfter} (LEADER CHANGE)` : ''}, ` +
        `${count} keys counted, machine idle ${(usage.machineIdleShare * 100).toFixed(0)}%`,
    );
    return {
      cell: ctx.cell,
      target: ctx.cluster.target,
      members: ctx.cluster.members.length,
      round: ctx.round,
      measures: [
        {
          name: `RSS of the largest member after ${o.keys} keys, MiB`,
          value: Math.max(...rssMiB),
          higherIsBetter: false,
        },
        {
          name: 'bulk load, keys/s (txns of 128 puts)',
          value: keysPerSecond,
          higherIsBetter: true,
          cpuUsPerUnit: (usage.serverCpuSeconds / loaded.keys) * 1e6,
        },
      ],
      rssMiB,
      failures,
    };
  } finally {
    control.close();
  }
}
