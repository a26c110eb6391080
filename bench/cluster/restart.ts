// A member holding many keys: restore, snapshot save, and restart. One snapshot file of `keys` keys
// is built once (snapshot-build.ts); for every round each target restores it into a fresh one-member
// cluster's data dir with its own tool (restore MB/s), the member starts, `snapshot save` copies the
// store out again (save MB/s), and then the member is stopped cleanly and started again: the restart
// time runs from the spawn to the first successful linearizable get. The key count is checked
// before and after the restart.

import { statSync } from 'node:fs';
import { join } from 'node:path';

import { countKeys, getOnce } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';
import type { ClusterLayout, Target } from './launcher.js';
import { cpuSeconds, rssBytes } from './procfs.js';
import type { RoundContext } from './round.js';
import { buildSnapshot } from './snapshot-build.js';
import type { MetricRound } from './summary.js';
import { benchTempDir, ctl, runToolOk, utl } from './tools.js';
import { keyName } from './workloads.js';

export interface RestartOptions {
  readonly keys: number;
  readonly valueSize: number;
  /** Give up on a restart after this long. */
  readonly timeoutMs: number;
}

const PREFIX = 'bench/big/';
const MB = 1e6;

/** The snapshot file of a restart cell and what the restores took, per target. */
export interface RestartFixture {
  readonly file: string;
  readonly bytes: number;
  readonly buildSeconds: number;
  readonly restoreSeconds: Map<Target, number>;
  /** ClusterOptions.prepare: restores the file into every member's data dir, timed. */
  prepare(layout: ClusterLayout): Promise<void>;
  remove(): void;
}

export async function restartFixture(o: RestartOptions): Promise<RestartFixture> {
  const dir = benchTempDir('cairn-bench-snapshot-');
  try {
    const file = join(dir.path, 'keys.db');
    const started = performance.now();
    const bytes = await buildSnapshot(file, { prefix: PREFIX, keys: o.keys, valueSize: o.valueSize });
    const buildSeconds = (performance.now() - started) / 1000;
    const restoreSeconds = new Map<Target, number>();
    return {
      file,
      bytes,
      buildSeconds,
      restoreSeconds,
      prepare: async (layout) => {
        let seconds = 0;
        for (const m of layout.members) {
          const r = await runToolOk(utl(layout.target), [
            'snapshot',
            'restore',
            file,
            `--name=${m.name}`,
            `--data-dir=${m.dataDir}`,
            `--initial-cluster=${layout.initialCluster}`,
            `--initial-cluster-token=${layout.token}`,
            `--initial-advertise-peer-urls=${m.peerUrl}`,
          ]);
          seconds += r.seconds;
        }
        restoreSeconds.set(layout.target, seconds / layout.members.length);
      },
      remove: () => dir.remove(),
    };
  } catch (e) {
    dir.remove();
    throw e;
  }
}

/** Polls a linearizable get until one succeeds; resolves with the time that happened. */
async function firstGet(url: string, key: string, timeoutMs: number): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    let conn: GrpcConnection | undefined;
    try {
      conn = await GrpcConnection.connect(url, 1000);
      await getOnce(conn, key, { timeoutMs: 1000 });
      return process.hrtime.bigint();
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    } finally {
      conn?.close();
    }
    if (Date.now() > deadline) throw new Error(`no linearizable get within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function runRestartRound(
  ctx: RoundContext,
  o: RestartOptions,
  fixture: RestartFixture,
): Promise<MetricRound> {
  const target = ctx.cluster.target;
  const where = `${ctx.cell} ${target} round ${ctx.round}`;
  const failures: string[] = [];
  const m = ctx.cluster.members[0];
  const conn = await GrpcConnection.connect(m.clientUrl);
  let counted: number;
  try {
    counted = await countKeys(conn, PREFIX);
  } finally {
    conn.close();
  }
  if (counted !== o.keys) failures.push(`${where}: ${counted} keys after restore, ${o.keys} in the snapshot`);

  // A save that fails is recorded, and the restart is still measured.
  let saveSeconds = NaN;
  let savedBytes = NaN;
  const out = benchTempDir('cairn-bench-save-');
  try {
    const file = join(out.path, 'saved.db');
    // A generous --command-timeout for both tools: cairnctl applies it as an idle timeout, and a
    // Cairn member sends nothing until it has built the whole file, which takes longer than the
    // default 5 s for a million keys (etcd streams at once).
    const r = await runToolOk(ctl(target), [
      `--endpoints=${m.clientUrl}`,
      '--command-timeout=600s',
      'snapshot',
      'save',
      file,
    ]);
    saveSeconds = r.seconds;
    savedBytes = statSync(file).size;
  } catch (e) {
    failures.push(`${where}: snapshot save failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    out.remove();
  }

  const restarted = await ctx.cluster.restart(m.name);
  const ready = await firstGet(restarted.clientUrl, keyName(PREFIX, o.keys, 0), o.timeoutMs);
  const restartSeconds = Number(ready - restarted.spawnedAt) / 1e9;
  const restartCpu = cpuSeconds(restarted.pid);
  const conn2 = await GrpcConnection.connect(restarted.clientUrl);
  try {
    const after = await countKeys(conn2, PREFIX);
    if (after !== o.keys) failures.push(`${where}: ${after} keys after the restart, ${o.keys} before`);
  } finally {
    conn2.close();
  }
  await new Promise((r) => setTimeout(r, 1000));
  const rssMiB = [rssBytes(restarted.pid) / 2 ** 20];
  const restoreSeconds = fixture.restoreSeconds.get(target) ?? NaN;
  console.log(
    `${where}: restore ${restoreSeconds.toFixed(2)} s (${(fixture.bytes / MB / restoreSeconds).toFixed(0)} MB/s), ` +
      `save ${saveSeconds.toFixed(2)} s (${(savedBytes / MB).toFixed(0)} MB, ${(savedBytes / MB / saveSeconds).toFixed(0)} MB/s), ` +
      `restart to first linearizable get ${restartSeconds.toFixed(2)} s (CPU ${restartCpu.toFixed(2)} s), ` +
      `RSS after ${rssMiB[0].toFixed(0)} MiB, ${counted} keys`,
  );
  return {
    cell: ctx.cell,
    target,
    members: ctx.cluster.members.length,
    round: ctx.round,
    measures: [
      {
        name: `restart with ${o.keys} keys to first linearizable get, s`,
        value: restartSeconds,
        higherIsBetter: false,
      },
      { name: 'snapshot save, MB/s', value: savedBytes / MB / saveSeconds, higherIsBetter: true },
      {
        name: `snapshot restore, MB/s (${(fixture.bytes / MB).toFixed(0)} MB file)`,
        value: fixture.bytes / MB / restoreSeconds,
        higherIsBetter: true,
      },
    ],
    rssMiB,
    failures,
  };
}
